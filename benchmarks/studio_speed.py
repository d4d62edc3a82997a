"""How fast the studio answers: WordPiece and fill-mask for one sentence, and a 64-image sample grid — the
handler alone and in the page: headless Chromium (Selenium, Debian's chromium) clicks the button and the page's
own clock runs until the answer is shown; first call (loading the model) and warm (median of --rounds).

    python benchmarks/studio_speed.py [--model "packaged: ko-mini"] [--generator "shipped: mnist"]
                                      [--runs DIR] [--rounds 20] [--threads N] [--json FILE]

Goals: WordPiece and fill-mask < 150 ms for a sentence, a 64-image grid < 300 ms (warm, round trip).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import time

import torch

from bertgan.studio import SEED_SENTENCE, Studio, launch


def _ms(fn, rounds: int) -> tuple[float, float]:
    """(first call, median of the next ``rounds``) in milliseconds."""
    t = time.perf_counter()
    fn()
    first = (time.perf_counter() - t) * 1e3
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return first, statistics.median(times)


# Click the button, resolve when the output has been busy and is settled again (and its image decoded): the
# time a person waits, measured by the page's own clock.
_CLICK_TO_SHOWN = """
const [button, output, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const out = document.getElementById(output);
const busy = () => out.querySelector('.pending, .generating, .eta-bar, .progress-text') !== null;
let seen = false, t0 = 0;
const obs = new MutationObserver(async () => {
  if (busy()) { seen = true; return; }
  if (!seen) return;
  obs.disconnect();
  const img = out.querySelector('img');
  if (img) { try { await img.decode(); } catch (e) {} }
  done(performance.now() - t0);
});
obs.observe(out, {subtree: true, childList: true, characterData: true, attributes: true});
t0 = performance.now();
document.getElementById(button).click();
"""


def _wait(test, timeout: float = 60.0):
    end = time.time() + timeout
    while time.time() < end:
        if test():
            return
        time.sleep(0.1)
    raise SystemExit("the studio page did not load")


def _chromium():
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--window-size=1280,1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.set_script_timeout(60)
    return driver


def _click_tab(browser, name: str):
    browser.execute_script("[...document.querySelectorAll('button[role=tab]')].find(b => b.textContent.trim() === "
                           "arguments[0]).click()", name)


def _choose(browser, elem_id: str, value: str):
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, f"#{elem_id} input").click()
    for _ in range(50):  # the list is drawn after the click: wait for it
        for option in browser.find_elements(By.CSS_SELECTOR, "ul[role=listbox] li"):
            lines = option.text.strip().splitlines()
            if lines and lines[-1] == value:
                option.click()
                return
        time.sleep(0.1)
    raise SystemExit(f"{value!r} is not in the page's list {elem_id}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="packaged: ko-mini", help="a BERT with an MLM head, as the page names it")
    ap.add_argument("--generator", default="shipped: mnist", help="a generator, as the page names it")
    ap.add_argument("--runs", help="--runs of the studio (for run folders as --model/--generator)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

    studio = Studio(args.runs)
    for name, found in ((args.model, studio.bert_models("mlm")), (args.generator, studio.generators())):
        if name not in found:
            raise SystemExit(f"{name!r} is not offered; the studio offers: {', '.join(found)}")
    cases = {
        "wordpiece (one sentence)": lambda: studio.wordpiece(SEED_SENTENCE, args.model),
        "fill-mask (seed sentence, 2 masks, top-5)": lambda: studio.fill_mask(SEED_SENTENCE, args.model, 5, 0),
        "64-image grid": lambda: studio.samples(args.generator, 0, 64),
    }
    rows = {}
    for name, fn in cases.items():
        rows[name] = {"handler_first_ms": None, "handler_ms": None}
        rows[name]["handler_first_ms"], rows[name]["handler_ms"] = _ms(fn, args.rounds)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = launch(studio, port=port, block=False)
    browser = _chromium()
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        _wait(lambda: browser.execute_script("return document.querySelectorAll('button[role=tab]').length"))
        clicks = {"wordpiece (one sentence)": ("WordPiece", "wp-model-a", args.model, "wp-go", "wp-out-a"),
                  "fill-mask (seed sentence, 2 masks, top-5)": ("Fill-mask", "fm-model", args.model, "fm-go",
                                                                "fm-out-1"),
                  "64-image grid": ("GAN", "gan-model", args.generator, "gan-go", "gan-grid")}
        for name, (tab, dropdown, value, button, output) in clicks.items():
            _click_tab(browser, tab)
            _choose(browser, dropdown, value)
            times = [browser.execute_async_script(_CLICK_TO_SHOWN, button, output) for _ in range(args.rounds + 1)]
            rows[name]["browser_first_ms"], rows[name]["browser_ms"] = times[0], statistics.median(times[1:])
    finally:
        browser.quit()
        page.close()

    goals = {"wordpiece (one sentence)": 150, "fill-mask (seed sentence, 2 masks, top-5)": 150, "64-image grid": 300}
    print(f"{platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}; "
          f"model {args.model}, generator {args.generator}; median of {args.rounds}")
    print(f"{'':44s} {'handler':>9s} {'in browser':>11s} {'goal':>6s}   first call (handler / in browser)")
    for name, r in rows.items():
        print(f"{name:44s} {r['handler_ms']:7.1f}ms {r['browser_ms']:9.1f}ms {goals[name]:4d}ms   "
              f"{r['handler_first_ms']:.0f} / {r['browser_first_ms']:.0f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "model": args.model, "generator": args.generator,
                       "rounds": args.rounds, "rows": rows, "goals_ms": goals}, f, indent=1)


if __name__ == "__main__":
    main()

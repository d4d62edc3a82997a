"""bertgan studio: the handlers as plain functions (every tab's answer, the path-traversal refusal), and the page
itself in headless Chromium (marker ``browser``): each tab loads, one interaction per tab gives the expected
answer, no request leaves 127.0.0.1, and a screenshot per tab goes to docs/studio/ (the pictures of docs/studio.md).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest
import torch
from conftest import shared_path

from bertgan.bert.config import BertConfig
from bertgan.bert.hub import save_pretrained
from bertgan.bert.model import (
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
)
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.cli import main
from bertgan.errors import UsageError
from bertgan.studio import SEED_SENTENCE, SEED_WORD, Studio

# the browser test's artifacts: a screenshot per tab (BERTGAN_SCREENSHOTS=docs/studio refreshes the docs' pictures)
SCREENSHOTS = Path(os.environ.get("BERTGAN_SCREENSHOTS") or Path(__file__).resolve().parent.parent / "test-artifacts"
                   / "studio")
KOREAN = "packaged: ko-mini"


def _bert(folder: Path, cls, **labels):
    tok = WordPieceTokenizer.from_dir(shared_path("all-MiniLM-L6-v2-tokenizer"))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, **labels)
    model = cls(cfg)
    head = getattr(model, "qa_outputs", None) or getattr(model, "classifier", None)
    if head is not None:
        torch.nn.init.normal_(head.weight, std=1.0)  # decisive, not near-uniform, predictions
    save_pretrained(model, folder)
    tok.save(folder)


def _labels(names):
    return {"id2label": dict(enumerate(names))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A --runs folder as a user has one: a pre-trained BERT, three fine-tuned ones and a GAN run (MNIST, a few
    steps); ``with_t2i`` adds a tiny text2image run to it."""
    root = tmp_path_factory.mktemp("runs")
    data = str(shared_path("mnist").parent)
    _bert(root / "pre" / "final", BertForPreTraining)
    _bert(root / "sst" / "best", BertForSequenceClassification, **_labels(["negative", "positive"]))
    _bert(root / "ner" / "best", BertForTokenClassification, **_labels(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]))
    _bert(root / "squad" / "best", BertForQuestionAnswering)
    assert main(["gan", "train", "--preset", "tf-dcgan", "--dataset", "mnist", "--data-dir", data, "--max-steps",
                 "6", "--batch-size", "16", "--device", "cpu", "--no-progress", "--out", str(root / "gan")]) == 0
    return root


@pytest.fixture(scope="module")
def with_t2i(runs):
    if not (runs / "t2i" / "generator.safetensors").is_file():
        assert main(["apps", "text2image", "--model", str(runs / "pre" / "final"), "--dataset", "mnist",
                     "--data-dir", str(shared_path("mnist").parent), "--max-steps", "6", "--batch-size", "16",
                     "--width", "8", "--per-text", "2", "--align-epochs", "1", "--device", "cpu", "--no-progress",
                     "--out", str(runs / "t2i")]) == 0
    return runs


@pytest.fixture(scope="module")
def studio(runs):
    return Studio(runs)


# ---------------------------------------------------------------------------------------------- the handlers

def test_studio_lists_what_is_there(studio):
    assert {"run: pre/final", "run: sst/best", "run: ner/best", "run: squad/best"} <= set(studio.bert_models())
    assert list(studio.bert_models("mlm")) == [n for n in studio.bert_models("mlm")]
    assert "run: pre/final" in studio.bert_models("mlm") and "run: sst/best" not in studio.bert_models("mlm")
    assert list(studio.bert_models("BertForQuestionAnswering")) == ["run: squad/best"]
    assert "run: gan" in studio.generators() and "gan" in studio.monitored_runs()


@pytest.mark.slow
def test_text_to_image_tab(with_t2i, studio):
    assert list(studio.text2image_runs()) == ["t2i"] and "run: t2i" not in studio.generators()
    assert Path(studio.text_to_image("t2i", "the digit seven", n=4)).stat().st_size > 0


def test_wordpiece_marks_pieces_and_unknowns(studio):
    pieces, ids = studio.wordpiece("unaffable ☃", "run: pre/final")
    assert [p for p, _ in pieces] == ["una", "##ffa", "##ble", "[UNK]"]
    assert [k for _, k in pieces] == ["word", "continuation", "continuation", "[UNK]"]
    assert ids.split()[0] == "101" and len(ids.split()) == 6  # [CLS] … [SEP]
    # the seed's example with the packaged Korean vocabulary
    assert [p for p, _ in studio.wordpiece(SEED_WORD, KOREAN)[0]] == ["감사", "##합니다"]


def test_fill_mask_gives_top_k_for_each_mask(studio):
    got = studio.fill_mask(SEED_SENTENCE, "run: pre/final", top_k=3)
    assert len(got) == 2 and all(len(g) == 3 for g in got)
    assert all(0 < p <= 1 for g in got for p in g.values())
    assert len(studio.fill_mask("the [MASK] sat", "run: pre/final", top_k=2, whole_word=2)[0]) == 2


def test_attention_is_layers_by_heads_and_bidirectional(studio):
    grid, one, shape = studio.attention("the cat sat on the mat", "run: pre/final", layer=1, head=1)
    assert shape == {"layers": 2, "heads": 2, "tokens": 8}
    assert Path(grid).stat().st_size > 0 and Path(one).stat().st_size > 0
    assert Path(grid).parent == studio.tmp


def test_task_tabs_answer(studio):
    scores = studio.classify("a fine film", "run: sst/best")
    assert set(scores) == {"negative", "positive"} and abs(sum(scores.values()) - 1) < 1e-5
    text = "John lives in Paris"
    spans = studio.tag(text, "run: ner/best")
    assert "".join(s for s, _ in spans) == text  # the text whole, entities marked within it
    context = "The museum is in Paris, beside the river."
    spans = studio.answer("Where is the museum?", context, "run: squad/best")
    assert "".join(s for s, _ in spans) == context
    assert sum(1 for _, k in spans if k and k.startswith("answer")) == 1


def test_gan_tab(studio):
    a = Path(studio.samples("run: gan", seed=3, n=64))
    assert a.read_bytes() == Path(studio.samples("run: gan", seed=3, n=64)).read_bytes()  # seeded
    assert a.read_bytes() != Path(studio.samples("run: gan", seed=4, n=64)).read_bytes()
    w0, w1 = (Path(studio.walk("run: gan", 1, 2, t)).read_bytes() for t in (0.0, 1.0))
    assert w0 != w1
    png, verdict = studio.judge_d("run: gan", seed=0, n=8)
    assert Path(png).is_file() and verdict.startswith("D judges ") and "of 16 images" in verdict
    png, line = studio.modes("run: gan", n=200)
    assert Path(png).is_file() and " of 10 classes covered" in line


def test_training_monitor(studio):
    curves, grid, status = studio.monitor("gan")
    assert Path(curves).is_file() and grid.endswith("samples.png") and status.startswith("step 6:")
    assert "loss_d" in status


@pytest.mark.parametrize("field", ["wordpiece", "fill_mask", "attention", "classify", "tag", "samples", "monitor",
                                   "text_to_image"])
@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "run: ../../../etc", "gan/../.."])
def test_a_path_the_page_sends_reads_nothing(studio, field, name):
    call = {"wordpiece": lambda: studio.wordpiece("x", name), "fill_mask": lambda: studio.fill_mask("[MASK]", name),
            "attention": lambda: studio.attention("x", name), "classify": lambda: studio.classify("x", name),
            "tag": lambda: studio.tag("x", name), "samples": lambda: studio.samples(name),
            "monitor": lambda: studio.monitor(name), "text_to_image": lambda: studio.text_to_image(name, "x")}[field]
    with pytest.raises(UsageError, match="not one of the"):
        call()


def test_text_is_length_limited(studio):
    pieces, _ = studio.wordpiece("a " * 10_000, "run: pre/final")
    assert len(pieces) <= 1000


def test_studio_cli_dry_run_and_host_warning(runs, capsys):
    assert main(["studio", "--runs", str(runs), "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "http://127.0.0.1:7860" in out.out and "warning" not in out.err
    assert main(["studio", "--runs", str(runs), "--host", "0.0.0.0", "--dry-run"]) == 0
    assert "warning: --host 0.0.0.0" in capsys.readouterr().err
    assert main(["studio", "--runs", str(runs / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["studio", "--port", "70000", "--dry-run"]) == 2


# ---------------------------------------------------------------------------------------------- in a browser

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _need(module: str):
    """The module, or a skip — under CI=true a failure: CI runs the browser tests."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def _chromium():
    """Selenium on Debian's chromium and chromedriver (no driver download: Selenium Manager never runs)."""
    webdriver = _need("selenium.webdriver")
    binary, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (binary and driver):
        if os.environ.get("CI"):
            pytest.fail("the browser tests need chromium and chromedriver (apt-get install chromium "
                        "chromium-driver); .ci/run installs them")
        pytest.skip("chromium/chromedriver not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps", "--window-size=1280,1000"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture(scope="module")
def page(with_t2i, studio):
    _need("gradio")
    from bertgan.studio import launch

    port = _free_port()
    blocks = launch(studio, port=port, block=False)
    browser = _chromium()
    browser.get(f"http://127.0.0.1:{port}/")
    yield browser, port
    browser.quit()
    blocks.close()


def _wait(browser, test, timeout=60.0, what="the page"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            got = test()
            if got:
                return got
        except Exception:  # an element not there yet, or replaced while read
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not appear within {timeout:.0f} s")


def _by(browser, css):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, css)


def _open_tab(browser, name: str):
    from selenium.webdriver.common.by import By

    tab = _wait(browser, lambda: [b for b in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]")
                                  if b.text.strip() == name], what=f"the tab {name!r}")[0]
    tab.click()


def _shot(browser, name: str):
    """The whole tab, top to bottom (the window is stretched to the page's height for the picture)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0)")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(int(height), 600), 2600))
    time.sleep(0.3)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    browser.set_window_size(1280, 1000)


def _img_src(browser, elem_id: str) -> str:
    imgs = _by(browser, f"#{elem_id} img")
    return imgs[0].get_attribute("src") if imgs else ""


def _set_dropdown(browser, elem_id: str, value: str):
    _by(browser, f"#{elem_id} input")[0].click()
    option = _wait(browser, lambda: [o for o in _by(browser, "ul[role=listbox] li")
                                     if o.text.strip().splitlines()[-1] == value], what=f"the option {value!r}")[0]
    option.click()


@pytest.mark.browser
@pytest.mark.slow
def test_every_tab_in_a_real_browser(page, studio):
    browser, port = page
    _wait(browser, lambda: _by(browser, "button[role=tab]"), what="the studio's tabs")
    _wait(browser, lambda: "Found" in _by(browser, "#studio-found")[0].text, what="the lists read on load")

    _open_tab(browser, "WordPiece")
    _set_dropdown(browser, "wp-model-a", KOREAN)
    _by(browser, "#wp-go")[0].click()
    pieces = _wait(browser, lambda: _by(browser, "#wp-out-a").pop().text.split(), what="the pieces")
    _wait(browser, lambda: "##합니다" in _by(browser, "#wp-out-a")[0].text, what="'##합니다'")
    assert "감사" in _by(browser, "#wp-out-a")[0].text, pieces
    _shot(browser, "wordpiece")

    _open_tab(browser, "Fill-mask")
    _by(browser, "#fm-go")[0].click()
    for i in (0, 1):  # the seed sentence has two masks: a top-k list for each
        _wait(browser, lambda i=i: sum("%" in ln for ln in _by(browser, f"#fm-out-{i}")[0].text.splitlines()) == 5,
              what=f"the top-5 of [MASK] {i + 1}")
    _shot(browser, "fill-mask")

    _open_tab(browser, "Attention")
    _set_dropdown(browser, "at-model", KOREAN)
    _by(browser, "#at-go")[0].click()
    _wait(browser, lambda: _img_src(browser, "at-grid") and _img_src(browser, "at-one"), what="the attention maps")
    _shot(browser, "attention")

    _open_tab(browser, "Tasks")
    _by(browser, "#cls-go")[0].click()
    _wait(browser, lambda: "positive" in _by(browser, "#cls-out")[0].text, what="the class scores")
    _by(browser, "#qa-go")[0].click()
    _wait(browser, lambda: "answer" in _by(browser, "#qa-out")[0].text, what="the answer span")
    _shot(browser, "tasks")

    _open_tab(browser, "GAN")
    _set_dropdown(browser, "gan-model", "run: gan")
    _by(browser, "#gan-go")[0].click()
    _wait(browser, lambda: _img_src(browser, "gan-grid"), what="the sample grid")
    slider = _by(browser, "#gan-walk input[type=range]")[0]
    browser.execute_script("arguments[0].value = 0.3; arguments[0].dispatchEvent(new Event('input'));"
                           "arguments[0].dispatchEvent(new Event('change'));", slider)
    first = _wait(browser, lambda: _img_src(browser, "gan-walk-img"), what="the latent-walk image")
    browser.execute_script("arguments[0].value = 0.9; arguments[0].dispatchEvent(new Event('input'));"
                           "arguments[0].dispatchEvent(new Event('change'));", slider)
    _wait(browser, lambda: _img_src(browser, "gan-walk-img") not in ("", first), what="a new image on the slider")
    _by(browser, "#gan-d-go")[0].click()
    _wait(browser, lambda: "0.5" in _by(browser, "#gan-d-txt textarea")[0].get_attribute("value"),
          what="D's verdicts")
    _by(browser, "#gan-modes-go")[0].click()
    _wait(browser, lambda: _img_src(browser, "gan-modes"), what="the class histogram")
    _shot(browser, "gan")

    _open_tab(browser, "Text → image")
    _by(browser, "#t2i-go")[0].click()
    _wait(browser, lambda: _img_src(browser, "t2i-img"), what="the text2image grid")
    _shot(browser, "text-to-image")

    _open_tab(browser, "Training monitor")
    _set_dropdown(browser, "mon-run", "gan")
    _wait(browser, lambda: "step 6" in _by(browser, "#mon-status textarea")[0].get_attribute("value"),
          what="the run's latest metrics")
    _wait(browser, lambda: _img_src(browser, "mon-curves"), what="the curves")
    _shot(browser, "training-monitor")

    # a run that starts after the studio: offered once the page is reloaded
    late = studio.runs / "late"
    late.mkdir()
    (late / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    browser.refresh()
    _wait(browser, lambda: "Found" in _by(browser, "#studio-found")[0].text, what="the lists read again")
    _open_tab(browser, "Training monitor")
    _set_dropdown(browser, "mon-run", "late")

    # everything came from this machine: no request to any other host
    hosts = set()
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if not url.startswith(("data:", "blob:")):
                hosts.add(url.split("/")[2])
    assert hosts and hosts <= {f"127.0.0.1:{port}", f"localhost:{port}"}, hosts

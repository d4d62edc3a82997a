"""``bertgan gan collapse-demo``: seed 001's mode-collapse warning, shown and fixed.

Seed 001 (단점): "Fashion MNIST 로 학습할 경우, 10가지 중 몇 가지 의류 이미지만 생성되기 쉽다" — trained on
Fashion-MNIST, a GAN tends to generate only a few of the ten kinds of clothing. The demo trains, on each dataset,
the seed's plain minimax game and a stabilised recipe with the same networks, step budget and seed, then scores
both with ``gan/evaluate.py`` (modes covered, class histogram, KL) and draws them side by side.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bertgan.data.images import POINT_DATASETS
from bertgan.errors import UsageError
from bertgan.gan.config import PRESETS
from bertgan.io import write_json

# What changes between the two columns, per kind of data; everything else (architecture, data, steps, seed) is
# shared. Each stabilised recipe was chosen by measurement over five seeds (docs/gan.md, "The collapse demo").
RECIPES: dict[str, dict[str, dict]] = {
    # Seed 001's objective as written: D and G play min_θ max_η V(D, G), G descending log(1 − D(G(z))), at a
    # constant learning rate.
    "plain": {"images": dict(loss="minimax"), "points": dict(loss="minimax")},
    "stabilised": {
        # The stabilisers that target collapse: D sees pairs of samples (PacGAN, m = 2) plus the spread of its
        # batch (minibatch std-dev), so a G that repeats itself is caught; the non-saturating G loss; an EMA of G
        # (0.99: over a few thousand steps, 0.999 averages in weights from too early and blurs).
        "images": dict(loss="nonsaturating", pack=2, mbstd=True, ema=0.99),
        # On the 2-D mixtures the same game with both learning rates annealed linearly to 0 (Miyato et al. 2018's
        # schedule): the late small steps pull samples off the lines G draws between modes. The image recipe's
        # stabilisers measured worse here at this length (fewer modes, a tenth of the high-quality share), and an
        # EMA of G mixes its averaged weights with the live BatchNorm statistics.
        "points": dict(loss="minimax", lr_decay=1.0),
        # Ring-8 is the exception: there that schedule kept 2 of the 8 modes (seed 0, 6,000 steps), and at 30,000
        # steps 1 of 8 — D wins at once and the minimax G loss saturates. The ring-8 preset's game instead (the
        # non-saturating G loss and PacGAN4; measured at seed 0 here, over three seeds at full length).
        "ring-8": {k: PRESETS["ring-8"][k] for k in ("loss", "pack", "lr_decay")},
    },
}
# The networks per kind of data: PacGAN's 2-D networks; for images the fully connected G and D of Goodfellow et al.
# 2014 — on a 2-core CPU they run ~30× more images a second than the lecture's DCGAN, so a few minutes are
# several epochs (the collapse shows up in either).
BASE = {"points": ("toy", dict(lr_g=5e-4, lr_d=5e-4)), "images": ("mlp", dict(batch_size=64))}
DEFAULT_STEPS = {"points": 6000, "images": 4000}


def _kind(dataset: str) -> str:
    return "points" if dataset in POINT_DATASETS else "images"


def _changes(recipe: str, dataset: str) -> dict:
    """What ``recipe`` changes on ``dataset``: its own entry where it has one, else its kind's."""
    by = RECIPES[recipe]
    return by.get(dataset, by[_kind(dataset)])


def demo_config(dataset: str, recipe: str, steps: int | None, seed: int, data_dir=None):
    from bertgan.gan.config import resolve

    kind = _kind(dataset)
    preset, base = BASE[kind]
    overrides = dict(base, **_changes(recipe, dataset))
    return resolve(preset, dataset=dataset, data_dir=data_dir, seed=seed, max_steps=steps or DEFAULT_STEPS[kind],
                   log_every=50, checkpoint_every=1000, **overrides)


def collapse_demo(out: str | Path, datasets: list[str], *, data_dir=None, steps: int | None = None, seed: int = 0,
                  progress: bool = True, log: Callable[[str], None] = print) -> dict:
    from bertgan.gan.evaluate import CLASSIFIER_DATASET, evaluate_run
    from bertgan.gan.trainer import CHECKPOINT, train

    for d in datasets:
        if d not in POINT_DATASETS and d not in CLASSIFIER_DATASET:
            raise UsageError(f"--datasets {d}: the demo needs a dataset with known modes: "
                             f"{', '.join(POINT_DATASETS + tuple(CLASSIFIER_DATASET))}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for d in datasets:
        for recipe in RECIPES:
            changes = _changes(recipe, d)
            cfg = demo_config(d, recipe, steps, seed, data_dir)
            run = out / f"{d}-{recipe}"
            resume = (run / CHECKPOINT).is_file() and _same_recipe(run, cfg)  # an earlier demo: continue it
            if not resume and run.exists():  # killed before its first checkpoint, or another recipe: start over
                shutil.rmtree(run)
            if resume:
                from bertgan.gan.trainer import load_run_config

                cfg = dataclasses.replace(load_run_config(run), max_steps=cfg.max_steps)
            log(f"== {d}: {recipe} ({changes}), {cfg.max_steps} steps")
            r = train(cfg, run, resume=resume, progress=progress, log=log)
            if r.interrupted:
                raise KeyboardInterrupt
            ev = evaluate_run(run, "modes", None, data_dir, progress=progress, log=log)
            results.setdefault(d, {})[recipe] = {"run": str(run), "modes": ev["modes"], "steps": r.step,
                                                 "recipe": changes}
    write_json(out / "collapse.json", results)
    _figure(out / "collapse.png", results)
    log(format_table(results))
    log(f"written: {out / 'collapse.png'}, {out / 'collapse.json'}")
    return results


def _same_recipe(run: Path, cfg) -> bool:
    """The run in ``run`` was trained with ``cfg`` up to its length (max_steps) and file locations."""
    from bertgan.gan.trainer import load_run_config

    saved = load_run_config(run)
    ignore = {"max_steps", "data_dir", "dataset", "precision", "device", "image_size", "channels"}
    a, b = dataclasses.asdict(saved), dataclasses.asdict(cfg)
    return all(a[k] == b[k] for k in a if k not in ignore) and Path(a["dataset"]).name == Path(b["dataset"]).name


def format_table(results: dict) -> str:
    lines = [f"{'dataset':14s} {'recipe':11s} {'modes':>8s} {'KL':>8s}  other"]
    for d, by in results.items():
        for recipe, r in by.items():
            m = r["modes"]
            if "high_quality" in m:
                lines.append(f"{d:14s} {recipe:11s} {m['modes_covered']:>3d}/{m['n_modes']:<4d} "
                             f"{m['reverse_kl']:8.4f}  high quality {100 * m['high_quality']:.1f}%")
            else:
                lines.append(f"{d:14s} {recipe:11s} {m['modes_covered']:>3d}/{m['n_modes']:<4d} {m['kl']:8.4f}  "
                             f"histogram {m['histogram']}")
    return "\n".join(lines)


def _figure(path: Path, results: dict) -> Path:
    """One row per dataset: for each recipe, its samples and its mode histogram."""
    from PIL import Image

    from bertgan.report.plots import _plt, save_figure

    plt = _plt()
    recipes = list(RECIPES)
    rows = len(results)
    fig, axes = plt.subplots(rows, 2 * len(recipes), figsize=(4.2 * 2 * len(recipes), 4 * rows), squeeze=False)
    for i, (d, by) in enumerate(results.items()):
        for j, recipe in enumerate(recipes):
            r = by[recipe]
            run, m = Path(r["run"]), r["modes"]
            ax_img, ax_hist = axes[i][2 * j], axes[i][2 * j + 1]
            picture = run / ("eval_points.png" if "high_quality" in m else "eval_samples.png")
            ax_img.imshow(np.asarray(Image.open(picture).convert("RGB")))
            ax_img.set_axis_off()
            ax_img.set_title(f"{d} — {recipe}", fontsize=10)
            counts = np.asarray(m["counts"] if "high_quality" in m else m["histogram"], dtype=float)
            ax_hist.bar(np.arange(len(counts)), counts / max(counts.sum(), 1), color="tab:orange")
            ax_hist.axhline(1 / len(counts), color="black", lw=1, ls="--", label="uniform")
            covered = f"{m['modes_covered']}/{m['n_modes']} modes"
            kl = m.get("reverse_kl", m.get("kl"))
            ax_hist.set_title(f"{covered}, KL {kl:.3f}", fontsize=10)
            ax_hist.set_xlabel("mode (nearest centre)" if "high_quality" in m else "class (classifier)")
            ax_hist.set_ylabel("share of samples")
            if "class_names" in m:
                ax_hist.set_xticks(np.arange(len(counts)), m["class_names"], rotation=60, fontsize=7)
            ax_hist.legend(fontsize=8)
    fig.suptitle("Seed 001's mode-collapse warning: the plain minimax game against a stabilised recipe", fontsize=12)
    fig.tight_layout()
    return save_figure(plt, fig, path)

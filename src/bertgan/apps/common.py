"""What every application shares: resolving its config, the run folder (config.json, result.json), labelled
image splits, the evaluation classifier as the judge of content, and the input / output / target picture."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from bertgan.apps import APPS, SETTINGS, load
from bertgan.errors import UsageError
from bertgan.io import ensure_writable_dir, write_json

LABELLED = ("mnist", "fashion-mnist", "digits")  # image sets with classes and a cached evaluation classifier


def resolve(name: str, setting: str = "full", **overrides):
    """The app's Config: its defaults < SETTINGS[setting] < the overrides that are not None."""
    if name not in APPS:
        raise UsageError(f"unknown application {name!r}; choose one of {', '.join(APPS)}")
    if setting not in SETTINGS:
        raise UsageError(f"unknown setting {setting!r}; choose quick or full")
    module = load(name)
    names = {f.name for f in dataclasses.fields(module.Config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise UsageError(f"{name}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    values = dict(module.SETTINGS.get(setting, {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = module.Config(**values)
    module.validate(cfg)
    return cfg


def run_app(name: str, cfg, out: str | Path, *, setting: str = "full", data_dir=None, progress: bool = True,
            log: Callable[[str], None] = print) -> dict:
    """Run one application into ``out``: config.json first (what was asked), result.json last (what was
    measured, with the wall time) — a folder without result.json is an unfinished run. The config is checked
    first, so a Config built by hand gets the same messages as one from ``resolve``, before anything is written."""
    module = load(name)
    module.validate(cfg)
    out = ensure_writable_dir(out)
    (out / "result.json").unlink(missing_ok=True)
    write_json(out / "config.json", {"app": name, "setting": setting, **dataclasses.asdict(cfg)})
    t0 = time.time()
    result = module.run(cfg, out, data_dir=data_dir, progress=progress, log=log)
    result = {"app": name, "setting": setting, **result, "seconds": round(time.time() - t0, 1)}
    write_json(out / "result.json", result)
    return result


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (weight init, dropout) and return a generator for data order and noise."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def check_labelled(dataset: str, flag: str = "--dataset") -> None:
    if dataset not in LABELLED:
        raise UsageError(f"{flag} {dataset}: this application needs a labelled image set with an evaluation "
                         f"classifier; choose one of {', '.join(LABELLED)}")


def flag(cfg, field: str) -> str:
    """The command-line flag of a field of an app's Config (``bertgan.apps.flag_name``)."""
    from bertgan.apps import flag_name

    return flag_name(type(cfg).__module__.rsplit(".", 1)[-1], field)


def check_positive(cfg, *names: str) -> None:
    for n in names:
        v = getattr(cfg, n)
        if v is None or v <= 0:
            raise UsageError(f"{flag(cfg, n)} {v}: must be > 0")


def mean_std(values: Sequence[float]) -> dict:
    """{"mean", "std", "values"}: std is the sample standard deviation (n − 1), 0 for one value."""
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "values": [float(v) for v in a]}


def batches(n: int, batch: int, generator: torch.Generator, drop_last: bool = True):
    """Shuffled index batches over n items, one epoch."""
    order = torch.randperm(n, generator=generator)
    stop = n - n % batch if drop_last and n >= batch else n
    for i in range(0, stop, batch):
        yield order[i:i + batch]


def endless_batches(n: int, batch: int, generator: torch.Generator):
    """Shuffled index batches, epoch after epoch, for step-counted training loops."""
    while True:
        yield from batches(n, batch, generator)


def save_rows(path: str | Path, rows: dict[str, torch.Tensor], title: str = "") -> Path:
    """One labelled row per entry — e.g. {"input": x, "output": G(x), "target": y} — images (N, C, H, W) in
    [−1, 1] (or uint8), the same N in every row: the picture every image-to-image command writes."""
    from bertgan.report.plots import _plt, image_grid, save_figure, to_uint8

    plt = _plt()
    n = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), 1, figsize=(max(4.0, 0.7 * n), 0.9 * len(rows) + 0.6), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items(), strict=True):
        images = images if images.dtype == torch.uint8 else to_uint8(images)
        grid = np.asarray(image_grid(images, nrow=n, min_cell=28))
        ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def judge(dataset: str, data_dir=None, log: Callable[[str], None] = print):
    """The cached evaluation classifier of ``dataset`` (trained on its real training set, gan/evaluate.py): the
    real-data classifier that decides whether generated or translated images still show their class."""
    from bertgan.gan.evaluate import load_classifier

    return load_classifier(dataset, data_dir, log=log)


def accuracy_by_judge(model, images: torch.Tensor, labels) -> float:
    from bertgan.gan.evaluate import classify

    pred, _ = classify(model, images)
    return float((pred == np.asarray(labels)).mean())

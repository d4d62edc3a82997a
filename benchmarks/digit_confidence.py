"""How sure the evaluation classifier is of a run's digits: why a Stacked MNIST run's KL stays above the real floor.

    python benchmarks/digit_confidence.py --run runs/stacked-mnist-0 --data-dir ../shared/data

Draws the evaluation's samples (26,000 for Stacked MNIST, seed 0, as `bertgan gan evaluate` does), reads every channel
with the MNIST classifier that `gan evaluate` uses, and prints, for G's channel digits and for the 10,000 real test
digits: the share whose top class probability is below 0.9, the argmax counts, and for each digit the commonest
runner-up classes. ``--background B`` also re-reads G's digits with every pixel below B (of 255) set to 0, to tell
faint background from ambiguous strokes.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def probabilities(classifier, images: torch.Tensor) -> np.ndarray:
    """Softmax class probabilities (N, 10) of one-channel uint8 images (N, 1, H, W), from the features
    `gan evaluate` reads them by."""
    from bertgan.gan.evaluate import classify

    _, features = classify(classifier, images)
    with torch.no_grad():
        return torch.softmax(classifier.out(torch.as_tensor(features, dtype=torch.float32)), 1).numpy()


def report(name: str, p: np.ndarray) -> None:
    labels, top = p.argmax(1), p.max(1)
    print(f"{name}: {len(p):,} digits, top probability < 0.9: {(top < 0.9).mean():.1%}, mean top {top.mean():.3f}")
    print("  argmax counts", np.bincount(labels, minlength=10).tolist())
    for d in range(10):
        runner_up = np.bincount(np.argsort(p[labels == d], 1)[:, -2], minlength=10)
        print(f"  filed as {d}: runners-up (commonest first)", np.argsort(-runner_up)[:3].tolist())


def main() -> None:
    from bertgan.gan.evaluate import DEFAULT_N, generate_samples, labelled_splits, load_classifier
    from bertgan.gan.trainer import load_generator

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a gan train run folder on MNIST or Stacked MNIST")
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--background", type=int, default=40)
    a = ap.parse_args()
    G, cfg = load_generator(a.run, torch.device("cpu"))
    if cfg.dataset not in ("mnist", "stacked-mnist"):
        ap.error(f"--run {a.run}: dataset {cfg.dataset!r}; this reads MNIST digits (mnist or stacked-mnist)")
    x = generate_samples(G, cfg, DEFAULT_N.get(cfg.dataset, 10_000), a.seed, torch.device("cpu"))
    classifier = load_classifier("mnist", a.data_dir, log=lambda *_: None)[0]
    channels = range(x.shape[1])
    report("G", np.concatenate([probabilities(classifier, x[:, c:c + 1]) for c in channels]))
    faint = x.clone()
    faint[faint < a.background] = 0
    report(f"G, pixels below {a.background} set to 0",
           np.concatenate([probabilities(classifier, faint[:, c:c + 1]) for c in channels]))
    _, test = labelled_splits("mnist", a.data_dir)
    report("real test", probabilities(classifier, torch.as_tensor(test.images[:10_000])))


if __name__ == "__main__":
    main()

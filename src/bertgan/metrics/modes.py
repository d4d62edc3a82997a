"""Mode coverage: how many of the data's modes (classes) a generator reproduces, and how evenly.

Three protocols, all from labels or 2-D points (no model code here — a classifier that labels generated images
lives with the caller):

- class coverage (:func:`mode_coverage`): generated images labelled by a pretrained classifier, compared with the
  real class distribution;
- the 2-D Gaussian-mixture benchmarks of VEEGAN (Srivastava et al. 2017, "VEEGAN: Reducing Mode Collapse in GANs
  using Implicit Variational Learning") as reported in PacGAN's Table 1 (Lin et al. 2018, "PacGAN: The power of two
  samples in generative adversarial networks"): a ring of 8 and a 5 × 5 grid of 25 Gaussians
  (:func:`gaussian_mixture_score`);
- Stacked MNIST's 1000 modes (three MNIST digits stacked as the colour channels; Metz et al. 2017, "Unrolled
  Generative Adversarial Networks"; VEEGAN; PacGAN Table 2): modes with at least one sample and
  KL(generated ‖ uniform) (:func:`stacked_mnist_score`).

KL divergences use natural logarithms, with the generated distribution as the first argument (p) — "reverse KL"
in the GAN literature, which punishes mass put where the data has none and, through the normalisation, missing
modes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from bertgan.errors import UsageError

RING_STD = 0.02
"""Standard deviation of each ring component, with :func:`ring_centers`' default radius 2. (PacGAN's released
configuration uses radius 1 with std 0.01; the scores depend only on the ratio, so pass both to match it.)"""
GRID_STD = 0.05
"""Standard deviation of each grid component (means at (−4, −2, 0, 2, 4)²)."""
HIGH_QUALITY_STDS = 3.0
"""A sample is high quality when it lies within this many standard deviations of its nearest mode (VEEGAN)."""
STACKED_MNIST_MODES = 1000


def class_histogram(labels, n_classes: int) -> np.ndarray:
    """Counts (n_classes,) int64 of integer labels in [0, n_classes)."""
    if n_classes < 1:
        raise ValueError(f"n_classes must be positive, got {n_classes}")
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"expected a 1-D label array, got shape {y.shape}")
    if y.size == 0:
        return np.zeros(n_classes, dtype=np.int64)
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    return np.bincount(y, minlength=n_classes).astype(np.int64)


def _distribution(x, name: str) -> np.ndarray:
    d = np.asarray(x, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of counts or probabilities, got shape {d.shape}")
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"{name}: counts/probabilities must be finite and non-negative")
    total = d.sum()
    if total <= 0:
        raise ValueError(f"{name}: all zero, nothing to normalise")
    return d / total


def kl_divergence(p, q) -> float:
    """KL(p ‖ q) = Σ p log(p / q) in nats, for p and q given as counts or probabilities over the same classes
    (each is normalised to sum to 1). Terms with p = 0 count 0; ``inf`` when some class has p > 0 but q = 0."""
    p, q = _distribution(p, "p"), _distribution(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must cover the same classes, got lengths {len(p)} and {len(q)}")
    mask = p > 0
    if np.any(q[mask] == 0):
        return math.inf
    # KL is never negative; round-off on nearly equal distributions could give -1e-17.
    return max(float(np.sum(p[mask] * np.log(p[mask] / q[mask]))), 0.0)


def mode_coverage(generated_labels, real_labels_or_distribution, n_classes: int, min_share: float = 0.1) -> dict:
    """Class coverage of generated samples given their (classifier) labels.

    ``real_labels_or_distribution`` is either the labels of real samples (an *integer* array, one label per sample)
    or the real class distribution (a *float* array of length ``n_classes``: probabilities or counts; pass
    ``counts.astype(float)`` for a histogram).

    Rule: a class is covered when it occurs in the real data and its share of the generated samples is at least
    ``min_share`` × its share of the real data, with at least one generated sample (so ``min_share=0`` means
    "generated at least once"). ``kl`` is KL(generated ‖ real) (generated as p); it is finite whenever every
    generated class also occurs in the real data, ``inf`` otherwise.

    Returns {'modes_covered', 'n_modes' (classes present in the real data), 'kl', 'rule', 'histogram' (generated
    counts), 'real_histogram' (real counts, or the distribution as given), 'n' (generated samples)}."""
    if not min_share >= 0:
        raise ValueError(f"min_share must be non-negative, got {min_share}")
    generated = class_histogram(generated_labels, n_classes)
    n = int(generated.sum())
    if n == 0:
        raise UsageError("mode coverage needs at least 1 generated sample, got none; generate samples first "
                         "(a few per class at least, e.g. 10 × the number of classes)")
    real = np.asarray(real_labels_or_distribution)
    if real.dtype.kind == "f":
        if real.shape != (n_classes,):
            raise ValueError(f"a real class distribution must have shape ({n_classes},), got {real.shape}")
        real_histogram = real.astype(np.float64)
        real_share = _distribution(real_histogram, "real distribution")
        real_list = real_histogram.tolist()
    else:
        real_histogram = class_histogram(real, n_classes)
        if real_histogram.sum() == 0:
            raise UsageError("mode coverage needs real labels to compare with, got none")
        real_share = real_histogram / real_histogram.sum()
        real_list = [int(c) for c in real_histogram]
    generated_share = generated / n
    covered = (real_share > 0) & (generated > 0) & (generated_share >= min_share * real_share)
    return {
        "modes_covered": int(covered.sum()),
        "n_modes": int(np.sum(real_share > 0)),
        "kl": kl_divergence(generated, real_share),
        "rule": f"a class counts as covered when its generated share >= {min_share:g} x its real share "
                f"(classes present in the real data, at least one generated sample)",
        "histogram": [int(c) for c in generated],
        "real_histogram": real_list,
        "n": n,
    }


# ---------------------------------------------------------------------------------------------------------------
# 2-D Gaussian mixtures (VEEGAN / PacGAN Table 1)


def ring_centers(n: int = 8, radius: float = 2.0) -> np.ndarray:
    """(n, 2) means evenly spaced on a circle: radius · (cos 2πi/n, sin 2πi/n), i = 0 … n−1."""
    angles = 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centers(n: int = 25, spacing: float = 2.0) -> np.ndarray:
    """(n, 2) means of a square grid centred on the origin; the default is (−4, −2, 0, 2, 4)², row by row."""
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"a square grid needs a square number of centres, got {n}")
    axis = (np.arange(side) - (side - 1) / 2) * spacing
    return np.array(list(itertools.product(axis, axis)), dtype=np.float64)


def sample_mixture(centers: np.ndarray, std: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points (n, 2) from the equal-weight mixture of isotropic Gaussians N(center, std² I)."""
    centers = np.asarray(centers, dtype=np.float64)
    which = rng.integers(0, len(centers), size=n)
    return centers[which] + std * rng.standard_normal((n, centers.shape[1]))


def gaussian_mixture_score(samples: np.ndarray, centers: np.ndarray, std: float) -> dict:
    """Mode collapse on a 2-D equal-weight Gaussian mixture, by the VEEGAN / PacGAN protocol (2500 samples).

    Every sample is assigned to its nearest centre. ``high_quality`` is the fraction of samples within
    3·std (:data:`HIGH_QUALITY_STDS`) of it; a mode is covered when at least one high-quality sample is assigned
    to it (VEEGAN's "number of modes captured"). ``reverse_kl`` is KL(generated ‖ true) between the distribution
    of *all* samples over their nearest modes and the uniform true distribution over modes — PacGAN's reverse KL;
    counting every sample (not only high-quality ones) keeps it defined when no sample is high quality, and a
    generator that piles everything on one mode scores log(n_modes).

    Returns {'modes_covered', 'n_modes', 'high_quality', 'reverse_kl', 'counts' (samples per mode, all),
    'high_quality_counts', 'n'}."""
    x = np.asarray(samples, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"expected samples (N, D) and centers (M, D) of the same D, got {x.shape} and {c.shape}")
    if len(x) == 0:
        raise UsageError("the mixture score needs generated samples, got none; the protocol uses 2500")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    nearest = d2.argmin(axis=1)
    good = np.sqrt(d2[np.arange(len(x)), nearest]) < HIGH_QUALITY_STDS * std
    counts = np.bincount(nearest, minlength=len(c))
    good_counts = np.bincount(nearest[good], minlength=len(c))
    return {
        "modes_covered": int(np.sum(good_counts > 0)),
        "n_modes": len(c),
        "high_quality": float(good.mean()),
        "reverse_kl": kl_divergence(counts, np.ones(len(c))),
        "counts": [int(v) for v in counts],
        "high_quality_counts": [int(v) for v in good_counts],
        "n": len(x),
    }


# ---------------------------------------------------------------------------------------------------------------
# Stacked MNIST


def stacked_mode_labels(channel_labels) -> np.ndarray:
    """(N,) mode index 100·l0 + 10·l1 + l2 of the digits (N, 3) a classifier read in the three channels."""
    y = np.asarray(channel_labels)
    if y.ndim != 2 or y.shape[1] != 3:
        raise ValueError(f"expected (N, 3) digit labels, one per channel, got shape {y.shape}")
    if y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() > 9):
        raise ValueError("channel labels must be integer digits 0-9")
    y = y.astype(np.int64)
    return 100 * y[:, 0] + 10 * y[:, 1] + y[:, 2]


def stacked_mnist_score(channel_labels) -> dict:
    """Stacked MNIST protocol: modes covered = the number of the 1000 digit triples with at least one generated
    sample; ``kl`` = KL(generated ‖ uniform over 1000) (the data's triples are uniform by construction). The papers
    use 26k (VEEGAN, PacGAN) or 25.6k (Unrolled GAN) samples. Returns {'modes_covered', 'kl', 'n', 'histogram'
    (the 1,000 counts), 'channel_histograms' (each channel's digit counts, R, G, B: a digit over-drawn or
    over-read in every channel shows there)}."""
    channel_labels = np.asarray(channel_labels)
    labels = stacked_mode_labels(channel_labels)
    out = mode_coverage(labels, np.full(STACKED_MNIST_MODES, 1.0 / STACKED_MNIST_MODES), STACKED_MNIST_MODES,
                        min_share=0.0)
    return {"modes_covered": out["modes_covered"], "kl": out["kl"], "n": out["n"], "histogram": out["histogram"],
            "channel_histograms": [class_histogram(channel_labels[:, c], 10).tolist() for c in range(3)]}

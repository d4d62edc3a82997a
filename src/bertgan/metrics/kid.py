"""Kernel Inception Distance (Bińkowski, Sutherland, Arbel & Gretton 2018, "Demystifying MMD GANs"), from
feature arrays.

KID is the squared maximum mean discrepancy between the two feature distributions under the cubic polynomial kernel
``k(x, y) = (x·y / d + 1)³`` (d = feature size), estimated without bias. Unlike FID it has an unbiased estimator, so
small-N scores are comparable with large-N ones (only noisier), and it can be slightly negative when the two sets
come from the same distribution.

As in the paper's code (``compute_scores.py``, ``polynomial_mmd_averages``) and ``torch-fidelity``, the estimate is
averaged over ``n_subsets`` random subsets of ``m = min(subset_size, N_a, N_b)`` samples drawn without replacement
from each set; the returned spread is the standard deviation over subsets (``np.std``, ddof 0). Per subset::

    MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²

Subsets come from ``np.random.default_rng(seed)``, so scores are reproducible but do not match torch-fidelity's
``RandomState`` draws sample for sample.
"""

from __future__ import annotations

import numpy as np

from bertgan.errors import UsageError

MIN_SAMPLES = 2
"""The unbiased estimator leaves out the diagonal, so each set needs two samples at least."""


def _features(x, name: str) -> np.ndarray:
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (samples, features), got shape {f.shape}")
    if len(f) < MIN_SAMPLES:
        raise UsageError(f"{name}: KID needs at least {MIN_SAMPLES} samples per set, got {len(f)}; generate more "
                         f"samples (the paper's protocol uses subsets of 1000)")
    return f


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """K[i, j] = (x_i·y_j / d + 1)³ for x (n, d) and y (m, d) — sklearn's ``polynomial_kernel`` with its default
    ``gamma = 1/d``, ``coef0 = 1``, ``degree = 3``, the kernel KID is defined with."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² estimate between samples x (m, d) and y (n, d) under :func:`polynomial_kernel` (all of both
    sets, no subsetting). With m == n this is the reference's ``mmd2(..., mmd_est='unbiased')``."""
    x, y = _features(x, "x"), _features(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sizes differ: {x.shape[1]} and {y.shape[1]}")
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    # The diagonal k(x_i, x_i) pairs a sample with itself; dropping it is what removes the bias.
    xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * k_xy.mean())


def kid(features_a: np.ndarray, features_b: np.ndarray, n_subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the unbiased polynomial-kernel MMD² over ``n_subsets`` random subsets of
    ``min(subset_size, N_a, N_b)`` samples from each set. Papers often report it ×1000 or ×100.

    Raises ``UsageError`` when either set has fewer than 2 samples."""
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be at least 1, got {n_subsets}")
    if subset_size < MIN_SAMPLES:
        raise ValueError(f"subset_size must be at least {MIN_SAMPLES}, got {subset_size}")
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    mmds = np.empty(n_subsets)
    for i in range(n_subsets):
        xa = a[rng.choice(len(a), m, replace=False)]
        xb = b[rng.choice(len(b), m, replace=False)]
        mmds[i] = mmd2_unbiased(xa, xb)
    return float(np.mean(mmds)), float(np.std(mmds))

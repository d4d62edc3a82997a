"""Precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
Models") and density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative
Models"), from feature arrays.

Each sample's k-NN ball has as radius the distance to its k-th nearest neighbour in its own set (the sample itself
excluded). The four numbers are computed exactly as the official ``prdc`` package (clovaai/generative-evaluation-prdc,
``compute_prdc``), including its strict ``<`` comparisons:

- precision: fraction of fake samples inside at least one real ball (fidelity);
- recall: fraction of real samples inside at least one fake ball (diversity);
- density: (1/k) · mean over fake samples of the number of real balls containing it (fidelity that is robust to
  real outliers; ≈ 1 when the distributions match, can exceed 1);
- coverage: fraction of real samples whose own ball contains at least one fake sample (diversity robust to fake
  outliers).

Distances are Euclidean, computed in float64 a block of rows at a time, so 10k × 10k sets never materialise a full
distance matrix. Naeem et al. recommend k = 5 with 10k samples per set.
"""

from __future__ import annotations

import numpy as np

from bertgan.errors import UsageError

_BLOCK_ELEMENTS = 1 << 22
"""Distance-matrix entries per block (32 MB of float64): small next to 10k × 10k (800 MB), big enough for BLAS."""


def _features(x, name: str, k: int) -> np.ndarray:
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (samples, features), got shape {f.shape}")
    if len(f) < k + 1:
        raise UsageError(f"{name}: PRDC with k={k} needs at least k+1 = {k + 1} samples per set (a sample and its "
                         f"k neighbours), got {len(f)}; use more samples or a smaller k")
    return f


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_ELEMENTS // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


def _distances(x: np.ndarray, y: np.ndarray, x_sq: np.ndarray, y_sq: np.ndarray) -> np.ndarray:
    # ||x||² + ||y||² − 2 x·y turns the work into one matrix product; round-off can make it slightly negative.
    d2 = x_sq[:, None] + y_sq[None, :] - 2.0 * (x @ y.T)
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2, out=d2)


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each sample to its k-th nearest neighbour in the same set, itself excluded (the (k+1)-th
    smallest entry of its distance row, whose smallest is the zero self-distance), as ``prdc``'s
    ``compute_nearest_neighbour_distances``."""
    f = _features(features, "features", k)
    sq = np.einsum("ij,ij->i", f, f)
    radii = np.empty(len(f))
    for start, stop in _blocks(len(f), len(f)):
        d = _distances(f[start:stop], f, sq[start:stop], sq)
        # The official code gets the self-distance as an exact 0 (sklearn zeroes the diagonal when X is Y).
        d[np.arange(stop - start), np.arange(start, stop)] = 0.0
        radii[start:stop] = np.partition(d, k, axis=1)[:, k]
    return radii


def prdc(real_features: np.ndarray, fake_features: np.ndarray, k: int = 5) -> dict:
    """{'precision', 'recall', 'density', 'coverage'} of fake (M, D) against real (N, D) features with k-NN balls.

    Raises ``UsageError`` when either set has fewer than k + 1 samples."""
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    k = int(k)
    real = _features(real_features, "real_features", k)
    fake = _features(fake_features, "fake_features", k)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} (real) and {fake.shape[1]} (fake)")
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    real_sq, fake_sq = np.einsum("ij,ij->i", real, real), np.einsum("ij,ij->i", fake, fake)

    balls_per_fake = np.zeros(len(fake), dtype=np.int64)  # real balls containing each fake sample
    real_in_fake_ball = np.zeros(len(real), dtype=bool)
    real_ball_has_fake = np.zeros(len(real), dtype=bool)
    for start, stop in _blocks(len(real), len(fake)):
        d = _distances(real[start:stop], fake, real_sq[start:stop], fake_sq)  # rows: real, columns: fake
        inside_real = d < real_radii[start:stop, None]
        balls_per_fake += inside_real.sum(axis=0)
        real_in_fake_ball[start:stop] = (d < fake_radii[None, :]).any(axis=1)
        real_ball_has_fake[start:stop] = d.min(axis=1) < real_radii[start:stop]

    return {
        "precision": float(np.mean(balls_per_fake > 0)),
        "recall": float(np.mean(real_in_fake_ball)),
        "density": float(np.mean(balls_per_fake) / k),
        "coverage": float(np.mean(real_ball_has_fake)),
    }

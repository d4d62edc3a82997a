"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a
Local Nash Equilibrium"), computed from feature arrays.

Each set of features is summarised by a Gaussian (mean ``mu``, covariance ``sigma``) and the score is the Fréchet
(2-Wasserstein) distance between the two Gaussians (Dowson & Landau 1982)::

    FID = ||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^{1/2})

The matrix square root and its numerical safeguards follow the reference implementations (TTUR's ``fid.py`` and
``pytorch-fid``) step by step, so scores on the same features agree with published numbers: ``scipy.linalg.sqrtm``
of ``S1 S2``; when that is not finite, retry with ``1e-6·I`` added to both covariances; drop the imaginary part
that round-off leaves, but refuse (``ValueError``) when the diagonal has an imaginary part above 1e-3.

FID is a biased estimator: at small sample counts it is inflated, so two sets of *real* images already score well
above 0. Always compare against the real-vs-real floor measured at the same N (Chong & Forsyth 2020, "Effectively
Unbiased FID and Inception Score and where to find them"), and report N with every score.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy
import scipy.linalg

from bertgan.errors import UsageError

MIN_SAMPLES = 50
"""The fewest samples per set the CLI accepts for FID. :func:`fid` itself computes from 2 samples on (the
covariance needs two), but with fewer than ~50 the estimate is dominated by sampling noise and its upward bias, so
the number says nothing about the generator. Even above this, the covariance of 2048-d Inception features is
singular until N > 2048; the standard protocol uses 10k–50k samples."""

EPS = 1e-6
"""Offset added to both covariance diagonals when ``sqrtm(S1 S2)`` is not finite (as pytorch-fid's ``eps``)."""

# SciPy 1.16 deprecated sqrtm's `disp` (removed in 1.18); before 1.16, omitting it made sqrtm *print* on
# inaccurate results instead of returning the error estimate, which the reference code discards anyway.
_SQRTM_HAS_DISP = np.lib.NumpyVersion(scipy.__version__) < "1.16.0"


def _sqrtm(a: np.ndarray) -> np.ndarray:
    if _SQRTM_HAS_DISP:
        return scipy.linalg.sqrtm(a, disp=False)[0]
    # A singular product (features that never fire, e.g. a ReLU unit dead on every sample) makes SciPy warn; the
    # result is still the reference code's, so the warning would only be noise on every evaluation.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return scipy.linalg.sqrtm(a)


def _features(x, name: str) -> np.ndarray:
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (samples, features), got shape {f.shape}")
    if len(f) < 2:
        raise UsageError(f"{name}: FID needs at least 2 samples to estimate a covariance, got {len(f)}; "
                         f"generate at least {MIN_SAMPLES} (10k or more for numbers comparable with papers)")
    return f


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of ``features`` (N, D), in float64, as ``np.cov(rowvar=False)``
    (unbiased, N − 1 in the denominator) — the statistics the reference code stores in its ``.npz`` files."""
    f = _features(features, "features")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as pytorch-fid's ``calculate_frechet_distance``.

    Raises ``ValueError`` for mismatched shapes, and when the matrix square root has a large imaginary part
    (> 1e-3 on its diagonal), which means the covariances are not valid (not positive semi-definite)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"means must be 1-D of the same length, got shapes {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"covariances must be ({d}, {d}) to match the means, got {sigma1.shape} and {sigma2.shape}")

    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        # A singular product (too few samples for the dimension) has no finite square root; the reference code
        # regularises both covariances a little rather than giving up.
        offset = np.eye(d) * EPS
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        # sqrtm of a real product of PSD matrices is real in exact arithmetic; small imaginary parts are round-off.
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm(sigma1 @ sigma2) has a large imaginary component "
                             f"({np.max(np.abs(covmean.imag)):.3g}); are both covariances positive semi-definite?")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets (N_a, D) and (N_b, D) (e.g. 2048-d Inception pool3 features of real and
    generated images). Symmetric; 0 for a set against itself.

    Raises ``UsageError`` when either set has fewer than 2 samples. With N ≤ D the covariance is singular (rank
    N − 1): the reference pipeline still computes a number and so does this function (through the ``1e-6·I``
    retry), but such a score is far from the large-N value; the CLI refuses fewer than :data:`MIN_SAMPLES`."""
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    mu_a, sigma_a = feature_stats(a)
    mu_b, sigma_b = feature_stats(b)
    return frechet_distance(mu_a, sigma_a, mu_b, sigma_b)

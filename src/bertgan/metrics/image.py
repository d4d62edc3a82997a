"""Image reconstruction metrics for the image-to-image applications (super-resolution, inpainting, pix2pix):
PSNR and SSIM, pure NumPy over arrays of images in a known range.

Conventions, as the SRGAN / pix2pix papers and scikit-image report them: images (N, C, H, W) or (N, H, W), scored
per image and averaged over the batch; ``data_range`` is max − min of the scale (2 for G's [−1, 1], 255 for uint8).
"""

from __future__ import annotations

import numpy as np


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim == 2:  # one (H, W) image
        a, b = a[None], b[None]
    if a.ndim == 3:  # (N, H, W) → (N, 1, H, W)
        a, b = a[:, None], b[:, None]
    if a.ndim != 4 or a.shape[0] == 0:
        raise ValueError(f"expected images (N, C, H, W), (N, H, W) or (H, W), got shape {a.shape}")
    return a, b


def mse(a, b, mask=None) -> np.ndarray:
    """Per-image mean squared error (N,); with a mask (the images' shape, 1 = scored) only over the masked pixels —
    the inpainting papers' "PSNR on the hole"."""
    a, b = _pair(a, b)
    sq = (a - b) ** 2
    if mask is None:
        return sq.reshape(len(a), -1).mean(1)
    m = _pair(mask, mask)[0]
    if m.shape != sq.shape:
        raise ValueError(f"the mask's shape {np.shape(mask)} differs from the images'")
    count = m.reshape(len(a), -1).sum(1)
    if (count == 0).any():
        raise ValueError("the mask selects no pixel in some image")
    return (sq * m).reshape(len(a), -1).sum(1) / count


def psnr(a, b, data_range: float, mask=None) -> float:
    """Peak signal-to-noise ratio in dB, 10·log10(range² / MSE), averaged over images (identical images: +inf
    is capped at 100 dB so that means stay finite)."""
    err = mse(a, b, mask)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(data_range ** 2 / err)
    return float(np.minimum(db, 100.0).mean())


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _filter(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of (N, C, H, W) along H and W."""
    k = len(w)
    h = sum(w[i] * x[:, :, i:x.shape[2] - k + 1 + i, :] for i in range(k))
    return sum(w[i] * h[:, :, :, i:h.shape[3] - k + 1 + i] for i in range(k))


def ssim(a, b, data_range: float, window: int = 11, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004, eq. 13): Gaussian window 11, σ 1.5, K1 0.01, K2 0.03, population
    (co)variances, mean over the valid window positions, channels and images — scikit-image's
    ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)``. Images smaller than the window
    (7×7 inputs) use the whole image as one window size."""
    a, b = _pair(a, b)
    window = min(window, a.shape[2], a.shape[3])
    w = _gaussian_window(window, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = _filter(a, w), _filter(b, w)
    var_a = _filter(a * a, w) - mu_a ** 2
    var_b = _filter(b * b, w) - mu_b ** 2
    cov = _filter(a * b, w) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(s.mean())

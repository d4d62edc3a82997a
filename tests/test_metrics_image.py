"""PSNR / SSIM against their definitions computed the slow way; AUROC against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from bertgan.metrics.classification import auroc
from bertgan.metrics.image import mse, psnr, ssim


def _ssim_brute(a: np.ndarray, b: np.ndarray, data_range: float, win: int = 11, sigma: float = 1.5) -> float:
    x = np.arange(win) - (win - 1) / 2
    g = np.exp(-(x ** 2) / (2 * sigma ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    vals = []
    for i in range(a.shape[0] - win + 1):
        for j in range(a.shape[1] - win + 1):
            pa, pb = a[i:i + win, j:j + win], b[i:i + win, j:j + win]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * (pa - ma) ** 2).sum(), (w * (pb - mb) ** 2).sum()
            cov = (w * (pa - ma) * (pb - mb)).sum()
            vals.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_ssim_matches_the_windowed_definition():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (20, 18))
    b = np.clip(a + rng.normal(0, 0.3, a.shape), -1, 1)
    assert ssim(a, b, 2.0) == pytest.approx(_ssim_brute(a, b, 2.0), abs=1e-10)
    assert ssim(a, a, 2.0) == pytest.approx(1.0)
    assert abs(ssim(a, rng.uniform(-1, 1, a.shape), 2.0)) < 0.1  # unrelated images: no shared structure


def test_ssim_averages_over_images_and_channels():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 255, (2, 3, 16, 16))
    b = a + rng.normal(0, 20, a.shape)
    per = [_ssim_brute(a[n, c], b[n, c], 255.0) for n in range(2) for c in range(3)]
    assert ssim(a, b, 255.0) == pytest.approx(np.mean(per), abs=1e-10)


def test_psnr_from_mse_and_the_masked_region():
    rng = np.random.default_rng(2)
    a = rng.uniform(-1, 1, (4, 1, 8, 8))
    b = a.copy()
    b[:, :, :4] += 0.2  # error only in the top half
    assert psnr(a, b, 2.0) == pytest.approx(10 * np.log10(4 / (0.04 / 2)))
    mask = np.zeros_like(a)
    mask[:, :, :4] = 1
    assert mse(a, b, mask) == pytest.approx(np.full(4, 0.04))
    assert psnr(a, b, 2.0, mask=1 - mask) == 100.0  # no error outside: capped
    with pytest.raises(ValueError, match="no pixel"):
        mse(a, b, np.zeros_like(a))
    with pytest.raises(ValueError, match="shape"):
        psnr(a, b[:, :, :7], 2.0)


def test_auroc_equals_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    for _ in range(5):
        y = rng.integers(0, 2, 300)
        s = rng.integers(0, 15, 300).astype(float)  # many ties
        assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auroc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    with pytest.raises(ValueError, match="both"):
        auroc([1, 1], [0.2, 0.3])

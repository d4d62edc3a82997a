"""bertgan apps anomaly: the encoder, the izi_f score against its formula, the test subset, determinism, tiny
end-to-end runs on the embedded digits and on real MNIST, and the command line's bad-input paths."""

import json

import numpy as np
import pytest
import torch

from bertgan.apps import anomaly
from bertgan.apps.common import resolve, run_app
from bertgan.cli import main
from bertgan.errors import UsageError
from bertgan.gan.encoders import build_encoder
from bertgan.gan.models import build_gan

TINY = dict(dataset="digits", normal_class=0, width=8, batch_size=32, device="cpu", max_test=0)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One tiny run on the embedded 8×8 digits (enlarged to 28×28): 60 GAN and 60 encoder updates, ~6 CPU-s."""
    out = tmp_path_factory.mktemp("anomaly")
    cfg = resolve("anomaly", "quick", gan_steps=60, encoder_steps=60, **TINY)
    return out, run_app("anomaly", cfg, out, setting="quick", progress=False, log=lambda s: None)


def test_encoder_maps_images_into_the_prior_support():
    for arch in ("dcgan", "mlp"):
        E = build_encoder(arch, 12, (1, 28, 28), width=8)
        z = E(torch.randn(5, 1, 28, 28) * 3)
        assert z.shape == (5, 12)
        assert z.abs().max() < 1  # tanh: inside U(−1, 1)'s support, where G was trained
    raw = build_encoder("dcgan", 12, (1, 28, 28), width=8, squash=False)
    raw.to_latent.bias.data.fill_(5.0)  # unbounded without tanh
    assert raw(torch.zeros(2, 1, 28, 28)).min() > 1
    with pytest.raises(ValueError, match="no encoder"):
        build_encoder("toy", 2, (2,))


def test_izi_f_is_the_papers_formula():
    torch.manual_seed(0)
    G, D = build_gan("dcgan", 6, (1, 28, 28), 8)
    G.eval()
    D.eval()
    E = build_encoder("mlp", 6, (1, 28, 28), width=2)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        score, image, feature, recon = anomaly.izi_f(x, E, G, D.trunk, kappa=0.7)
        r = G(E(x))
        n = 28 * 28
        fx, fr = D.trunk(x), D.trunk(r)
        for i in range(4):
            img_i = ((x[i] - r[i]) ** 2).sum() / n  # 1/n · ‖x − G(E(x))‖²
            feat_i = ((fx[i] - fr[i]) ** 2).sum() / fx.shape[1]  # 1/n_d · ‖f(x) − f(G(E(x)))‖²
            assert torch.allclose(image[i], img_i, rtol=1e-5)
            assert torch.allclose(feature[i], feat_i, rtol=1e-5)
            assert torch.allclose(score[i], img_i + 0.7 * feat_i, rtol=1e-5)
    assert torch.equal(recon, r)
    # a perfect reconstruction scores 0
    same = anomaly.izi_f(x, E, lambda z: x, D.trunk, kappa=1.0)[0]
    assert torch.allclose(same, torch.zeros(4))


def test_gaussian_blur():
    x = torch.zeros(2, 1, 15, 15)
    x[0, 0, 7, 7] = 1.0  # an impulse: the blur draws the kernel itself
    assert torch.equal(anomaly.gaussian_blur(x, 0.0), x)
    y = anomaly.gaussian_blur(x, 1.0)
    assert y.shape == x.shape and torch.allclose(y.sum(), torch.tensor(1.0))  # normalised, nothing lost inside
    k = torch.exp(-torch.tensor([0.0, 1.0, 2.0, 3.0]) ** 2 / 2)
    assert torch.allclose(y[0, 0, 7, 7:11] / y[0, 0, 7, 7], k / k[0], atol=1e-6)  # a Gaussian of σ = 1 pixel
    assert torch.equal(y[1], torch.zeros(1, 15, 15))
    two = torch.stack([x[0, 0], 2 * x[0, 0]])[None]  # (1, 2, 15, 15): each channel on its own
    assert torch.allclose(anomaly.gaussian_blur(two, 1.0)[0, 1], 2 * y[0, 0])


def test_score_images_parts():
    torch.manual_seed(0)
    G, D = build_gan("dcgan", 6, (1, 28, 28), 8)
    G.eval()
    D.eval()
    E = build_encoder("mlp", 6, (1, 28, 28), width=2).eval()
    images = torch.randint(0, 256, (7, 1, 28, 28), dtype=torch.uint8)
    from bertgan.data.images import to_unit

    x = to_unit(images)
    with torch.no_grad():
        paper, plain, feature, recon = anomaly.izi_f(x, E, G, D.trunk, 0.5)
        blurred = anomaly.gaussian_blur(x - recon, 1.0).square().flatten(1).mean(1)
    cpu = torch.device("cpu")
    paper_cfg = dict(kappa=0.5, score="izi_f", blur=0.0, ink=0.0)
    # --score izi_f --blur 0 --ink 0 is the paper's A(x), with κ
    s = anomaly.score_images(images, E, G, D.trunk, anomaly.Config(**paper_cfg), cpu, batch=3)
    assert set(s) == {"score", "image", "feature"} and all(len(v) == 7 for v in s.values())
    np.testing.assert_allclose(s["score"], paper.numpy(), rtol=1e-5)
    np.testing.assert_allclose(s["image"], plain.numpy(), rtol=1e-5)
    np.testing.assert_allclose(s["feature"], feature.numpy(), rtol=1e-5)
    # --blur blurs the residual of both the image term and A(x); --score image drops the feature term
    b = anomaly.score_images(images, E, G, D.trunk, anomaly.Config(**{**paper_cfg, "blur": 1.0}), cpu)
    np.testing.assert_allclose(b["image"], blurred.numpy(), rtol=1e-5)
    np.testing.assert_allclose(b["score"], (blurred + 0.5 * feature).numpy(), rtol=1e-5)
    assert np.all(b["image"] < s["image"])  # the blur averages the pixel noise of the residual away
    i = anomaly.score_images(images, E, G, D.trunk, anomaly.Config(**{**paper_cfg, "score": "image", "blur": 1.0}),
                             cpu)
    np.testing.assert_array_equal(i["score"], i["image"])
    # --ink α divides the image residual by the mean brightness in [0, 1] of x and G(E(x)), to the power α
    brightness = (((x + 1) / 2).flatten(1).mean(1) + ((recon + 1) / 2).flatten(1).mean(1)) / 2
    for alpha in (0.5, 1.0):
        n = anomaly.score_images(images, E, G, D.trunk, anomaly.Config(**{**paper_cfg, "ink": alpha}), cpu)
        np.testing.assert_allclose(n["image"], (plain / brightness ** alpha).numpy(), rtol=1e-5)
        np.testing.assert_allclose(n["score"], (plain / brightness ** alpha + 0.5 * feature).numpy(), rtol=1e-5)
    # the default: image residual alone, blurred σ 0.5, divided by ink^0.5
    d = anomaly.score_images(images, E, G, D.trunk, anomaly.Config(kappa=0.5), cpu)
    default = anomaly.gaussian_blur(x - recon, 0.5).square().flatten(1).mean(1) / brightness ** 0.5
    np.testing.assert_allclose(d["score"], default.numpy(), rtol=1e-5)
    # ink: the mean brightness in [0, 1] — what is drawn on the black background
    faint, bright = torch.full((1, 1, 4, 4), -0.9), torch.full((1, 1, 4, 4), 0.5)
    assert anomaly.ink(faint).item() == pytest.approx(0.05) and anomaly.ink(bright).item() == pytest.approx(0.75)
    assert anomaly.score_name(anomaly.Config(score="image", blur=1.0, ink=0)) == "image residual (blurred, σ 1)"
    assert anomaly.score_name(anomaly.Config()) == "image residual (blurred, σ 0.5, ÷ ink^0.5)"
    assert (anomaly.score_name(anomaly.Config(score="izi_f", blur=0, ink=0))
            == "A(x) = image residual + 1 · D-feature residual")


def test_test_subset_and_class_check():
    assert torch.equal(anomaly.test_subset(7, 0, 0), torch.arange(7))
    a, b = anomaly.test_subset(1000, 100, 3), anomaly.test_subset(1000, 100, 3)
    assert torch.equal(a, b) and len(a.unique()) == 100 and torch.all(a[1:] > a[:-1])
    assert not torch.equal(a, anomaly.test_subset(1000, 100, 4))
    labels = torch.tensor([1, 1, 2, 2])
    anomaly.check_both_classes(labels, [1, 2], 4)
    with pytest.raises(UsageError, match="--max-test 4: the 4 test images hold no class-3"):
        anomaly.check_both_classes(labels, [3], 4)
    with pytest.raises(UsageError, match="only class-5"):
        anomaly.check_both_classes(torch.tensor([5, 5]), [5], 2)


def test_digits_run_end_to_end(digits_run):
    out, r = digits_run
    assert r["method"].startswith("f-AnoGAN") and r["normal_classes"] == [0]
    assert r["n_test"] == 360  # the digits' fixed 20 % test split, every image scored
    pc = r["per_class"]["0"]
    assert pc["n_normal"] + pc["n_anomalous"] == 360 and 20 < pc["n_normal"] < 60
    # 60 updates already tell a 0 from the other digits far better than chance (measured 93.9)
    assert r["auroc"]["0"] > 75
    assert r["mean_auroc"] == r["auroc"]["0"]
    assert 0 <= r["auroc_image_residual"]["0"] <= 100 and 0 <= r["auroc_feature_residual"]["0"] <= 100
    assert r["score"] == "image residual (blurred, σ 0.5, ÷ ink^0.5)"  # the default, chosen on Fashion-MNIST
    saved = json.loads((out / "result.json").read_text())
    assert saved["auroc"] == r["auroc"] and json.loads((out / "config.json").read_text())["gan_steps"] == 60
    for png in ("scores_hist.png", "reconstructions.png", "samples.png"):
        assert (out / png).stat().st_size > 2000


def test_same_seed_same_scores():
    cfg = resolve("anomaly", "quick", gan_steps=15, encoder_steps=15, **TINY)
    train, test = anomaly.load_split("digits")
    idx = anomaly.test_subset(len(test), 0, 0)
    device = torch.device("cpu")
    runs = [anomaly.run_class(cfg, 0, train, test, idx, device, False, lambda s: None) for _ in range(2)]
    assert np.array_equal(runs[0]["_scores"], runs[1]["_scores"])
    other = anomaly.run_class(resolve("anomaly", "quick", gan_steps=15, encoder_steps=15, seed=1, **TINY), 0,
                              train, test, idx, device, False, lambda s: None)
    assert not np.array_equal(runs[0]["_scores"], other["_scores"])


def test_mnist_tiny_run(tmp_path, data_dir, shared_file, capsys):
    shared_file("mnist/train-images-idx3-ubyte.gz")
    shared_file("mnist/t10k-images-idx3-ubyte.gz")
    out = tmp_path / "mnist"
    code = main(["apps", "anomaly", "--quick", "--normal-class", "1", "--gan-steps", "3", "--encoder-steps", "3",
                 "--width", "8", "--max-test", "300", "--device", "cpu", "--data-dir", str(data_dir),
                 "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "AUROC" in printed and "result.json" in printed
    r = json.loads((out / "result.json").read_text())
    assert r["n_test"] == 300 and r["per_class"]["1"]["n_train"] == 6742  # MNIST train holds 6,742 ones
    assert 0 <= r["auroc"]["1"] <= 100


@pytest.mark.parametrize("args, message", [
    (["--dataset", "cifar10"], "--dataset cifar10: anomaly detection needs a labelled image set"),
    (["--dataset", "folder:/tmp"], "choose one of mnist, fashion-mnist, digits"),
    (["--normal-class", "10"], "--normal-class 10: out of range; mnist has classes 0..9, or -1"),
    (["--normal-class", "-2"], "out of range"),
    (["--gan-steps", "0"], "--gan-steps 0: must be > 0"),
    (["--encoder-steps", "-1"], "--encoder-steps -1: must be > 0"),
    (["--batch-size", "0"], "--batch-size 0: must be > 0"),
    (["--max-test", "10"], "--max-test 10: too small to hold both normal and anomalous images"),
    (["--kappa", "-1"], "--kappa -1.0: must be ≥ 0"),
    (["--blur", "-0.5"], "--blur -0.5: must be ≥ 0"),
    (["--ink", "-1"], "--ink -1.0: must be ≥ 0"),
    (["--score", "ssim"], "invalid choice"),
    (["--loss", "hinge"], "invalid choice"),
])
def test_bad_input_exits_2(tmp_path, capsys, args, message):
    assert main(["apps", "anomaly", "--out", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_dry_run_prints_the_quick_setting(tmp_path, capsys):
    assert main(["apps", "anomaly", "--quick", "--dry-run", "--out", str(tmp_path / "x")]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["setting"] == "quick" and cfg["normal_class"] == 0 and cfg["max_test"] > 0
    assert main(["apps", "anomaly", "--dry-run", "--out", str(tmp_path / "x")]) == 0
    assert json.loads(capsys.readouterr().out)["normal_class"] == -1  # full: the ten-digit protocol


def test_wasserstein_stage_one_is_the_papers_critic():
    """--loss wasserstein: WGAN-GP's critic (no BatchNorm, gradient penalty), d_steps critic updates per G update."""
    cfg = resolve("anomaly", "quick", gan_steps=2, d_steps=3, encoder_steps=2, loss="wasserstein", **TINY)
    train, _ = anomaly.load_split("digits")
    normal = train.images[train.labels == 0]
    G, D, losses = anomaly.train_gan(cfg, normal, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    assert np.isfinite(losses["loss_d"]) and np.isfinite(losses["loss_g"])
    E, loss = anomaly.train_encoder(cfg, normal, G, D, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert np.isfinite(loss) and not E.training and not any(p.requires_grad for p in G.parameters())

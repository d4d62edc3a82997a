"""bertgan apps superres: SRGAN's networks, the resampling, the generator loss against its formula, a tiny run on
real MNIST and on a folder of PNGs, determinism, and one clear error per bad input."""

import json

import numpy as np
import pytest
import torch

from bertgan.apps import superres
from bertgan.apps.common import resolve, run_app
from bertgan.cli import main
from bertgan.errors import UsageError
from bertgan.gan.restoration import SRDiscriminator, SRResNetGenerator

TINY = dict(steps=4, gan_steps=3, batch_size=16, width=8, blocks=1, d_width=4, examples=4, device="cpu")


pytestmark = pytest.mark.usefixtures("small_judge")

@pytest.fixture
def photos(tmp_path):
    """Six smooth 32×32 RGB PNGs (gradients with a disc), the kind of structure bicubic gets roughly right."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    yy, xx = np.mgrid[0:32, 0:32]
    for i in range(6):
        img = np.stack([(xx * (4 + i)) % 256, (yy * (3 + i)) % 256,
                        np.where((xx - 10 - i) ** 2 + (yy - 16) ** 2 < 60, 230, 40)], -1).astype(np.uint8)
        Image.fromarray(img).save(folder / f"p{i}.png")
    return folder


@pytest.mark.parametrize("scale", [2, 4])
def test_generator_upsamples_by_scale_with_pixel_shuffle(scale):
    G = SRResNetGenerator(channels=3, scale=scale, width=8, blocks=2)
    y = G(torch.randn(2, 3, 7, 5))
    assert y.shape == (2, 3, 7 * scale, 5 * scale)
    assert y.abs().max() <= 1  # tanh: G's range is the images' [−1, 1]
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in G.modules()) == {2: 1, 4: 2}[scale]


@pytest.mark.parametrize("size", [28, 32, 48])
def test_discriminator_takes_any_patch_size(size):
    D = SRDiscriminator(channels=1, width=4)
    assert D(torch.randn(3, 1, size, size)).shape == (3,)


def test_downsample_and_bicubic():
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    lr = superres.downsample(x, 4)
    assert lr.shape == (2, 1, 7, 7)
    assert superres.bicubic(lr, 4).shape == x.shape
    flat = torch.full((1, 1, 28, 28), 0.3)  # a constant image survives both resamplings
    assert torch.allclose(superres.bicubic(superres.downsample(flat, 4), 4), flat, atol=1e-5)
    # antialiased: the low-resolution pixel is a weighted mean of its 4×4 neighbourhood and beyond, not one sample
    stripes = torch.ones(1, 1, 28, 28)
    stripes[..., ::2] = -1
    assert superres.downsample(stripes, 4).abs().max() < 0.2


def test_generator_loss_is_the_papers_formula():
    torch.manual_seed(0)
    sr, hr, logits = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28), torch.randn(4)
    phi = lambda x: x[:, :, ::2, ::2] * 3  # any feature map
    g = superres.srgan_g_loss(sr, hr, logits, phi, feature_weight=0.5, adv_weight=1e-3)
    pixel = ((sr - hr) ** 2).mean()
    feat = ((phi(sr) - phi(hr)) ** 2).mean()
    adv = -torch.log(torch.sigmoid(logits)).mean()  # −log D(G(x)), Ledig et al. eq. 6
    assert torch.allclose(g["total"], pixel + 0.5 * feat + 1e-3 * adv, atol=1e-6)
    no_phi = superres.srgan_g_loss(sr, hr, logits, None, 0.5, 1e-3)  # folders: pixel MSE + adversarial
    assert torch.allclose(no_phi["total"], pixel + 1e-3 * adv, atol=1e-6)


def test_content_features_are_the_judges_conv_map():
    from bertgan.gan.classifier import DomainClassifier

    model = DomainClassifier(10).eval()
    phi = superres.content_features(model)
    x = torch.rand(2, 1, 28, 28, requires_grad=True)
    h = phi(x)
    assert h.shape == (2, 64, 7, 7)
    h.sum().backward()  # gradients reach the image, not the frozen judge
    assert x.grad is not None and all(p.grad is None for p in model.parameters())


@pytest.mark.slow
def test_tiny_run_on_mnist(tmp_path, data_dir, shared_file):
    shared_file("mnist/train-images-idx3-ubyte.gz")
    cfg = resolve("superres", "quick", dataset="mnist", train_images=300, test_images=100, **TINY)
    r = run_app("superres", cfg, tmp_path / "run", data_dir=data_dir, progress=False, log=lambda s: None)
    m = r["methods"]
    assert r["input_size"] == [7, 7] and r["output_size"] == [28, 28] and r["test_images"] == 100
    # bicubic from 7×7 is far from exact but far from noise on MNIST
    assert 10 < m["bicubic"]["psnr"] < 30 and 0 < m["bicubic"]["ssim"] < 1
    for name in ("srresnet", "srgan"):
        assert np.isfinite(m[name]["psnr"])
        assert abs(m[name]["psnr_gain_db"] - (m[name]["psnr"] - m["bicubic"]["psnr"])) < 1e-9
        assert 0 <= m[name]["judge_accuracy"] <= 1
    assert r["goal_4db_met"] == (max(m["srresnet"]["psnr_gain_db"], m["srgan"]["psnr_gain_db"]) >= 4)
    assert 0.5 < r["judge_accuracy_on_targets"] <= 1  # the (tiny) judge reads the real targets
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["methods"] == m
    assert (tmp_path / "run" / "superres.png").stat().st_size > 1000
    assert "srgan" in superres.format_result(r) and "bicubic" in superres.format_result(r)


def test_folder_patches_deterministic(tmp_path, photos):
    cfg = resolve("superres", "quick", dataset=f"folder:{photos}", scale=2, image_size=32, patch_size=16, **TINY)
    a = run_app("superres", cfg, tmp_path / "a", progress=False, log=lambda s: None)
    b = run_app("superres", cfg, tmp_path / "b", progress=False, log=lambda s: None)
    assert a["methods"] == b["methods"]  # same seed → same patches, weights and figures
    assert a["train_images"] == 5 and a["test_images"] == 1  # 20% of 6 held out, rounded, at least one
    assert a["input_size"] == [16, 16] and a["output_size"] == [32, 32]
    assert "judge_accuracy" not in a["methods"]["bicubic"]  # no classifier for a folder
    from PIL import Image

    assert Image.open(tmp_path / "a" / "superres.png").mode in ("RGB", "RGBA")


def test_dry_run(tmp_path, capsys):
    assert main(["apps", "superres", "--quick", "--dry-run", "--out", str(tmp_path / "x")]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["app"] == "superres" and cfg["setting"] == "quick" and cfg["scale"] == 4
    assert cfg["steps"] == superres.SETTINGS["quick"]["steps"]


@pytest.mark.parametrize("flags, message", [
    (["--scale", "3"], "invalid choice"),
    (["--mse-steps", "0"], "--mse-steps 0: must be > 0"),
    (["--gan-steps", "-1"], "--gan-steps -1: must be > 0"),
    (["--dataset", "cifar"], "--dataset cifar"),
    (["--dataset", "folder:/nonexistent/photos"], "no such folder"),
    (["--feature-weight", "-1"], "--feature-weight -1.0: must be ≥ 0"),
])
def test_bad_input(tmp_path, capsys, flags, message):
    assert main(["apps", "superres", "--dry-run", "--out", str(tmp_path / "x"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("error:") == 1


def test_bad_folder_settings(tmp_path, photos, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for flags, message in [
        (["--dataset", f"folder:{empty}"], "needs at least 2 PNG/JPEG images"),
        (["--dataset", f"folder:{photos}", "--image-size", "32", "--patch-size", "18"], "--patch-size 18: must be a "
                                                                                          "multiple of --scale 4"),
        (["--dataset", f"folder:{photos}", "--image-size", "32", "--patch-size", "48"], "larger than the images"),
        (["--dataset", f"folder:{photos}", "--image-size", "30"], "--image-size 30: must be a multiple"),
        (["--dataset", f"folder:{photos}", "--holdout", "1.0", "--image-size", "32", "--patch-size", "16"],
         "--holdout 1.0"),
    ]:
        assert main(["apps", "superres", "--dry-run", "--out", str(tmp_path / "x"), *flags]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(UsageError, match="--scale 3"):
        superres.validate(superres.Config(scale=3))

"""bertgan apps inpaint: the context encoder's networks, the masks, the masked L2 against its formula, the
baselines, a tiny run on real MNIST, determinism, and one clear error per bad input."""

import json

import numpy as np
import pytest
import torch

from bertgan.apps import inpaint
from bertgan.apps.common import resolve, run_app
from bertgan.cli import main
from bertgan.gan.restoration import ContextEncoder, context_discriminator

TINY = dict(steps=4, batch_size=16, width=8, code=16, train_images=300, test_images=100, examples=4, device="cpu")


pytestmark = pytest.mark.usefixtures("small_judge")

def test_context_encoder_and_discriminator_shapes():
    G = ContextEncoder(channels=1, width=8, code=16)
    x, m = torch.randn(3, 1, 28, 28), torch.zeros(3, 1, 28, 28)
    y = G(x, m)
    assert y.shape == (3, 1, 28, 28) and y.abs().max() <= 1
    assert context_discriminator(1, 8)(y).shape == (3,)
    # G reads the mask channel: the same pixels with a different mask give a different output
    G.eval()
    m2 = m.clone()
    m2[:, :, 7:21, 7:21] = 1
    assert not torch.allclose(G(x, m), G(x, m2))


def test_masks():
    g = torch.Generator().manual_seed(0)
    centre = inpaint.make_masks(2, "centre", 14, 5, g)
    assert centre.shape == (2, 1, 28, 28) and centre.sum().item() == 2 * 14 * 14
    assert centre[0, 0, 7:21, 7:21].all() and centre[0, 0, :7].sum() == 0  # rows 7–20, the centre square
    rnd = inpaint.make_masks(50, "random", 6, 2, g)
    per = rnd.sum((1, 2, 3))
    assert ((per >= 36) & (per <= 72)).all()  # two 6×6 squares, possibly overlapping
    assert not torch.equal(rnd[0], rnd[1])


def test_masked_l2_and_completion_formulas():
    torch.manual_seed(0)
    pred, x = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28)
    m = inpaint.make_masks(2, "centre", 10, 1, torch.Generator())
    expected = (((pred - x) ** 2)[m.bool()]).mean()  # mean over the missing pixels only
    assert torch.allclose(inpaint.masked_l2(pred, x, m), expected)
    filled = inpaint.apply_mask(x, m, pred)
    assert torch.equal(filled[~m.bool()], x[~m.bool()]) and torch.equal(filled[m.bool()], pred[m.bool()])
    assert (inpaint.apply_mask(x, m)[m.bool()] == 0).all()  # what G sees: holes at mid-grey


def test_random_masks_are_seeded():
    a = inpaint.make_masks(20, "random", 6, 2, torch.Generator().manual_seed(3))
    b = inpaint.make_masks(20, "random", 6, 2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.slow
def test_tiny_run_on_mnist_deterministic(tmp_path, data_dir, shared_file):
    shared_file("mnist/train-images-idx3-ubyte.gz")
    cfg = resolve("inpaint", "quick", dataset="mnist", **TINY)
    a = run_app("inpaint", cfg, tmp_path / "a", data_dir=data_dir, progress=False, log=lambda s: None)
    b = run_app("inpaint", cfg, tmp_path / "b", data_dir=data_dir, progress=False, log=lambda s: None)
    assert a["methods"] == b["methods"]  # same seed → same weights, batches, masks and figures
    m = a["methods"]
    assert set(m) == {"masked", "mean_fill", "visible_mean_fill", "l2", "l2_adv"}
    assert abs(a["hole_share"] - 14 * 14 / 784) < 1e-9
    # The mean-fill baseline against its definition: the per-pixel training mean in the hole, PSNR on the hole.
    from bertgan.data.images import to_unit
    from bertgan.gan.evaluate import labelled_splits
    from bertgan.metrics.image import psnr

    train, test = labelled_splits("mnist", data_dir)
    x = to_unit(test.images[:100])
    mask = inpaint.make_masks(100, "centre", 14, 1, torch.Generator())
    mean = to_unit(train.images[:300]).mean(0, keepdim=True)
    assert abs(m["mean_fill"]["psnr_hole"] - psnr(inpaint.apply_mask(x, mask, mean).numpy(), x.numpy(), 2.0,
                                                  mask=mask.numpy())) < 1e-9
    for name in ("l2", "l2_adv"):
        assert np.isfinite(m[name]["psnr_hole"]) and 0 <= m[name]["judge_accuracy"] <= 1
        assert abs(m[name]["psnr_gain_db"] - (m[name]["psnr_hole"] - m["mean_fill"]["psnr_hole"])) < 1e-9
    assert 0.5 < a["judge_accuracy_on_originals"] <= 1
    saved = json.loads((tmp_path / "a" / "result.json").read_text())
    assert saved["methods"] == m and saved["app"] == "inpaint"
    assert (tmp_path / "a" / "inpaint.png").stat().st_size > 1000
    assert "l2_adv" in inpaint.format_result(a)


def test_random_holes_run(tmp_path, data_dir, shared_file):
    shared_file("mnist/train-images-idx3-ubyte.gz")
    cfg = resolve("inpaint", "quick", dataset="mnist", mask="random", holes=3, mask_size=6, **TINY)
    r = run_app("inpaint", cfg, tmp_path / "r", data_dir=data_dir, progress=False, log=lambda s: None)
    assert r["holes"] == 3 and 36 / 784 <= r["hole_share"] <= 3 * 36 / 784


def test_dry_run(tmp_path, capsys):
    assert main(["apps", "inpaint", "--quick", "--dry-run", "--out", str(tmp_path / "x")]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["app"] == "inpaint" and cfg["rec_weight"] == 0.999 and cfg["adv_weight"] == 0.001
    assert cfg["steps"] == inpaint.SETTINGS["quick"]["steps"]


@pytest.mark.parametrize("flags, message", [
    (["--mask-size", "2"], "--mask-size 2: must be between 4 and 20"),
    (["--mask-size", "28"], "--mask-size 28: must be between 4 and 20"),
    (["--max-steps", "0"], "--max-steps 0: must be > 0"),
    (["--holes", "0", "--mask", "random"], "--holes 0: must be > 0"),
    (["--mask", "ring"], "invalid choice"),
    (["--dataset", "digits"], "invalid choice"),
    (["--rec-weight", "0"], "--rec-weight 0.0"),
    (["--test-images", "-5"], "--test-images -5: must be ≥ 0"),
])
def test_bad_input(tmp_path, capsys, flags, message):
    assert main(["apps", "inpaint", "--dry-run", "--out", str(tmp_path / "x"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("error:") == 1


def test_a_nan_loss_stops_the_app_with_exit_status_3(tmp_path, monkeypatch, capsys, data_dir, shared_file):
    """The applications' loops watch their losses as the trainers do: a NaN stops the run, naming the step."""
    shared_file("mnist/train-images-idx3-ubyte.gz")
    real = inpaint.masked_l2
    monkeypatch.setattr(inpaint, "masked_l2", lambda *a: real(*a) * float("nan"))
    assert main(["apps", "inpaint", "--data-dir", str(data_dir), "--max-steps", "3", "--batch-size", "16", "--width",
                 "8", "--train-images", "100", "--test-images", "50", "--device", "cpu", "--no-progress",
                 "--out", str(tmp_path / "run")]) == 3
    assert "step 1: the loss became NaN or infinite" in capsys.readouterr().err

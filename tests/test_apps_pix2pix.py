"""pix2pix: the U-Net / PatchGAN shapes, the tasks built from real images, the ablation's losses, determinism, a
tiny end-to-end run on the 8×8 digits, and the command's bad-input paths."""

import json

import pytest
import torch

from bertgan.apps.common import resolve, run_app
from bertgan.cli import main
from bertgan.gan.image2image import PatchDiscriminator, UNetGenerator, check_size

pytestmark = pytest.mark.usefixtures("private_cache")

TINY = dict(dataset="digits", image_size=8, steps=6, batch_size=16, width=8, train_images=300, test_images=60,
            device="cpu")


@pytest.mark.parametrize("depth,size", [(1, 8), (2, 8), (2, 28), (3, 16)])
def test_unet_keeps_the_shape_and_skips_carry_the_input(depth, size):
    G = UNetGenerator(1, 1, width=8, depth=depth).eval()
    x = torch.randn(3, 1, size, size)
    y = G(x)
    assert y.shape == x.shape and y.abs().max() <= 1  # tanh output, G's range
    # the skip connection: with depth ≥ 2 the first encoder block feeds the last decoder block directly, so a
    # change in one input pixel reaches the output even with the bottleneck's output held fixed
    if depth >= 2:
        G.bottleneck.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
        x2 = x.clone()
        x2[:, :, 0, 0] += 3
        assert not torch.allclose(G(x), G(x2))


def test_patch_discriminator_scores_a_grid_of_patches():
    D = PatchDiscriminator(2, width=8)
    x, y = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    assert D(y, x).shape == (4, 1, 7, 7)  # conditional: the pair (input, output), one logit per patch
    assert D.receptive_field() == 18
    # a change in one corner pixel moves only the logits whose patch covers it
    y2 = y.clone()
    y2[:, :, 0, 0] += 5
    changed = (D.eval()(y2, x) - D(y, x)).abs().sum((0, 1)) > 0
    assert changed[0, 0] and not changed[-1, -1]


def test_check_size():
    assert check_size(28, 2) and not check_size(28, 3) and not check_size(30, 2) and check_size(8, 3)


def test_tasks_built_from_real_mnist(shared_file, data_dir):
    from bertgan.apps.pix2pix import sobel_magnitude, task_inputs
    from bertgan.data.images import load_images, to_unit

    shared_file("mnist/t10k-images-idx3-ubyte.gz")
    y = to_unit(load_images("mnist", 28, 1, data_dir, "test").images[:64])
    edges = task_inputs("edges", y)
    assert set(edges.unique().tolist()) == {-1.0, 1.0}
    ink = y > -1  # any non-black pixel
    on = edges > 0
    # Sobel's support is 3×3: every edge pixel has ink within one pixel; edges are a minority of the pixels
    near_ink = torch.nn.functional.max_pool2d(ink.float(), 3, 1, 1) > 0
    assert on.any() and (on & ~near_ink).sum() == 0
    assert 0.05 < on.float().mean() < 0.5
    # Sobel on a vertical step of height 1: |∇| = 4 at the step (kernel [1 2 1] · [−1 0 1]), 0 away from it
    step = torch.zeros(1, 1, 5, 6)
    step[..., 3:] = 1
    g = sobel_magnitude(step)[0, 0]
    assert torch.allclose(g[:, 2], torch.full((5,), 4.0)) and g[:, 0].abs().sum() == 0
    masked = task_inputs("masked", y, torch.Generator().manual_seed(0))
    hole = masked != y
    assert ((masked[hole]) == 0).all()
    per_image = (masked == 0).flatten(1).sum(1)
    assert (per_image >= 14 * 14).all()  # a 14×14 grey square in every image (plus any grey pixels already there)


def test_losses_follow_the_paper():
    """L1+cGAN's G loss is −E[log D(x, G(x))] + λ·L1, D's is half the cross-entropy (§3.3)."""
    from bertgan.gan.losses import d_nonsaturating, g_nonsaturating

    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    d = 0.5 * d_nonsaturating(real, fake)
    expect = -0.5 * (torch.log(sig(real)).mean() + torch.log(1 - sig(fake)).mean())
    assert torch.allclose(d, expect)
    assert torch.allclose(g_nonsaturating(fake), -torch.log(sig(fake)).mean())


def test_training_is_deterministic_and_variants_share_the_start(data_dir):
    from bertgan.apps.pix2pix import Config, train_variant
    from bertgan.gan.evaluate import labelled_splits

    images = labelled_splits("digits")[0].images[:200]
    cfg = Config(**{**TINY, "steps": 3})
    cpu = torch.device("cpu")
    _, c1 = train_variant(cfg, "l1+cgan", images, cpu)
    _, c2 = train_variant(cfg, "l1+cgan", images, cpu)
    assert c1 == c2
    _, c3 = train_variant(cfg, "l1", images, cpu)
    # same seed, same G initialisation and batch: the first step's L1 is the same before the two games diverge
    assert c3[0]["l1"] == c1[0]["l1"] and "loss_d" not in c3[0]


@pytest.mark.slow
def test_run_end_to_end_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["apps", "pix2pix", "--out", str(out), "--no-progress", "--dataset", "digits", "--image-size", "8",
                 "--max-steps", "30", "--batch-size", "32", "--width", "8", "--train-images", "600",
                 "--test-images", "100", "--device", "cpu"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "L1+cGAN" in printed or "l1+cgan" in printed
    assert "--task masked" in printed  # 30 steps on edge maps cannot show the paper's finding: it says where to look
    r = json.loads((out / "result.json").read_text())
    rows = r["rows"]
    assert set(rows) == {"l1", "l1+cgan", "input", "target"}
    assert rows["target"]["l1"] == 0 and rows["target"]["judge_accuracy"] > 0.85  # the ceiling: real digits
    for v in ("l1", "l1+cgan"):
        assert 0 <= rows[v]["l1"] < rows["input"]["l1"]  # 30 steps already beat the untranslated edge map
        assert 0 <= rows[v]["judge_accuracy"] <= 1 and -1 <= rows[v]["ssim"] <= 1
    for png in r["pictures"]:
        assert (out / png).stat().st_size > 1000
    assert json.loads((out / "config.json").read_text())["task"] == "edges"


@pytest.mark.parametrize("args,message", [
    (["--task", "sketch"], "--task sketch: unknown task; choose one of edges, masked"),
    (["--dataset", "stacked-mnist"], "--dataset stacked-mnist: this application needs a labelled image set"),
    (["--max-steps", "0"], "--max-steps 0: must be > 0"),
    (["--batch-size", "-4"], "--batch-size -4: must be > 0"),
    (["--lam", "0"], "--lam 0.0: must be > 0"),
    (["--image-size", "30"], "--image-size 30: the U-Net halves the image 2 time(s)"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, capsys, args, message):
    assert main(["apps", "pix2pix", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_dry_run_prints_the_quick_setting(tmp_path, capsys):
    assert main(["apps", "pix2pix", "--quick", "--dry-run", "--out", str(tmp_path / "x")]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["setting"] == "quick" and cfg["steps"] == 400 and cfg["lam"] == 100.0
    assert resolve("pix2pix", "full").steps > cfg["steps"]
    assert not (tmp_path / "x").exists()


def test_run_app_library_call(tmp_path):
    cfg = resolve("pix2pix", "quick", **TINY, task="masked")
    r = run_app("pix2pix", cfg, tmp_path / "lib", setting="quick", progress=False, log=lambda s: None)
    assert r["task"] == "masked" and r["rows"]["l1"]["l1"] > 0
    assert isinstance(r["finding"]["l1_lower_error"], bool)

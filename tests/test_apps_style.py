"""CycleGAN style transfer: the ResNet generator, the styles of domain B built from real MNIST, the disjoint
unpaired halves, the losses against their formulas, determinism, a tiny end-to-end run on the 8×8 digits, and the
command's bad-input paths."""

import json

import pytest
import torch

from bertgan.apps.common import resolve, run_app
from bertgan.cli import main
from bertgan.gan.image2image import PatchDiscriminator, ResBlock, ResnetGenerator

pytestmark = pytest.mark.usefixtures("private_cache")

TINY = dict(dataset="digits", image_size=8, steps=4, batch_size=16, width=8, blocks=1, train_images=400,
            test_images=60, device="cpu")


@pytest.mark.parametrize("size,blocks", [(28, 3), (8, 1), (16, 0)])
def test_resnet_generator_keeps_the_shape(size, blocks):
    G = ResnetGenerator(1, width=8, blocks=blocks)
    x = torch.randn(2, 1, size, size)
    y = G(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert sum(isinstance(m, ResBlock) for m in G.modules()) == blocks
    D = PatchDiscriminator(1, width=8, norm="instance")  # CycleGAN's D: one image, no condition
    assert D(y).shape == (2, 1, size // 4, size // 4)


def test_styles_from_real_mnist(shared_file, data_dir):
    from bertgan.apps.style import restyle
    from bertgan.data.images import load_images

    shared_file("mnist/t10k-images-idx3-ubyte.gz")
    a = load_images("mnist", 28, 1, data_dir, "test").images[:32]
    thick = restyle("thick", a)
    assert (thick >= a).all() and (thick > 0).sum() > 1.3 * (a > 0).sum()  # dilation only adds ink
    # grey-level dilation: each pixel is the max of its 3×3 neighbourhood
    i, j = 10, 12
    assert thick[0, 0, i, j] == a[0, 0, i - 1:i + 2, j - 1:j + 2].max()
    assert torch.equal(restyle("inverted", restyle("inverted", a)), a) and restyle("inverted", a)[0, 0, 0, 0] == 255
    stripes = restyle("stripes", a)
    assert (stripes <= a).all() and (stripes[a >= 2] > 0).all()  # the same strokes, shaded ink
    assert (stripes[a == 255] < 255).any()


def test_domains_are_disjoint_halves(data_dir):
    from bertgan.apps.style import Config, load_domains, restyle
    from bertgan.gan.evaluate import labelled_splits

    cfg = Config(**{**TINY, "style": "inverted"})
    a_train, b_train, a_test, b_test, labels = load_domains(cfg)
    assert len(a_train) == len(b_train) == 200 and len(a_test) == 60 == len(labels)
    # B is the style of *other* images: undo the style and no image of B is an image of A
    b_undone = restyle("inverted", b_train).flatten(1)
    shared = (b_undone[:, None] == a_train.flatten(1)[None]).all(-1)
    train = labelled_splits("digits")[0].images
    dup = (train.flatten(1)[:, None] == train.flatten(1)[None]).all(-1).sum() - len(train)
    assert shared.sum() <= dup  # only images that occur twice in the set itself can match
    assert torch.allclose(b_test, -a_test, atol=1e-6)  # test twins: T(a) = 255 − a is −a in [−1, 1]


def test_cycle_losses_follow_the_paper():
    """LSGAN (the paper's eq. for G: E[(D(G(x)) − 1)²]; D: half of E[(D(y) − 1)²] + E[D(G(x))²])."""
    from bertgan.gan.losses import d_least_squares, g_least_squares

    real, fake = torch.tensor([0.9, 0.2]), torch.tensor([0.1, 0.7])
    assert torch.allclose(2 * g_least_squares(fake), ((fake - 1) ** 2).mean())
    assert torch.allclose(d_least_squares(real, fake), 0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean()))


def test_training_is_deterministic():
    from bertgan.apps.style import Config, load_domains, train_cyclegan

    cfg = Config(**{**TINY, "steps": 2})
    a_train, b_train, *_ = load_domains(cfg)
    cpu = torch.device("cpu")
    g1, f1, c1 = train_cyclegan(cfg, a_train, b_train, cpu)
    g2, f2, c2 = train_cyclegan(cfg, a_train, b_train, cpu)
    assert c1 == c2
    for p, q in zip(g1.state_dict().values(), g2.state_dict().values()):
        assert torch.equal(p, q)
    _, _, c0 = train_cyclegan(Config(**{**TINY, "steps": 2, "identity": 0.0}), a_train, b_train, cpu)
    assert c0[0]["identity"] == 0 and c1[0]["identity"] > 0


@pytest.mark.slow
def test_run_end_to_end_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["apps", "style", "--out", str(out), "--no-progress", "--style", "inverted", "--dataset", "digits",
                 "--image-size", "8", "--max-steps", "40", "--batch-size", "16", "--width", "8", "--blocks", "1",
                 "--train-images", "800", "--test-images", "100", "--device", "cpu"])
    assert code == 0
    assert "judge accuracy on F(B)" in capsys.readouterr().out
    r = json.loads((out / "result.json").read_text())
    c, t = r["content"], r["translation_l1"]
    assert c["original"] > 0.85  # the judge on real held-out digits
    assert all(0 <= v <= 1 for v in c.values())
    # 40 steps already move the inverted digits towards the originals: below the identity map's error
    assert t["b_to_a"] < t["b_to_a_identity_baseline"] and t["a_to_b"] < t["a_to_b_identity_baseline"]
    assert r["cycle_l1"]["a"] >= 0 and r["train_images_per_domain"] == 400
    for png in r["pictures"]:
        assert (out / png).stat().st_size > 1000


@pytest.mark.parametrize("args,message", [
    (["--style", "oil"], "--style oil: unknown style; choose one of thick, inverted, stripes"),
    (["--dataset", "folder:/tmp"], "--dataset folder:/tmp: this application needs a labelled image set"),
    (["--max-steps", "-1"], "--max-steps -1: must be > 0"),
    (["--batch-size", "0"], "--batch-size 0: must be > 0"),
    (["--lam", "-10"], "--lam -10.0: must be > 0"),
    (["--identity", "-0.5"], "--identity -0.5: must be ≥ 0"),
    (["--image-size", "30"], "--image-size 30: the generators halve the image twice"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, capsys, args, message):
    assert main(["apps", "style", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_dry_run_prints_the_quick_setting(tmp_path, capsys):
    assert main(["apps", "style", "--quick", "--dry-run", "--out", str(tmp_path / "x")]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["setting"] == "quick" and cfg["lam"] == 10.0 and cfg["identity"] == 0.5
    assert resolve("style", "full").steps > cfg["steps"]


def test_run_app_library_call(tmp_path):
    cfg = resolve("style", "quick", **TINY, style="stripes")
    r = run_app("style", cfg, tmp_path / "lib", setting="quick", progress=False, log=lambda s: None)
    assert r["style"] == "stripes" and (tmp_path / "lib" / "result.json").is_file()

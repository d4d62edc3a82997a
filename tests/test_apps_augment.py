"""bertgan apps augment: DiffAugment's ops, the small set, the noise rule, the paired classifier runs, tiny end-to-end
runs on digits and real MNIST, bad input and --dry-run."""

import dataclasses
import json
import math

import pytest
import torch

from bertgan.apps import augment
from bertgan.apps.common import resolve, run_app
from bertgan.cli import main

TINY = dict(per_class=12, seeds=2, gan_steps=4, gan_batch=16, latent_dim=8, width=8, clf_steps=6, batch_size=16,
            pool_per_class=6, device="cpu")


pytestmark = pytest.mark.usefixtures("private_cache")

def test_translate_shifts_each_image_with_background_fill():
    x = torch.rand(5, 1, 6, 7) * 2 - 1
    x.requires_grad_(True)
    g = torch.Generator().manual_seed(3)
    out = augment.translate(x, 2, g)
    s = torch.randint(-2, 3, (5, 2), generator=torch.Generator().manual_seed(3))  # the draws translate made
    for i in range(5):
        dy, dx = s[i].tolist()
        want = torch.full((6, 7), -1.0)
        src = x[i, 0].detach()
        ys, xs = slice(max(dy, 0), 6 + min(dy, 0)), slice(max(dx, 0), 7 + min(dx, 0))
        sy, sx = slice(max(-dy, 0), 6 + min(-dy, 0)), slice(max(-dx, 0), 7 + min(-dx, 0))
        want[ys, xs] = src[sy, sx]
        assert torch.equal(out[i, 0].detach(), want)
    out.sum().backward()  # differentiable: G's update goes through it
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert augment.translate(x, 0, g) is x


def test_cutout_zeroes_one_square_per_image():
    x = torch.ones(64, 1, 28, 28)
    out = augment.cutout(x, torch.Generator().manual_seed(0))
    zeros = (out == 0).sum((1, 2, 3))
    assert (zeros <= 14 * 14).all() and (zeros >= 7 * 7).all()  # 14×14, clipped at most to a quarter
    assert (zeros == 14 * 14).any()
    assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_small_set_is_balanced_and_deterministic():
    labels = torch.arange(10).repeat(30)
    images = torch.arange(300).view(300, 1, 1, 1)  # image i holds the number i
    x, y = augment.small_set(images, labels, 7, seed=1)
    assert torch.equal(torch.bincount(y), torch.full((10,), 7))
    assert len(set(x.flatten().tolist())) == 70  # without replacement
    assert torch.equal(labels[x.flatten()], y)  # every image keeps its label
    x2, _ = augment.small_set(images, labels, 7, seed=1)
    x3, _ = augment.small_set(images, labels, 7, seed=2)
    assert torch.equal(x, x2) and not torch.equal(x, x3)


def test_gain_rule_is_mean_against_twice_the_standard_error():
    gains = [0.02, 0.03, 0.01]  # mean 0.02, sample std 0.01 → bound 2·0.01/√3 = 0.01155
    verdict, text = augment.gain_rule(gains)
    assert verdict == "gain outside the noise" and "+2.00" in text and f"{200 * 0.01 / math.sqrt(3):.2f}" in text
    assert augment.gain_rule([-g for g in gains])[0] == "loss outside the noise"
    assert augment.gain_rule([0.03, -0.01, 0.01])[0] == "within the noise"  # mean 0.01, std 0.02 → bound 0.023
    assert augment.gain_rule([0.05])[0] == "within the noise"  # one seed has no noise estimate


def test_classifier_runs_are_paired_and_deterministic():
    cfg = resolve("augment", "quick", dataset="digits", **{**TINY, "clf_steps": 5})
    x = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    y = torch.arange(10).repeat(4)
    fake, fake_y = torch.randint(0, 256, (20, 1, 28, 28), dtype=torch.uint8), torch.arange(10).repeat(2)
    dev = torch.device("cpu")
    a = augment.train_classifier(cfg, x, y, 0, dev)
    b = augment.train_classifier(cfg, x, y, 0, dev)
    zero = augment.train_classifier(dataclasses.replace(cfg, ratio=0.0), x, y, 0, dev, fake, fake_y)
    mixed = augment.train_classifier(cfg, x, y, 0, dev, fake, fake_y)
    for p, q, r in zip(a.parameters(), b.parameters(), zero.parameters()):
        assert torch.equal(p, q)  # same seed, same weights
        assert torch.equal(p, r)  # ratio 0: the generated images change nothing
    assert any(not torch.equal(p, s) for p, s in zip(a.parameters(), mixed.parameters()))


def test_conditional_gan_generates_each_class():
    cfg = resolve("augment", "quick", dataset="digits", **TINY)
    x = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    y = torch.arange(10).repeat(4)
    G, losses = augment.train_gan(cfg, x, y, 0, torch.device("cpu"))
    assert math.isfinite(losses["loss_d"]) and math.isfinite(losses["loss_g"])
    images, labels = augment.generate(G, 3, 10, cfg.latent_dim, 0, torch.device("cpu"))
    assert images.shape == (30, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.equal(labels, torch.arange(10).repeat_interleave(3))
    again, _ = augment.generate(G, 3, 10, cfg.latent_dim, 0, torch.device("cpu"))
    assert torch.equal(images, again)


@pytest.mark.slow
def test_run_on_digits_writes_result_and_pictures(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["apps", "augment", "--quick", "--dataset", "digits", "--out", str(out), "--no-progress"]
    for k, v in TINY.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    assert main(argv + ["--filter"]) == 0
    printed = capsys.readouterr().out
    assert "paired gain" in printed
    r = json.loads((out / "result.json").read_text())
    assert r["gain_outside_noise"] == (r["verdict"] == "gain outside the noise")
    # a run that does not show the claim says so, and names the setting that does
    assert ("does not show the claim" in printed) == (not r["gain_outside_noise"])
    assert r["app"] == "augment" and r["seeds"] == [0, 1] and r["test_images"] == 360
    for row in r["per_seed"]:
        assert 0 <= row["without"] <= 1 and 0 <= row["with"] <= 1
        assert row["gain"] == pytest.approx(row["with"] - row["without"])
        assert 0 <= row["generated_used"] <= 60  # --filter keeps only what the real-only classifier agrees with
    assert r["gain"]["values"] == pytest.approx([row["gain"] for row in r["per_seed"]])
    assert r["without"]["mean"] == pytest.approx(sum(r["without"]["values"]) / 2)
    assert 0 <= r["judge_accuracy_on_generated"]["mean"] <= 1 and r["judge_accuracy_on_real_test"] > 0.9
    for png in ("samples.png", "accuracy.png"):
        assert (out / png).stat().st_size > 1000
    # same seed, same figures
    run_app("augment", resolve("augment", "quick", dataset="digits", filter=True, **TINY), tmp_path / "again",
            progress=False, log=lambda s: None)
    r2 = json.loads((tmp_path / "again" / "result.json").read_text())
    assert r2["per_seed"][0]["with"] == r["per_seed"][0]["with"] and r2["gain"] == r["gain"]


@pytest.mark.slow
def test_run_on_real_mnist(tmp_path, shared_file, data_dir):
    """A few hundred real MNIST images end to end, scored on the full 10,000-image test set. The judge is a
    stand-in (an untrained classifier put in the private cache where load_classifier looks): training the real one
    takes a CPU-minute, and what it reads is checked on digits above."""
    from safetensors.torch import save_file

    from bertgan.data.images import cache_dir
    from bertgan.gan.classifier import DomainClassifier
    from bertgan.gan.evaluate import CLASSIFIER_VERSION
    from bertgan.io import write_json

    shared_file("mnist/train-images-idx3-ubyte.gz")
    torch.manual_seed(0)
    path = cache_dir() / "classifiers" / f"mnist-v{CLASSIFIER_VERSION}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in DomainClassifier(10).state_dict().items()}, str(path))
    write_json(path.with_suffix(".json"), {"dataset": "mnist", "test_accuracy": 0.1, "version": CLASSIFIER_VERSION})
    cfg = resolve("augment", "quick", dataset="mnist", **{**TINY, "per_class": 20, "seeds": 1, "clf_steps": 80,
                                                                  "batch_size": 32})
    r = run_app("augment", cfg, tmp_path / "mnist", data_dir=data_dir, progress=False, log=lambda s: None)
    assert r["train_images"] == 200 and r["test_images"] == 10_000
    assert r["without"]["mean"] > 0.3  # 80 steps on 200 real digits beat chance (0.1) clearly


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "ring-8"], "--dataset ring-8"),
    (["--dataset", "folder:/tmp"], "labelled image set"),
    (["--gan-steps", "0"], "--gan-steps 0"),
    (["--clf-steps", "-3"], "--clf-steps -3"),
    (["--ratio", "-0.5"], "--ratio -0.5"),
    (["--seeds", "0"], "--seeds 0"),
    (["--dataset", "digits", "--per-class", "500"], "--per-class 500"),
])
def test_bad_input_is_one_message_and_exit_2(tmp_path, capsys, flags, message):
    assert main(["apps", "augment", "--quick", "--out", str(tmp_path / "x"), "--no-progress", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_dry_run_prints_the_quick_settings(tmp_path, capsys):
    assert main(["apps", "augment", "--quick", "--dry-run", "--out", str(tmp_path / "x"), "--ratio", "1"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["setting"] == "quick" and cfg["ratio"] == 1.0 and cfg["seeds"] == 3
    assert cfg["per_class"] == 20 and cfg["gan_steps"] == augment.SETTINGS["quick"]["gan_steps"]
    assert not (tmp_path / "x").exists()

"""One test per registry entry: every preset, architecture, loss and dataset trains a step end to end."""

import math

import pytest
from PIL import Image

from bertgan.gan.config import ARCHS, PRESETS, resolve
from bertgan.gan.losses import LOSSES
from bertgan.gan.trainer import train

FAST = dict(max_steps=1, batch_size=8, log_every=1, precision="fp32", device="cpu")


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_trains_a_step(preset, tmp_path, data_dir, shared_file):
    """Every preset, a tiny version (width 8, one step of 8) on its own dataset."""
    dataset = PRESETS[preset].get("dataset", "digits")
    if dataset in ("mnist", "fashion-mnist", "stacked-mnist"):
        shared_file(f"{dataset.removeprefix('stacked-')}/train-images-idx3-ubyte.gz")
    fast = {**FAST, "width": 8, "batch_size": 8} if PRESETS[preset].get("arch") == "cnn" else FAST
    r = train(resolve(preset, dataset=dataset, data_dir=str(data_dir), **fast), tmp_path / preset, progress=False)
    assert r.step == 1 and (tmp_path / preset / "checkpoint.safetensors").is_file()


def test_point_presets_train_in_fp32():
    """bf16 keeps 8 significant bits: points near the grid's edge (|x| in [2, 4)) would sit on a 0.0156 lattice,
    a third of the grid's σ, and `--preset toy --seed 0` then returns another run than the one docs/gan.md gives."""
    for name, p in PRESETS.items():
        if p.get("arch") == "toy":
            assert resolve(name).precision == "fp32", name


STABILISERS = {"r1": dict(r1=1.0), "gp": dict(loss="wasserstein", gp=10.0),
               "label-smoothing": dict(label_smoothing=0.1), "instance-noise": dict(instance_noise=0.1),
               "spectral-norm": dict(spectral_norm=True), "mbstd": dict(mbstd=True), "pack": dict(pack=2),
               "ema": dict(ema=0.9), "ttur": dict(lr_g=1e-4, lr_d=4e-4), "conditional": dict(conditional=True)}


# The stabilisers that change D's architecture run on every image architecture; the rest on dcgan.
CASES = [(name, "dcgan") for name in sorted(STABILISERS)] + [
    (name, arch) for name in ("conditional", "mbstd", "pack", "spectral-norm") for arch in ("tf-dcgan", "mlp")]


@pytest.mark.parametrize("name,arch", CASES)
def test_stabiliser_trains_and_resumes(name, arch, tmp_path):
    """Each stabiliser on each image architecture: two steps, then a resumed third from the checkpoint."""
    cfg = resolve(arch=arch, dataset="digits", width=8, **dict(FAST, max_steps=2), **STABILISERS[name])
    r = train(cfg, tmp_path / "run", progress=False)
    assert r.step == 2 and all(map(math.isfinite, (r.metrics["loss_d"], r.metrics["loss_g"])))
    import dataclasses

    r = train(dataclasses.replace(cfg, max_steps=3), tmp_path / "run", resume=True, progress=False)
    assert r.step == 3


def test_stabilisers_on_points(tmp_path):
    cfg = resolve("toy", **dict(FAST, max_steps=2), pack=4, mbstd=True, ema=0.9, spectral_norm=True)
    assert train(cfg, tmp_path / "run", progress=False).step == 2


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_arch_and_loss(arch, loss, tmp_path):
    dataset = "grid-25" if arch == "toy" else "digits"
    r = train(resolve(arch=arch, loss=loss, width=8, dataset=dataset, **FAST), tmp_path / "run", progress=False)
    assert r.step == 1 and set(r.metrics) >= {"loss_d", "loss_g"}


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_idx_datasets_train(dataset, tmp_path, data_dir, shared_file):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shared_file(f"{dataset}/{name}")
    r = train(resolve("tf-dcgan", dataset=dataset, data_dir=str(data_dir), **FAST), tmp_path / "run", progress=False)
    assert r.step == 1


def test_folder_dataset_rgb_dcgan(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(10):
        Image.new("RGB", (48 + i, 40), (25 * i, 100, 200)).save(imgs / f"{i}.jpg")
    cfg = resolve(arch="dcgan", dataset=f"folder:{imgs}", image_size=32, width=8, **FAST)
    r = train(cfg, tmp_path / "run", progress=False)
    assert r.step == 1
    saved = (tmp_path / "run" / "config.json").read_text()
    assert '"channels": 3' in saved  # decided from the images
    assert f'"folder:{imgs.resolve()}"' in saved  # absolute: resume and sample work from any directory

"""One test per registry entry: every preset, architecture, loss and dataset trains a step end to end."""

import pytest
from PIL import Image

from bertgan.gan.config import ARCHS, PRESETS, resolve
from bertgan.gan.losses import LOSSES
from bertgan.gan.trainer import train

FAST = dict(max_steps=1, batch_size=8, log_every=1, precision="fp32", device="cpu")


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_trains_a_step(preset, tmp_path):
    r = train(resolve(preset, dataset="digits", **FAST), tmp_path / preset, progress=False)
    assert r.step == 1 and (tmp_path / preset / "checkpoint.safetensors").is_file()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_arch_and_loss(arch, loss, tmp_path):
    r = train(resolve(arch=arch, loss=loss, width=8, **FAST), tmp_path / "run", progress=False)
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

"""The generators that ship in the package: each loads by the same code path as a run folder, draws images of its
dataset's shape, and its samples cover the classes (≥ 9 of 10 by the shipped evaluation classifier)."""

import json

import numpy as np
import pytest
import torch

from bertgan.cli import main
from bertgan.gan.trainer import PRETRAINED_DIR, list_pretrained, load_generator

SHIPPED = sorted(list_pretrained())


def test_the_mnist_and_fashion_mnist_generators_ship():
    assert {"mnist", "fashion-mnist"} <= set(SHIPPED)
    total = sum(f.stat().st_size for f in PRETRAINED_DIR.rglob("*") if f.is_file())
    assert total <= 25 * 2**20


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_generator_draws_every_class(name):
    from bertgan.gan.evaluate import CLASSIFIER_DATASET, classify, generate_samples, load_classifier
    from bertgan.metrics.modes import mode_coverage

    folder = PRETRAINED_DIR / name
    for part in ("config.json", "generator.safetensors", "card.md"):
        assert (folder / part).is_file(), part
    G, cfg = load_generator(folder, torch.device("cpu"))
    fake = generate_samples(G, cfg, 500, 0, torch.device("cpu"))  # uint8 images, as the evaluation reads them
    assert tuple(fake.shape) == (500, cfg.channels, cfg.image_size, cfg.image_size) and fake.dtype == torch.uint8
    assert fake.float().std() > 10  # not one flat colour
    if cfg.dataset in CLASSIFIER_DATASET and cfg.dataset != "stacked-mnist":
        model, _ = load_classifier(cfg.dataset, None, log=lambda s: None)  # the shipped judge: no data needed
        labels, _ = classify(model, fake[:, :1])
        score = mode_coverage(labels, np.arange(10), 10)
        assert score["modes_covered"] >= 9, score


def test_sample_pretrained_offline(tmp_path):
    assert main(["gan", "sample", "--pretrained", "mnist", "-n", "16", "--seed", "1",
                 "--out", str(tmp_path / "g.npy")]) == 0
    x = np.load(tmp_path / "g.npy")
    assert x.shape == (16, 1, 28, 28) and x.dtype == np.float32 and -1 <= x.min() and x.max() <= 1
    figures = json.loads((PRETRAINED_DIR / "mnist" / "figures.json").read_text())
    assert figures  # the card's measured figures, listed by 'gan list-pretrained'

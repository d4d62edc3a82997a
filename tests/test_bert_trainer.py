"""BERT pre-training: run folder, HF-format output, exact resume, schedule, CLI."""

import json

import pytest
import torch
from safetensors.torch import load_file

from bertgan.bert.trainer import PretrainConfig, load_config, lr_factor, pretrain
from bertgan.cli import main
from bertgan.errors import UsageError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from conftest import shared_path

    lines = shared_path("wikitext-2/test.txt").read_text(encoding="utf-8").splitlines()[:1500]
    p = tmp_path_factory.mktemp("corpus") / "c.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def tok():
    from conftest import shared_path

    return str(shared_path("all-MiniLM-L6-v2-tokenizer"))


def _cfg(corpus, tok, **kw):
    base = dict(corpus=[str(corpus)], tokenizer=tok, preset="tiny", max_seq_length=32, batch_size=4, max_steps=6,
                warmup_steps=2, eval_every=3, checkpoint_every=3, log_every=1, precision="fp32", device="cpu")
    return PretrainConfig(**{**base, **kw})


def test_run_folder_and_hf_output(tmp_path, corpus, tok):
    transformers = pytest.importorskip("transformers")
    r = pretrain(_cfg(corpus, tok), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    for name in ("config.json", "checkpoint.safetensors", "metrics.jsonl", "curves.png", "final/config.json",
                 "final/model.safetensors", "final/vocab.txt"):
        assert (run / name).is_file(), name
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 6 and {"eval_mlm_acc", "eval_mlm_ppl", "eval_nsp_acc", "tokens_per_s"} <= set(rows[-1])
    hf = transformers.BertForPreTraining.from_pretrained(run / "final")  # transformers loads what we wrote
    ours = load_file(str(run / "final" / "model.safetensors"))
    assert torch.equal(hf.bert.encoder.layer[0].attention.self.query.weight,
                       ours["bert.encoder.layer.0.attention.self.query.weight"])
    assert r["step"] == 6


def test_resume_is_bit_exact(tmp_path, corpus, tok):
    pretrain(_cfg(corpus, tok), tmp_path / "a", progress=False)
    pretrain(_cfg(corpus, tok, max_steps=3), tmp_path / "b", progress=False)
    cfg = load_config(tmp_path / "b")
    cfg.max_steps = 6
    # With 2 warm-up steps the first three learning rates are the same for 3 and 6 total steps, so continuing to 6
    # must give exactly the weights of the straight 6-step run: data order, masks, dropout and Adam all resume.
    pretrain(cfg, tmp_path / "b", resume=True, progress=False)
    a = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    for k in a:
        if not k.startswith("rng."):
            assert torch.equal(a[k], b[k]), k


def test_lr_schedule():
    assert [round(lr_factor(s, 4, 10), 3) for s in range(11)] == [0.25, 0.5, 0.75, 1.0, 1.0, 0.833, 0.667, 0.5,
                                                                  0.333, 0.167, 0.0]


def test_cli_vocab_size_dry_run_and_bad_input(tmp_path, corpus, tok, capsys):
    out = tmp_path / "v"
    assert main(["bert", "pretrain", "--corpus", str(corpus), "--vocab-size", "2000", "--preset", "tiny",
                 "--max-seq-length", "32", "--batch-size", "4", "--max-steps", "2", "--eval-every", "2",
                 "--precision", "fp32", "--no-progress", "--out", str(out)]) == 0
    assert (out / "tokenizer" / "vocab.txt").is_file() and (out / "final" / "vocab.txt").is_file()
    capsys.readouterr()
    assert main(["bert", "pretrain", "--corpus", str(corpus), "--tokenizer", tok, "--out", str(tmp_path / "d"),
                 "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["preset"] == "mini" and not (tmp_path / "d").exists()
    assert main(["bert", "pretrain", "--corpus", str(corpus), "--out", str(tmp_path / "x")]) == 2
    assert "give --tokenizer DIR or --vocab-size N" in capsys.readouterr().err
    assert main(["bert", "pretrain", "--corpus", str(corpus), "--tokenizer", tok, "--preset", "giant",
                 "--out", str(tmp_path / "x")]) == 2
    assert "unknown BERT preset" in capsys.readouterr().err
    assert main(["bert", "pretrain", "--out", str(tmp_path / "none"), "--corpus", str(corpus), "--resume"]) == 2
    small = tmp_path / "s.txt"
    small.write_text("one doc.\n\ntwo doc.\n", encoding="utf-8")
    with pytest.raises(UsageError, match="at least 4"):
        pretrain(_cfg(small, tok), tmp_path / "s", progress=False)


def test_evaluate_corpus_on_held_out_file(tmp_path, corpus, tok):
    from bertgan.bert.trainer import evaluate_corpus

    pretrain(_cfg(corpus, tok, max_steps=2), tmp_path / "run", progress=False)
    held_out = tmp_path / "h.txt"
    held_out.write_text(corpus.read_text(encoding="utf-8")[:20000], encoding="utf-8")
    m = evaluate_corpus(tmp_path / "run" / "final", [held_out], max_seq_length=32, max_pairs=40, device="cpu")
    assert m["pairs"] == 40 and 0 <= m["eval_mlm_acc"] <= 1 and 0 <= m["eval_nsp_acc"] <= 1
    assert m["eval_mlm_ppl"] > 1

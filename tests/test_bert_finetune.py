"""Fine-tuning (classify, tag, qa) on small slices of the real datasets with a tiny BERT: run folder, best model,
metrics, exact resume, bad input."""

import json

import pytest
import torch
from safetensors.torch import load_file

from bertgan.bert.config import FinetuneConfig, preset
from bertgan.bert.finetune import finetune, load_config
from bertgan.bert.hub import save_pretrained
from bertgan.bert.model import BertForPreTraining
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.cli import main
from bertgan.errors import UsageError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random 'pre-trained' BERT folder with the MiniLM vocabulary, as `bert pretrain` writes one."""
    from conftest import shared_path

    tok = WordPieceTokenizer.from_dir(shared_path("all-MiniLM-L6-v2-tokenizer"))
    d = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    save_pretrained(BertForPreTraining(preset("tiny", vocab_size=tok.vocab_size)), d)
    tok.save(d)
    return str(d)


def _head(path, n, tmp_path, name):
    out = tmp_path / name
    out.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:n]), encoding="utf-8")
    return str(out)


def _cfg(**kw):
    base = dict(max_seq_length=64, batch_size=8, max_steps=4, log_every=1, precision="fp32", device="cpu")
    return FinetuneConfig(**{**base, **kw})


def test_classify_sst2_slice(tmp_path, tiny, shared_file):
    train = _head(shared_file("sst-2/train.tsv"), 65, tmp_path, "train.tsv")
    dev = _head(shared_file("sst-2/dev.tsv"), 41, tmp_path, "dev.tsv")
    r = finetune(_cfg(task="classify", model=tiny, train=train, dev=dev), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    for name in ("config.json", "checkpoint.safetensors", "metrics.jsonl", "curves.png", "eval.json",
                 "labels.json", "best/config.json", "best/model.safetensors", "best/vocab.txt"):
        assert (run / name).is_file(), name
    best = json.loads((run / "eval.json").read_text())
    assert best["metric"] == "accuracy" and best["metrics"]["n"] == 40 and 0 <= best["value"] <= 1
    config = json.loads((run / "best" / "config.json").read_text())
    assert config["id2label"] == {"0": "0", "1": "1"} and config["architectures"] == ["BertForSequenceClassification"]
    assert r["step"] == 4
    import bertgan

    pred = bertgan.pipeline("text-classification", model=run / "best")("a gorgeous , witty , seductive movie .")
    assert pred["label"] in ("0", "1") and 0.5 <= pred["score"] <= 1


def test_classify_pairs_and_label_errors(tmp_path, tiny, shared_file):
    rows = json.loads(shared_file("klue/klue-nli-v1.1_dev.json").read_text(encoding="utf-8"))
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:48]), encoding="utf-8")
    dev.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[48:64]), encoding="utf-8")
    cfg = _cfg(task="classify", model=tiny, train=str(train), dev=str(dev), text_col="premise",
               text_pair_col="hypothesis", label_col="gold_label", max_steps=2)
    finetune(cfg, tmp_path / "nli", progress=False)
    labels = json.loads((tmp_path / "nli" / "labels.json").read_text())["labels"]
    assert labels == ["contradiction", "entailment", "neutral"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(dev.read_text(encoding="utf-8").replace('"neutral"', '"maybe"', 1), encoding="utf-8")
    with pytest.raises(UsageError, match=rf"{bad}:\d+: unknown label 'maybe'"):
        finetune(_cfg(**{**cfg.__dict__, "dev": str(bad)}), tmp_path / "bad", progress=False)
    with pytest.raises(UsageError, match="--text-col") as e:
        finetune(_cfg(**{**cfg.__dict__, "text_col": "sentence"}), tmp_path / "col", progress=False)
    assert "premise" in str(e.value)  # the message lists the columns the file has


def test_tag_pos_and_ner(tmp_path, tiny, shared_file):
    ud = shared_file("ud-english-ewt/en_ewt-ud-dev.conllu").read_text(encoding="utf-8").split("\n\n")
    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text("\n\n".join(ud[:40]) + "\n\n", encoding="utf-8")
    dev.write_text("\n\n".join(ud[40:60]) + "\n\n", encoding="utf-8")
    finetune(_cfg(task="tag", model=tiny, train=str(train), dev=str(dev)), tmp_path / "pos", progress=False)
    best = json.loads((tmp_path / "pos" / "eval.json").read_text())
    assert best["metric"] == "token_accuracy" and best["metrics"]["sentences"] == 20
    klue = shared_file("klue/klue-ner-v1.1_dev.tsv").read_text(encoding="utf-8").split("\n\n")
    ktrain, kdev = tmp_path / "ner_train.tsv", tmp_path / "ner_dev.tsv"
    ktrain.write_text("\n\n".join(klue[:41]) + "\n\n", encoding="utf-8")
    kdev.write_text("\n\n".join(klue[41:61]) + "\n\n", encoding="utf-8")
    finetune(_cfg(task="tag", model=tiny, train=str(ktrain), dev=str(kdev), tag_format="klue", max_seq_length=32),
             tmp_path / "ner", progress=False)
    best = json.loads((tmp_path / "ner" / "eval.json").read_text())
    assert best["metric"] == "f1" and {"precision", "recall", "entities"} <= set(best["metrics"])


def test_tag_windows_cover_long_sentences():
    from bertgan.bert.finetune import tag_windows

    pieces = [[1] * n for n in (3, 4, 2, 5, 1, 1)]
    assert tag_windows(pieces, 6) == [(0, 1), (1, 3), (3, 5), (5, 6)]  # whole words per window, nothing dropped
    assert tag_windows([[1] * 9], 6) == [(0, 1)]


def test_qa_on_held_out_articles(tmp_path, tiny, shared_file):
    data = json.loads(shared_file("xquad/xquad.en.json").read_text(encoding="utf-8"))
    data["data"] = data["data"][:3]
    src = tmp_path / "squad.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    r = finetune(_cfg(task="qa", model=tiny, train=str(src), eval_fraction=0.34, max_seq_length=128, doc_stride=64),
                 tmp_path / "qa", progress=False)
    best = json.loads((tmp_path / "qa" / "eval.json").read_text())
    assert best["metric"] == "f1" and 0 <= best["metrics"]["exact_match"] <= 100
    assert r["train_questions"] > 0 and r["eval_questions"] == best["metrics"]["questions"] > 0
    # the windows the figure was measured with travel with the model: predict qa uses them by default
    saved = json.loads((tmp_path / "qa" / "best" / "config.json").read_text())["task_specific_params"]
    assert saved["question-answering"] == {"max_seq_length": 128, "doc_stride": 64, "max_query_length": 64,
                                           "max_answer_length": 30}
    import bertgan

    assert bertgan.pipeline("question-answering", model=tmp_path / "qa" / "best").settings["doc_stride"] == 64


def test_interrupted_run_resumes_exactly(tmp_path, tiny, shared_file, monkeypatch):
    import bertgan.bert.finetune as ft

    train = _head(shared_file("sst-2/train.tsv"), 65, tmp_path, "train.tsv")
    dev = _head(shared_file("sst-2/dev.tsv"), 17, tmp_path, "dev.tsv")
    cfg = _cfg(task="classify", model=tiny, train=train, dev=dev, max_steps=6, eval_every=3, dropout=0.1)
    finetune(cfg, tmp_path / "a", progress=False)

    class StopAfter3:  # Ctrl-C arriving during step 3
        def __init__(self):
            self.polls = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        @property
        def requested(self):
            self.polls += 1
            return self.polls >= 3

    monkeypatch.setattr(ft, "GracefulInterrupt", StopAfter3)
    r = finetune(_cfg(**cfg.__dict__), tmp_path / "b", progress=False)
    assert r["interrupted"] and r["step"] == 3
    monkeypatch.undo()
    finetune(load_config(tmp_path / "b"), tmp_path / "b", resume=True, progress=False)
    a = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    for k in a:
        if not k.startswith("rng."):
            assert torch.equal(a[k], b[k]), k  # weights, AdamW moments: bit for bit
    # Train longer from the command line: --resume with a higher --max-steps.
    assert main(["bert", "finetune", "classify", "--out", str(tmp_path / "b"), "--resume", "--max-steps", "8",
                 "--no-progress"]) == 0
    assert json.loads((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 8


def test_cli_dry_run_and_errors(tmp_path, tiny, shared_file, capsys):
    train = str(shared_file("sst-2/dev.tsv"))
    assert main(["bert", "finetune", "classify", "--model", tiny, "--train", train, "--dev", train,
                 "--out", str(tmp_path / "d"), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "classify" and not (tmp_path / "d").exists()
    assert main(["bert", "finetune", "classify", "--model", tiny, "--train", train, "--out", str(tmp_path / "x")]) == 2
    assert "needs an evaluation file" in capsys.readouterr().err
    assert main(["bert", "finetune", "tag", "--model", tiny, "--train", str(tmp_path / "no.conllu"), "--dev", train,
                 "--out", str(tmp_path / "x")]) == 2
    assert "no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    assert main(["bert", "finetune", "classify", "--model", tiny, "--train", str(empty), "--dev", train,
                 "--max-steps", "1", "--no-progress", "--out", str(tmp_path / "e")]) == 2
    assert str(empty) in capsys.readouterr().err


def test_nan_weights_never_replace_best(tmp_path, tiny, shared_file, monkeypatch, capsys):
    """Epoch 1 writes best/; in epoch 2 the weights turn NaN: the run stops with exit status 3 and best/ is the
    epoch-1 model, byte for byte (it used to be overwritten by an all-NaN model that 'scored' by predicting one
    class)."""
    import bertgan.bert.finetune as ft

    train = _head(shared_file("sst-2/train.tsv"), 33, tmp_path, "train.tsv")
    dev = _head(shared_file("sst-2/dev.tsv"), 21, tmp_path, "dev.tsv")
    real = ft._forward
    calls = {"n": 0}

    def poisoned(model, batch):
        calls["n"] += model.training  # training steps only, not evaluation batches
        if calls["n"] == 5 and model.training:  # step 5, in epoch 2 (4 steps an epoch): the weights become NaN
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(float("nan"))
        return real(model, batch)

    monkeypatch.setattr(ft, "_forward", poisoned)
    out = tmp_path / "run"
    argv = ["bert", "finetune", "classify", "--model", tiny, "--train", train, "--dev", dev, "--epochs", "3",
            "--batch-size", "8", "--max-seq-length", "64", "--precision", "fp32", "--out", str(out), "--no-progress"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "step 5: the loss became NaN or infinite" in err and "last checkpoint (step 4)" in err
    best = json.loads((out / "eval.json").read_text())
    assert best["step"] == 4 and best["metrics"]["precision"] == "fp32"
    weights = load_file(str(out / "best" / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_pretrain_with_a_huge_learning_rate_stops(tmp_path, tiny, shared_file, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(shared_file("wikitext-2/test.txt").read_text(encoding="utf-8").splitlines()[:400]),
                      encoding="utf-8")
    out = tmp_path / "run"
    assert main(["bert", "pretrain", "--corpus", str(corpus), "--tokenizer", tiny, "--preset", "tiny",
                 "--max-seq-length", "32", "--batch-size", "4", "--max-steps", "30", "--lr", "1e6",
                 "--warmup-steps", "0", "--precision", "fp32", "--out", str(out), "--no-progress"]) == 3
    assert "the loss became NaN or infinite" in capsys.readouterr().err
    assert not (out / "final").exists()


def test_resume_takes_the_first_command_again(tmp_path, tiny, shared_file, capsys):
    train = _head(shared_file("sst-2/train.tsv"), 33, tmp_path, "train.tsv")
    dev = _head(shared_file("sst-2/dev.tsv"), 21, tmp_path, "dev.tsv")
    out = tmp_path / "run"
    first = ["bert", "finetune", "classify", "--model", tiny, "--train", train, "--dev", dev, "--batch-size", "8",
             "--max-seq-length", "64", "--lr", "5e-5", "--seed", "3", "--precision", "fp32", "--no-progress",
             "--out", str(out)]
    assert main(first + ["--max-steps", "2"]) == 0
    assert main(first + ["--max-steps", "3", "--resume"]) == 0  # the same flags, a longer run
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 3
    capsys.readouterr()
    assert main(first[:-2] + ["--lr", "1e-4", "--max-steps", "4", "--resume", "--out", str(out)]) == 2
    assert "--lr 0.0001 differs from the run's 5e-05" in capsys.readouterr().err


def test_refused_input_leaves_no_folder_and_a_nan_model_is_refused(tmp_path, tiny, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("John B-PER\nParis PERSON\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["bert", "finetune", "tag", "--model", tiny, "--train", str(bad), "--dev", str(bad), "--out",
                 str(out), "--no-progress"]) == 2
    assert "bad.txt:2: tag 'PERSON' is not in the BIO/BIOES scheme" in capsys.readouterr().err
    assert not out.exists()  # checked before the run folder was made
    import shutil

    from safetensors.torch import save_file

    nan_model = tmp_path / "nan"
    shutil.copytree(tiny, nan_model)
    state = load_file(str(nan_model / "model.safetensors"))
    state["bert.embeddings.word_embeddings.weight"][0, 0] = float("nan")
    save_file(state, str(nan_model / "model.safetensors"))  # as another tool would write it: no digest
    for argv in (["bert", "fill-mask", "--model", str(nan_model), "a [MASK]"],
                 ["bert", "embed", "--model", str(nan_model), "a sentence"]):
        assert main(argv) == 2
        assert "non-finite value" in capsys.readouterr().err

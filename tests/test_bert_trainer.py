"""BERT pre-training: run folder, HF-format output, exact resume, schedule, CLI."""

import json

import pytest
import torch
from safetensors.torch import load_file

from bertgan.bert.trainer import PretrainConfig, load_config, pretrain
from bertgan.cli import main
from bertgan.errors import UsageError
from bertgan.train.optim import lr_factor


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


@pytest.mark.slow
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
    plan = json.loads(capsys.readouterr().out)
    assert plan["preset"] == "mini" and not (tmp_path / "d").exists()
    assert plan["precision"] in ("fp32", "bf16") and plan["device"] == "cpu" and plan["threads"] >= 1  # resolved
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


def test_evaluate_corpus_on_held_out_file(tmp_path, corpus, tok, capsys):
    from bertgan.bert.trainer import evaluate_corpus

    pretrain(_cfg(corpus, tok, max_steps=2), tmp_path / "run", progress=False)
    held_out = tmp_path / "h.txt"
    held_out.write_text(corpus.read_text(encoding="utf-8")[:20000], encoding="utf-8")
    m = evaluate_corpus(tmp_path / "run" / "final", [held_out], max_seq_length=32, max_pairs=40, device="cpu")
    assert m["pairs"] == 40 and 0 <= m["eval_mlm_acc"] <= 1 and 0 <= m["eval_nsp_acc"] <= 1
    assert m["eval_mlm_ppl"] > 1 and 0.5 <= m["eval_nsp_majority"] <= 1
    capsys.readouterr()
    assert main(["bert", "evaluate", "--model", str(tmp_path / "run" / "final"), "--corpus", str(held_out),
                 "--max-seq-length", "32", "--max-pairs", "40", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == m  # the CLI prints what the library measures
    one = tmp_path / "one.txt"
    one.write_text("Just one document here.\nWith two sentences.\n", encoding="utf-8")
    assert main(["bert", "evaluate", "--model", str(tmp_path / "run" / "final"), "--corpus", str(one)]) == 2
    assert "--no-nsp" in capsys.readouterr().err
    assert main(["bert", "evaluate", "--model", str(tmp_path / "run" / "final"), "--corpus", str(one),
                 "--no-nsp", "--max-seq-length", "32"]) == 0
    assert "MLM accuracy" in capsys.readouterr().out


def test_whole_word_mask_masks_pieces_with_their_word(tmp_path, corpus, tok):
    from bertgan.bert.corpus import PairStream, TokenCache
    from bertgan.bert.tokenizer import WordPieceTokenizer
    from bertgan.bert.trainer import _Batches
    from bertgan.train.distributed import Dist

    t = WordPieceTokenizer.from_dir(tok)
    cfg = _cfg(corpus, tok, whole_word_mask=True, batch_size=64, max_seq_length=64)
    cache = TokenCache.get_or_build([corpus], t, tmp_path / "cache")
    stream = PairStream(cache, range(len(cache)), max_seq_length=64, short_seq_prob=0.1, seed=0, word_starts=True)
    (ids, _, mask, labels, _), = _Batches(stream, t, cfg, Dist(), torch.device("cpu")).step(0)[0]
    chosen = labels != -100
    original = torch.where(chosen, labels, ids)
    pieces = together = 0
    for i in range(len(ids)):
        tokens = t.convert_ids_to_tokens(original[i].tolist())
        for j in range(2, int(mask[i].sum()) - 1):
            if tokens[j].startswith("##") and tokens[j - 1] not in ("[CLS]", "[SEP]"):
                pieces += 1
                together += bool(chosen[i, j] == chosen[i, j - 1])
    assert pieces > 100 and together == pieces  # a '##' piece is chosen exactly when the piece before it is
    rate = chosen.sum() / (mask.sum() - 3 * len(ids))
    assert 0.13 < rate < 0.16


def test_no_nsp_trains_a_single_document(tmp_path, tok, capsys):
    one = tmp_path / "one.txt"
    one.write_text("\n".join(f"Sentence number {i} of the only document." for i in range(60)) + "\n",
                   encoding="utf-8")
    with pytest.raises(UsageError, match="--no-nsp"):
        pretrain(_cfg(one, tok), tmp_path / "a", progress=False)
    r = pretrain(_cfg(one, tok, nsp=False), tmp_path / "b", progress=False)
    assert r["step"] == 6 and "eval_mlm_acc" in r["metrics"] and "eval_nsp_acc" not in r["metrics"]


def test_encoding_errors_named_with_byte_offset_or_replaced(tmp_path, corpus, tok, capsys):
    bad = tmp_path / "bad.txt"
    good = corpus.read_bytes()[:4000]
    bad.write_bytes(good + b"caf\xe9 au lait.\n\nMore text here.\n")
    args = ["bert", "pretrain", "--corpus", str(bad), "--tokenizer", tok, "--preset", "tiny", "--max-seq-length",
            "32", "--batch-size", "4", "--max-steps", "2", "--precision", "fp32", "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and f"byte offset {len(good) + 3}" in err and "--encoding-errors replace" in err
    assert main(args + ["--out", str(tmp_path / "b"), "--encoding-errors", "replace"]) == 0
    assert "replaced by U+FFFD" in capsys.readouterr().err


def test_resume_refuses_other_settings_or_changed_tokenizer(tmp_path, corpus, tok, capsys):
    import shutil

    own = tmp_path / "tok"
    shutil.copytree(tok, own)
    out = tmp_path / "run"
    args = ["bert", "pretrain", "--corpus", str(corpus), "--tokenizer", str(own), "--preset", "tiny",
            "--max-seq-length", "32", "--batch-size", "4", "--max-steps", "2", "--precision", "fp32",
            "--no-progress", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["bert", "pretrain", "--out", str(out), "--resume", "--max-steps", "3", "--preset", "mini"]) == 2
    assert "--preset mini differs from the run's preset = 'tiny'" in capsys.readouterr().err
    assert main(["bert", "pretrain", "--out", str(out), "--resume", "--max-steps", "3", "--whole-word-mask"]) == 2
    assert "--whole-word-mask differs" in capsys.readouterr().err
    # the first command again with --resume: the same --tokenizer is accepted
    assert main(args[:-5] + ["--max-steps", "3", "--resume"] + args[-3:]) == 0
    vocab = (own / "vocab.txt").read_text(encoding="utf-8").splitlines()
    vocab[2000], vocab[2001] = vocab[2001], vocab[2000]  # same size, different vocabulary
    (own / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (own / "tokenizer.json").unlink(missing_ok=True)
    capsys.readouterr()
    assert main(["bert", "pretrain", "--out", str(out), "--resume", "--max-steps", "4", "--tokenizer", str(own)]) == 2
    assert "is not the run's vocabulary" in capsys.readouterr().err
    # the run kept its own copy: the edited original does not matter, a moved run resumes with its own
    moved = tmp_path / "moved"
    out.rename(moved)
    assert main(["bert", "pretrain", "--out", str(moved), "--resume", "--max-steps", "4", "--no-progress"]) == 0
    run_vocab = moved / "tokenizer" / "vocab.txt"
    lines = run_vocab.read_text(encoding="utf-8").splitlines()
    lines[2000], lines[2001] = lines[2001], lines[2000]
    run_vocab.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (moved / "tokenizer" / "tokenizer.json").unlink()
    assert main(["bert", "pretrain", "--out", str(moved), "--resume", "--max-steps", "5"]) == 2
    assert "tokenizer" in (err := capsys.readouterr().err) and "changed since the run started" in err


def test_resume_checks_the_corpus_bytes_not_its_modification_time(tmp_path, corpus, tok, capsys):
    import os
    import shutil

    mine = tmp_path / "c.txt"
    shutil.copy(corpus, mine)
    out = tmp_path / "run"
    assert main(["bert", "pretrain", "--corpus", str(mine), "--tokenizer", tok, "--preset", "tiny",
                 "--max-seq-length", "32", "--batch-size", "4", "--max-steps", "2", "--precision", "fp32",
                 "--no-progress", "--out", str(out)]) == 0
    # restored from a backup or mounted again: a new modification time, the same bytes → the run continues
    st = mine.stat()
    os.utime(mine, ns=(st.st_atime_ns, st.st_mtime_ns + 10**12))
    assert main(["bert", "pretrain", "--out", str(out), "--resume", "--max-steps", "3", "--no-progress"]) == 0
    # one byte changed, the size and the modification time kept → refused
    st = mine.stat()
    data = bytearray(mine.read_bytes())
    data[100] = ord("#") if data[100] != ord("#") else ord("%")
    mine.write_bytes(bytes(data))
    os.utime(mine, ns=(st.st_atime_ns, st.st_mtime_ns))
    capsys.readouterr()
    assert main(["bert", "pretrain", "--out", str(out), "--resume", "--max-steps", "4", "--no-progress"]) == 2
    assert f"corpus file {mine.resolve()} changed since the run started" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_equal_one_process(tmp_path, corpus, tok):
    # torchrun --nproc_per_node 2 (gloo on CPU), global batch 8 split 4 + 4, against one process with batch 8:
    # the same weights within float tolerance (dropout off: each process draws its own dropout masks).
    import os
    import subprocess
    import sys

    common = ["bert", "pretrain", "--corpus", str(corpus), "--tokenizer", tok, "--preset", "tiny",
              "--max-seq-length", "32", "--batch-size", "8", "--grad-accum", "2", "--max-steps", "3",
              "--warmup-steps", "1", "--lr", "1e-3", "--dropout", "0", "--precision", "fp32", "--device", "cpu",
              "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "bertgan", *common, "--out", str(tmp_path / "one")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "bertgan", *common, "--out", str(tmp_path / "two")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a = load_file(str(tmp_path / "one" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-5, worst  # measured 6e-7
    from bertgan.bert.config import preset
    from bertgan.bert.model import BertForPreTraining

    torch.manual_seed(0)
    init = BertForPreTraining(preset("tiny", vocab_size=len(a["cls.predictions.bias"]))).state_dict()
    assert max(float((a[k] - init[k]).abs().max()) for k in a) > 1e-3  # and training did move the weights


def test_eval_corpus_and_a_gzip_folder_as_the_corpus(tmp_path, corpus, tok):
    """--corpus takes a folder (its .txt.gz streamed); --eval-corpus scores a held-out corpus of its own, and then
    no training document is held out."""
    import gzip

    lines = corpus.read_text(encoding="utf-8").splitlines()
    (tmp_path / "train").mkdir()
    with gzip.open(tmp_path / "train" / "part.txt.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines[:1000]) + "\n")
    held = tmp_path / "held.txt"
    held.write_text("\n".join(lines[1000:]) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["bert", "pretrain", "--corpus", str(tmp_path / "train"), "--eval-corpus", str(held), "--tokenizer",
                 tok, "--preset", "tiny", "--max-seq-length", "32", "--batch-size", "4", "--max-steps", "4",
                 "--warmup-steps", "1", "--eval-every", "2", "--precision", "fp32", "--device", "cpu", "--out",
                 str(out), "--no-progress"]) == 0
    cfg = load_config(out)
    assert cfg.corpus == [str((tmp_path / "train" / "part.txt.gz").resolve())] and cfg.eval_corpus == [str(held)]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval_mlm_acc" in r] == [2, 4]
    caches = sorted(p.name for p in (out / "cache").iterdir())
    assert len(caches) == 2  # the training corpus and the held-out one, each tokenised once
    held_cache = [p for p in (out / "cache").iterdir()
                  if json.loads((p / "meta.json").read_text())["files"] == [str(held)]]
    assert held_cache and json.loads((held_cache[0] / "meta.json").read_text())["documents"] >= 2
    # --resume names the same held-out corpus or none
    assert main(["bert", "pretrain", "--resume", "--out", str(out), "--eval-corpus", str(corpus), "--max-steps",
                 "6", "--no-progress"]) == 2


@pytest.mark.parametrize("flags, message", [
    (["--lr", "-1"], "--lr -1.0: a learning rate is a finite number above 0"),
    (["--lr", "nan"], "--lr nan: a learning rate is a finite number above 0"),
    (["--lr", "0"], "--lr 0.0: a learning rate is a finite number above 0"),
    (["--seed", "99999999999999999999"], "a seed is a whole number from 0 to 2,147,483,647"),
    (["--vocab-size", "0"], "--vocab-size 0: must be more than the 5 special tokens"),
    (["--vocab-size", "1000000000"], "at most 1,000,000"),
    (["--vocab-size", "99999999999999999999"], "at most 1,000,000"),
])
def test_pretrain_flags_follow_one_rule(tmp_path, corpus, flags, message, capsys):
    argv = ["bert", "pretrain", "--corpus", str(corpus), "--out", str(tmp_path / "run"), "--no-progress"]
    if "--vocab-size" not in flags:
        argv += ["--vocab-size", "300"]
    assert main(argv + flags) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_refused_pretrain_leaves_the_run_untouched(tmp_path, corpus, tok, capsys):
    """Pointing a new pre-training with its own --vocab-size at an existing run is refused before the run's
    tokenizer is rewritten (it used to be rewritten first, so the run could never resume)."""
    out = tmp_path / "run"
    base = ["--preset", "tiny", "--max-seq-length", "32", "--batch-size", "4", "--warmup-steps", "1",
            "--precision", "fp32", "--device", "cpu", "--out", str(out), "--no-progress"]
    assert main(["bert", "pretrain", "--corpus", str(corpus), "--vocab-size", "400", "--max-steps", "2"] + base) == 0
    before = {p.name: p.read_bytes() for p in (out / "tokenizer").iterdir()}
    other = tmp_path / "other.txt"
    other.write_text("entirely different words here\n\nand another document\n" * 50, encoding="utf-8")
    assert main(["bert", "pretrain", "--corpus", str(other), "--vocab-size", "300", "--max-steps", "2"] + base) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (out / "tokenizer").iterdir()} == before
    assert main(["bert", "pretrain", "--resume", "--max-steps", "3", "--out", str(out), "--no-progress"]) == 0


def test_a_folder_without_checkpoint_can_start_again_and_partial_metrics_are_dropped(tmp_path, corpus, tok):
    """A run killed before its first checkpoint (config.json, no checkpoint) is no dead end: a new run may start
    there; a half-written last metrics.jsonl line (killed mid-write) is dropped on --resume."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}", encoding="utf-8")
    (out / ".checkpoint.safetensors.abc123.tmp").write_bytes(b"half a file")  # a kill during a save
    cfg = _cfg(corpus, tok, max_steps=3, checkpoint_every=3)
    pretrain(cfg, out, progress=False)
    assert not list(out.glob(".*.tmp"))  # the stale temporary file is gone
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"step": 4, "loss": 1.2')  # killed while writing the next row
    again = load_config(out)
    again.max_steps = 5
    r = pretrain(again, out, resume=True, progress=False)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert r["step"] == 5 and [row["step"] for row in rows] == sorted({row["step"] for row in rows})


def test_init_from_continues_a_model_and_resumes(tmp_path, corpus, tok, capsys):
    """--init-from: the run starts from the model's weights and shape (continued pre-training), keeps that shape
    for --resume, and refuses what contradicts it."""
    from bertgan.bert.hub import read_state_dict
    from bertgan.bert.tokenizer import WordPieceTokenizer
    from bertgan.bert.trainer import _init_model

    pretrain(_cfg(corpus, tok, max_steps=2, dropout=0.0), tmp_path / "a", progress=False)
    source = tmp_path / "a" / "final"
    cfg = _cfg(corpus, tok, init_from=str(source), preset=None)
    model = _init_model(cfg, {})
    own = model.state_dict()
    for k, v in read_state_dict(source).items():
        assert torch.equal(own[k], v.to(own[k].dtype)), k  # every stored tensor, heads included, as saved

    out = tmp_path / "b"
    common = ["--max-seq-length", "32", "--batch-size", "4", "--warmup-steps", "1", "--precision", "fp32",
              "--device", "cpu", "--no-progress"]
    assert main(["bert", "pretrain", "--corpus", str(corpus), "--init-from", str(source), "--max-steps", "2",
                 "--out", str(out)] + common) == 0
    saved = load_config(out)
    assert saved.init_from == str(source.resolve()) and saved.preset is None
    assert json.loads((out / "final" / "config.json").read_text())["hidden_size"] == model.config.hidden_size
    assert main(["bert", "pretrain", "--resume", "--max-steps", "3", "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 3

    for flags, message in ((["--preset", "mini"], "the model sets the size and the vocabulary; drop --preset"),
                           (["--vocab-size", "300"], "drop --vocab-size")):
        assert main(["bert", "pretrain", "--corpus", str(corpus), "--init-from", str(source), "--out",
                     str(tmp_path / "c")] + flags + common) == 2
        assert message in capsys.readouterr().err
    other = tmp_path / "tok-small"
    WordPieceTokenizer.train([str(corpus)], 400).save(other)
    assert main(["bert", "pretrain", "--corpus", str(corpus), "--init-from", str(source), "--tokenizer", str(other),
                 "--max-steps", "1", "--out", str(tmp_path / "d")] + common) == 2
    assert "has 400 pieces; drop --tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before anything was written
    assert main(["bert", "pretrain", "--resume", "--init-from", str(source), "--out", str(out)]) == 2
    assert "--init-from applies to a new run only" in capsys.readouterr().err

"""Korean and English in one sentence space: multilingual knowledge distillation (Reimers & Gurevych 2020, "Making
Monolingual Sentence Embeddings Multilingual using Knowledge Distillation").

A frozen teacher (the English all-MiniLM-L6-v2) gives each English sentence s its vector T(s). A student learns to
map both s and its Korean translation t onto it:

    loss = MSE(S(s), T(s)) + MSE(S(t), T(s))

The student is the teacher itself with a Korean vocabulary added: the WordPiece pieces of a Korean tokenizer (the
shipped ko-mini's) that hold Hangul and occur in the training sentences become new rows of the word-embedding
matrix, and only those rows are learnt — the transformer, and every English row, stay the teacher's. English is
then read exactly as the teacher reads it (the first term is zero by construction), and the Korean rows are learnt
so that the teacher's own layers carry a Korean sentence to where they carry its English meaning (the frozen-body,
new-embeddings transfer of Artetxe et al. 2020, trained by distillation instead of MLM). Measured against the
paper's student — a Korean BERT (ko-mini, 4 × 256) trained whole with a Dense layer onto the teacher's width —
after one epoch the same data gave 2.0% ko → en against 58.0% (docs/apps/text2image.md).

The measure is the paper's: translation retrieval on held-out pairs — for each Korean sentence, is the nearest
English sentence (cosine) its translation (ko → en), and the reverse (en → ko) — for the teacher alone (reading
Korean through its English vocabulary: jamo pieces), the student before training (new rows at random) and after.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bertgan.bert.config import AlignConfig
from bertgan.errors import UsageError

CHECKPOINT = "checkpoint.safetensors"
CONFIG = "align_config.json"
MODEL = "model"  # the aligned encoder, inside the run folder
TEACHER_CACHE = "teacher.safetensors"


@dataclass
class Pair:
    en: str
    ko: str
    source: str  # the file's name, for per-source figures


def read_pairs(paths: list[str]) -> list[Pair]:
    """Sentence pairs from UTF-8 TSV files, ``english<TAB>korean`` a line (blank lines skipped)."""
    from bertgan.data.tables import read_utf8

    pairs = []
    for path in map(Path, paths):
        if not path.is_file():
            raise UsageError(f"--pairs {path}: no such file; give TSV files of english<TAB>korean lines")
        for n, line in enumerate(read_utf8(path).splitlines(), 1):
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != 2 or not cols[0].strip() or not cols[1].strip():
                raise UsageError(f"{path}: line {n}: expected two non-empty columns, english<TAB>korean, found "
                                 f"{len(cols)} column(s); fix or delete the line")
            pairs.append(Pair(cols[0].strip(), cols[1].strip(), path.name))
    if not pairs:
        raise UsageError(f"--pairs {' '.join(paths)}: no sentence pairs in the file(s)")
    return pairs


def split_pairs(pairs: list[Pair], held_out: int, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, test): ``held_out`` random pairs whose English and Korean sentences are each unique in the test set
    (retrieval has one right answer) and appear nowhere in training (STS-B repeats sentences; a test sentence seen
    in training would measure memory, not alignment). Exact duplicate pairs are dropped first."""
    unique = list({(p.en, p.ko): p for p in pairs}.values())
    rng = random.Random(seed)
    order = list(range(len(unique)))
    rng.shuffle(order)
    test, en_seen, ko_seen = [], set(), set()
    for i in order:
        if len(test) == held_out:
            break
        p = unique[i]
        if p.en not in en_seen and p.ko not in ko_seen:
            test.append(p)
            en_seen.add(p.en)
            ko_seen.add(p.ko)
    train = [p for p in unique if p.en not in en_seen and p.ko not in ko_seen]
    if len(test) < held_out or not train:
        raise UsageError(f"--held-out {held_out}: the files hold {len(unique)} distinct pairs, too few to hold out "
                         f"{held_out} and train on the rest; lower --held-out")
    return train, test


def retrieval(queries: torch.Tensor, keys: torch.Tensor) -> float:
    """Top-1 accuracy of finding ``keys[i]`` as the nearest (cosine) key to ``queries[i]``; (N, D) each."""
    q = nn.functional.normalize(queries.float(), dim=1)
    k = nn.functional.normalize(keys.float(), dim=1)
    return (q @ k.T).argmax(1).eq(torch.arange(len(q))).float().mean().item()  # (N, N) → (N,)


def _pad(rows: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    from bertgan.bert.pipelines import pad

    b = pad(rows, pad_id, device)
    return b.input_ids, b.attention_mask


def _epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The epoch's batches: a random order, sorted by length within windows of 16 batches (little padding), the
    batches then shuffled — a function of (seed, epoch) only, so a resumed run sees the same ones."""
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    order = torch.randperm(len(lengths), generator=g).tolist()
    window = batch_size * 16
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: lengths[i])
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]


HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")  # syllables and jamo


def korean_pieces(korean_tokenizer, texts: list[str], base_vocab: dict[str, int]) -> list[str]:
    """The pieces of ``korean_tokenizer`` holding Hangul that its encoding of ``texts`` uses and ``base_vocab``
    lacks, in the Korean vocabulary's order: the rows the student adds."""
    used = set()
    for row in korean_tokenizer.encode_batch(texts, padding=False)["input_ids"]:
        used.update(row)
    names = korean_tokenizer.convert_ids_to_tokens(sorted(used))
    return [p for p in names if HANGUL.search(p) and p not in base_vocab]


def extend(bert: nn.Module, tokenizer, pieces: list[str], seed: int):
    """(bert, tokenizer) with ``pieces`` appended to the vocabulary. New rows start at random with the old rows'
    mean and spread; a gradient hook keeps every old row fixed (a Korean sentence's digits and punctuation are
    English pieces, and the teacher's English must not move). Only the word embeddings train."""
    from bertgan.bert.tokenizer import WordPieceTokenizer

    vocab = dict(tokenizer.get_vocab())
    n_old = len(vocab)
    for p in pieces:
        vocab[p] = len(vocab)
    tok = WordPieceTokenizer(vocab, lowercase=tokenizer.lowercase, strip_accents=False,
                             tokenize_chinese_chars=tokenizer.tokenize_chinese_chars,
                             special_tokens=tokenizer.special_tokens)
    old = bert.embeddings.word_embeddings.weight.data
    g = torch.Generator().manual_seed(seed)
    new = torch.randn(len(pieces), old.shape[1], generator=g) * old.std() + old.mean(0)  # (P, H)
    emb = nn.Embedding(len(vocab), old.shape[1], padding_idx=bert.config.pad_token_id)
    emb.weight.data.copy_(torch.cat([old, new]))
    bert.embeddings.word_embeddings = emb
    bert.config.vocab_size = len(vocab)
    for p in bert.parameters():
        p.requires_grad_(False)
    emb.weight.requires_grad_(True)
    keep = torch.ones(len(vocab), 1)
    keep[:n_old] = 0
    emb.weight.register_hook(lambda grad: grad * keep.to(grad.device, grad.dtype))
    return bert, tok, n_old


def _encode(tok, texts: list[str], max_len: int) -> list[list[int]]:
    rows = tok.encode_batch(texts, padding=False)["input_ids"]
    return [r[:max_len - 1] + r[-1:] if len(r) > max_len else r for r in rows]  # keep [SEP]


@torch.no_grad()
def _embed(bert: nn.Module, rows: list[list[int]], pad_id: int, device, precision: str,
           batch_size: int = 128) -> torch.Tensor:
    from bertgan.train.runtime import autocast

    was = bert.training
    bert.eval()
    out = torch.zeros(len(rows), bert.config.hidden_size)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    with autocast(device, precision):
        for s in range(0, len(order), batch_size):
            pos = order[s:s + batch_size]
            out[pos] = _sentence(bert, *_pad([rows[i] for i in pos], pad_id, device)).cpu()
    bert.train(was)
    return out


def _sentence(bert: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The teacher's sentence vector: mean over tokens, L2-normalised (all-MiniLM-L6-v2's modules.json)."""
    from bertgan.bert.pipelines import pool

    h = bert(ids, mask).last_hidden_state  # (N, L, H)
    return nn.functional.normalize(pool(h, mask, "mean").float(), dim=1)  # (N, H)


def _scores(ko: torch.Tensor, en: torch.Tensor) -> dict:
    return {"ko_to_en": retrieval(ko, en), "en_to_ko": retrieval(en, ko)}


def align(cfg: AlignConfig, out: str | Path, resume: bool = False, progress: bool = True,
          log=print) -> dict:
    """Run the distillation into ``out`` (a run folder: checkpoint, metrics.jsonl, curves.png, result.json and the
    aligned encoder in ``out/model``); returns result.json's content."""
    from tqdm.auto import tqdm

    from bertgan.bert.hub import (
        EXTENSION,
        from_pretrained,
        model_path,
        read_sentence_head,
        save_pretrained,
        save_sentence_head,
    )
    from bertgan.bert.model import BertModel
    from bertgan.bert.pipelines import FeatureExtractionPipeline, _load_tokenizer
    from bertgan.io import atomic_path, load_tensors, save_tensors, write_json
    from bertgan.report.plots import plot_align_curves
    from bertgan.train.checkpoint import (
        load_checkpoint,
        prepare_run_dir,
        restore_module,
        restore_optimizer,
        restore_rng,
        rewind_metrics,
        save_checkpoint,
    )
    from bertgan.train.optim import linear_schedule
    from bertgan.train.runtime import GracefulInterrupt, NonFiniteGuard, autocast, pick_device, resolve_precision

    cfg.validate()
    teacher_dir = model_path(cfg.teacher, "--teacher")
    head = read_sentence_head(teacher_dir)
    if head.pooling != "mean" or head.dense is not None or not head.normalize:
        raise UsageError(f"--teacher {cfg.teacher}: the teacher must be a sentence encoder that pools the mean and "
                         "normalises (a sentence-transformers folder like all-MiniLM-L6-v2: modules.json with "
                         "Pooling mean_tokens and Normalize)")
    run, ckpt_path = prepare_run_dir(out, resume, CHECKPOINT)
    write_json(run / CONFIG, dataclasses.asdict(cfg))
    device = pick_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    torch.manual_seed(cfg.seed)

    train, test = split_pairs(read_pairs(cfg.pairs), cfg.held_out, cfg.seed)
    log(f"{len(train):,} training pairs, {len(test):,} held out")

    # the teacher's vectors: every English sentence once (fp32), cached in the run folder
    cache = run / TEACHER_CACHE
    if not cache.is_file():
        log(f"teacher {cfg.teacher}: embedding {len(train) + len(test):,} English sentences")
        teacher = FeatureExtractionPipeline(teacher_dir, device=cfg.device, pooling="auto")
        save_tensors(cache, {"test": teacher([p.en for p in test], batch_size=64, progress=progress),
                             "test_ko": teacher([p.ko for p in test], batch_size=64, progress=progress),
                             "train": teacher([p.en for p in train], batch_size=64, progress=progress)})
        del teacher
    cached = load_tensors(cache)[0]
    t_train, t_test, t_ko = cached["train"], cached["test"], cached["test_ko"]

    pieces = korean_pieces(_load_tokenizer(model_path(cfg.student, "--student")), [p.ko for p in train],
                           _load_tokenizer(teacher_dir).get_vocab())
    bert, tok, n_old = extend(from_pretrained(teacher_dir, BertModel), _load_tokenizer(teacher_dir), pieces, cfg.seed)
    bert.to(device).train()
    log(f"student: {cfg.teacher} + {len(pieces):,} Korean pieces of {cfg.student} (only their embeddings train)")
    tr_ko = _encode(tok, [p.ko for p in train], cfg.max_seq_length)
    te_en, te_ko = _encode(tok, [p.en for p in test], cfg.max_seq_length), \
        _encode(tok, [p.ko for p in test], cfg.max_seq_length)
    pad = tok.pad_token_id
    before = _scores(_embed(bert, te_ko, pad, device, precision), _embed(bert, te_en, pad, device, precision))

    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    weight = bert.embeddings.word_embeddings.weight
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
    opt = torch.optim.Adam([weight], lr=cfg.lr, **fused)  # embeddings: no weight decay (BERT's recipe)
    step, rows = 0, []
    if resume:
        ck = load_checkpoint(ckpt_path)
        restore_module(bert, ck, "student", str(ckpt_path))
        restore_optimizer(opt, ck, "opt")
        restore_rng(ck)
        step = ck.step
        rows = rewind_metrics(run / "metrics.jsonl", step)
        log(f"resuming at step {step:,} of {total:,}")
    sched = linear_schedule(opt, int(cfg.warmup_ratio * total), total, step)
    guard = NonFiniteGuard(device, precision, f"--lr {cfg.lr}")
    lengths = [len(r) for r in tr_ko]
    t0, interrupted = time.time(), False

    def write_row(row: dict) -> None:
        rows.append(row)
        with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    with GracefulInterrupt() as stop, tqdm(total=total, initial=step, disable=not progress, desc="align",
                                           unit="step") as bar:
        while step < total and not interrupted:
            epoch, skip = divmod(step, steps_per_epoch)
            for batch in _epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch)[skip:]:
                target = t_train[batch].to(device)  # (B, H)
                with autocast(device, precision):
                    s_ko = _sentence(bert, *_pad([tr_ko[i] for i in batch], pad, device))
                # MSE(S(en), T(en)) is zero here: English pieces and every layer are the teacher's, frozen
                loss = nn.functional.mse_loss(s_ko, target)
                guard.observe(step, loss)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                sched.step()
                step += 1
                bar.update()
                if step % 50 == 0:
                    write_row({"step": step, "loss_ko": loss.item(), "lr": sched.get_last_lr()[0]})
                if stop.requested:
                    interrupted = True
                    break
            if not interrupted:  # an epoch's end: the held-out curve (watched, never chosen on)
                score = _scores(_embed(bert, te_ko, pad, device, precision), _embed(bert, te_en, pad, device,
                                                                                     precision))
                write_row({"step": step, "epoch": epoch + 1, **score})
                log(f"epoch {epoch + 1}: held-out retrieval ko→en {score['ko_to_en']:.1%}  "
                    f"en→ko {score['en_to_ko']:.1%}")
            guard.check(None, str(run))
            save_checkpoint(ckpt_path, {"student": bert}, {"opt": opt}, {"step": step})
    if interrupted:
        log(f"interrupted at step {step:,}: checkpoint saved; continue with --resume")
        return {"interrupted": True, "step": step}

    plot_align_curves(run / "curves.png", rows)
    ko, en = _embed(bert, te_ko, pad, device, "fp32"), _embed(bert, te_en, pad, device, "fp32")
    model_dir = run / MODEL
    save_pretrained(bert, model_dir)
    tok.save(model_dir)
    save_sentence_head(model_dir, bert.config.hidden_size, "mean", None, normalize=True)
    write_json(model_dir / EXTENSION, {"base": cfg.teacher, "base_vocab_size": n_old, "added": len(pieces)})
    by_source = {}
    for src in sorted({p.source for p in test}):
        idx = [i for i, p in enumerate(test) if p.source == src]
        by_source[src] = {"n": len(idx), "teacher": _scores(t_ko[idx], t_test[idx]),
                          "student": _scores(ko[idx], en[idx])}
    result = {
        "teacher": cfg.teacher, "student": f"{cfg.teacher} + {len(pieces)} pieces of {cfg.student}",
        "train_pairs": len(train), "held_out_pairs": len(test), "steps": step, "epochs": cfg.epochs,
        "train_seconds_this_process": round(time.time() - t0, 1), "precision": precision,
        "retrieval": {"teacher": _scores(t_ko, t_test), "student_before": before, "student": _scores(ko, en)},
        "en_cos_teacher": (en * nn.functional.normalize(t_test, dim=1)).sum(1).mean().item(),
        "by_source": by_source, "model": str(model_dir),
    }
    with atomic_path(run / "result.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result

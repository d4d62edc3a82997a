"""BERT fine-tuning (seed 000's second stage) for its three recipes, from any HF-format BERT folder:

  classify  [CLS] → dense → label, for a text or a text pair (SST-2, NSMC, KLUE NLI); accuracy and macro-F1
  tag       a dense layer on every token → tag; the label sits on a word's first sub-token, −100 on the rest
            (Devlin et al. 2018, §5.3); token accuracy, and entity P/R/F1 (conlleval) for BIO tags
  qa        start/end scores over the tokens of [CLS] question [SEP] context-window [SEP] (SQuAD v1.1);
            the official exact match and F1

The loop is pre-training's recipe (AdamW without decay on LayerNorm/biases, linear warm-up over 10% of the steps
then decay, clipping, bf16 autocast where it is fast), evaluates at the end of every epoch, keeps the best model
as ``RUN/best`` (HF format with the tokenizer and the label names in config.json's id2label), and checkpoints
(weights, AdamW state, step, best score) so ``--resume`` continues exactly: the batch order of an epoch and the
dropout of a step are pure functions of the seed. Padding costs nothing: the encoder skips it (model.py).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bertgan.bert.config import FinetuneConfig
from bertgan.bert.hub import from_pretrained, save_pretrained
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.errors import UsageError
from bertgan.io import read_json, write_json
from bertgan.report.plots import plot_finetune_curves
from bertgan.train.checkpoint import (
    check_run_dir,
    load_checkpoint,
    load_run_config,
    prepare_run_dir,
    restore_module,
    restore_optimizer,
    rewind_metrics,
    save_checkpoint,
)
from bertgan.train.optim import adamw, linear_schedule
from bertgan.train.runtime import GracefulInterrupt, NonFiniteGuard, autocast, pick_device, resolve_precision

HEADS = {"classify": "BertForSequenceClassification", "tag": "BertForTokenClassification",
         "qa": "BertForQuestionAnswering"}
MAIN_METRIC = {"classify": "accuracy", "tag": "f1", "qa": "f1"}  # tag without BIO tags: token accuracy
CHECKPOINT, CONFIG, METRICS = "checkpoint.safetensors", "config.json", "metrics.jsonl"


@dataclass
class TaskData:
    """Features ready to batch, and how to score the model on the evaluation set."""

    train: list[dict]  # each: input_ids, token_type_ids and the task's label fields
    eval: list[dict]
    labels: list[str] | None  # classify / tag: the label names, id order
    score: object  # (eval logits per feature) → metrics dict
    main_metric: str
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- classification

def classification_data(cfg: FinetuneConfig, tok: WordPieceTokenizer, labels: list[str] | None = None) -> TaskData:
    from bertgan.data.tables import LabelMap, read_table
    from bertgan.metrics.classification import accuracy, macro_f1

    cols = [cfg.text_col] + ([cfg.text_pair_col] if cfg.text_pair_col else []) + [cfg.label_col]
    flags = {cfg.text_col: "--text-col", cfg.label_col: "--label-col"}
    if cfg.text_pair_col:
        flags[cfg.text_pair_col] = "--text-pair-col"
    train_rows = read_table(cfg.train, cols, flags)
    eval_rows = read_table(cfg.dev, cols, flags)
    label_map = LabelMap(tuple(labels)) if labels else LabelMap.from_labels(r[cfg.label_col] for r in train_rows)

    def encode(rows):
        pairs = [r[cfg.text_pair_col] for r in rows] if cfg.text_pair_col else None
        enc = tok.encode_batch([r[cfg.text_col] for r in rows], pairs, max_length=cfg.max_seq_length,
                               truncation="longest_first", padding=False)
        return [{"input_ids": ids, "token_type_ids": tt, "labels": label_map.encode(r[cfg.label_col], r.where)}
                for ids, tt, r in zip(enc["input_ids"], enc["token_type_ids"], rows)]

    def score(logits: list[torch.Tensor]) -> dict:
        pred = [int(x.argmax()) for x in logits]
        gold = [f["labels"] for f in eval_feats]
        return {"accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred), "n": len(gold)}

    eval_feats = encode(eval_rows)
    return TaskData(encode(train_rows), eval_feats, list(label_map.labels), score, "accuracy")


# ---------------------------------------------------------------------------------------------- tagging

def word_pieces(tok: WordPieceTokenizer, words: list[str]) -> list[list[int]]:
    """Each word's WordPiece ids (an empty result — a word of control characters — becomes [UNK])."""
    enc = tok.encode_batch(words, truncation=None, padding=False)["input_ids"] if words else []
    return [ids[1:-1] or [tok.unk_token_id] for ids in enc]


def tag_windows(pieces: list[list[int]], max_tokens: int) -> list[tuple[int, int]]:
    """Split a sentence into runs of whole words whose pieces fit in ``max_tokens`` (a word longer than that
    alone is cut): long sentences are tagged in several windows instead of being truncated."""
    out, start, used = [], 0, 0
    for i, p in enumerate(pieces):
        if used and used + len(p) > max_tokens:
            out.append((start, i))
            start, used = i, 0
        used += len(p)
    out.append((start, len(pieces)))
    return out


def tagging_features(tok: WordPieceTokenizer, sentences, label_index: dict[str, int] | None, max_seq_length: int):
    feats = []
    for si, s in enumerate(sentences):
        pieces = word_pieces(tok, s.words)
        for a, b in tag_windows(pieces, max_seq_length - 2):
            ids, labels, first = [tok.cls_token_id], [-100], []
            for w in range(a, b):
                p = pieces[w][:max_seq_length - 2 - (len(ids) - 1)]
                first.append(len(ids))
                ids.extend(p)
                tag = label_index[s.tags[w]] if label_index is not None else -100
                labels.extend([tag] + [-100] * (len(p) - 1))
            ids.append(tok.sep_token_id)
            labels.append(-100)
            feats.append({"input_ids": ids, "token_type_ids": [0] * len(ids), "labels": labels,
                          "sentence": si, "words": (a, b), "first": first})
    return feats


def tagging_data(cfg: FinetuneConfig, tok: WordPieceTokenizer, labels: list[str] | None = None) -> TaskData:
    from bertgan.data.conll import read_tagging
    from bertgan.metrics.seqeval import entity_prf, token_accuracy

    train = read_tagging(cfg.train, cfg.tag_format)
    dev = read_tagging(cfg.dev, cfg.tag_format)
    labels = labels or sorted({t for s in train for t in s.tags})
    index = {t: i for i, t in enumerate(labels)}
    for flag, path, sentences in (("--train", cfg.train, train), ("--dev", cfg.dev, dev)):
        for si, s in enumerate(sentences):
            for t in s.tags:
                if t not in index:
                    raise UsageError(f"{flag} {path}: sentence {si + 1} has the tag {t!r}, which is not among the "
                                     f"model's tags ({', '.join(labels)}); the model cannot predict it")
    bio = any(t.startswith(("B-", "I-")) for t in labels)
    eval_feats = tagging_features(tok, dev, index, cfg.max_seq_length)

    def score(logits: list[torch.Tensor]) -> dict:
        pred = [[labels[0]] * len(s.words) for s in dev]
        for f, lg in zip(eval_feats, logits):
            a, _ = f["words"]
            for k, pos in enumerate(f["first"]):
                pred[f["sentence"]][a + k] = labels[int(lg[pos].argmax())]
        gold = [s.tags for s in dev]
        out = {"token_accuracy": token_accuracy(gold, pred), "sentences": len(dev)}
        if bio:
            prf = entity_prf(gold, pred)
            out.update(precision=prf["precision"], recall=prf["recall"], f1=prf["f1"], entities=prf["support"])
        return out

    return TaskData(tagging_features(tok, train, index, cfg.max_seq_length), eval_feats, labels, score,
                    "f1" if bio else "token_accuracy")


# ---------------------------------------------------------------------------------------------- question answering

def qa_data(cfg: FinetuneConfig, tok: WordPieceTokenizer, labels=None) -> TaskData:
    from bertgan.bert.squad_features import build_features, decode
    from bertgan.data.squad import gold_answers, read_squad, split_by_article
    from bertgan.metrics.squad import evaluate, pick_metric

    train_ex = read_squad(cfg.train)
    if cfg.dev:
        eval_ex = read_squad(cfg.dev)
    else:  # one file: hold out whole articles, so no context is seen in training
        train_ex, eval_ex = split_by_article(train_ex, cfg.eval_fraction, cfg.seed)
    kw = dict(max_seq_length=cfg.max_seq_length, doc_stride=cfg.doc_stride, max_query_length=cfg.max_query_length)
    train_f = build_features(train_ex, tok, is_training=True, **kw)
    eval_f = build_features(eval_ex, tok, is_training=False, **kw)
    metric = pick_metric([e.context for e in eval_ex[:200]]) if cfg.metric == "auto" else cfg.metric

    def feat(f, training):
        n = sum(f.attention_mask)
        d = {"input_ids": f.input_ids[:n], "token_type_ids": f.token_type_ids[:n]}
        if training:
            d.update(start_positions=f.start_position, end_positions=f.end_position)
        return d

    def score(logits: list[tuple[torch.Tensor, torch.Tensor]]) -> dict:
        starts, ends = [s.numpy() for s, _ in logits], [e.numpy() for _, e in logits]  # rows of unequal length
        preds = decode(eval_ex, eval_f, starts, ends, n_best=20, max_answer_length=cfg.max_answer_length)
        return {**evaluate(gold_answers(eval_ex), preds, metric), "questions": len(eval_ex), "qa_metric": metric}

    return TaskData([feat(f, True) for f in train_f], [feat(f, False) for f in eval_f], None, score, "f1",
                    {"train_questions": len(train_ex), "eval_questions": len(eval_ex)})


TASK_DATA = {"classify": classification_data, "tag": tagging_data, "qa": qa_data}


# ---------------------------------------------------------------------------------------------- batching

def collate(feats: list[dict], pad_id: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Pad to the batch's longest; per-token labels pad with −100."""
    n, length = len(feats), max(len(f["input_ids"]) for f in feats)
    ids = torch.full((n, length), pad_id, dtype=torch.long)
    tt = torch.zeros((n, length), dtype=torch.long)
    am = torch.zeros((n, length), dtype=torch.long)
    for i, f in enumerate(feats):
        k = len(f["input_ids"])
        ids[i, :k], tt[i, :k], am[i, :k] = torch.tensor(f["input_ids"]), torch.tensor(f["token_type_ids"]), 1
    out = {"input_ids": ids, "token_type_ids": tt, "attention_mask": am}
    if "labels" in feats[0]:
        if isinstance(feats[0]["labels"], list):
            lab = torch.full((n, length), -100, dtype=torch.long)
            for i, f in enumerate(feats):
                lab[i, :len(f["labels"])] = torch.tensor(f["labels"])
            out["labels"] = lab
        else:
            out["labels"] = torch.tensor([f["labels"] for f in feats])
    for k in ("start_positions", "end_positions"):
        if k in feats[0]:
            out[k] = torch.tensor([f[k] for f in feats])
    return {k: v.to(device) for k, v in out.items()}


def _forward(model, batch: dict):
    return model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                 **{k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask", "token_type_ids")})


@torch.no_grad()
def predict_logits(model, feats: list[dict], pad_id: int, batch_size: int, device, precision: str) -> list:
    """Per feature: its logits without padding — (C,), (L, C) or (start (L,), end (L,))."""
    model.eval()
    out = []
    for s in range(0, len(feats), batch_size):
        chunk = [{k: v for k, v in f.items() if k in ("input_ids", "token_type_ids")} for f in feats[s:s + batch_size]]
        batch = collate(chunk, pad_id, device)
        with autocast(device, precision):
            o = _forward(model, batch)
        for i, f in enumerate(chunk):
            n = len(f["input_ids"])
            if hasattr(o, "start_logits"):
                out.append((o.start_logits[i, :n].float().cpu(), o.end_logits[i, :n].float().cpu()))
            elif o.logits.dim() == 3:
                out.append(o.logits[i, :n].float().cpu())
            else:
                out.append(o.logits[i].float().cpu())
    return out


# ---------------------------------------------------------------------------------------------- the loop

def finetune(cfg: FinetuneConfig, out: str | Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Fine-tune ``cfg.model`` on ``cfg.task``; returns the final step, the best evaluation and its folder."""
    from tqdm.auto import tqdm

    from bertgan.bert.hub import model_path

    cfg.validate()
    cfg = dataclasses.replace(cfg, model=str(model_path(cfg.model)))  # a packaged model's name → its folder
    check_run_dir(out, resume, CHECKPOINT)  # everything is checked before --out is created or written
    tok = WordPieceTokenizer.from_dir(cfg.model) if _has_tokenizer(cfg.model) else None
    if tok is None:
        raise UsageError(f"--model {cfg.model}: no tokenizer (vocab.txt or tokenizer.json) in the folder; save the "
                         "tokenizer beside the weights")
    labels_file = Path(out) / "labels.json"
    saved = read_json(labels_file, "") if resume and labels_file.is_file() else None
    data = TASK_DATA[cfg.task](cfg, tok, saved["labels"] if saved else None)
    if not data.train:
        raise UsageError(f"--train {cfg.train}: no training examples")
    run, ckpt_path = prepare_run_dir(out, resume, CHECKPOINT)
    device = pick_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    cfg = dataclasses.replace(cfg, precision=precision)
    torch.manual_seed(cfg.seed)
    over = {"id2label": dict(enumerate(data.labels))} if data.labels else {}
    if cfg.dropout is not None:
        over.update(hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.dropout,
                    classifier_dropout=cfg.dropout)
    model = _load_model(cfg, over).to(device)
    per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    total = cfg.max_steps or cfg.epochs * per_epoch
    warmup = round(cfg.warmup_ratio * total)
    opt = adamw(model, cfg.lr, cfg.weight_decay, device)
    step, best = 0, None
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        restore_module(model, ckpt, "model", str(ckpt_path))
        restore_optimizer(opt, ckpt, "opt")
        step, best = ckpt.step, ckpt.meta.get("best")
    sched = linear_schedule(opt, warmup, total, step)
    write_json(run / CONFIG, dataclasses.asdict(cfg))
    if data.labels:
        write_json(run / "labels.json", {"labels": data.labels})
    rows = rewind_metrics(run / METRICS, step)

    orders: dict[int, list[int]] = {}  # the current epoch's shuffled order, drawn once per epoch

    def batch_at(s: int) -> dict:
        epoch, i = divmod(s, per_epoch)
        if epoch not in orders:
            orders.clear()
            orders[epoch] = list(range(len(data.train)))
            random.Random(cfg.seed * 1_000_003 + epoch).shuffle(orders[epoch])
        order = orders[epoch]
        return collate([data.train[j] for j in order[i * cfg.batch_size:(i + 1) * cfg.batch_size]],
                       tok.pad_token_id, device)

    def evaluate() -> dict:
        # fp32 whatever the training precision: the figure is what `bertgan bert predict` (fp32) gets from best/
        logits = predict_logits(model, data.eval, tok.pad_token_id, cfg.batch_size * 2, device, "fp32")
        model.train()
        if not all(torch.isfinite(x).all() for f in logits for x in (f if isinstance(f, tuple) else (f,))):
            guard.first.fill_(step)  # the weights went non-finite: stop before anything is scored or written
            guard.check(last_saved, str(ckpt_path))
        return {**data.score(logits), "precision": "fp32"}

    def checkpoint():
        nonlocal last_saved
        guard.check(last_saved, str(ckpt_path))
        save_checkpoint(ckpt_path, {"model": model}, {"opt": opt}, meta={"step": step, "best": best})
        last_saved = step

    guard = NonFiniteGuard(device, precision, f"--lr {cfg.lr}")
    last_saved = step
    model.train()
    bar = tqdm(total=total, initial=step, unit="step", disable=not progress, dynamic_ncols=True,
               desc=f"finetune {cfg.task}")
    t_log, loss_sum, loss_n, tokens = time.perf_counter(), 0.0, 0, 0
    interrupted = False
    with GracefulInterrupt() as stop, bar:
        while step < total:
            torch.manual_seed(cfg.seed * 1_000_003 + step)  # this step's dropout, the same after a resume
            batch = batch_at(step)
            with autocast(device, precision):
                loss = _forward(model, batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            guard.observe(step, loss)
            guard.check(last_saved, str(ckpt_path))  # the loss is read every step anyway: no extra sync
            loss_sum, loss_n, tokens = loss_sum + float(loss.detach()), loss_n + 1, tokens + int(
                batch["attention_mask"].sum())
            row = None
            if step % cfg.log_every == 0 or step == total:
                now = time.perf_counter()
                row = {"step": step, "epoch": step / per_epoch, "loss": loss_sum / loss_n, "lr": sched.get_last_lr()[0],
                       "tokens_per_s": tokens / max(now - t_log, 1e-9)}
                t_log, loss_sum, loss_n, tokens = now, 0.0, 0, 0
            if step % per_epoch == 0 or step == total or (cfg.eval_every and step % cfg.eval_every == 0):
                metrics = evaluate()
                row = {**(row or {"step": step, "epoch": step / per_epoch}),
                       **{f"eval_{k}": v for k, v in metrics.items()}}
                if best is None or metrics[data.main_metric] > best["value"]:
                    best = {"step": step, "metric": data.main_metric, "value": metrics[data.main_metric],
                            "metrics": metrics}
                    save_pretrained(model, run / "best")
                    tok.save(run / "best")
                    if cfg.task == "qa":  # the windows the EM/F1 were measured with: the pipeline's defaults
                        _record_qa_settings(run / "best", cfg)
                    write_json(run / "eval.json", best)
                checkpoint()
            if row:
                rows.append(row)
                with open(run / METRICS, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                bar.set_postfix(loss=f"{row.get('loss', float('nan')):.3f}")
            if stop.requested:
                checkpoint()
                interrupted = True
                break
    if rows:
        plot_finetune_curves(run / "curves.png", rows, f"eval_{data.main_metric}")
    return {"step": step, "interrupted": interrupted, "best": best, "best_dir": run / "best", **data.extra}


def _record_qa_settings(folder: Path, cfg: FinetuneConfig) -> None:
    config = read_json(folder / "config.json")
    config["task_specific_params"] = {"question-answering": {
        "max_seq_length": cfg.max_seq_length, "doc_stride": cfg.doc_stride, "max_query_length": cfg.max_query_length,
        "max_answer_length": cfg.max_answer_length}}
    write_json(folder / "config.json", config)


def _has_tokenizer(folder: str) -> bool:
    return any((Path(folder) / f).is_file() for f in ("vocab.txt", "tokenizer.json"))


def _load_model(cfg: FinetuneConfig, over: dict):
    import logging

    log = logging.getLogger("bertgan")
    level = log.level
    log.setLevel(logging.ERROR)  # a pre-trained trunk has no head for this task (or an MLM head it drops): expected
    try:
        model = from_pretrained(cfg.model, HEADS[cfg.task], **over)
    finally:
        log.setLevel(level)
    trunk_missing = [k for k in model.load_report.missing if k.startswith("bert.") and "pooler" not in k]
    if trunk_missing:
        raise UsageError(f"--model {cfg.model}: the weights lack {len(trunk_missing)} encoder tensors (e.g. "
                         f"{trunk_missing[0]}); give a pre-trained BERT folder")
    return model


def load_config(run: str | Path) -> FinetuneConfig:
    return load_run_config(run, FinetuneConfig, CONFIG, "bertgan bert finetune")

"""BERT pre-training (seed 000's first stage): masked LM + next-sentence prediction on a raw corpus.

One training step: a batch of sentence pairs ([CLS] A [SEP] B [SEP], B the real continuation half of the time),
15% of the real tokens corrupted (80/10/10) afresh every time a pair is used, MLM loss at the chosen positions
plus NSP loss, AdamW (no weight decay on LayerNorm and biases, as BERT), linear warm-up then linear decay,
gradient clipping and accumulation. Pairs of an epoch and the masks of a step are pure functions of (seed, epoch)
and (seed, step), so a resumed run needs only the weights, the optimiser state and the step to continue exactly.

Run folder: config.json, checkpoint.safetensors, metrics.jsonl, curves.png and final/ (an HF-format model folder
with the tokenizer that transformers' BertForPreTraining loads).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from bertgan.bert.config import PRESETS, preset
from bertgan.bert.corpus import TokenCache
from bertgan.bert.hub import save_pretrained
from bertgan.bert.model import BertForPreTraining
from bertgan.bert.pretraining import PairInstance, mask_tokens, nsp_instances
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.errors import UsageError
from bertgan.io import read_json, write_json
from bertgan.report.plots import plot_bert_curves
from bertgan.train.checkpoint import (
    load_checkpoint,
    prepare_run_dir,
    restore_module,
    restore_optimizer,
    restore_rng,
    rewind_metrics,
    save_checkpoint,
)
from bertgan.train.runtime import GracefulInterrupt, autocast, pick_device, resolve_precision

CHECKPOINT, CONFIG, METRICS = "checkpoint.safetensors", "config.json", "metrics.jsonl"


@dataclass
class PretrainConfig:
    corpus: list[str]
    tokenizer: str
    preset: str = "mini"
    max_seq_length: int = 128
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    max_steps: int = 1000
    mlm_prob: float = 0.15
    short_seq_prob: float = 0.1
    clip_norm: float = 1.0
    eval_fraction: float = 0.05  # of the documents, held out for evaluation
    eval_every: int = 200
    checkpoint_every: int = 200
    log_every: int = 10
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0

    def validate(self) -> None:
        if self.preset not in PRESETS:
            raise UsageError(f"--preset {self.preset}: unknown BERT preset; choose one of {', '.join(PRESETS)}")
        for name in ("max_seq_length", "batch_size", "grad_accum", "max_steps", "eval_every", "checkpoint_every",
                     "log_every"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be a positive integer")
        if self.max_seq_length < 8:
            raise UsageError(f"--max-seq-length {self.max_seq_length}: too short for two segments; use ≥ 8")
        if not 0 < self.mlm_prob < 1:
            raise UsageError(f"--mlm-prob {self.mlm_prob}: must be between 0 and 1")
        if not 0 < self.eval_fraction < 1:
            raise UsageError(f"eval_fraction {self.eval_fraction}: must be between 0 and 1")


def _collate(pairs: list[PairInstance], tok: WordPieceTokenizer, length: int):
    """[CLS] A [SEP] B [SEP] + padding to a common length → tensors; special_tokens_mask marks what MLM skips."""
    n = len(pairs)
    ids = torch.full((n, length), tok.pad_token_id, dtype=torch.long)
    types = torch.zeros((n, length), dtype=torch.long)
    mask = torch.zeros((n, length), dtype=torch.long)
    special = torch.ones((n, length), dtype=torch.bool)
    for i, p in enumerate(pairs):
        row = [tok.cls_token_id, *p.tokens_a, tok.sep_token_id, *p.tokens_b, tok.sep_token_id]
        a_len = len(p.tokens_a) + 2
        ids[i, :len(row)] = torch.tensor(row)
        types[i, a_len:len(row)] = 1
        mask[i, :len(row)] = 1
        special[i, 1:a_len - 1] = False
        special[i, a_len:len(row) - 1] = False
    nsp = torch.tensor([int(p.is_random_next) for p in pairs])
    return ids, types, mask, special, nsp


def _param_groups(model: torch.nn.Module, weight_decay: float):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)  # biases and LayerNorm: no decay
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to the peak over ``warmup`` steps, then linear decay to 0 at ``total`` (BERT's schedule)."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


class _Pairs:
    """The epoch's pairs: a pure function of (seed, epoch), so resuming needs no saved data state."""

    def __init__(self, cache: TokenCache, docs: list[int], cfg: PretrainConfig):
        self.cache, self.docs, self.cfg = cache, docs, cfg
        self._epoch, self._pairs = None, []

    def epoch(self, e: int) -> list[PairInstance]:
        if e != self._epoch:
            rng = random.Random(self.cfg.seed * 1_000_003 + e)
            pairs = nsp_instances([self.cache.document(d) for d in self.docs], self.cfg.max_seq_length,
                                  self.cfg.short_seq_prob, rng)
            rng.shuffle(pairs)
            self._epoch, self._pairs = e, pairs
        return self._pairs


def pretrain(cfg: PretrainConfig, out: str | Path, *, resume: bool = False, progress: bool = True) -> dict:
    from tqdm.auto import tqdm

    cfg.validate()
    run, ckpt_path = prepare_run_dir(out, resume, CHECKPOINT, CONFIG)
    tok = WordPieceTokenizer.from_dir(cfg.tokenizer)
    cache = TokenCache.get_or_build(cfg.corpus, tok, run / "cache")
    if len(cache) < 4:
        raise UsageError(f"--corpus: {len(cache)} document(s); pre-training needs at least 4 (NSP takes B from "
                         "another document, and some are held out for evaluation)")
    n_eval = max(2, round(len(cache) * cfg.eval_fraction))
    order = list(range(len(cache)))
    random.Random(cfg.seed).shuffle(order)
    train_pairs = _Pairs(cache, sorted(order[n_eval:]), cfg)
    eval_pairs = _Pairs(cache, sorted(order[:n_eval]), cfg).epoch(0)[:256]

    device = pick_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    cfg = dataclasses.replace(cfg, precision=precision)
    torch.manual_seed(cfg.seed)
    model = BertForPreTraining(preset(cfg.preset, vocab_size=tok.vocab_size,
                                      max_position_embeddings=max(512, cfg.max_seq_length))).to(device)
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-6)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.warmup_steps, cfg.max_steps))
    step = 0
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        restore_module(model, ckpt, "model", str(ckpt_path))
        restore_optimizer(opt, ckpt, "opt")
        restore_rng(ckpt)  # dropout draws from the global generator
        step = int(ckpt.meta["step"])
        sched.last_epoch = step  # the schedule continues from `step` (over the possibly new max_steps)
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * lr_factor(step, cfg.warmup_steps, cfg.max_steps)
    write_json(run / CONFIG, dataclasses.asdict(cfg))
    rows = rewind_metrics(run / METRICS, step)

    per_step = cfg.batch_size * cfg.grad_accum

    def batch_at(step_: int, micro: int):
        pairs = train_pairs.epoch(0)
        per_epoch = max(1, len(pairs) // per_step)
        e, i = divmod(step_, per_epoch)
        pairs = train_pairs.epoch(e)
        start = i * per_step + micro * cfg.batch_size
        chunk = [pairs[(start + j) % len(pairs)] for j in range(cfg.batch_size)]  # epochs differ a little in size
        length = max(len(p.tokens_a) + len(p.tokens_b) + 3 for p in chunk)  # pad to the batch's longest only
        ids, types, mask, special, nsp = _collate(chunk, tok, length)
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step_ * 997 + micro)  # dynamic, reproducible
        ids, labels = mask_tokens(ids, special, mask_token_id=tok.mask_token_id, vocab_size=tok.vocab_size,
                                  mlm_probability=cfg.mlm_prob, generator=g)
        return [t.to(device) for t in (ids, types, mask, labels, nsp)], int(mask.sum())

    def evaluate() -> dict:
        out = evaluate_pairs(model, tok, eval_pairs, cfg.batch_size, cfg.mlm_prob, cfg.seed, device, precision)
        model.train()
        return out

    def checkpoint():
        save_checkpoint(ckpt_path, {"model": model}, {"opt": opt}, meta={"step": step})

    model.train()
    bar = tqdm(total=cfg.max_steps, initial=step, unit="step", disable=not progress, dynamic_ncols=True,
               desc=f"bert-{cfg.preset}")
    t_log, tokens_log, loss_sum, loss_n = time.perf_counter(), 0, 0.0, 0
    interrupted = False
    with GracefulInterrupt() as stop, bar:
        while step < cfg.max_steps:
            for micro in range(cfg.grad_accum):
                (ids, types, mask, labels, nsp), n_tokens = batch_at(step, micro)
                with autocast(device, precision):
                    out = model(ids, mask, types, labels=labels, next_sentence_label=nsp)
                (out.loss / cfg.grad_accum).backward()
                loss_sum += float(out.loss.detach())
                loss_n += 1
                tokens_log += n_tokens
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            row = None
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                now = time.perf_counter()
                row = {"step": step, "loss": loss_sum / loss_n, "lr": sched.get_last_lr()[0],
                       "tokens_per_s": tokens_log / max(now - t_log, 1e-9)}
                t_log, tokens_log, loss_sum, loss_n = now, 0, 0.0, 0
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                row = {**(row or {"step": step}), **evaluate()}
            if row:
                rows.append(row)
                with open(run / METRICS, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                bar.set_postfix(loss=f"{row.get('loss', float('nan')):.3f}",
                                tok_s=f"{row.get('tokens_per_s', 0):.0f}")
            if step % cfg.checkpoint_every == 0 or step == cfg.max_steps or stop.requested:
                checkpoint()
            if stop.requested:
                interrupted = True
                break
    if rows:
        plot_bert_curves(run / "curves.png", rows)
    final = None
    if not interrupted:
        final = save_pretrained(model, run / "final")
        tok.save(final)
    return {"step": step, "interrupted": interrupted, "final": final, "metrics": rows[-1] if rows else {}}


@torch.no_grad()
def evaluate_pairs(model: BertForPreTraining, tok: WordPieceTokenizer, pairs: list[PairInstance], batch_size: int,
                   mlm_prob: float, seed: int, device: torch.device, precision: str = "fp32") -> dict:
    """Held-out MLM loss, perplexity and accuracy (at the masked positions) and NSP accuracy, with a fixed mask."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    loss_sum, correct, masked, nsp_correct = 0.0, 0, 0, 0
    for s in range(0, len(pairs), batch_size):
        chunk = pairs[s:s + batch_size]
        length = max(len(p.tokens_a) + len(p.tokens_b) + 3 for p in chunk)
        ids, types, mask, special, nsp = _collate(chunk, tok, length)
        ids, labels = mask_tokens(ids, special, mask_token_id=tok.mask_token_id, vocab_size=tok.vocab_size,
                                  mlm_probability=mlm_prob, generator=g)
        ids, types, mask, labels, nsp = (t.to(device) for t in (ids, types, mask, labels, nsp))
        with autocast(device, precision):
            o = model(ids, mask, types, labels=labels, next_sentence_label=nsp)
        m = int((labels != -100).sum())
        loss_sum += float(o.mlm_loss) * m
        correct += int((o.prediction_logits.argmax(-1) == labels[labels != -100]).sum())
        masked += m
        nsp_correct += int((o.seq_relationship_logits.argmax(-1) == nsp).sum())
    loss = loss_sum / max(1, masked)
    return {"eval_mlm_loss": loss, "eval_mlm_ppl": math.exp(min(loss, 50)), "eval_mlm_acc": correct / max(1, masked),
            "eval_nsp_acc": nsp_correct / max(1, len(pairs))}


def evaluate_corpus(model_dir: str | Path, files: list[str | Path], max_seq_length: int = 128,
                    batch_size: int = 32, mlm_prob: float = 0.15, seed: int = 0, max_pairs: int = 2000,
                    device: str = "auto") -> dict:
    """MLM and NSP accuracy of a pre-trained HF-format model folder on held-out corpus files."""
    import tempfile

    from bertgan.bert.hub import from_pretrained

    tok = WordPieceTokenizer.from_dir(model_dir)
    model = from_pretrained(model_dir, BertForPreTraining, strict=True, device=pick_device(device))
    with tempfile.TemporaryDirectory() as tmp:
        cache = TokenCache.get_or_build(files, tok, tmp)
        pairs = nsp_instances([cache.document(d) for d in range(len(cache))], max_seq_length, 0.0,
                              random.Random(seed))
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:max_pairs]
    out = evaluate_pairs(model, tok, pairs, batch_size, mlm_prob, seed, next(model.parameters()).device)
    return {**out, "pairs": len(pairs)}


def load_config(run: str | Path) -> PretrainConfig:
    path = Path(run) / CONFIG
    d = read_json(path, "--out must be a folder written by 'bertgan bert pretrain'")
    try:
        return PretrainConfig(**d)
    except TypeError as e:
        raise UsageError(f"{path}: {e}") from e

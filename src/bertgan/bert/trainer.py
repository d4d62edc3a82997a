"""BERT pre-training (seed 000's first stage): masked LM + next-sentence prediction on a raw corpus.

One training step: a batch of sentence pairs ([CLS] A [SEP] B [SEP], B the real continuation half of the time),
15% of the real tokens corrupted (80/10/10, optionally whole words) afresh every time a pair is used, MLM loss at
the chosen positions plus NSP loss — both means over the whole step's global batch, however it is split into
micro-batches and processes — AdamW (fused; no weight decay on LayerNorm and biases, as BERT), linear warm-up then
linear decay, gradient clipping and accumulation. The pairs come from a :class:`PairStream` whose position is saved
in each checkpoint; masks and dropout are pure functions of (seed, step), so a resumed run continues exactly.
Under ``torchrun`` the same code trains with DistributedDataParallel (see train/distributed.py).

Run folder: config.json, checkpoint.safetensors, metrics.jsonl, curves.png and final/ (an HF-format model folder
with the tokenizer that transformers' BertForPreTraining loads).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bertgan.bert.config import BertConfig, PretrainConfig, preset
from bertgan.bert.corpus import PairStream, TokenCache, file_fingerprint, same_file, vocab_fingerprint
from bertgan.bert.hub import save_pretrained
from bertgan.bert.model import BertForPreTraining
from bertgan.bert.pretraining import PairInstance, mask_tokens
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.errors import UsageError
from bertgan.io import write_json
from bertgan.report.plots import plot_bert_curves
from bertgan.train import distributed
from bertgan.train.checkpoint import (
    load_checkpoint,
    load_run_config,
    prepare_run_dir,
    restore_module,
    restore_optimizer,
    rewind_metrics,
    save_checkpoint,
)
from bertgan.train.distributed import Dist
from bertgan.train.optim import adamw, linear_schedule
from bertgan.train.runtime import GracefulInterrupt, NonFiniteGuard, autocast, pick_device, resolve_precision

CHECKPOINT, CONFIG, METRICS = "checkpoint.safetensors", "config.json", "metrics.jsonl"
TOKENIZER_DIR = "tokenizer"  # the run's own copy of its vocabulary
INIT_CONFIG = "init-config.json"  # with --init-from: the starting model's config (dropout as the run set it)


def tokenizer_dir(run: str | Path, cfg: PretrainConfig) -> Path:
    """The run's tokenizer folder: ``cfg.tokenizer`` relative to the run (absolute in runs written before)."""
    return Path(run) / cfg.tokenizer


def _collate(pairs: list[PairInstance], tok: WordPieceTokenizer, length: int | None = None,
             packed: bool = False):
    """[CLS] A [SEP] (B [SEP]) + padding to the longest → tensors; special_tokens_mask marks what MLM skips.
    ``packed``: the pairs hold ``id << 1 | starts_word`` values (see corpus.unpack) → also a word_starts tensor."""
    n = len(pairs)
    length = length or max(len(p.tokens_a) + len(p.tokens_b) + (3 if p.tokens_b else 2) for p in pairs)
    ids = torch.full((n, length), tok.pad_token_id, dtype=torch.long)
    types = torch.zeros((n, length), dtype=torch.long)
    mask = torch.zeros((n, length), dtype=torch.long)
    special = torch.ones((n, length), dtype=torch.bool)
    starts = torch.ones((n, length), dtype=torch.bool) if packed else None
    for i, p in enumerate(pairs):
        a, b = torch.tensor(p.tokens_a, dtype=torch.long), torch.tensor(p.tokens_b, dtype=torch.long)
        if packed:
            starts[i, 1:1 + len(a)] = (a & 1).bool()
            starts[i, 2 + len(a):2 + len(a) + len(b)] = (b & 1).bool()
            a, b = a >> 1, b >> 1
        a_len = len(a) + 2
        total = a_len + (len(b) + 1 if len(b) else 0)
        ids[i, 0], ids[i, a_len - 1] = tok.cls_token_id, tok.sep_token_id
        ids[i, 1:a_len - 1] = a
        if len(b):
            ids[i, a_len:total - 1] = b
            ids[i, total - 1] = tok.sep_token_id
            types[i, a_len:total] = 1
            special[i, a_len:total - 1] = False
        mask[i, :total] = 1
        special[i, 1:a_len - 1] = False
    nsp = torch.tensor([int(p.is_random_next) for p in pairs])
    return ids, types, mask, special, nsp, starts


def _fingerprints(cfg: PretrainConfig, tok: WordPieceTokenizer) -> dict:
    return {"vocab": vocab_fingerprint(tok), "corpus": [file_fingerprint(Path(f)) for f in cfg.corpus]}


def _check_same_inputs(saved: dict, now: dict, cfg: PretrainConfig) -> None:
    """A resumed run must read the same tokenizer and corpus files it started with."""
    if saved["vocab"] != now["vocab"]:
        raise UsageError(f"--resume: the run's tokenizer ({cfg.tokenizer}) changed since the run started (its "
                         "vocabulary differs from the one the checkpoint was trained with); restore it or start a new "
                         "--out")
    for before, after in zip(saved["corpus"], now["corpus"]):
        if not same_file(before, after):
            raise UsageError(f"--resume: corpus file {after.split('|')[0]} changed since the run started (its bytes "
                             "differ from those the run read); resume with the original file or start a new --out")
        if not before.split("|")[2].startswith("sha256:"):
            print(f"notice: the run was started by a bertgan that recorded corpus modification times; "
                  f"{after.split('|')[0]} is checked by its size only", file=sys.stderr)


class _Batches:
    """The micro-batches of one optimiser step, global and reproducible: pairs from the stream, the mask drawn
    from a generator seeded by (seed, step, micro) — dynamic masking that a resumed run redraws identically."""

    def __init__(self, stream: PairStream, tok: WordPieceTokenizer, cfg: PretrainConfig, d: Dist,
                 device: torch.device):
        self.stream, self.tok, self.cfg, self.d, self.device = stream, tok, cfg, d, device

    def step(self, step: int):
        cfg, tok = self.cfg, self.tok
        micro = []
        for m in range(cfg.grad_accum):
            pairs = self.stream.take(cfg.batch_size)
            ids, types, mask, special, nsp, starts = _collate(pairs, tok, packed=cfg.whole_word_mask)
            g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step * 997 + m)
            ids, labels = mask_tokens(ids, special, mask_token_id=tok.mask_token_id, vocab_size=tok.vocab_size,
                                      mlm_probability=cfg.mlm_prob, generator=g, word_starts=starts)
            micro.append((ids, types, mask, labels, nsp))
        n_masked = sum(int((b[3] != -100).sum()) for b in micro)  # global counts: the loss is a global mean
        n_pairs = cfg.batch_size * cfg.grad_accum
        rows = self.d.rows(cfg.batch_size)
        local = []
        for ids, types, mask, labels, nsp in micro:
            ids, types, mask, labels, nsp = ids[rows], types[rows], mask[rows], labels[rows], nsp[rows]
            keep = int(mask.sum(1).max())  # this process's rows: pad to their own longest
            local.append([t.to(self.device) for t in (ids[:, :keep], types[:, :keep], mask[:, :keep],
                                                      labels[:, :keep], nsp)])
        return local, n_masked, n_pairs


def pretrain(cfg: PretrainConfig, out: str | Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Pre-train; under ``torchrun --nproc_per_node N`` with DistributedDataParallel (rank 0 writes the run
    folder). Returns the final step, whether it was interrupted, the final model folder and the last metrics."""
    cfg.validate()
    with distributed.session(cfg.device) as (d, device):
        return _pretrain(cfg, out, resume, progress, d, device)


def _pretrain(cfg: PretrainConfig, out, resume: bool, progress: bool, d: Dist, device: torch.device) -> dict:
    from tqdm.auto import tqdm

    if cfg.batch_size % d.world:
        raise UsageError(f"--batch-size {cfg.batch_size}: must be a multiple of the {d.world} torchrun processes "
                         "(it is the global batch, split evenly between them)")
    if not resume and cfg.tokenizer != TOKENIZER_DIR:
        # A tokenizer given by path (relative to the caller's directory, not the run's) is read now and the run
        # keeps its own copy, as the CLI does: a moved run resumes with its own vocabulary.
        given_tok = WordPieceTokenizer.from_dir(Path(cfg.tokenizer))
        cfg = dataclasses.replace(cfg, tokenizer=TOKENIZER_DIR)
    else:
        given_tok = None
    if cfg.init_from and not resume:  # before the run folder is made: a refused start writes nothing
        _check_init_from(cfg, given_tok or WordPieceTokenizer.from_dir(Path(out) / TOKENIZER_DIR))
    run, ckpt_path = d.on_main(lambda: prepare_run_dir(out, resume, CHECKPOINT))
    if given_tok is not None and d.main:
        given_tok.save(run / TOKENIZER_DIR)
    d.barrier()
    tok = WordPieceTokenizer.from_dir(tokenizer_dir(run, cfg))
    folder = d.on_main(lambda: str(TokenCache.get_or_build(cfg.corpus, tok, run / "cache",
                                                           encoding_errors=cfg.encoding_errors).folder))
    cache = TokenCache(folder)
    order = list(range(len(cache)))
    random.Random(cfg.seed).shuffle(order)
    if cfg.eval_corpus:  # a held-out corpus of its own: every training document trains
        n_eval = 0
    elif not cfg.nsp:
        n_eval = max(1, round(len(cache) * cfg.eval_fraction)) if len(cache) >= 2 else 0
    elif len(cache) < 4:
        raise UsageError(f"--corpus: {len(cache)} document(s); NSP needs at least 4 (B of a NotNext pair comes from "
                         "another document, and some are held out for evaluation). Separate documents with a blank "
                         "line, or pass --no-nsp to train the masked LM alone")
    else:
        n_eval = max(2, round(len(cache) * cfg.eval_fraction))
    train_docs = sorted(order[n_eval:])
    # A one-document corpus (--no-nsp) holds nothing out: its eval reads the training document.
    eval_docs = sorted(order[:n_eval]) or train_docs
    stream_args = dict(max_seq_length=cfg.max_seq_length, short_seq_prob=cfg.short_seq_prob, nsp=cfg.nsp)
    stream = PairStream(cache, train_docs, seed=cfg.seed, word_starts=cfg.whole_word_mask, **stream_args)
    if cfg.eval_corpus:
        eval_folder = d.on_main(lambda: str(TokenCache.get_or_build(cfg.eval_corpus, tok, run / "cache",
                                                                    encoding_errors=cfg.encoding_errors).folder))
        eval_cache = TokenCache(eval_folder)
        if cfg.nsp and len(eval_cache) < 2:
            raise UsageError(f"--eval-corpus: {len(eval_cache)} document(s); NSP pairs need at least 2")
        eval_docs = list(range(len(eval_cache)))
    else:
        eval_cache = cache
    # a buffer of 2,048 spreads the 256 evaluation pairs over many documents, not the first few of the order
    eval_pairs = PairStream(eval_cache, eval_docs, seed=cfg.seed + 1, buffer=2048, **stream_args).take(256)

    precision = resolve_precision(cfg.precision, device)
    cfg = dataclasses.replace(cfg, precision=precision)
    torch.manual_seed(cfg.seed)
    over = {} if cfg.dropout is None else {"hidden_dropout_prob": cfg.dropout,
                                           "attention_probs_dropout_prob": cfg.dropout}
    if cfg.init_from and not resume:
        model = _init_model(cfg, over).to(device)
        if d.main:  # the shape a resumed run rebuilds, kept in the run (the starting model may move or change)
            write_json(run / INIT_CONFIG, model.config.to_dict())
    elif cfg.init_from:  # a resumed run's weights come from its checkpoint
        model = BertForPreTraining(BertConfig.from_json_file(run / INIT_CONFIG)).to(device)
    else:
        model = BertForPreTraining(preset(cfg.preset, vocab_size=tok.vocab_size,
                                          max_position_embeddings=max(512, cfg.max_seq_length), **over)).to(device)
    opt = adamw(model, cfg.lr, cfg.weight_decay, device)
    fingerprints = _fingerprints(cfg, tok)
    step = 0
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        _check_same_inputs(ckpt.meta["inputs"], fingerprints, cfg)
        restore_module(model, ckpt, "model", str(ckpt_path))
        restore_optimizer(opt, ckpt, "opt")
        stream.load_state(ckpt.meta["data"], ckpt.module_state("data"))
        step = ckpt.step
    sched = linear_schedule(opt, cfg.warmup_steps, cfg.max_steps, step)  # continues over a possibly new max_steps
    rows: list[dict] = []
    if d.main:
        write_json(run / CONFIG, dataclasses.asdict(cfg))
        rows = rewind_metrics(run / METRICS, step)
    ddp = d.wrap(model, device, find_unused=not cfg.nsp)  # without NSP the pooler and NSP head get no gradient
    batches = _Batches(stream, tok, cfg, d, device)

    def evaluate() -> dict:
        out = evaluate_pairs(model, tok, eval_pairs, cfg.batch_size, cfg.mlm_prob, cfg.seed, device, precision,
                             nsp=cfg.nsp)
        model.train()
        return out

    guard = NonFiniteGuard(device, precision, f"--lr {cfg.lr}")
    last_saved = step

    def checkpoint():
        nonlocal last_saved
        guard.check(last_saved, str(ckpt_path))  # a diverged model never replaces the last finite checkpoint
        data_meta, data_tensors = stream.state()
        save_checkpoint(ckpt_path, {"model": model}, {"opt": opt},
                        meta={"step": step, "data": data_meta, "inputs": fingerprints},
                        tensors={f"data.{k}": v for k, v in data_tensors.items()})
        last_saved = step

    model.train()
    bar = tqdm(total=cfg.max_steps, initial=step, unit="step", disable=not (progress and d.main),
               dynamic_ncols=True, desc=f"bert-{cfg.preset or Path(cfg.init_from).name}")
    # Since the last log: summed MLM loss, masked tokens, summed NSP loss, pairs, real tokens (this process).
    t_log, sums = time.perf_counter(), [0.0] * 5
    interrupted = False
    with GracefulInterrupt() as stop, bar:
        while step < cfg.max_steps:
            # Dropout draws from the global generator, reseeded per (seed, step, rank): a resumed run and each
            # process draw what an uninterrupted run would, with no generator state to carry.
            torch.manual_seed(cfg.seed * 1_000_003 + step * 7_919 + d.rank)
            local, n_masked, n_pairs = batches.step(step)
            for m, (ids, types, mask, labels, nsp) in enumerate(local):
                sync = m == len(local) - 1
                with contextlib.nullcontext() if sync or not d.active else ddp.no_sync():
                    with autocast(device, precision):
                        o = ddp(ids, mask, types, labels=labels, next_sentence_label=nsp if cfg.nsp else None)
                    where = labels != -100
                    mlm = F.cross_entropy(o.prediction_logits.float(), labels[where], reduction="sum")
                    loss = mlm / max(1, n_masked)
                    nsp_loss = torch.zeros(())
                    if cfg.nsp:
                        nsp_loss = F.cross_entropy(o.seq_relationship_logits.float(), nsp, reduction="sum")
                        loss = loss + nsp_loss / n_pairs
                    (loss * d.world).backward()  # DDP averages gradients over processes; the loss is a global sum
                guard.observe(step + 1, loss)
                sums[0] += float(mlm.detach())
                sums[1] += int(where.sum())
                sums[2] += float(nsp_loss.detach())
                sums[3] += len(nsp)
                sums[4] += int(mask.sum())
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            row = None
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                now = time.perf_counter()
                mlm_sum, masked, nsp_sum, pairs, tokens = d.sum(sums)
                if not math.isfinite(mlm_sum + nsp_sum):  # summed over processes: every process stops here
                    guard.observe(step, torch.tensor(float("nan")))
                guard.check(last_saved, str(ckpt_path))
                mlm_loss, nsp_mean = mlm_sum / max(1, masked), nsp_sum / max(1, pairs)
                row = {"step": step, "loss": mlm_loss + (nsp_mean if cfg.nsp else 0.0), "mlm_loss": mlm_loss,
                       "lr": sched.get_last_lr()[0], "tokens_per_s": tokens / max(now - t_log, 1e-9)}
                if cfg.nsp:
                    row["nsp_loss"] = nsp_mean
                t_log, sums = now, [0.0] * 5
            if d.main and (step % cfg.eval_every == 0 or step == cfg.max_steps):
                row = {**(row or {"step": step}), **evaluate()}
            if row and d.main:
                rows.append(row)
                with open(run / METRICS, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                bar.set_postfix(loss=f"{row.get('loss', float('nan')):.3f}",
                                tok_s=f"{row.get('tokens_per_s', 0):.0f}")
            stopping = d.sum([float(stop.requested)])[0] > 0  # all processes stop at the same step
            if d.main and (step % cfg.checkpoint_every == 0 or step == cfg.max_steps or stopping):
                checkpoint()
            if stopping:
                interrupted = True
                break
    final = None
    if d.main:
        if rows:
            plot_bert_curves(run / "curves.png", rows)
        if not interrupted:
            final = save_pretrained(model, run / "final")
            tok.save(final)
    d.barrier()
    return {"step": step, "interrupted": interrupted, "final": final, "metrics": rows[-1] if rows else {}}


def _check_init_from(cfg: PretrainConfig, tok: WordPieceTokenizer) -> None:
    """The model of ``cfg.init_from`` fits the run: its embedding rows are the tokenizer's pieces, its position
    table covers --max-seq-length."""
    config = BertConfig.from_json_file(Path(cfg.init_from) / "config.json")
    if config.vocab_size != tok.vocab_size:
        raise UsageError(f"--init-from {cfg.init_from}: its embedding has {config.vocab_size} rows but the run's "
                         f"tokenizer has {tok.vocab_size} pieces; drop --tokenizer to use the model's own vocabulary")
    if config.max_position_embeddings < cfg.max_seq_length:
        raise UsageError(f"--max-seq-length {cfg.max_seq_length}: --init-from {cfg.init_from} has "
                         f"{config.max_position_embeddings} positions; use ≤ that")


def _init_model(cfg: PretrainConfig, over: dict) -> BertForPreTraining:
    """BertForPreTraining with the weights of ``cfg.init_from`` (checked by ``_check_init_from``); heads it lacks
    (a sentence encoder has no MLM or NSP head) start fresh, as in BERT's own initialisation."""
    from bertgan.bert.hub import from_pretrained

    model = from_pretrained(cfg.init_from, BertForPreTraining, strict=False, **over)
    missing = [k for k in model.load_report.missing if not k.startswith(("cls.", "bert.pooler."))]
    if missing:
        raise UsageError(f"--init-from {cfg.init_from}: its weights lack {len(missing)} encoder tensors "
                         f"({missing[0]}, …); give a BERT model folder in HF layout")
    return model.train()


@torch.no_grad()
def evaluate_pairs(model: BertForPreTraining, tok: WordPieceTokenizer, pairs: list[PairInstance], batch_size: int,
                   mlm_prob: float, seed: int, device: torch.device, precision: str = "fp32", nsp: bool = True,
                   progress: bool = False) -> dict:
    """Held-out MLM loss, perplexity and accuracy (at the masked positions, token-level masking) and NSP accuracy,
    with a fixed mask."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    loss_sum, correct, masked, nsp_correct = 0.0, 0, 0, 0
    from tqdm.auto import tqdm

    for s in tqdm(range(0, len(pairs), batch_size), disable=not progress, desc="evaluate", unit="batch"):
        ids, types, mask, special, labels_nsp, _ = _collate(pairs[s:s + batch_size], tok)
        ids, labels = mask_tokens(ids, special, mask_token_id=tok.mask_token_id, vocab_size=tok.vocab_size,
                                  mlm_probability=mlm_prob, generator=g)
        ids, types, mask, labels, labels_nsp = (t.to(device) for t in (ids, types, mask, labels, labels_nsp))
        with autocast(device, precision):
            o = model(ids, mask, types, labels=labels)
        m = int((labels != -100).sum())
        loss_sum += float(o.mlm_loss) * m
        correct += int((o.prediction_logits.argmax(-1) == labels[labels != -100]).sum())
        masked += m
        nsp_correct += int((o.seq_relationship_logits.argmax(-1) == labels_nsp).sum())
    loss = loss_sum / max(1, masked)
    out = {"eval_mlm_loss": loss, "eval_mlm_ppl": math.exp(min(loss, 50)), "eval_mlm_acc": correct / max(1, masked)}
    if nsp:
        out["eval_nsp_acc"] = nsp_correct / max(1, len(pairs))
        share = sum(p.is_random_next for p in pairs) / max(1, len(pairs))
        out["eval_nsp_majority"] = max(share, 1 - share)  # the accuracy of always answering the commoner label
    return out


def evaluate_corpus(model_dir: str | Path, files: list[str | Path], max_seq_length: int = 128,
                    batch_size: int = 32, mlm_prob: float = 0.15, seed: int = 0, max_pairs: int = 2000,
                    nsp: bool = True, encoding_errors: str = "strict", device: str = "auto",
                    progress: bool = False) -> dict:
    """Masked-LM loss/perplexity/accuracy and NSP accuracy of a pre-trained HF-format model folder on held-out
    corpus files: up to ``max_pairs`` pairs of one pass over their documents (no short-sequence sampling)."""
    import tempfile

    from bertgan.bert.hub import from_pretrained, model_path

    model_dir = model_path(model_dir)
    tok = WordPieceTokenizer.from_dir(model_dir)
    model = from_pretrained(model_dir, BertForPreTraining, strict=True, device=pick_device(device))
    with tempfile.TemporaryDirectory() as tmp:
        cache = TokenCache.get_or_build(files, tok, tmp, encoding_errors=encoding_errors)
        if nsp and len(cache) < 2:
            raise UsageError(f"--corpus: {len(cache)} document(s); NSP pairs need at least 2 (separate documents "
                             "with a blank line), or pass --no-nsp to score the masked LM alone")
        stream = PairStream(cache, range(len(cache)), max_seq_length=max_seq_length, short_seq_prob=0.0,
                            seed=seed, nsp=nsp, buffer=max_pairs)
        pairs = []
        while len(pairs) < max_pairs:
            pair = stream.take(1)[0]
            if stream.epoch > 0:  # one pass only
                break
            pairs.append(pair)
    out = evaluate_pairs(model, tok, pairs, batch_size, mlm_prob, seed, next(model.parameters()).device, nsp=nsp,
                         progress=progress)
    return {**out, "pairs": len(pairs)}


def load_config(run: str | Path) -> PretrainConfig:
    return load_run_config(run, PretrainConfig, CONFIG, "bertgan bert pretrain")

"""Tokens/s of bertgan's BERT vs transformers' BertForPreTraining (attn_implementation="sdpa"), same config, same
weights, same batch of real sentences (WikiText-2), fp32 and bf16 — inference and one training step.

    python benchmarks/bert_speed.py [--preset mini] [--batch-size 32] [--seq-len 128] [--rounds 5]
                                    [--data ../shared/data] [--device cpu]

Inference: a forward pass with full MLM and NSP logits; the outputs of the two models are compared (max |Δ|).
Training step: 15% of the real tokens masked (80/10/10), NSP labels, forward with labels, backward, AdamW step.
bertgan computes vocabulary logits at the masked positions only; transformers computes them everywhere.
Variants are timed in interleaved rounds; medians are reported. Tokens/s counts real (non-padding) tokens.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch

from bertgan.bert.config import preset
from bertgan.bert.hub import load_weights
from bertgan.bert.model import BertForPreTraining
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.train.runtime import autocast, has_fast_bf16


def batch_from_wikitext(data: Path, tok: WordPieceTokenizer, n: int, seq_len: int):
    lines = [ln.strip() for ln in (data / "wikitext-2" / "valid.txt").read_text(encoding="utf-8").splitlines()
             if len(ln.split()) > 8 and not ln.strip().startswith("=")]
    pairs = [(lines[i], lines[i + 1]) for i in range(0, 2 * n, 2)]
    enc = tok.encode_batch([a for a, _ in pairs], [b for _, b in pairs], max_length=seq_len,
                           truncation="longest_first", padding="max_length", return_tensors="pt")
    g = torch.Generator().manual_seed(0)
    ids = enc["input_ids"]
    special = enc["special_tokens_mask"].bool() | (enc["attention_mask"] == 0)
    chosen = (torch.rand(ids.shape, generator=g) < 0.15) & ~special
    labels = torch.where(chosen, ids, -100)
    r = torch.rand(ids.shape, generator=g)
    masked = ids.clone()
    masked[chosen & (r < 0.8)] = tok.mask_token_id
    rand = chosen & (r >= 0.8) & (r < 0.9)
    masked[rand] = torch.randint(5, tok.vocab_size, (int(rand.sum()),), generator=g)
    nsp = torch.randint(0, 2, (ids.shape[0],), generator=g)
    return masked, enc["token_type_ids"], enc["attention_mask"], labels, nsp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="mini")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--force-bf16", action="store_true", help="measure bf16 even where it is emulated (slow)")
    args = ap.parse_args()
    from transformers import BertConfig as HFConfig
    from transformers import BertForPreTraining as HFBert

    device = torch.device(args.device)
    data = Path(args.data)
    tok = WordPieceTokenizer.from_dir(data / "all-MiniLM-L6-v2-tokenizer")
    cfg = preset(args.preset, vocab_size=tok.vocab_size, max_position_embeddings=512)
    torch.manual_seed(0)
    hf = HFBert(HFConfig(**cfg.to_dict(), attn_implementation="sdpa")).to(device)
    ours = BertForPreTraining(cfg)
    load_weights(ours, hf.state_dict(), strict=True)
    ours.to(device)
    ids, tt, am, labels, nsp = (t.to(device) for t in batch_from_wikitext(data, tok, args.batch_size, args.seq_len))
    real_tokens = int(am.sum())

    hf.eval()
    ours.eval()
    with torch.no_grad():
        a, b = hf(input_ids=ids, token_type_ids=tt, attention_mask=am), ours(ids, am, tt)
    m = am.bool()
    diff = max((a.prediction_logits[m] - b.prediction_logits[m]).abs().max().item(),
               (a.seq_relationship_logits - b.seq_relationship_logits).abs().max().item())

    def infer(model, is_hf, precision):
        def run():
            with torch.no_grad(), autocast(device, precision):
                if is_hf:
                    model(input_ids=ids, token_type_ids=tt, attention_mask=am)
                else:
                    model(ids, am, tt)
        return run

    def trainer(model, is_hf, precision):
        model = copy.deepcopy(model).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def run():
            with autocast(device, precision):
                if is_hf:
                    loss = model(input_ids=ids, token_type_ids=tt, attention_mask=am, labels=labels,
                                 next_sentence_label=nsp).loss
                else:
                    loss = model(ids, am, tt, labels=labels, next_sentence_label=nsp).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return run

    fast = has_fast_bf16(device)
    precisions = ("fp32", "bf16") if fast or args.force_bf16 else ("fp32",)
    variants = {}
    for precision in precisions:
        for name, model, is_hf in (("transformers", hf, True), ("bertgan", ours, False)):
            variants[f"infer {precision} {name}"] = infer(model, is_hf, precision)
            variants[f"train {precision} {name}"] = trainer(model, is_hf, precision)
    rounds = args.rounds
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():
        fn()
    for _ in range(rounds):
        for k, fn in variants.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t)
    print(f"BERT-{args.preset} (L={cfg.num_hidden_layers}, H={cfg.hidden_size}, V={cfg.vocab_size}), batch "
          f"{args.batch_size} × {args.seq_len}, {real_tokens} real tokens, {device}, {torch.get_num_threads()} "
          f"threads, torch {torch.__version__}; fast bf16 units: {fast}")
    print(f"outputs identical: max |Δ logits| = {diff:.2e}")
    rate = {k: real_tokens / statistics.median(v) for k, v in times.items()}
    for k in variants:
        print(f"{k:28s} {rate[k]:10.0f} tokens/s   (rounds: {len(times[k])})")
    if "bf16" not in precisions:
        print("bf16: skipped — this device has no bf16 units, so bf16 is emulated (measured 13x slower than fp32 "
              "for the DCGAN step); --force-bf16 measures it anyway")
    for precision in precisions:
        for what in ("infer", "train"):
            r = rate[f"{what} {precision} bertgan"] / rate[f"{what} {precision} transformers"]
            print(f"{what} {precision}: bertgan / transformers = {r:.2f}x")


if __name__ == "__main__":
    main()

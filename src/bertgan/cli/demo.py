"""A guided tour on embedded data only (no download), under 3 minutes on a laptop CPU.

GAN part: the GAN lecture's game — G(z; θ) with z ~ N(0, I), D(x; η) judged at 0.5 — trained on scikit-learn's
embedded 8×8 digits, with a sample grid per epoch, the curves, an interpolation strip and report.html.
BERT part: the BERT text's pre-training — a WordPiece vocabulary and a mini BERT trained with MLM + NSP for 200
steps on the English help text that ships inside Python, set against the unigram baseline — then fill-mask on a few
sentences, and the text's own Korean examples with the packaged Korean BERT.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from bertgan.errors import UsageError

DEFAULT_OUT = "bertgan-demo"


def register(sub) -> None:
    from bertgan.cli import GROUPS, add_device, add_dry_run, add_precision, add_progress, add_seed

    d = sub.add_parser("demo", help=GROUPS["demo"],
                       description=__doc__.split("\n\n", 1)[0] + " Writes a folder of pictures and prints "
                                   "where they are. --quick runs each part for a few steps only.")
    d.add_argument("--out", default=DEFAULT_OUT, help=f"folder to write (default ./{DEFAULT_OUT})")
    d.add_argument("--quick", action="store_true", help="a few steps of each part (seconds): a smoke test")
    add_seed(d, 0)
    add_device(d)
    add_precision(d)
    add_progress(d)
    add_dry_run(d)
    d.set_defaults(func=cmd_demo)


def gan_demo_config(quick: bool, seed: int, device: str | None, precision: str | None = None):
    from bertgan.gan.config import resolve

    # The digits preset: a fully connected GAN (Goodfellow et al. 2014) small enough to learn recognisable 8×8
    # digits in well under a minute on two CPU cores.
    return resolve("digits", epochs=2 if quick else None, max_steps=6 if quick else None,
                   log_every=2 if quick else 20, seed=seed, device=device or "auto", precision=precision or "auto")


def cmd_demo(args) -> int:
    import dataclasses

    from bertgan.gan.trainer import train
    from bertgan.io import ensure_writable_dir

    out = Path(args.out)
    cfg = gan_demo_config(args.quick, args.seed, args.device, args.precision)
    if args.dry_run:
        print(f"demo plan (writes into {out}/):")
        print(f"  1. GAN  — {cfg.arch} G and D on the embedded 8×8 digits, {cfg.loss} loss, "
              f"{cfg.max_steps or cfg.epochs} {'steps' if cfg.max_steps else 'epochs'}  → {out / 'gan'}/")
        steps = BERT_STEPS_QUICK if args.quick else BERT_STEPS
        print(f"  2. BERT — WordPiece vocabulary + mini BERT (MLM + NSP, {steps} steps) on Python's embedded help "
              f"text, then fill-mask  → {out / 'bert'}/")
        print(dataclasses.asdict(cfg))
        return 0
    ensure_writable_dir(out)
    gan_dir, bert_dir = out / "gan", out / "bert"
    for part in (gan_dir, bert_dir):
        if part.exists():
            if not (part / "config.json").exists() and not (part / "run" / "config.json").exists():
                raise UsageError(f"{part}: exists and is not an earlier demo run; choose another --out")
            shutil.rmtree(part)  # the demo always starts fresh

    print("── GAN (the GAN lecture) ───────────────────────────────────────────────────────")
    print("G(z; θ) turns noise z ~ N(0, I), d = 100, into 8×8 digits; D(x; η) ∈ (0, 1) says 'real' when ≥ 0.5.")
    print("They play min_θ max_η E[log D(x)] + E[log(1 − D(G(z)))], updated in turn.")
    t0 = time.perf_counter()
    result = train(cfg, gan_dir, progress=not args.no_progress)
    strip = gan_dir / "interpolation.png"  # the run draws it, and report.html shows it
    m = result.metrics
    print(f"trained {result.step} steps in {time.perf_counter() - t0:.0f} s: D(x) {m['d_real']:.2f}, "
          f"D(G(z)) {m['d_fake']:.2f} (0.5 = D cannot tell them apart)")
    print(f"  samples from a fixed z, per epoch: {gan_dir / 'samples'}/")
    print(f"  latest samples:                    {result.samples}")
    print(f"  real digits, for comparison:       {gan_dir / 'real.png'}")
    print(f"  walks between two z:               {strip}")
    print(f"  losses and D's outputs:            {gan_dir / 'curves.png'}")
    print(f"  all of it on one page:             {result.report}")
    bert_demo(bert_dir, args)
    return 0


BERT_STEPS, BERT_STEPS_QUICK = 200, 3
FILL_MASK = ["The [MASK] statement is used to leave a loop.", "A function is defined with the [MASK] keyword.",
             "Strings are [MASK] sequences of Unicode code points."]


def bert_demo(bert_dir: Path, args) -> None:
    from bertgan.bert.pipelines import FillMaskPipeline
    from bertgan.bert.tokenizer import WordPieceTokenizer
    from bertgan.bert.trainer import PretrainConfig, pretrain
    from bertgan.data.text import write_stdlib_corpus

    print("── BERT (the BERT text) ────────────────────────────────────────────────────────")
    print("WordPiece pieces → token + segment + position embeddings → bidirectional encoder (GELU); pre-trained by")
    print("masked LM (15% chosen: 80% [MASK], 10% random, 10% kept) and next-sentence prediction.")
    bert_dir.mkdir(parents=True)
    corpus = write_stdlib_corpus(bert_dir / "corpus.txt")
    WordPieceTokenizer.train([corpus], 8000).save(bert_dir / "tokenizer")
    steps = BERT_STEPS_QUICK if args.quick else BERT_STEPS
    cfg = PretrainConfig(corpus=[str(corpus)], tokenizer=str(bert_dir / "tokenizer"), preset="mini",
                         max_seq_length=64, batch_size=32, lr=5e-4, warmup_steps=max(1, steps // 10),
                         max_steps=steps, eval_every=max(1, steps // 4), checkpoint_every=steps,
                         log_every=max(1, steps // 20), seed=args.seed, device=args.device or "auto",
                         precision=args.precision or "auto")
    t0 = time.perf_counter()
    result = pretrain(cfg, bert_dir / "run", progress=not args.no_progress)
    m = result["metrics"]
    fill = FillMaskPipeline(result["final"], device=args.device)
    piece, share = unigram_baseline(bert_dir / "run" / "cache", fill.tokenizer)
    print(f"pre-trained {result['step']} steps in {time.perf_counter() - t0:.0f} s: held-out MLM accuracy "
          f"{m['eval_mlm_acc']:.1%} (perplexity {m['eval_mlm_ppl']:.0f}), NSP accuracy {m['eval_nsp_acc']:.1%}")
    print(f"  for scale: always guessing the corpus's most frequent piece {piece!r} scores {share:.1%} (this run: "
          f"{100 * (m['eval_mlm_acc'] - share):+.1f} points) and NSP's chance is 50%. Minutes on a small text show "
          "the loop and the curves; a BERT that reads takes hours of text (the shipped Korean one, below).")
    for text, masks in zip(FILL_MASK, fill(FILL_MASK, top_k=5)):
        print(f"  {text}\n    → " + ", ".join(f"{p['token']} ({p['score']:.2f})" for p in masks[0]))
    print(f"  model (HF format, loads in transformers): {result['final']}")
    print(f"  loss and accuracy curves:                 {bert_dir / 'run' / 'curves.png'}")
    korean_examples(args.device)


def unigram_baseline(cache_root: Path, tokenizer) -> tuple[str, float]:
    """The most frequent piece of the run's corpus and its share of all pieces: the MLM accuracy of a model that
    has learned nothing but the unigram distribution (masks fall uniformly on the non-special pieces)."""
    import numpy as np

    from bertgan.bert.corpus import TokenCache

    counts = None
    for folder in sorted(p for p in cache_root.iterdir() if (p / "meta.json").is_file()):
        c = np.bincount(np.asarray(TokenCache(folder).ids), minlength=tokenizer.vocab_size)
        counts = c if counts is None else counts + c
    if counts is None or counts.sum() == 0:
        return "", 0.0
    top = int(counts.argmax())
    return tokenizer.convert_ids_to_tokens([top])[0], float(counts[top] / counts.sum())


KOREAN_WORD = "감사합니다"


def korean_examples(device: str | None) -> None:
    """The BERT text's own two Korean examples, with the Korean BERT that ships in the package."""
    from bertgan.bert.hub import packaged_models
    from bertgan.bert.pipelines import FillMaskPipeline
    from bertgan.tour import SEED_ANSWERS, SEED_SENTENCE, seed_answers_found

    folder = packaged_models().get("ko-mini")
    if folder is None:
        return
    fill = FillMaskPipeline(folder, device=device)
    pieces = fill.tokenizer.tokenize(KOREAN_WORD)
    print("── The BERT text's Korean examples, with the shipped Korean BERT (ko-mini, bertgan bert list-models) ──")
    print(f"  WordPiece: {KOREAN_WORD} → {' + '.join(repr(p) for p in pieces)}")
    print(f"  {SEED_SENTENCE}")
    # whole words of up to 3 pieces: the text's answers ('슈퍼', '바나나') are words, which a 32k vocabulary may split
    answers = fill([SEED_SENTENCE], top_k=5, whole_word=3)[0]
    for i, masks in enumerate(answers):
        print(f"    [MASK] {i + 1} → " + ", ".join(f"{p['word']} ({p['score']:.3f})" for p in masks))
    found = seed_answers_found(answers)
    print(f"  (4 layers, a few CPU-hours of pre-training: the text's {' and '.join(SEED_ANSWERS)} — "
          f"{len(found)} of {len(SEED_ANSWERS)} in the top 5{': ' + ', '.join(found) if found else ''}; "
          "its card has the figures)")
    print(f"  try: bertgan bert fill-mask --model ko-mini \"{SEED_SENTENCE}\"   ·   card: {folder / 'card.md'}")

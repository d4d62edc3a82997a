"""``bertgan apps augment`` — seed 000's 데이터 증강 (data augmentation): "새로운 샘플을 생성하여 훈련 데이터를 보강할
수 있다. 이는 사용 가능한 Dataset가 제한되어 있을 때 특히 유용하며" — new samples from a GAN enlarge a training set that
is too small.

For every seed: draw a small labelled set (``per_class`` images of each class), train a class-conditional GAN on it
(G(z, y), projection D(x, y); Mirza & Osindero 2014, Miyato & Koyama 2018), then train the same small CNN twice from
the same initial weights on the same real batches — once on the real images alone, once with G's images mixed into
every batch (labels = the class G was asked for) — and score both on the full test set. The comparison is paired:
the gain is measured seed by seed. DAGAN (Antoniou et al. 2017) reports +2.1 points on EMNIST this way.

Stabilisers for a GAN trained on a few hundred images, where D memorises the training set: DiffAugment (Zhao et
al. 2020, "translation,cutout": the same differentiable augmentation on real and generated images, for D's and G's
update), spectral normalisation and the hinge loss (Miyato et al. 2018), and an exponential moving average of G's
weights for sampling (Yazıcı et al. 2019).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bertgan.apps.common import accuracy_by_judge, check_labelled, check_positive, judge, mean_std, save_rows
from bertgan.errors import UsageError
from bertgan.train.runtime import NonFiniteGuard

SIZE = 28  # the GAN and the classifier work at 28×28; the 8×8 digits are enlarged


def _f(default, help: str, **meta):
    return dataclasses.field(default=default, metadata={"help": help, **meta})


@dataclasses.dataclass
class Config:
    dataset: str = _f("fashion-mnist", "labelled image set: fashion-mnist, mnist or digits (embedded 8×8, for tests)")
    per_class: int = _f(20, "labelled training images per class (the small set), drawn anew for every seed")
    seeds: int = _f(3, "repetitions (seed, seed+1, …): each draws its own small set, GAN and classifier init")
    gan_steps: int = _f(2000, "GAN updates (one D and one G update each)")
    gan_batch: int = _f(64, "GAN batch size")
    latent_dim: int = _f(64, "dimension of z")
    width: int = _f(32, "base channel count of the dcgan G and D")
    loss: str = _f("hinge", "GAN loss pair (gan/losses.py)",
                   choices=("hinge", "nonsaturating", "least-squares", "minimax"))
    diffaugment: bool = _f(True, "DiffAugment (translation + cutout) on D's inputs, real and generated (Zhao 2020)")
    ema: float = _f(0.99, "decay of the moving average of G's weights that generates the samples (0 = off)")
    clf_steps: int = _f(1500, "classifier updates — the same for the run without and with generated images")
    batch_size: int = _f(64, "real images in every classifier batch")
    ratio: float = _f(0.5, "generated images per real image in every classifier batch (0.5: 64 real + 32 generated)")
    pool_per_class: int = _f(500, "generated images per class drawn once from G for the classifier")
    filter: bool = _f(False, "keep only generated images that the real-only classifier of the same seed assigns to "
                             "the class G was asked for")
    shift: int = _f(2, "random shifts of up to this many pixels on every classifier input (both runs)")
    seed: int = _f(0, "first seed")
    device: str = _f("auto", "auto, cpu, cuda, cuda:N or mps")


SETTINGS = {
    "quick": {"gan_steps": 400, "clf_steps": 300, "pool_per_class": 100},
    "full": {},
}

DESCRIPTION = """\
Data augmentation with a class-conditional GAN (the BERT text's list: 데이터 증강 — "generate new samples to enlarge a
training set that is too small"). For each seed: draw PER_CLASS labelled images of every class, train a conditional GAN
on them (dcgan G(z, y) with a projection discriminator, hinge loss, spectral norm, DiffAugment, EMA of G), then train
the same small CNN twice — real images only, and real + generated (RATIO generated per real image in each batch,
labelled with the class G was asked for) — from the same initial weights, with the same random shifts and the same
number of steps, and measure both on the full test set (10,000 images). Reports mean ± std over the seeds of both
accuracies and of the paired gain, whether it is outside the noise (|mean| > 2·std/√n), and how often the
evaluation classifier (trained on all real training images) reads G's samples as the class asked for.
Follows DAGAN (Antoniou et al. 2017, +2.1 points on EMNIST); DiffAugment: Zhao et al. 2020.

Writes result.json, samples.png (a row of generated images per class) and accuracy.png (with vs without, per seed).

examples:
  bertgan apps augment --quick --data-dir ../shared/data --out runs/augment-quick
  bertgan apps augment --data-dir ../shared/data --out runs/augment            # fashion-mnist, 20 a class, 3 seeds
  bertgan apps augment --per-class 100 --data-dir ../shared/data --out runs/augment-100   # where it does not help
"""


def validate(cfg: Config) -> None:
    check_labelled(cfg.dataset)
    check_positive(cfg, "per_class", "seeds", "gan_steps", "gan_batch", "latent_dim", "width", "clf_steps",
                   "batch_size", "pool_per_class")
    if cfg.ratio < 0 or not math.isfinite(cfg.ratio):
        raise UsageError(f"--ratio {cfg.ratio}: must be ≥ 0 (generated images per real image in a batch; 0 = none)")
    if not 0 <= cfg.ema < 1:
        raise UsageError(f"--ema {cfg.ema}: must be in [0, 1) (0 = off, 0.999 typical)")
    if cfg.shift < 0:
        raise UsageError(f"--shift {cfg.shift}: must be ≥ 0 pixels")
    if cfg.gan_batch % 2:
        raise UsageError(f"--gan-batch {cfg.gan_batch}: must be even")


# ------------------------------------------------------------------------------------------------ augmentation

def translate(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift every image by its own random (dy, dx) ∈ [−max_shift, max_shift]², filling with the background −1.
    An index gather, so gradients flow to x (DiffAugment's "translation" needs that for G's update)."""
    if max_shift <= 0:
        return x
    n, c, h, w = x.shape
    s = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator).to(x.device)
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)  # (N, C, H + 2m, W + 2m)
    rows = torch.arange(h, device=x.device)[None] + max_shift - s[:, :1]  # (N, H)
    cols = torch.arange(w, device=x.device)[None] + max_shift - s[:, 1:]  # (N, W)
    n_idx = torch.arange(n, device=x.device)[:, None, None, None]
    c_idx = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[n_idx, c_idx, rows[:, None, :, None], cols[:, None, None, :]]  # (N, C, H, W)


def cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """DiffAugment's cutout: one square of side ratio·H per image, multiplied by 0 (mid-grey in [−1, 1], as in
    Zhao et al.'s code), its centre anywhere in the image (the square may be clipped at the border)."""
    n, _, h, w = x.shape
    size = int(h * ratio + 0.5)
    centre = torch.randint(0, h, (n, 2), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device)[None] - centre[:, :1] + size // 2  # (N, H): row offset inside the square
    xs = torch.arange(w, device=x.device)[None] - centre[:, 1:] + size // 2
    inside = ((ys >= 0) & (ys < size))[:, :, None] & ((xs >= 0) & (xs < size))[:, None, :]  # (N, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diffaugment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Zhao et al. 2020, policy "translation,cutout" (translation up to 1/8 of the side)."""
    return cutout(translate(x, x.shape[-1] // 8, generator), generator)


# ------------------------------------------------------------------------------------------------ the GAN

def train_gan(cfg: Config, images: torch.Tensor, labels: torch.Tensor, seed: int, device: torch.device,
              progress: bool = False):
    """A class-conditional GAN on the small set by alternating updates (Goodfellow et al. 2014, Algorithm 1,
    k = 1); returns G for sampling (its EMA copy when ``cfg.ema``) and the last 100 steps' mean losses."""
    from tqdm.auto import tqdm

    from bertgan.gan.losses import LOSSES
    from bertgan.gan.models import build_gan
    from bertgan.gan.regularizers import EMA

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    n_classes = int(labels.max()) + 1
    # No BatchNorm in D: spectral normalisation acts per sample, as in Miyato et al.'s SN-DCGAN.
    G, D = build_gan("dcgan", cfg.latent_dim, (1, SIZE, SIZE), cfg.width, n_classes=n_classes,
                     spectral_norm=True, d_batchnorm=False)
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ema = EMA(G, cfg.ema) if cfg.ema else None
    d_loss_fn, g_loss_fn = LOSSES[cfg.loss]
    aug = (lambda x: diffaugment(x, gen)) if cfg.diffaugment else (lambda x: x)
    real_all = images.float().div(127.5).sub(1.0).to(device)  # uint8 → [−1, 1]
    labels = labels.to(device)
    batch = min(cfg.gan_batch, len(real_all))
    losses = []
    G.train()
    D.train()
    guard = NonFiniteGuard(device, "fp32", "2e-4 (Adam, both nets)")
    for step in tqdm(range(cfg.gan_steps), disable=not progress, desc=f"GAN seed {seed}", unit="step", leave=False):
        idx = torch.randint(0, len(real_all), (batch,), generator=gen).to(device)
        real, y = real_all[idx], labels[idx]
        z = torch.randn(batch, cfg.latent_dim, generator=gen).to(device)
        fake = G(z, y)  # (N, 1, 28, 28); its graph is reused by G's update below
        loss_d = d_loss_fn(D(aug(real), y), D(aug(fake.detach()), y))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(False)  # G's backward pass needs ∂/∂x through D, not D's weight gradients
        loss_g = g_loss_fn(D(aug(fake), y))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
        if ema is not None:
            ema.update(G)
        guard.observe(step + 1, loss_d, loss_g)
        losses.append((loss_d.item(), loss_g.item()))
    guard.check(None, "the GAN of this run")
    tail = np.asarray(losses[-100:])
    G_out = ema.model if ema is not None else G.eval()
    return G_out.eval(), {"loss_d": float(tail[:, 0].mean()), "loss_g": float(tail[:, 1].mean())}


@torch.no_grad()
def generate(G, n_per_class: int, n_classes: int, latent_dim: int, seed: int, device: torch.device,
             batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images (n·K, 1, 28, 28), labels): n_per_class images of every class, class-major order."""
    from bertgan.report.plots import to_uint8

    gen = torch.Generator().manual_seed(seed)
    y_all = torch.arange(n_classes).repeat_interleave(n_per_class)
    out = []
    for i in range(0, len(y_all), batch):
        y = y_all[i:i + batch]
        z = torch.randn(len(y), latent_dim, generator=gen)
        out.append(to_uint8(G(z.to(device), y.to(device))))
    return torch.cat(out), y_all


# ------------------------------------------------------------------------------------------------ the classifier

def train_classifier(cfg: Config, real: torch.Tensor, real_y: torch.Tensor, seed: int, device: torch.device,
                     fake: torch.Tensor | None = None, fake_y: torch.Tensor | None = None, progress: bool = False):
    """A fresh DomainClassifier (gan/classifier.py) trained for ``cfg.clf_steps`` steps on batches of
    ``batch_size`` real images [+ ratio·batch_size generated ones]. With the same seed, both runs start from the
    same weights and see the same real batches and shifts: the real-data stream and the generated-data stream use
    separate generators, so adding generated images changes nothing else."""
    from tqdm.auto import tqdm

    from bertgan.gan.classifier import DomainClassifier

    torch.manual_seed(seed)
    model = DomainClassifier(10).to(device)
    real_gen = torch.Generator().manual_seed(seed)
    fake_gen = torch.Generator().manual_seed(seed + 10_000)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=cfg.clf_steps)
    n_fake = int(round(cfg.ratio * cfg.batch_size)) if fake is not None and len(fake) else 0
    real = real.float().div(127.5).sub(1.0)
    fake = fake.float().div(127.5).sub(1.0) if n_fake else None
    batch = min(cfg.batch_size, len(real))
    model.train()
    desc = f"classifier {'with' if n_fake else 'without'} generated, seed {seed}"
    guard = NonFiniteGuard(device, "fp32", "up to 2e-3 (one-cycle)")
    for step in tqdm(range(cfg.clf_steps), disable=not progress, desc=desc, unit="step", leave=False):
        idx = torch.randint(0, len(real), (batch,), generator=real_gen)
        x, y = real[idx], real_y[idx]
        x = translate(x, cfg.shift, real_gen)
        if n_fake:
            j = torch.randint(0, len(fake), (n_fake,), generator=fake_gen)
            x = torch.cat([x, translate(fake[j], cfg.shift, fake_gen)])
            y = torch.cat([y, fake_y[j]])
        loss = F.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        guard.observe(step + 1, loss)
    guard.check(None, "the classifier of this run")
    return model.eval().cpu()


def accuracy_on(model, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` (uint8) that ``model`` labels correctly."""
    from bertgan.gan.evaluate import classify

    pred, _ = classify(model, images)
    return float((pred == labels.numpy()).mean())


# ------------------------------------------------------------------------------------------------ the run

def small_set(images: torch.Tensor, labels: torch.Tensor, per_class: int, seed: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """per_class images of every class, drawn without replacement by ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    idx = []
    for k in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == k).squeeze(1)
        idx.append(members[torch.randperm(len(members), generator=gen)[:per_class]])
    idx = torch.cat(idx)
    return images[idx], labels[idx]


def load_data(cfg: Config, data_dir=None):
    """(train, test) at 28×28, after checking that every class has ``per_class`` training images."""
    from bertgan.data.images import ImageData, resize_images
    from bertgan.gan.evaluate import labelled_splits

    train, test = labelled_splits(cfg.dataset, data_dir)
    counts = np.bincount(train.labels.numpy(), minlength=len(train.class_names))
    if cfg.per_class > counts.min():
        k = int(counts.argmin())
        raise UsageError(f"--per-class {cfg.per_class}: {cfg.dataset} has only {counts.min()} training images of "
                         f"class {train.class_names[k]!r}; use --per-class {counts.min()} or fewer")
    up = lambda d: ImageData(resize_images(d.images, SIZE), d.labels, d.name, d.class_names)
    return up(train), up(test)


def gain_rule(gains: list[float]) -> tuple[str, str]:
    """The paired gain is outside the noise when its mean is further from 0 than twice its standard error,
    |mean| > 2·s/√n, s the sample standard deviation of the per-seed gains: a "gain" above, a "loss" below, else
    "within the noise". (A one-sided t-test at 95% with n = 3 would ask for 2.92·s/√n; 2·s/√n is the conventional,
    looser rule, and result.json gives the per-seed numbers for either.)"""
    s = mean_std(gains)
    n = len(gains)
    bound = 2 * s["std"] / math.sqrt(n)
    verdict = "within the noise"
    if n > 1 and abs(s["mean"]) > bound:
        verdict = "gain outside the noise" if s["mean"] > 0 else "loss outside the noise"
    return verdict, f"paired gain mean {100 * s['mean']:+.2f} vs 2·std/√n = {100 * bound:.2f} points"


def run(cfg: Config, out: Path, *, data_dir=None, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    from bertgan.train.runtime import pick_device

    device = pick_device(cfg.device)
    cpu0 = time.process_time()
    train, test = load_data(cfg, data_dir)
    n_classes = len(train.class_names)
    judge_model, judge_info = judge(cfg.dataset, data_dir, log=log)
    per_seed, first_samples = [], None
    for i in range(cfg.seeds):
        seed = cfg.seed + i
        t0 = time.time()
        x, y = small_set(train.images, train.labels, cfg.per_class, seed)
        G, gan_losses = train_gan(cfg, x, y, seed, device, progress)
        fake, fake_y = generate(G, cfg.pool_per_class, n_classes, cfg.latent_dim, seed + 20_000, device)
        judged = accuracy_by_judge(judge_model, fake, fake_y.numpy())
        if first_samples is None:
            first_samples = {name: fake[fake_y == k][:12] for k, name in enumerate(train.class_names)}
        base = train_classifier(cfg, x, y, seed, device, progress=progress)
        kept = len(fake)
        if cfg.filter:
            from bertgan.gan.evaluate import classify

            pred, _ = classify(base, fake)
            keep = torch.from_numpy(pred == fake_y.numpy())
            fake, fake_y, kept = fake[keep], fake_y[keep], int(keep.sum())
        aug = train_classifier(cfg, x, y, seed, device, fake, fake_y, progress=progress)
        acc_base = accuracy_on(base, test.images, test.labels)
        acc_aug = accuracy_on(aug, test.images, test.labels)
        row = {"seed": seed, "without": acc_base, "with": acc_aug, "gain": acc_aug - acc_base,
               "judge_accuracy_on_generated": judged, "generated_used": kept, **gan_losses,
               "seconds": round(time.time() - t0, 1)}
        per_seed.append(row)
        log(f"seed {seed}: without {100 * acc_base:.2f}%  with {100 * acc_aug:.2f}%  gain "
            f"{100 * (acc_aug - acc_base):+.2f}  judge reads G's class {100 * judged:.1f}%  ({row['seconds']} s)")

    gains = [r["gain"] for r in per_seed]
    verdict, rule = gain_rule(gains)
    result = {
        "dataset": cfg.dataset, "per_class": cfg.per_class, "train_images": cfg.per_class * n_classes,
        "test_images": len(test), "ratio": cfg.ratio, "seeds": [r["seed"] for r in per_seed],
        "without": mean_std([r["without"] for r in per_seed]),
        "with": mean_std([r["with"] for r in per_seed]),
        "gain": mean_std(gains),
        "verdict": verdict, "gain_outside_noise": verdict == "gain outside the noise",
        "noise_rule": "outside the noise: |paired gain mean| > 2·std/√n (std over seeds, n − 1)",
        "noise_check": rule,
        "judge_accuracy_on_generated": mean_std([r["judge_accuracy_on_generated"] for r in per_seed]),
        "judge_accuracy_on_real_test": judge_info.get("test_accuracy"),
        "per_seed": per_seed,
        "cpu_seconds": round(time.process_time() - cpu0, 1),
    }
    save_rows(out / "samples.png", first_samples,
              f"G(z, y) of seed {cfg.seed}, a row per class y ({cfg.per_class} real images a class)")
    plot_accuracy(out / "accuracy.png", per_seed, result)
    return result


def plot_accuracy(path: Path, per_seed: list[dict], result: dict) -> Path:
    """Test accuracy without and with generated images, a line per seed (the pairing), means ± std beside."""
    from bertgan.report.plots import _plt, save_figure

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in per_seed:
        ax.plot([0, 1], [100 * r["without"], 100 * r["with"]], "o-", color="tab:gray", alpha=0.7)
        ax.annotate(f"seed {r['seed']}", (1.03, 100 * r["with"]), fontsize=7, va="center")
    for pos, key, color in ((-0.15, "without", "tab:blue"), (1.25, "with", "tab:orange")):
        m = result[key]
        ax.errorbar([pos], [100 * m["mean"]], yerr=[100 * m["std"]], fmt="s", color=color, capsize=5,
                    label=f"{key}: {100 * m['mean']:.2f} ± {100 * m['std']:.2f}%")
    g = result["gain"]
    ax.set_xticks([0, 1], ["real only", f"real + generated\n(ratio {result['ratio']})"])
    ax.set_xlim(-0.5, 1.6)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{result['dataset']}, {result['per_class']} a class: gain {100 * g['mean']:+.2f} ± "
                 f"{100 * g['std']:.2f} points", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower center")
    return save_figure(plt, fig, path)


def format_result(r: dict) -> str:
    pct = lambda m: f"{100 * m['mean']:.2f} ± {100 * m['std']:.2f}%"
    return (f"{r['dataset']}, {r['per_class']} images a class, {len(r['seeds'])} seeds, test set of "
            f"{r['test_images']}:\n"
            f"  without generated images  {pct(r['without'])}\n"
            f"  with generated (ratio {r['ratio']})  {pct(r['with'])}\n"
            f"  paired gain  {100 * r['gain']['mean']:+.2f} ± {100 * r['gain']['std']:.2f} points — {r['verdict']} "
            f"({r['noise_check']})\n"
            f"  the evaluation classifier reads G's samples as the class asked for: "
            f"{pct(r['judge_accuracy_on_generated'])} "
            f"(on real test images: {100 * r['judge_accuracy_on_real_test']:.1f}%)"
            + ("" if r["gain_outside_noise"] else
               "\n  this run does not show the claim (a gain outside the noise); the full setting does — the defaults, "
               "20 images a class, 2,000 GAN steps, 3 seeds, about 16 CPU-minutes: docs/apps/augment.md"))

"""GAN-based anomaly detection (seed 000, "이상 감지"): f-AnoGAN (Schlegl et al. 2019), the izi_f encoder.

Seed 000: "정상 데이터 샘플에 대해 GAN을 훈련시킴으로써 유사한 인스턴스를 재구성하고 생성하는 방법을 학습하고,
비정상적인 데이터가 제시되면 이상 징후를 탐지할 수 있다" — train a GAN on normal samples only, so that it learns to
reconstruct and generate such instances; data that it cannot reconstruct is anomalous.

f-AnoGAN, in two stages, on the normal class only:
  1. a GAN G, D (here the DCGAN-style nets of gan/models.py; the paper trains a WGAN-GP);
  2. with G and D frozen, an encoder E (gan/encoders.py) trained so that G(E(x)) ≈ x by the izi_f loss
         L(x) = 1/n · ‖x − G(E(x))‖²  +  κ · 1/n_d · ‖f(x) − f(G(E(x)))‖²
     where n is the number of pixels, f(·) D's last feature layer (n_d features) and κ = 1 (paper, eq. 5–6).
f-AnoGAN scores a test image by the same expression (paper, eq. 7): an anomaly lies off G's range, so the
encoder can only map it to a normal-looking image and both residuals are large. The default score here is the
*relative image residual*, three changes to eq. 7 chosen on Fashion-MNIST and measured in docs/apps/anomaly.md:
``--score image`` drops the D-feature term (which ranked worse than the image term alone on every digit);
``--blur σ`` (0.5) blurs x − G(E(x)) by a Gaussian first, so that a stroke redrawn a pixel off counts less than a
wrong shape; and ``--ink α`` (0.5) divides the residual by ink^α, ink the mean brightness of x and G(E(x)) — a faint
anomaly (a thin 1 through the 2-model) is cheap to redraw in absolute terms, not in relative ones. MNIST protocol
mean AUROC: A(x) 95.9, relative residual 98.2. ``--score izi_f --blur 0 --ink 0`` is the paper's A(x).

Protocol (Ruff et al. 2018, Deep SVDD; Perera et al. 2019, OCGAN): one digit of MNIST train is normal, the whole
test set is scored, the other nine digits are the anomalies (positives); AUROC per digit and its mean over the ten
digits. Each digit's models start from the same seed, so ``--normal-class 3`` reproduces the protocol's digit 3.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bertgan.apps.common import check_positive, save_rows, seed_everything
from bertgan.errors import UsageError
from bertgan.train.runtime import NonFiniteGuard

# Mean AUROC (%) over the ten MNIST one-class tasks, as published: AnoGAN and Deep SVDD from Ruff et al. 2018
# (Table 1), OCGAN from Perera et al. 2019 (Table 2).
ANCHORS = {"AnoGAN": 91.3, "Deep SVDD": 94.8, "OCGAN": 97.5}
DATASETS = ("mnist", "fashion-mnist", "digits")
N_CLASSES = 10
IMAGE_SHAPE = (1, 28, 28)  # the 8×8 digits are enlarged to 28×28 so one DCGAN serves every dataset
LOSSES = ("wasserstein", "nonsaturating")
SCORES = ("izi_f", "image")
MIN_INK = 1e-3  # the ink of an all-black image: the relative residual's floor


@dataclasses.dataclass
class Config:
    dataset: str = dataclasses.field(default="mnist", metadata={
        "help": "labelled image set: mnist, fashion-mnist, or digits (scikit-learn's 8×8, for tests)"})
    normal_class: int = dataclasses.field(default=-1, metadata={
        "help": "the class trained on as normal, 0..9; -1 = the protocol: each of the ten classes in turn, "
                "per-class and mean AUROC"})
    gan_steps: int = dataclasses.field(default=3000, metadata={"help": "generator updates of stage 1 (the GAN)"})
    d_steps: int = dataclasses.field(default=1, metadata={"help": "critic updates per generator update"})
    loss: str = dataclasses.field(default="nonsaturating", metadata={
        "help": "stage-1 GAN loss: nonsaturating (DCGAN, BatchNorm in D) or wasserstein (WGAN-GP as in "
                "f-AnoGAN: gradient penalty 10, no BatchNorm in D; use --d-steps 5)", "choices": LOSSES})
    encoder_steps: int = dataclasses.field(default=1500, metadata={"help": "encoder updates of stage 2 (izi_f)"})
    batch_size: int = dataclasses.field(default=64, metadata={"help": "images per update, both stages"})
    lr: float = dataclasses.field(default=2e-4, metadata={"help": "Adam learning rate, both stages"})
    kappa: float = dataclasses.field(default=1.0, metadata={
        "help": "κ, the weight of D's feature residual in the encoder's izi_f loss and in A(x) (f-AnoGAN: 1)"})
    score: str = dataclasses.field(default="image", metadata={
        "help": "what ranks the test images: image = the image residual alone (default), or izi_f = A(x), image "
                "residual + κ · D-feature residual (f-AnoGAN, eq. 7; with --blur 0 --ink 0: the paper's score)",
        "choices": SCORES})
    blur: float = dataclasses.field(default=0.5, metadata={
        "help": "σ in pixels of a Gaussian blur of x − G(E(x)) before the score's image residual, so that strokes "
                "redrawn a pixel off count less; 0 = the plain residual (f-AnoGAN); default 0.5"})
    ink: float = dataclasses.field(default=0.5, metadata={
        "help": "α: the score's image residual is divided by ink^α, ink = the mean brightness in [0, 1] of x and "
                "G(E(x)), so that a faint anomaly, cheap to redraw, still scores high; 0 = the plain residual "
                "(f-AnoGAN); default 0.5"})
    latent_dim: int = dataclasses.field(default=32, metadata={"help": "size of z ~ U(−1, 1)"})
    width: int = dataclasses.field(default=32, metadata={"help": "channels of the first conv layer of G, D, E"})
    max_test: int = dataclasses.field(default=0, metadata={
        "help": "score a seeded random subset of this many test images (0 = the whole test set)"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seeds weights, data order, z and the test subset"})
    device: str = dataclasses.field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:N or mps"})


SETTINGS = {
    "quick": {"normal_class": 0, "gan_steps": 400, "encoder_steps": 200, "max_test": 2000},
    "full": {},
}

DESCRIPTION = """\
GAN-based anomaly detection (the BERT text's list, 이상 감지): f-AnoGAN (Schlegl et al. 2019, "f-AnoGAN: Fast
unsupervised anomaly detection with generative adversarial networks", Medical Image Analysis 54). Trains a
DCGAN on the normal class only, then an encoder E with G and D frozen by the izi_f loss
    A(x) = 1/n·‖x − G(E(x))‖² + κ·1/n_d·‖f(x) − f(G(E(x)))‖²      (f: D's last feature layer)
The paper scores a test image by the same A(x) (eq. 7). The default score is the relative image residual: the
image term alone (--score image), of x − G(E(x)) blurred by a Gaussian of σ 0.5 pixels (--blur), divided by
ink^0.5 (--ink), ink the mean brightness of x and G(E(x)) — chosen on Fashion-MNIST, measured in
docs/apps/anomaly.md. --score izi_f --blur 0 --ink 0 is the paper's A(x).
Protocol: MNIST one-class — one digit normal, the other nine anomalous (positives), AUROC per digit and its mean:
98.2 with the default score, 95.9 with A(x); published means: AnoGAN 91.3, Deep SVDD 94.8, OCGAN 97.5. Writes
result.json (AUROC of the score and of each residual alone), scores_hist.png (normal vs anomalous scores),
reconstructions.png (x and G(E(x))), samples.png.

examples:
  bertgan apps anomaly --quick --data-dir ../shared/data --out runs/anomaly-quick   # digit 0, ~1 CPU-min
  bertgan apps anomaly --dataset mnist --normal-class 0 --data-dir ../shared/data --out runs/anomaly-0
  bertgan apps anomaly --data-dir ../shared/data --out runs/anomaly   # the protocol, ten digits, ~70 CPU-min
"""


def validate(cfg: Config) -> None:
    if cfg.dataset not in DATASETS:
        raise UsageError(f"--dataset {cfg.dataset}: anomaly detection needs a labelled image set (the labels say "
                         f"which test images are normal); choose one of {', '.join(DATASETS)}")
    if not -1 <= cfg.normal_class < N_CLASSES:
        raise UsageError(f"--normal-class {cfg.normal_class}: out of range; {cfg.dataset} has classes "
                         f"0..{N_CLASSES - 1}, or -1 for all ten in turn (the protocol)")
    check_positive(cfg, "gan_steps", "d_steps", "encoder_steps", "batch_size", "lr", "latent_dim", "width")
    if cfg.loss not in LOSSES:
        raise UsageError(f"--loss {cfg.loss}: unknown; choose one of {', '.join(LOSSES)}")
    if cfg.kappa < 0:
        raise UsageError(f"--kappa {cfg.kappa}: must be ≥ 0 (0 trains the encoder on the image residual alone)")
    if cfg.blur < 0:
        raise UsageError(f"--blur {cfg.blur}: must be ≥ 0 (0 = no blur)")
    if cfg.ink < 0:
        raise UsageError(f"--ink {cfg.ink}: must be ≥ 0 (0 = the plain residual, not divided by the ink)")
    if cfg.score not in SCORES:
        raise UsageError(f"--score {cfg.score}: unknown; choose one of {', '.join(SCORES)}")
    if cfg.max_test < 0 or 0 < cfg.max_test < MIN_TEST:
        raise UsageError(f"--max-test {cfg.max_test}: too small to hold both normal and anomalous images; use 0 "
                         f"(the whole test set) or at least {MIN_TEST}")


MIN_TEST = 50


# --------------------------------------------------------------------------------------------------- the score

def izi_f(x: torch.Tensor, E: nn.Module, G: nn.Module, features: nn.Module, kappa: float
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image: (A(x), image residual, feature residual, G(E(x))). Schlegl et al. 2019, eq. 5–7:
    A(x) = 1/n·‖x − G(E(x))‖² + κ·1/n_d·‖f(x) − f(G(E(x)))‖² — the encoder's training loss and the anomaly score
    are the same expression."""
    recon = G(E(x))  # (N, C, H, W) → (N, d) → (N, C, H, W)
    image = (x - recon).square().flatten(1).mean(1)  # (N,)
    feature = (features(x) - features(recon)).square().mean(1)  # (N, n_d) → (N,)
    return image + kappa * feature, image, feature, recon


def ink(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [−1, 1] → (N,): the mean brightness in [0, 1] — on these black-background sets, how much is
    drawn."""
    return ((x + 1) / 2).flatten(1).mean(1)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, C, H, W) convolved with a normalised Gaussian of ``sigma`` pixels (radius ⌈3σ⌉, zero padding: applied to
    a residual, whose background is 0); σ = 0 returns x."""
    if not sigma:
        return x
    r = max(1, math.ceil(3 * sigma))
    g = torch.exp(-torch.arange(-r, r + 1, dtype=x.dtype, device=x.device).square() / (2 * sigma ** 2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :]).expand(x.shape[1], 1, 2 * r + 1, 2 * r + 1)  # one 2-D kernel per channel
    return nn.functional.conv2d(x, k, padding=r, groups=x.shape[1])


@torch.no_grad()
def score_images(images: torch.Tensor, E, G, features, cfg: Config, device, batch: int = 500
                 ) -> dict[str, np.ndarray]:
    """uint8 (N, C, H, W) → {"score", "image", "feature"} arrays of length N (models in eval mode): the image
    residual (of x − G(E(x)) blurred by ``cfg.blur``, divided by the ink of x and G(E(x)) to the power
    ``cfg.ink``), the D-feature residual, and the score ranked by — image + κ · feature for ``cfg.score`` izi_f
    (with blur 0 and ink 0: the paper's A(x), eq. 7), the image residual for image."""
    from bertgan.data.images import to_unit

    parts: dict[str, list] = {"score": [], "image": [], "feature": []}
    for i in range(0, len(images), batch):
        x = to_unit(images[i:i + batch]).to(device)
        _, _, feature, recon = izi_f(x, E, G, features, cfg.kappa)
        image = gaussian_blur(x - recon, cfg.blur).square().flatten(1).mean(1)  # (N,); blur is linear: one pass
        if cfg.ink:
            image = image / ((ink(x) + ink(recon)) / 2).clamp_min(MIN_INK) ** cfg.ink
        score = image + cfg.kappa * feature if cfg.score == "izi_f" else image
        for k, v in zip(parts, (score, image, feature), strict=True):
            parts[k].append(v.float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


# --------------------------------------------------------------------------------------------------- data

def load_split(dataset: str, data_dir=None):
    """(train, test) ImageData at 28×28, one channel: MNIST / Fashion-MNIST's own splits, the digits' fixed 80/20."""
    from bertgan.data.images import ImageData, resize_images
    from bertgan.gan.evaluate import labelled_splits

    train, test = labelled_splits(dataset, data_dir)
    if train.images.shape[-1] != IMAGE_SHAPE[-1]:
        train, test = (ImageData(resize_images(d.images, IMAGE_SHAPE[-1]), d.labels, d.name, d.class_names)
                       for d in (train, test))
    return train, test


def test_subset(n: int, max_test: int, seed: int) -> torch.Tensor:
    """Indices of the test images to score: all, or a seeded random subset of ``max_test``."""
    if not max_test or max_test >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:max_test].sort().values


def check_both_classes(labels: torch.Tensor, classes: list[int], max_test: int) -> None:
    """AUROC needs normal and anomalous test images for every normal class."""
    for c in classes:
        held = int((labels == c).sum())
        if held == 0 or held == len(labels):
            raise UsageError(f"--max-test {max_test}: the {len(labels)} test images hold "
                             f"{'no' if held == 0 else 'only'} class-{c} images; AUROC needs both normal and "
                             "anomalous ones — raise --max-test (0 = the whole test set)")


# --------------------------------------------------------------------------------------------------- training

def _batch(images: torch.Tensor, idx: torch.Tensor, device) -> torch.Tensor:
    from bertgan.data.images import to_unit

    return to_unit(images[idx]).to(device)


def _draw(n: int, batch: int, gen: torch.Generator):
    """An endless stream of shuffled index batches (a new permutation every epoch)."""
    while True:
        order = torch.randperm(n, generator=gen)
        for i in range(0, n - batch + 1, batch):
            yield order[i:i + batch]


def train_gan(cfg: Config, normal: torch.Tensor, device, gen: torch.Generator, progress: bool = False):
    """Stage 1: G and D on the normal images only. Returns (G, D, the last losses)."""
    from tqdm import tqdm

    from bertgan.gan.losses import LOSSES as GAN_LOSSES
    from bertgan.gan.models import build_gan, sample_prior
    from bertgan.gan.regularizers import gradient_penalty, interpolates

    wasserstein = cfg.loss == "wasserstein"
    # WGAN-GP's critic has no BatchNorm (the penalty acts per sample; Gulrajani et al. 2017, §4).
    G, D = build_gan("dcgan", cfg.latent_dim, IMAGE_SHAPE, cfg.width, d_batchnorm=not wasserstein)
    G, D = G.to(device), D.to(device)
    # Adam β = (0.5, 0.999) for DCGAN (Radford et al. 2015), (0, 0.9) for WGAN-GP (Gulrajani et al. 2017).
    betas = (0.0, 0.9) if wasserstein else (0.5, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), cfg.lr, betas=betas)
    d_loss_fn, g_loss_fn = GAN_LOSSES[cfg.loss]
    stream = _draw(len(normal), min(cfg.batch_size, len(normal)), gen)
    last = {}
    guard = NonFiniteGuard(device, "fp32", f"--lr {cfg.lr}")
    for step in tqdm(range(cfg.gan_steps), desc="GAN", disable=not progress, leave=False):
        for _ in range(cfg.d_steps):
            real = _batch(normal, next(stream), device)
            with torch.no_grad():
                fake = G(sample_prior(len(real), cfg.latent_dim, "uniform", generator=gen).to(device))
            loss_d = d_loss_fn(D(real), D(fake))
            if wasserstein:
                x_hat = interpolates(real, fake, generator=gen if device.type == "cpu" else None)
                loss_d = loss_d + gradient_penalty(D(x_hat), x_hat, 10.0)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        z = sample_prior(cfg.batch_size, cfg.latent_dim, "uniform", generator=gen).to(device)
        loss_g = g_loss_fn(D(G(z)))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        last = {"loss_d": loss_d.detach().item(), "loss_g": loss_g.detach().item()}
        guard.observe(step + 1, loss_d, loss_g)
        guard.check(None, "the GAN")  # the losses are read every step anyway: no extra sync
    return G.eval().requires_grad_(False), D.eval().requires_grad_(False), last


def train_encoder(cfg: Config, normal: torch.Tensor, G, D, device, gen: torch.Generator, progress: bool = False):
    """Stage 2 (izi_f): E learns G(E(x)) ≈ x on normal images with G and D frozen. Returns (E, the last loss)."""
    from tqdm import tqdm

    from bertgan.gan.encoders import build_encoder

    E = build_encoder("dcgan", cfg.latent_dim, IMAGE_SHAPE, cfg.width).to(device)
    opt = torch.optim.Adam(E.parameters(), cfg.lr, betas=(0.5, 0.999))
    stream = _draw(len(normal), min(cfg.batch_size, len(normal)), gen)
    loss = torch.tensor(float("nan"))
    guard = NonFiniteGuard(device, "fp32", f"--lr {cfg.lr}")
    for step in tqdm(range(cfg.encoder_steps), desc="encoder", disable=not progress, leave=False):
        x = _batch(normal, next(stream), device)
        loss = izi_f(x, E, G, D.trunk, cfg.kappa)[0].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        guard.observe(step + 1, loss)
    guard.check(None, "the encoder")
    return E.eval(), loss.detach().item()


def run_class(cfg: Config, c: int, train, test, idx: torch.Tensor, device, progress: bool, log, n_show: int = 2
              ) -> dict:
    """Train on class ``c`` of ``train``, score ``test[idx]``; the AUROC figures and what the pictures need."""
    from bertgan.gan.models import sample_prior
    from bertgan.metrics.classification import auroc

    t0 = time.process_time()
    gen = seed_everything(cfg.seed)  # the same start for every class: one digit alone reproduces the protocol's
    normal = train.images[train.labels == c]
    G, D, gan_losses = train_gan(cfg, normal, device, gen, progress)
    E, enc_loss = train_encoder(cfg, normal, G, D, device, gen, progress)
    images, labels = test.images[idx], test.labels[idx]
    scores = score_images(images, E, G, D.trunk, cfg, device)
    anomalous = (labels != c).numpy()  # anomalies are the positives
    figures = {k: 100 * auroc(anomalous, v) for k, v in scores.items()}
    with torch.no_grad():
        samples = G(sample_prior(10, cfg.latent_dim, "uniform", generator=gen).to(device)).cpu()
        # n_show normal and n_show anomalous test images: the first ones in the scored order
        pick = {"normal": np.flatnonzero(~anomalous)[:n_show], "anomalous": np.flatnonzero(anomalous)[:n_show]}
        recon = {k: (images[v], G(E(_batch(images, torch.as_tensor(v), device))).cpu()) for k, v in pick.items()}
    cpu = time.process_time() - t0
    log(f"class {c}: AUROC {figures['score']:.1f} (image residual {figures['image']:.1f}, feature residual "
        f"{figures['feature']:.1f}); {len(normal)} training images, {cpu:.0f} CPU-s")
    return {"auroc": figures, "n_train": len(normal), "n_normal": int((~anomalous).sum()),
            "n_anomalous": int(anomalous.sum()), "gan": gan_losses, "encoder_loss": enc_loss,
            "cpu_seconds": round(cpu, 1), "_scores": scores["score"], "_anomalous": anomalous,
            "_samples": samples, "_recon": recon}


def run(cfg: Config, out: Path, *, data_dir=None, progress: bool = True, log=print) -> dict:
    from bertgan.data.images import to_unit
    from bertgan.train.runtime import pick_device

    device = pick_device(cfg.device)
    train, test = load_split(cfg.dataset, data_dir)
    idx = test_subset(len(test), cfg.max_test, cfg.seed)
    classes = list(range(N_CLASSES)) if cfg.normal_class == -1 else [cfg.normal_class]
    check_both_classes(test.labels[idx], classes, cfg.max_test)
    per = {}
    for c in classes:
        per[c] = run_class(cfg, c, train, test, idx, device, progress, log, n_show=max(2, 16 // len(classes)))
    plot_histograms(out / "scores_hist.png", per, cfg.dataset)
    recon_rows: dict[str, list] = {"normal x": [], "normal G(E(x))": [], "anomalous x": [],
                                   "anomalous G(E(x))": []}
    for r in per.values():
        for kind, (x, y) in r["_recon"].items():
            recon_rows[f"{kind} x"].append(to_unit(x))
            recon_rows[f"{kind} G(E(x))"].append(y)
    save_rows(out / "reconstructions.png", {k: torch.cat(v) for k, v in recon_rows.items()},
              title=f"test images and G(E(x)), by the model of normal class {', '.join(map(str, classes))}")
    save_rows(out / "samples.png", {f"G of class {c}": r["_samples"] for c, r in per.items()},
              title="G(z), z ~ U(−1, 1): what each GAN learned of its normal class")
    by = lambda k: {str(c): round(r["auroc"][k], 2) for c, r in per.items()}  # noqa: E731
    mean = lambda k: round(float(np.mean([r["auroc"][k] for r in per.values()])), 2)  # noqa: E731
    return {
        "method": "f-AnoGAN, izi_f encoder (Schlegl et al. 2019)",
        "score": score_name(cfg),
        "dataset": cfg.dataset, "normal_classes": classes,
        "auroc": by("score"), "mean_auroc": mean("score"),
        "auroc_image_residual": by("image"), "auroc_feature_residual": by("feature"),
        "mean_auroc_image_residual": mean("image"), "mean_auroc_feature_residual": mean("feature"),
        "anchors_mean_auroc": ANCHORS if cfg.dataset == "mnist" else {},
        "per_class": {str(c): {k: v for k, v in r.items() if not k.startswith("_")} for c, r in per.items()},
        "n_test": len(idx),
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in per.values()), 1),
        "pictures": ["scores_hist.png", "reconstructions.png", "samples.png"],
    }


def score_name(cfg: Config) -> str:
    how = ([f"blurred, σ {cfg.blur:g}"] if cfg.blur else []) + ([f"÷ ink^{cfg.ink:g}"] if cfg.ink else [])
    image = "image residual" + (f" ({', '.join(how)})" if how else "")
    return f"A(x) = {image} + {cfg.kappa:g} · D-feature residual" if cfg.score == "izi_f" else image


def plot_histograms(path: Path, per: dict, dataset: str) -> Path:
    """Small multiples: one panel per normal class, the score distributions of its normal and anomalous test
    images (log scale: the scores span decades), with the AUROC in the title."""
    from bertgan.report.plots import _plt, save_figure

    plt = _plt()
    n = len(per)
    cols = min(n, 5)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, (c, r) in zip(axes.flat, per.items()):
        s = np.log10(np.maximum(r["_scores"], 1e-12))
        bins = np.linspace(s.min(), s.max(), 40)
        ax.hist(s[~r["_anomalous"]], bins=bins, density=True, alpha=0.6, label=f"normal ({c})")
        ax.hist(s[r["_anomalous"]], bins=bins, density=True, alpha=0.6, label="anomalous (others)")
        ax.set_title(f"{dataset} class {c}: AUROC {r['auroc']['score']:.1f}", fontsize=9)
        ax.set_xlabel("log10 score", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return save_figure(plt, fig, path)


def format_result(result: dict) -> str:
    per = ", ".join(f"{c}: {v:.1f}" for c, v in result["auroc"].items())
    lines = [f"{result['method']} on {result['dataset']}, {result['n_test']} test images",
             f"AUROC (anomalies positive) per normal class — {per}",
             f"mean AUROC {result['mean_auroc']:.1f}, scored by {result['score']} (image residual alone "
             f"{result['mean_auroc_image_residual']:.1f}, D-feature residual alone "
             f"{result['mean_auroc_feature_residual']:.1f})"]
    if result.get("anchors_mean_auroc") and len(result["auroc"]) == N_CLASSES:
        lines.append("published means: " + ", ".join(f"{k} {v}" for k, v in result["anchors_mean_auroc"].items()))
    return "\n".join(lines)

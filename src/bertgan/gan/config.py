"""GAN configuration: one dataclass, one preset table.

Resolution order: the dataclass defaults < the preset (``--preset``) < flags given on the command line. The
resolved config is written as ``config.json`` beside every checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bertgan.errors import UsageError

ARCHS = ("mlp", "dcgan", "cnn", "tf-dcgan", "toy")
PRIORS = ("normal", "uniform")
PRECISIONS = ("auto", "fp32", "bf16")
LOSS_NAMES = ("minimax", "nonsaturating", "least-squares", "hinge", "wasserstein")
"""The names of ``losses.LOSSES`` (listed here too, so the command line's help needs no torch import)."""


@dataclass
class GANConfig:
    # data
    dataset: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None  # None: the dataset's own size if the architecture allows it
    channels: int | None = None  # None: the dataset's own channel count
    # models — seed 001: Z ∈ R^d, X ∈ R^D, d ≪ D
    arch: str = "dcgan"
    latent_dim: int = 100
    prior: str = "normal"  # z ~ N(0, I) or U(−1, 1)
    width: int = 64  # base channel count (dcgan) or hidden unit multiplier (mlp)
    # the game
    loss: str = "nonsaturating"
    d_steps: int = 1  # D updates per G update (Goodfellow et al. 2014, Algorithm 1: k)
    # stabilisers (gan/regularizers.py and the Discriminator wrapper in gan/models.py)
    r1: float = 0.0  # γ of the R1 penalty on real data (Mescheder et al. 2018); 0 = off
    gp: float = 0.0  # λ of the WGAN-GP gradient penalty (Gulrajani et al. 2017 use 10); 0 = off
    label_smoothing: float = 0.0  # one-sided: real targets 1 − this (Salimans et al. 2016 use 0.1)
    instance_noise: float = 0.0  # σ of Gaussian noise on D's inputs, annealed linearly to 0
    spectral_norm: bool = False  # on every layer of D (Miyato et al. 2018)
    mbstd: bool = False  # minibatch standard deviation feature in D (Karras et al. 2018)
    pack: int = 1  # PacGAN: D judges this many samples at once (Lin et al. 2018)
    ema: float = 0.0  # decay of the moving average of G's weights used for samples (0 = off; 0.999 typical)
    conditional: bool = False  # class-conditional G, projection D (Miyato & Koyama 2018)
    # optimisation: Radford et al. 2015 (DCGAN) values by default; lr_g ≠ lr_d is TTUR (Heusel et al. 2017)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    # The last fraction of the run over which both learning rates fall linearly to 0: 1 = the whole run (Miyato et
    # al. 2018's schedule), 0 = constant (Goodfellow et al. 2014; PacGAN).
    lr_decay: float = 0.0
    beta1: float = 0.5
    beta2: float = 0.999
    adam_eps: float = 1e-8
    batch_size: int = 128
    epochs: int = 20
    max_steps: int | None = None
    # runtime
    seed: int = 0
    precision: str = "auto"  # auto: bf16 where the device has fast bf16 units, else fp32
    device: str = "auto"
    log_every: int = 10  # steps between metrics.jsonl rows
    checkpoint_every: int = 500  # steps between checkpoints (also at every epoch end and on Ctrl-C)
    preset: str | None = None

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> GANConfig:
        from bertgan.checks import from_dict

        if isinstance(d, dict) and isinstance(d.get("lr_decay"), bool):  # run folders written when it was on/off
            d = {**d, "lr_decay": float(d["lr_decay"])}
        return from_dict(cls, d, source)


# PacGAN's 2-D setting, which every 2-D preset keeps: their networks, z ∈ R², Adam β1 = 0.8, batch 100, fp32 — as
# their code; bf16 spaces numbers in [2, 4) 0.0156 apart, a third of the grid's σ and most of the ring's, and at
# 400 units it is no faster on a CPU with bf16 units (2,307 vs 2,146 points/s over 600 steps).
_PACGAN_2D = dict(arch="toy", latent_dim=2, beta1=0.8, batch_size=100, precision="fp32")
# The 2-D mixtures as PacGAN's released code trains them for Table 1: z ∈ R², Adam 1e-4 with β1 = 0.8, batch 100,
# 400 epochs of 100,000 points (400k steps; their "PacGAN4" adds --pack 4).
_PACGAN_TABLE1 = dict(_PACGAN_2D, dataset="grid-25", loss="nonsaturating", lr_g=1e-4, lr_d=1e-4, epochs=400)

# One table. Each entry is a full recipe for one architecture as its source publishes it.
PRESETS: dict[str, dict] = {
    # The TensorFlow DCGAN tutorial (tensorflow.org/tutorials/generative/dcgan), which the lecture's code follows:
    # Keras defaults (LeakyReLU α = 0.3, BatchNorm momentum 0.99 / ε 1e-3, Adam ε 1e-7; init: see models.py),
    # Adam 1e-4 for both nets, batch 256, 50 epochs, BinaryCrossentropy(from_logits) with G trained on "ones",
    # i.e. the non-saturating generator loss.
    "tf-dcgan": dict(arch="tf-dcgan", image_size=28, channels=1, latent_dim=100, loss="nonsaturating",
                     lr_g=1e-4, lr_d=1e-4, beta1=0.9, beta2=0.999, adam_eps=1e-7, batch_size=256, epochs=50),
    # Radford, Metz & Chintala 2015: Adam 2e-4, β1 = 0.5, batch 128, N(0, 0.02) init.
    "dcgan": dict(arch="dcgan", latent_dim=100, loss="nonsaturating", lr_g=2e-4, lr_d=2e-4, beta1=0.5,
                  batch_size=128, width=64, epochs=25),
    # Goodfellow et al. 2014 style fully connected nets (maxout replaced by LeakyReLU), same optimiser.
    "mlp": dict(arch="mlp", latent_dim=100, loss="nonsaturating", lr_g=2e-4, lr_d=2e-4, beta1=0.5,
                batch_size=128, width=64, epochs=50),
    # Gulrajani et al. 2017, Algorithm 1 defaults: λ = 10, n_critic = 5, Adam 1e-4, β = (0, 0.9); no BatchNorm in
    # the critic (the penalty is per sample).
    "wgan-gp": dict(arch="dcgan", loss="wasserstein", gp=10.0, d_steps=5, lr_g=1e-4, lr_d=1e-4, beta1=0.0,
                    beta2=0.9, batch_size=64, epochs=25),
    # Miyato et al. 2018 (SN-GAN), their standard-CNN setting with the hinge loss: Adam 2e-4, β = (0.5, 0.999),
    # n_dis = 1, batch 64.
    "sngan": dict(arch="dcgan", loss="hinge", spectral_norm=True, lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999,
                  batch_size=64, epochs=25),
    # Full-length recipes for the 28×28 sets (docs/models/gan-mnist.md): Miyato et al. 2018's standard CNN with
    # spectral norm and the hinge loss (their setting C: Adam 2e-4, β = (0.5, 0.999), one D step), an EMA of G's
    # weights and a learning rate falling linearly to 0 over 8,000 steps (8.5 epochs), the length of the shipped
    # generators: 85 images/s on one thread of a 2-core EPYC with bf16 units (1.7 h), 49 images/s where fp32 is
    # the choice (AVX2 only: 2.9 h) — inside the 3 CPU-hours a recipe may take.
    "mnist": dict(arch="cnn", dataset="mnist", width=64, loss="hinge", spectral_norm=True, lr_g=2e-4, lr_d=2e-4,
                  beta1=0.5, beta2=0.999, batch_size=64, ema=0.999, lr_decay=1.0, max_steps=8_000,
                  checkpoint_every=500),
    "fashion-mnist": dict(arch="cnn", dataset="fashion-mnist", width=64, loss="hinge", spectral_norm=True,
                          lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, batch_size=64, ema=0.999, lr_decay=1.0,
                          max_steps=8_000, checkpoint_every=500),
    # Stacked MNIST (1,000 modes): of four recipes on Radford et al.'s DCGAN at width 32, 10,000 steps of 64 each
    # (non-saturating, + EMA, + PacGAN2, hinge + spectral norm; docs/gan.md), the hinge loss with spectral norm on
    # D covered the most modes; 20,000 steps cover all 1,000 and cut KL by two thirds, 60,000 (64 epochs, ≈ 37
    # minutes on one thread with bf16 units) cut it by a third again.
    "stacked-mnist": dict(arch="dcgan", dataset="stacked-mnist", width=32, loss="hinge", spectral_norm=True,
                          lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, batch_size=64, lr_decay=1.0,
                          max_steps=60_000, checkpoint_every=2_000),
    # The embedded 8×8 digits (what `bertgan demo` trains): a small fully connected GAN that draws recognisable
    # digits in well under a minute on two CPU cores.
    "digits": dict(arch="mlp", dataset="digits", width=16, batch_size=64, epochs=150, lr_g=1e-3, lr_d=1e-3,
                   loss="nonsaturating", beta1=0.5),
    "toy": _PACGAN_TABLE1,
    # Full-length recipes for the 2-D sets, chosen over seeds (docs/gan.md). grid-25: PacGAN4's setting above run
    # to its full length, then 100,000 more steps with both learning rates falling linearly to 0 — at a constant
    # rate G keeps drawing lines between modes, and the late small steps pull its samples onto them (three seeds:
    # 25/25 modes each, 88.5% of the samples on a mode at step 400,000, 95.4% at the end; seed 0 after a
    # 40,000-step fall instead: 95.1%). 2.2–2.6 hours a run on one thread of a 2-core EPYC. The 30,000-step minimax
    # game annealed from 5e-4 that this preset was before kept 22.7 of the 25 modes and 55% of the samples on them
    # (it is the collapse demo's game).
    "grid-25": dict(_PACGAN_TABLE1, pack=4, epochs=500, lr_decay=0.2, checkpoint_every=5_000),
    # ring-8: the minimax game collapses (D wins at once and log(1 − D(G(z))) saturates, Goodfellow et al. 2014 §3),
    # so the non-saturating G loss, and PacGAN4 (D judges 4 samples at once, Lin et al. 2018): with Adam 5e-4
    # falling linearly to 0 over 30,000 steps, over three seeds 7.7 of the 8 modes with it, 6.7 without (one seed
    # kept 4). 100,000 steps (≈ 27 CPU-minutes): the same three seeds keep 7.7 modes and put 98.3% of the samples
    # on a mode, against 95.8% at 30,000.
    "ring-8": dict(_PACGAN_2D, dataset="ring-8", loss="nonsaturating", pack=4, lr_g=5e-4, lr_d=5e-4, lr_decay=1.0,
                   max_steps=100_000, checkpoint_every=5_000),
}


def resolve(preset: str | None = None, **overrides) -> GANConfig:
    """Defaults < preset < overrides (None values in overrides mean "not given")."""
    values: dict = {}
    if preset is not None:
        if preset not in PRESETS:
            raise UsageError(f"--preset {preset}: unknown preset; choose one of {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
        values["preset"] = preset
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = GANConfig.from_dict(values, "config")
    validate(cfg)
    return cfg


def validate(cfg: GANConfig) -> None:
    from bertgan.data.images import check_dataset_name

    check_dataset_name(cfg.dataset)
    if cfg.arch not in ARCHS:
        raise UsageError(f"--arch {cfg.arch}: unknown architecture; choose one of {', '.join(ARCHS)}")
    from bertgan.gan.losses import LOGIT_LOSSES, LOSSES

    if cfg.loss not in LOSSES:
        raise UsageError(f"--loss {cfg.loss}: unknown loss; choose one of {', '.join(LOSSES)}")
    if cfg.prior not in PRIORS:
        raise UsageError(f"--prior {cfg.prior}: unknown prior; choose one of {', '.join(PRIORS)}")
    if cfg.precision not in PRECISIONS:
        raise UsageError(f"--precision {cfg.precision}: unknown precision; choose one of {', '.join(PRECISIONS)}")
    checks = [("--latent-dim", cfg.latent_dim), ("--batch-size", cfg.batch_size), ("--d-steps", cfg.d_steps),
              ("--width", cfg.width), ("--log-every", cfg.log_every), ("--checkpoint-every", cfg.checkpoint_every),
              ("--pack", cfg.pack)]
    for flag, value in checks:
        if value <= 0:
            raise UsageError(f"{flag} {value}: must be a positive integer")
    if cfg.epochs < 0:
        raise UsageError(f"--epochs {cfg.epochs}: must not be negative")
    if cfg.max_steps is not None and cfg.max_steps <= 0:
        raise UsageError(f"--max-steps {cfg.max_steps}: must be a positive number of steps")
    from bertgan.checks import check_lr, check_seed, check_weight

    check_lr(cfg.lr_g, "--lr-g")
    check_lr(cfg.lr_d, "--lr-d")
    check_seed(cfg.seed)
    for flag, value in (("--r1", cfg.r1), ("--gp", cfg.gp), ("--instance-noise", cfg.instance_noise)):
        check_weight(value, flag)
    if not 0 <= cfg.label_smoothing < 0.5:
        raise UsageError(f"--label-smoothing {cfg.label_smoothing}: use a value in [0, 0.5); 0.1 is usual")
    if cfg.label_smoothing and cfg.loss not in LOGIT_LOSSES:
        raise UsageError(f"--label-smoothing: applies to the cross-entropy losses ({', '.join(LOGIT_LOSSES)}), "
                         f"not to --loss {cfg.loss}")
    if not 0 <= cfg.lr_decay <= 1:
        raise UsageError(f"--lr-decay {cfg.lr_decay}: the fraction of the run over which the learning rates fall "
                         "to 0 must be in [0, 1]; 1 is the whole run, 0 keeps them constant")
    if not 0 <= cfg.ema < 1:
        raise UsageError(f"--ema {cfg.ema}: the decay must be in [0, 1); 0.999 is usual, 0 turns it off")
    if cfg.batch_size % cfg.pack:
        raise UsageError(f"--pack {cfg.pack}: --batch-size {cfg.batch_size} must be a multiple of it")
    if cfg.pack > 1 and cfg.conditional:
        raise UsageError("--pack with --conditional: a packed D sees several samples at once and cannot project "
                         "one class; use one of them")
    from bertgan.data.images import POINT_DATASETS

    if (cfg.arch == "toy") != (cfg.dataset in POINT_DATASETS):
        raise UsageError(f"--arch {cfg.arch} with --dataset {cfg.dataset}: the 2-D point sets "
                         f"({', '.join(POINT_DATASETS)}) train with --arch toy (or --preset toy), and only they do")
    if cfg.conditional and cfg.dataset.startswith("folder:"):
        raise UsageError("--conditional needs class labels; image folders have none (use mnist, fashion-mnist, "
                         "digits, stacked-mnist)")
    if cfg.arch == "toy":
        return
    if cfg.channels is not None and cfg.channels not in (1, 3):
        raise UsageError(f"--channels {cfg.channels}: use 1 (grayscale) or 3 (RGB)")
    if cfg.image_size is not None and cfg.image_size <= 0:
        raise UsageError(f"--image-size {cfg.image_size}: must be a positive integer")
    if cfg.arch in ("dcgan", "cnn") and cfg.image_size is not None and cfg.image_size not in (28, 32, 64):
        raise UsageError(f"--image-size {cfg.image_size}: the {cfg.arch} architecture builds 28, 32 or 64 pixels")
    if cfg.arch == "tf-dcgan" and ((cfg.image_size or 28) != 28 or (cfg.channels or 1) != 1):
        raise UsageError("--arch tf-dcgan: the tutorial model is fixed at 28×28×1; use --arch dcgan for other "
                         "sizes or colour")


def resolve_shape(cfg: GANConfig) -> GANConfig:
    """Fill image_size and channels from the dataset where not given, within what the architecture builds."""
    from bertgan.data.images import native_shape

    native = native_shape(cfg.dataset)
    if cfg.arch == "toy":
        return dataclasses.replace(cfg, image_size=None, channels=native[0])
    channels = cfg.channels or (native[0] if native else None)
    size = cfg.image_size
    if size is None:
        if cfg.arch == "tf-dcgan":
            size = 28
        elif cfg.arch in ("dcgan", "cnn"):
            size = native[1] if native and native[1] in (28, 32, 64) else 32
        else:
            size = native[1] if native else 32
    if cfg.arch == "tf-dcgan":
        channels = 1
    return dataclasses.replace(cfg, image_size=size, channels=channels)

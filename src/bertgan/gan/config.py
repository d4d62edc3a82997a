"""GAN configuration: one dataclass, one preset table.

Resolution order: the dataclass defaults < the preset (``--preset``) < flags given on the command line. The
resolved config is written as ``config.json`` beside every checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bertgan.errors import UsageError

ARCHS = ("mlp", "dcgan", "tf-dcgan")
PRIORS = ("normal", "uniform")
PRECISIONS = ("auto", "fp32", "bf16")


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
    # optimisation: Radford et al. 2015 (DCGAN) values by default
    lr_g: float = 2e-4
    lr_d: float = 2e-4
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
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise UsageError(f"{source}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**d)


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
    from bertgan.gan.losses import LOSSES

    if cfg.loss not in LOSSES:
        raise UsageError(f"--loss {cfg.loss}: unknown loss; choose one of {', '.join(LOSSES)}")
    if cfg.prior not in PRIORS:
        raise UsageError(f"--prior {cfg.prior}: unknown prior; choose one of {', '.join(PRIORS)}")
    if cfg.precision not in PRECISIONS:
        raise UsageError(f"--precision {cfg.precision}: unknown precision; choose one of {', '.join(PRECISIONS)}")
    checks = [("--latent-dim", cfg.latent_dim), ("--batch-size", cfg.batch_size), ("--d-steps", cfg.d_steps),
              ("--width", cfg.width), ("--log-every", cfg.log_every), ("--checkpoint-every", cfg.checkpoint_every)]
    for flag, value in checks:
        if value <= 0:
            raise UsageError(f"{flag} {value}: must be a positive integer")
    if cfg.epochs < 0 or (cfg.max_steps is not None and cfg.max_steps < 0):
        raise UsageError("--epochs/--max-steps: must not be negative")
    for flag, value in (("--lr-g", cfg.lr_g), ("--lr-d", cfg.lr_d)):
        if not value > 0:
            raise UsageError(f"{flag} {value}: the learning rate must be positive")
    if cfg.channels is not None and cfg.channels not in (1, 3):
        raise UsageError(f"--channels {cfg.channels}: use 1 (grayscale) or 3 (RGB)")
    if cfg.image_size is not None and cfg.image_size <= 0:
        raise UsageError(f"--image-size {cfg.image_size}: must be a positive integer")
    if cfg.arch == "dcgan" and cfg.image_size is not None and cfg.image_size not in (28, 32, 64):
        raise UsageError(f"--image-size {cfg.image_size}: the dcgan architecture builds 28, 32 or 64 pixels")
    if cfg.arch == "tf-dcgan" and ((cfg.image_size or 28) != 28 or (cfg.channels or 1) != 1):
        raise UsageError("--arch tf-dcgan: the tutorial model is fixed at 28×28×1; use --arch dcgan for other "
                         "sizes or colour")


def resolve_shape(cfg: GANConfig) -> GANConfig:
    """Fill image_size and channels from the dataset where not given, within what the architecture builds."""
    from bertgan.data.images import native_shape

    native = native_shape(cfg.dataset)
    channels = cfg.channels or (native[0] if native else None)
    size = cfg.image_size
    if size is None:
        if cfg.arch == "tf-dcgan":
            size = 28
        elif cfg.arch == "dcgan":
            size = native[1] if native and native[1] in (28, 32, 64) else 32
        else:
            size = native[1] if native else 32
    if cfg.arch == "tf-dcgan":
        channels = 1
    return dataclasses.replace(cfg, image_size=size, channels=channels)

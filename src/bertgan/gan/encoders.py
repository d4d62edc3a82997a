"""Encoders E(x) → z: the inverse map of a trained generator, for GAN-based anomaly detection (apps/anomaly.py).

f-AnoGAN (Schlegl et al. 2019, §2.3) adds to a trained WGAN an encoder "of the same architecture as the critic"
whose last layer outputs a latent vector instead of a realness score, squashed by tanh into the prior's support
[−1, 1] (their z ~ U(−1, 1)). G and D stay fixed while E learns, so E can only map an image to a point whose
G(z) looks like the *normal* data: an anomaly is mapped to the nearest normal-looking image and leaves a large
residual. Models hold no training code.
"""

from __future__ import annotations

import torch
from torch import nn

from bertgan.gan.models import DCGANDiscriminator, MLPDiscriminator, _dcgan_init


class Encoder(nn.Module):
    """E(x) = tanh(W·φ(x) + b): a discriminator trunk φ (the critic's architecture, as in f-AnoGAN) and a linear
    map to the latent space. ``squash=False`` leaves z unbounded (for a N(0, I) prior)."""

    def __init__(self, trunk: nn.Module, latent_dim: int, squash: bool = True):
        super().__init__()
        self.trunk = trunk
        self.to_latent = nn.Linear(trunk.features, latent_dim)
        self.squash = squash

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.to_latent(self.trunk(x))  # (N, C, H, W) → (N, F) → (N, d)
        return torch.tanh(z) if self.squash else z


def build_encoder(arch: str, latent_dim: int, image_shape: tuple[int, int, int], width: int = 64, *,
                  batchnorm: bool = True, squash: bool = True) -> Encoder:
    """E for a ``build_gan`` architecture: ``dcgan`` (strided convolutions, 28/32/64 px) or ``mlp``."""
    if arch == "dcgan":
        E = Encoder(DCGANDiscriminator(image_shape, width, batchnorm), latent_dim, squash)
        E.to_latent.apply(_dcgan_init)
        return E
    if arch == "mlp":
        return Encoder(MLPDiscriminator(image_shape, width, dropout=0.0), latent_dim, squash)
    raise ValueError(f"no encoder for architecture {arch!r}; use dcgan or mlp")

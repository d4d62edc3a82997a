"""Generator G(z; θ) and discriminator D(x; η) — seed 001, §02–03.

G maps a latent z ∈ R^d (d ≪ D) to an image x ∈ R^D in [−1, 1] (tanh). D maps an image to one *logit*;
D(x; η) = sigmoid(logit) ∈ (0, 1) and the seed's rule judges x real when D(x; η) ≥ 0.5 (see losses.py).
Models hold no training code.

Architectures (``build_gan``):
  mlp       fully connected, in the style of Goodfellow et al. 2014 (their maxout units → LeakyReLU).
  dcgan     Radford et al. 2015: strided (transposed) convolutions, BatchNorm, ReLU in G, LeakyReLU(0.2) in D;
            28×28, 32×32 or 64×64, 1 or 3 channels.
  tf-dcgan  the TensorFlow DCGAN tutorial model that the lecture's code follows, layer for layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bertgan.ops import Dropout


def sample_prior(n: int, latent_dim: int, prior: str = "normal", device=None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """z ~ N(0, I) or U(−1, 1) — the seed allows either ("균일 분포 혹은 표준 정규 분포")."""
    if prior == "normal":
        return torch.randn(n, latent_dim, device=device, generator=generator)
    if prior == "uniform":
        return torch.rand(n, latent_dim, device=device, generator=generator).mul_(2).sub_(1)
    raise ValueError(f"unknown prior {prior!r}")


# ----------------------------------------------------------------------------------------------------- MLP

class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        self.image_shape = image_shape
        dims = [latent_dim, 4 * width, 8 * width, 16 * width]
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        layers += [nn.Linear(dims[-1], math.prod(image_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.image_shape)  # (N, d) → (N, C, H, W)


class MLPDiscriminator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], width: int = 64, dropout: float = 0.3):
        super().__init__()
        dims = [math.prod(image_shape), 16 * width, 8 * width, 4 * width]
        layers: list[nn.Module] = [nn.Flatten()]  # (N, C, H, W) → (N, D)
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2, inplace=True), Dropout(dropout)]
        layers += [nn.Linear(dims[-1], 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (N,) logits


# ----------------------------------------------------------------------------------------------------- DCGAN

def _dcgan_plan(size: int) -> tuple[int, int]:
    """(base spatial size, number of ×2 up-samplings) for 28 (7→14→28), 32 (4→…→32) and 64 (4→…→64)."""
    plans = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
    if size not in plans:
        raise ValueError(f"dcgan builds 28, 32 or 64 pixels, not {size}")
    return plans[size]


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        c, size, _ = image_shape
        base, n_up = _dcgan_plan(size)
        ch = width * 2 ** (n_up - 1)
        # Radford et al. project z with a "fully connected layer … reshaped into a 4-dimensional tensor".
        self.project = nn.Sequential(nn.Linear(latent_dim, ch * base * base, bias=False),
                                     nn.Unflatten(1, (ch, base, base)),  # (N, d) → (N, ch, base, base)
                                     nn.BatchNorm2d(ch), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        for i in range(n_up):
            last = i == n_up - 1
            out = c if last else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            ch = out
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z))


class DCGANDiscriminator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        c, size, _ = image_shape
        base, n_down = _dcgan_plan(size)
        layers: list[nn.Module] = []
        ch_in, ch = c, width
        for i in range(n_down):
            layers.append(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=i == 0))
            if i > 0:  # "not applying batchnorm to … the discriminator input layer"
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch_in, ch = ch, ch * 2
        layers += [nn.Flatten(), nn.Linear(ch_in * base * base, 1)]  # (N, ch, base, base) → (N, 1)
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def _dcgan_init(m: nn.Module) -> None:
    # Radford et al. 2015: "All weights were initialized from a zero-centered Normal distribution with standard
    # deviation 0.02."
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------------------------------- TF tutorial

# Keras defaults that the tutorial inherits: LeakyReLU negative slope 0.3; BatchNormalization momentum 0.99
# (PyTorch's momentum is 1 − that) and epsilon 1e-3. Weights keep PyTorch's default initialisation, not Keras'
# Glorot-uniform with zero biases: with Glorot, this alternating-update port stalled (measured on MNIST, batch
# 256: D(x) ≈ D(G(z)) ≈ 0.5 from step 50 on and only noise after 2 epochs), while PyTorch's default lets D lead
# early (loss_D 0.08 at step 150), the usual start of a GAN that learns.
_TF_SLOPE = 0.3
_TF_BN = dict(eps=1e-3, momentum=0.01)


class HWCToNCHW(nn.Module):
    """Keras' Reshape((h, w, c)) followed by the move to PyTorch's (N, C, H, W) axes: a view, no copy. Reading the
    Dense output in Keras' (h, w, c) order keeps the tutorial's weight layout, and the result is already
    channels_last in memory, the layout the transposed convolutions run fastest in on CPU."""

    def __init__(self, h: int, w: int, c: int):
        super().__init__()
        self.h, self.w, self.c = h, w, c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], self.h, self.w, self.c).permute(0, 3, 1, 2)  # (N, h·w·c) → (N, c, h, w)


class TFDCGANGenerator(nn.Module):
    """Dense 7·7·256 → BN → LeakyReLU → ConvT 128 (5×5, s1) → BN → LeakyReLU → ConvT 64 (5×5, s2) → BN →
    LeakyReLU → ConvT 1 (5×5, s2) → tanh, no biases. 'same' padding: k=5, s=2 → padding 2, output_padding 1."""

    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256, **_TF_BN),
            nn.LeakyReLU(_TF_SLOPE),
            HWCToNCHW(7, 7, 256),  # (N, 12544) → (N, 256, 7, 7); tutorial: Reshape((7, 7, 256))
            nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128, **_TF_BN),
            nn.LeakyReLU(_TF_SLOPE),
            nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), nn.BatchNorm2d(64, **_TF_BN),
            nn.LeakyReLU(_TF_SLOPE),
            nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (N, 100) → (N, 1, 28, 28)


class TFDCGANDiscriminator(nn.Module):
    """Conv 64 (5×5, s2) → LeakyReLU → Dropout 0.3 → Conv 128 (5×5, s2) → LeakyReLU → Dropout 0.3 → Dense 1."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(_TF_SLOPE), Dropout(0.3),
            nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(_TF_SLOPE), Dropout(0.3),
            nn.Flatten(), nn.Linear(7 * 7 * 128, 1),  # (N, 128, 7, 7) → (N, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


# ----------------------------------------------------------------------------------------------------- factory

def build_gan(arch: str, latent_dim: int, image_shape: tuple[int, int, int], width: int = 64
              ) -> tuple[nn.Module, nn.Module]:
    """(G, D) for an architecture name; image_shape is (C, H, W)."""
    if arch == "mlp":
        return MLPGenerator(latent_dim, image_shape, width), MLPDiscriminator(image_shape, width)
    if arch == "dcgan":
        return DCGANGenerator(latent_dim, image_shape, width), DCGANDiscriminator(image_shape, width)
    if arch == "tf-dcgan":
        if tuple(image_shape) != (1, 28, 28):
            raise ValueError("tf-dcgan is fixed at 1×28×28")
        return TFDCGANGenerator(latent_dim), TFDCGANDiscriminator()
    raise ValueError(f"unknown architecture {arch!r}")

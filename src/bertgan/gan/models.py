"""Generator G(z; θ) and discriminator D(x; η) — seed 001, §02–03.

G maps a latent z ∈ R^d (d ≪ D) to an image x ∈ R^D in [−1, 1] (tanh). D maps an image to one *logit*;
D(x; η) = sigmoid(logit) ∈ (0, 1) and the seed's rule judges x real when D(x; η) ≥ 0.5 (see losses.py).
Models hold no training code.

Architectures (``build_gan``):
  mlp       fully connected, in the style of Goodfellow et al. 2014 (their maxout units → LeakyReLU).
  dcgan     Radford et al. 2015: strided (transposed) convolutions, BatchNorm, ReLU in G, LeakyReLU(0.2) in D;
            28×28, 32×32 or 64×64, 1 or 3 channels.
  cnn       Miyato et al. 2018's "standard CNN" (SN-GAN): a deeper D of 3×3 and 4×4 convolutions without BatchNorm;
            28×28, 32×32 or 64×64.
  tf-dcgan  the TensorFlow DCGAN tutorial model that the lecture's code follows, layer for layer.
  toy       2-D points (the ring-8 / grid-25 collapse benchmarks): PacGAN's networks (their released code) — G
            four hidden layers of 400 ReLU units with BatchNorm and a linear output, D three maxout layers of 200
            units × 5 pieces, weights N(0, 0.02).

Every architecture's D is a *trunk* φ(x) ending in a flat feature vector, wrapped by ``Discriminator``, which adds
the stabilisers that change the architecture: PacGAN packing, minibatch standard deviation, the
projection head of a class-conditional D, spectral normalisation.
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
    """The trunk φ(x): (N, C, H, W) → (N, 4·width)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64, dropout: float = 0.3):
        super().__init__()
        dims = [math.prod(image_shape), 16 * width, 8 * width, 4 * width]
        layers: list[nn.Module] = [nn.Flatten()]  # (N, C, H, W) → (N, D)
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2, inplace=True), Dropout(dropout)]
        self.net = nn.Sequential(*layers)
        self.features = dims[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


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
    """The trunk φ(x): (N, C, H, W) → (N, ch·base²). ``batchnorm=False`` for the penalties and spectral
    normalisation, which act per sample (Miyato et al.'s SN-DCGAN and Gulrajani et al.'s critic have none)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64, batchnorm: bool = True):
        super().__init__()
        c, size, _ = image_shape
        base, n_down = _dcgan_plan(size)
        layers: list[nn.Module] = []
        ch_in, ch = c, width
        for i in range(n_down):
            norm = batchnorm and i > 0  # "not applying batchnorm to … the discriminator input layer"
            layers.append(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch_in, ch = ch, ch * 2
        layers.append(nn.Flatten())  # (N, ch, base, base) → (N, ch·base²)
        self.net = nn.Sequential(*layers)
        self.features = ch_in * base * base
        self.apply(_dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


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


# ----------------------------------------------------------------------------------------------------- SN-GAN CNN

class CNNGenerator(nn.Module):
    """The "standard CNN" generator of Miyato et al. 2018 (SN-GAN, Table 3a): z → dense to base×base×(width·2^k),
    then k deconvolutions 4×4 stride 2 halving the channels (BatchNorm, ReLU), then a 3×3 convolution to the image
    and tanh. For 32 px this is the paper's network (512 → 256 → 128 → 64 channels, width 64); 28 px starts at 7×7."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        c, size, _ = image_shape
        base, n_up = _dcgan_plan(size)
        ch = width * 2 ** n_up
        layers: list[nn.Module] = [nn.Linear(latent_dim, ch * base * base),
                                   nn.Unflatten(1, (ch, base, base)),  # (N, d) → (N, ch, base, base)
                                   nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
        for _ in range(n_up):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.BatchNorm2d(ch // 2), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.Conv2d(ch, c, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class CNNDiscriminator(nn.Module):
    """SN-GAN's standard CNN discriminator (Table 3b): a 3×3 convolution, then per halving a 4×4 stride-2 and a 3×3
    convolution doubling the channels, LeakyReLU(0.1), no BatchNorm (the spectral norm, or R1, acts per sample).
    The trunk φ(x): (N, C, H, W) → (N, width·2^k·base²)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        c, size, _ = image_shape
        base, n_down = _dcgan_plan(size)
        act = lambda: nn.LeakyReLU(0.1, inplace=True)
        ch = width
        layers: list[nn.Module] = [nn.Conv2d(c, ch, 3, 1, 1), act()]
        for _ in range(n_down):
            layers += [nn.Conv2d(ch, ch, 4, 2, 1), act(), nn.Conv2d(ch, ch * 2, 3, 1, 1), act()]
            ch *= 2
        layers.append(nn.Flatten())  # (N, ch, base, base) → (N, ch·base²)
        self.net = nn.Sequential(*layers)
        self.features = ch * base * base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


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
    """Conv 64 (5×5, s2) → LeakyReLU → Dropout 0.3 → Conv 128 (5×5, s2) → LeakyReLU → Dropout 0.3 → [Dense 1, the
    head in ``Discriminator``]."""

    def __init__(self, in_channels: int = 1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 64, 5, 2, 2), nn.LeakyReLU(_TF_SLOPE), Dropout(0.3),
            nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(_TF_SLOPE), Dropout(0.3),
            nn.Flatten(),  # (N, 128, 7, 7) → (N, 6272)
        )
        self.features = 7 * 7 * 128

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ----------------------------------------------------------------------------------------------------- 2-D toy

class Maxout(nn.Module):
    """Goodfellow et al. 2013: the max over ``pieces`` linear maps — the unit of the original GAN's D."""

    def __init__(self, d_in: int, d_out: int, pieces: int = 5):
        super().__init__()
        self.linear, self.d_out, self.pieces = nn.Linear(d_in, d_out * pieces), d_out, pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.d_out, self.pieces).amax(2)  # (N, out·k) → (N, out)


def _toy_init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):  # PacGAN's code: IsotropicGaussian(0.02), zero biases
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class ToyGenerator(nn.Module):
    def __init__(self, latent_dim: int, dim: int = 2, hidden: int = 400):
        super().__init__()
        layers: list[nn.Module] = []
        a = latent_dim
        for _ in range(4):
            layers += [nn.Linear(a, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            a = hidden
        layers.append(nn.Linear(a, dim))  # linear output: the grid spans ±4, beyond tanh's range
        self.net = nn.Sequential(*layers)
        self.apply(_toy_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (N, d) → (N, 2)


class ToyDiscriminator(nn.Module):
    def __init__(self, dim: int = 2, hidden: int = 200, pieces: int = 5):
        super().__init__()
        self.net = nn.Sequential(Maxout(dim, hidden, pieces), Maxout(hidden, hidden, pieces),
                                 Maxout(hidden, hidden, pieces))
        self.features = hidden
        self.apply(_toy_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ----------------------------------------------------------------------------------------------------- wrappers

class MinibatchStdDev(nn.Module):
    """Karras et al. 2018 (ProGAN, §3): the standard deviation of each feature over a group of samples, averaged
    into one number and appended to every sample's features. A collapsed G produces groups with near-zero spread,
    which D can then see — the statistic of the *batch* that a per-sample D otherwise cannot."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        n, f = h.shape
        g = math.gcd(self.group, n)
        std = h.float().view(g, n // g, f).var(0, unbiased=False).add(1e-8).sqrt()  # (n/g, f): over each group
        stat = std.mean(1, keepdim=True).repeat(g, 1).to(h.dtype)  # (n, 1), sample i in group i mod n/g
        return torch.cat([h, stat], 1)  # (N, F) → (N, F + 1)


class Discriminator(nn.Module):
    """D(x, y) = w·φ(x) + b  [+ ⟨embed(y), φ(x)⟩ for a class-conditional D].

    pack > 1 — PacGAN (Lin et al. 2018): D judges ``pack`` samples at once, concatenated along channels, all real
    or all generated. A collapsed G's packs hold near-copies, which real packs never do, so D can penalise the lack
    of diversity. The batch must be a multiple of ``pack``; the output has one logit per pack.
    n_classes > 0 — the projection discriminator (Miyato & Koyama 2018, eq. 3): the class enters as an inner
    product with the features, rather than concatenated to the input. cond_dim > 0 — the same for a continuous
    condition y (N, cond_dim): ⟨W y, φ(x)⟩.
    """

    def __init__(self, trunk: nn.Module, pack: int = 1, mbstd: bool = False, n_classes: int = 0,
                 cond_dim: int = 0):
        super().__init__()
        self.trunk, self.pack = trunk, pack
        self.mbstd = MinibatchStdDev() if mbstd else None
        features = trunk.features + (1 if mbstd else 0)
        self.head = nn.Linear(features, 1)
        # The condition's vector: a learned one per class, or a linear map of a continuous condition (a sentence
        # embedding, apps/text2image.py) — the same inner product with φ(x) either way.
        self.embed = (nn.Embedding(n_classes, features) if n_classes else
                      nn.Linear(cond_dim, features, bias=False) if cond_dim else None)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.pack > 1:
            n = x.shape[0]
            x = x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:])  # (N, C, …) → (N/p, p·C, …)
        h = self.trunk(x)  # (N, F)
        if self.mbstd is not None:
            h = self.mbstd(h)
        out = self.head(h).squeeze(1)  # (N,) logits
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional D needs the condition y")
            out = out + (self.embed(y) * h).sum(1)
        return out


class ConditionalGenerator(nn.Module):
    """G(z, y): the one-hot class appended to z (Mirza & Osindero 2014)."""

    def __init__(self, base: nn.Module, n_classes: int):
        super().__init__()
        self.base, self.n_classes = base, n_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        onehot = torch.nn.functional.one_hot(y, self.n_classes).to(z.dtype)
        return self.base(torch.cat([z, onehot], 1))  # (N, d + classes) → image


class TextConditionalGenerator(nn.Module):
    """G(z, φ(t)) of GAN-INT-CLS (Reed et al. 2016, §4.1): the sentence embedding φ(t) is compressed by a fully
    connected layer with leaky ReLU and appended to z."""

    def __init__(self, base: nn.Module, cond_dim: int, proj_dim: int = 128):
        super().__init__()
        self.base, self.cond_dim, self.proj_dim = base, cond_dim, proj_dim
        self.proj = nn.Sequential(nn.Linear(cond_dim, proj_dim), nn.LeakyReLU(0.2))

    def forward(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.base(torch.cat([z, self.proj(h.to(z.dtype))], 1))  # (N, d + proj) → image


# ----------------------------------------------------------------------------------------------------- factory

def build_gan(arch: str, latent_dim: int, image_shape: tuple[int, ...], width: int = 64, *, pack: int = 1,
              mbstd: bool = False, n_classes: int = 0, spectral_norm: bool = False, d_batchnorm: bool = True,
              cond_dim: int = 0, cond_proj: int = 128) -> tuple[nn.Module, Discriminator]:
    """(G, D) for an architecture name; image_shape is (C, H, W), or (2,) for the toy arch.

    spectral_norm: every weight of D divided by its largest singular value (Miyato et al. 2018), making each
    layer 1-Lipschitz; estimated by one power iteration per forward pass, as in the paper."""
    if n_classes and cond_dim:
        raise ValueError("condition on classes or on a vector, not both")
    g_in = latent_dim + n_classes + (cond_proj if cond_dim else 0)
    d_shape = (image_shape[0] * pack, *image_shape[1:])
    if arch == "mlp":
        G, trunk = MLPGenerator(g_in, image_shape, width), MLPDiscriminator(d_shape, width)
    elif arch == "dcgan":
        G, trunk = DCGANGenerator(g_in, image_shape, width), DCGANDiscriminator(d_shape, width, d_batchnorm)
    elif arch == "cnn":
        G, trunk = CNNGenerator(g_in, image_shape, width), CNNDiscriminator(d_shape, width)
    elif arch == "tf-dcgan":
        if tuple(image_shape) != (1, 28, 28):
            raise ValueError("tf-dcgan is fixed at 1×28×28")
        G, trunk = TFDCGANGenerator(g_in), TFDCGANDiscriminator(pack)
    elif arch == "toy":
        if len(image_shape) != 1:
            raise ValueError("the toy architecture generates points, shape (dim,)")
        G, trunk = ToyGenerator(g_in, image_shape[0]), ToyDiscriminator(d_shape[0])
    else:
        raise ValueError(f"unknown architecture {arch!r}")
    if n_classes:
        G = ConditionalGenerator(G, n_classes)
    elif cond_dim:
        G = TextConditionalGenerator(G, cond_dim, cond_proj)
    D = Discriminator(trunk, pack, mbstd, n_classes, cond_dim)
    if arch in ("dcgan", "toy"):
        D.head.apply(_dcgan_init if arch == "dcgan" else _toy_init)
    if spectral_norm:
        for m in list(D.modules()):
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.utils.parametrizations.spectral_norm(m)
    return G, D

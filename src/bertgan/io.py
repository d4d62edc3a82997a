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

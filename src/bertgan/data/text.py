"""Text corpora for BERT pre-training: documents made of sentences.

Two layouts (``read_documents``):
  text   google-research/bert's: one sentence per line, a blank line between documents. A line that holds a
         whole paragraph is split into sentences by ``split_sentences``.
  jsonl  one document per line, its text in a field (default ``text``), split into sentences.
NSP needs documents (B must come from the same one for IsNext); MLM needs sentences to pack.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from bertgan.errors import UsageError

# Sentence ends: . ! ? and their full-width forms, optionally followed by closing quotes/brackets, then space.
_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]」』]*\s+")
# Words after which a period does not end a sentence (English titles and Latin abbreviations).
_ABBREV = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "al", "fig", "no",
           "u.s", "u.k", "a.m", "p.m",
           "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}


def split_sentences(text: str) -> list[str]:
    """Rule-based splitting for Korean and English paragraphs: a sentence ends at . ! ? (or 。！？) followed by
    whitespace — Korean declaratives end in '다.', '요.', questions in '까?' — and at line breaks; not after a known
    abbreviation ("Dr. Kim"), a single capital initial ("J. Smith"), before a lower-case letter, or inside a number
    ("3.14" has no space)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        start = 0
        for m in _END.finditer(line):
            candidate = line[start:m.start()].rstrip()
            last_word = candidate.rsplit(None, 1)[-1] if candidate else ""
            stem = last_word.rstrip(".").lower()
            if candidate.endswith(".") and (stem in _ABBREV or re.fullmatch(r"[A-Z]", last_word.rstrip("."))):
                continue
            if line[m.end():m.end() + 1].islower():  # '"Really?" she asked' — English goes on in lower case
                continue
            out.append(line[start:m.end()].strip())
            start = m.end()
        tail = line[start:].strip()
        if tail:
            out.append(tail)
    return out


ENCODING_ERRORS = ("strict", "replace")
CORPUS_PATTERNS = ("*.txt", "*.txt.gz", "*.jsonl", "*.jsonl.gz")
"""What a folder given as a corpus contributes: its text and JSON-lines files, plain or gzip-compressed."""


def raw_lines(path: str | Path) -> Iterator[bytes]:
    """The lines of a file as bytes, streamed; a ``.gz`` file is decompressed on the fly (never unpacked to disk
    nor read whole). A damaged or truncated gzip stream is one error naming the file."""
    path = Path(path)
    if path.name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as f:
                yield from f
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
            raise UsageError(f"{path}: not a readable gzip file ({e}); download or copy it again, or pass the "
                             "uncompressed text") from None
        return
    with open(path, "rb") as f:
        yield from f


def corpus_files(files: str | Path | Iterable[str | Path], flag: str = "--corpus") -> list[Path]:
    """Files and folders → the corpus files: a folder stands for its ``.txt`` / ``.jsonl`` files (plain or
    ``.gz``) at any depth, sorted by path so the order — and the token cache built from it — is reproducible."""
    if isinstance(files, (str, Path)):
        files = [files]
    paths: list[Path] = []
    for f in files:
        p = Path(f)
        if p.is_dir():
            found = sorted({q for pattern in CORPUS_PATTERNS for q in p.rglob(pattern) if q.is_file()})
            if not found:
                raise UsageError(f"{flag} {p}: the folder holds no .txt, .txt.gz, .jsonl or .jsonl.gz files; pass "
                                 "the text files themselves")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise UsageError(f"{flag} {p}: no such file; pass UTF-8 text files (one sentence or document a line), "
                             "plain or .gz, or folders of them")
    if not paths:
        raise UsageError(f"{flag}: no files given; pass one or more UTF-8 text files")
    return paths


def _layout(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    return "jsonl" if name.endswith((".jsonl", ".json")) else "text"


def _lines(path: Path, errors: str = "strict") -> Iterator[tuple[int, str]]:
    """Stream (line number, text) so a corpus larger than memory can be read. A byte that is not UTF-8 stops the
    read with its line and byte offset, or (errors='replace') becomes U+FFFD and a warning counts them."""
    if errors not in ENCODING_ERRORS:
        raise UsageError(f"--encoding-errors {errors}: use strict or replace")
    offset, bad_lines, first = 0, 0, None
    for n, raw in enumerate(raw_lines(path), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if errors == "strict":
                raise UsageError(f"{path}: line {n}, byte offset {offset + e.start}: byte 0x{raw[e.start]:02x} "
                                 f"is not UTF-8 ({e.reason}); convert the file (e.g. iconv -f cp949 -t utf-8) or "
                                 "pass --encoding-errors replace to read it with U+FFFD in place of bad bytes"
                                 ) from None
            text = raw.decode("utf-8", errors="replace")
            bad_lines += 1
            first = first or (n, offset + e.start)
        offset += len(raw)
        yield n, text
    if bad_lines:
        import sys

        print(f"warning: {path}: {bad_lines} line(s) had bytes that are not UTF-8 (first: line {first[0]}, byte "
              f"offset {first[1]}); replaced by U+FFFD", file=sys.stderr)


def read_documents(path: str | Path, layout: str | None = None, text_field: str = "text",
                   encoding_errors: str = "strict") -> Iterator[list[str]]:
    """Documents (lists of sentences) from one corpus file, plain or ``.gz``. layout: 'text' or 'jsonl' (default:
    by suffix, .gz aside);
    encoding_errors: 'strict' (a bad byte is an error naming line and byte offset) or 'replace'."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--corpus {path}: no such file")
    layout = layout or _layout(path)
    if layout not in ("text", "jsonl"):
        raise UsageError(f"corpus layout {layout!r}: use text or jsonl")
    found = False
    if layout == "text":
        doc: list[str] = []
        for _, line in _lines(path, encoding_errors):
            if line.strip():
                doc.extend(split_sentences(line))
            elif doc:
                found = True
                yield doc
                doc = []
        if doc:
            found = True
            yield doc
    else:
        for n, line in _lines(path, encoding_errors):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{path}: line {n}: not valid JSON ({e.msg})") from e
            if not isinstance(obj, dict) or text_field not in obj or not isinstance(obj[text_field], str):
                raise UsageError(f"{path}: line {n}: no string field {text_field!r}; name the text field with "
                                 "--text-field")
            sentences = split_sentences(obj[text_field])
            if sentences:
                found = True
                yield sentences
    if not found:
        raise UsageError(f"--corpus {path}: no text found (the file is empty or blank)")


def write_stdlib_corpus(path: str | Path) -> Path:
    """An English corpus that needs no download: the help topics that ship inside CPython (``pydoc_data.topics``,
    the text of ``help("for")`` and friends, ~470k characters). One topic is one document; wrapped paragraphs are
    joined, reST underlines and indented grammar/code blocks are dropped; written in the google layout."""
    try:
        from pydoc_data.topics import topics
    except ImportError as e:  # some distributions split pydoc_data out of the standard library
        raise UsageError("the Python standard library's pydoc_data is missing; install the full Python "
                         "standard library (e.g. Debian's libpython3-stdlib)") from e
    from bertgan.io import write_text

    docs = []
    for name in sorted(topics):
        sentences = []
        for para in re.split(r"\n\s*\n", topics[name]):
            lines = [ln for ln in para.splitlines() if ln.strip()]
            if not lines or lines[0].startswith(" ") or re.fullmatch(r"[*=\-~^\"'`#+]+", lines[-1].strip()):
                continue  # code/grammar blocks, and headings with their underline
            sentences.extend(split_sentences(" ".join(ln.strip() for ln in lines)))
        if sentences:
            docs.append("\n".join(sentences))
    path = Path(path)
    write_text(path, "\n\n".join(docs) + "\n")
    return path

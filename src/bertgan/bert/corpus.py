"""A tokenised corpus on disk, read through numpy memmaps: tokenise once, reuse for every epoch and every run.

Layout of a cache folder: ``ids.bin`` (all sentence token ids back to back, uint16 when the vocabulary fits, else
uint32), ``starts.bin`` (one byte per token: 1 where a whitespace-separated word begins — what whole-word masking
needs, and for Korean that word is an eojeol), ``sentences.npy`` (start offset of every sentence in ids.bin, plus
the end), ``documents.npy`` (index of
every document's first sentence, plus the end), ``meta.json``. Documents are streamed through the tokenizer and
appended to ids.bin, so a corpus larger than memory works; the folder is built under a temporary name and renamed
when complete. The cache key covers the vocabulary and every file's size and modification time.

:class:`PairStream` turns a cache into the endless, reproducible stream of NSP pairs training reads: documents in a
seeded order per epoch, each document's pairs drawn with its own seeded generator, mixed by a shuffle buffer. Its
state (epoch, position, buffer) is small and goes into every checkpoint, so a resumed run reads the same pairs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from bertgan.bert.pretraining import PairInstance, document_instances
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.data.text import read_documents
from bertgan.io import write_json

_FORMAT = 2  # bump when the folder layout changes: old caches are then rebuilt, never misread


def vocab_fingerprint(tokenizer: WordPieceTokenizer) -> str:
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps([vocab, tokenizer.lowercase, tokenizer.strip_accents]).encode()).hexdigest()[:16]


def file_fingerprint(f: Path) -> str:
    """path|size|sha256 of the bytes. The bytes, not the modification time: a corpus that is copied, restored or
    mounted again (a new mtime, the same text) is the same corpus, and an edit that keeps the size is caught."""
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return f"{f.resolve()}|{f.stat().st_size}|sha256:{h.hexdigest()}"


def same_file(before: str, after: str) -> bool:
    """Whether two fingerprints are of the same bytes (the path may differ: a moved corpus is the same corpus).
    A fingerprint written before content hashes (path|size|mtime) can only be compared by its size."""
    b, a = before.split("|"), after.split("|")
    if len(b) == 3 and b[2].startswith("sha256:"):
        return b[1:] == a[1:]
    return b[1] == a[1]


def cache_key(files: list[Path], tokenizer: WordPieceTokenizer, layout: str | None, text_field: str,
              encoding_errors: str = "strict") -> str:
    h = hashlib.sha256()
    h.update(json.dumps([_FORMAT, vocab_fingerprint(tokenizer), layout, text_field, encoding_errors]).encode())
    for f in files:
        h.update(file_fingerprint(f).encode())
    return h.hexdigest()[:16]


class TokenCache:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        self.ids = np.memmap(self.folder / "ids.bin", dtype=meta["dtype"], mode="r", shape=(meta["tokens"],))
        self.starts = np.memmap(self.folder / "starts.bin", dtype=np.uint8, mode="r", shape=(meta["tokens"],))
        self.sentences = np.load(self.folder / "sentences.npy", mmap_mode="r")
        self.documents = np.load(self.folder / "documents.npy", mmap_mode="r")

    @staticmethod
    def problem(folder: Path) -> str | None:
        """What is wrong with a cache folder (a file missing, cut short or inconsistent), or None."""
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            tokens, width = int(meta["tokens"]), np.dtype(meta["dtype"]).itemsize
            if (folder / "ids.bin").stat().st_size != tokens * width:
                return "ids.bin has the wrong size"
            if (folder / "starts.bin").stat().st_size != tokens:
                return "starts.bin has the wrong size"
            sentences = np.load(folder / "sentences.npy", mmap_mode="r")
            documents = np.load(folder / "documents.npy", mmap_mode="r")
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            return f"{type(e).__name__}: {e}"
        if len(sentences) != meta.get("sentences", -1) + 1 or sentences[-1] != tokens:
            return "sentences.npy does not match meta.json"
        if len(documents) != meta.get("documents", -1) + 1 or documents[-1] != len(sentences) - 1:
            return "documents.npy does not match meta.json"
        return None

    def __len__(self) -> int:
        return len(self.documents) - 1

    @property
    def num_tokens(self) -> int:
        return int(self.meta["tokens"])

    def document(self, i: int, word_starts: bool = False) -> list[list[int]]:
        """Document i as a list of sentences, each a list of token ids (no [CLS]/[SEP]). With ``word_starts`` each
        value is ``id << 1 | starts_word`` (see :func:`unpack`): pairing and truncation move tokens around as
        opaque values, so the word boundaries travel with them."""
        first, last = int(self.documents[i]), int(self.documents[i + 1])
        lo, hi = int(self.sentences[first]), int(self.sentences[last])
        ids = self.ids[lo:hi].astype(np.int64)
        if word_starts:
            ids = (ids << 1) | self.starts[lo:hi]
        bounds = self.sentences[first:last + 1] - lo
        return [ids[int(a):int(b)].tolist() for a, b in zip(bounds[:-1], bounds[1:])]

    @classmethod
    def get_or_build(cls, files: list[str | Path], tokenizer: WordPieceTokenizer, root: str | Path,
                     layout: str | None = None, text_field: str = "text", encoding_errors: str = "strict",
                     batch_sentences: int = 4096) -> TokenCache:
        files = [Path(f) for f in files]
        for f in files:
            if not f.is_file():
                from bertgan.errors import UsageError

                raise UsageError(f"--corpus {f}: no such file")
        folder = Path(root) / cache_key(files, tokenizer, layout, text_field, encoding_errors)
        if folder.exists():
            problem = cls.problem(folder)
            if problem is None:
                return cls(folder)
            import sys

            print(f"notice: token cache {folder} is damaged ({problem}); rebuilding it", file=sys.stderr)
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            cls._build(files, tokenizer, tmp, layout, text_field, encoding_errors, batch_sentences)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(folder)

    @staticmethod
    def _build(files, tokenizer, out: Path, layout, text_field, encoding_errors, batch_sentences) -> None:
        dtype = np.uint16 if tokenizer.vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32
        sentence_starts, doc_starts = [0], [0]
        total = 0
        pending: list[str] = []
        pending_docs: list[int] = []  # sentence count of each pending document

        with open(out / "ids.bin", "wb") as sink, open(out / "starts.bin", "wb") as starts_sink:
            def flush():
                nonlocal total
                if not pending:
                    return
                enc = tokenizer.encode_batch(pending, truncation=None, padding=False)
                for text, ids, offsets in zip(pending, enc["input_ids"], enc["offset_mapping"]):
                    body = np.asarray(ids[1:-1], dtype=dtype)  # drop the [CLS] … [SEP] the encoder adds
                    body.tofile(sink)
                    _word_starts(text, offsets[1:-1]).tofile(starts_sink)
                    total += len(body)
                    sentence_starts.append(total)
                for n in pending_docs:
                    doc_starts.append(doc_starts[-1] + n)
                pending.clear()
                pending_docs.clear()

            for f in files:
                for doc in read_documents(f, layout, text_field, encoding_errors):
                    pending.extend(doc)
                    pending_docs.append(len(doc))
                    if len(pending) >= batch_sentences:
                        flush()
            flush()
        np.save(out / "sentences.npy", np.asarray(sentence_starts, dtype=np.int64))
        np.save(out / "documents.npy", np.asarray(doc_starts, dtype=np.int64))
        write_json(out / "meta.json", {"dtype": np.dtype(dtype).name, "tokens": total,
                                       "sentences": len(sentence_starts) - 1, "documents": len(doc_starts) - 1,
                                       "files": [str(f.resolve()) for f in files]})


def _word_starts(text: str, offsets: list[tuple[int, int]]) -> np.ndarray:
    """1 where a token begins a whitespace-separated word: the first token, and any token with whitespace between
    it and the previous one ('##' pieces and punctuation attached to a word have none)."""
    out = np.zeros(len(offsets), dtype=np.uint8)
    prev_end = None
    for i, (a, b) in enumerate(offsets):
        out[i] = prev_end is None or any(c.isspace() for c in text[prev_end:a])
        prev_end = b
    return out


def unpack(value: int) -> tuple[int, bool]:
    """A value of ``TokenCache.document(i, word_starts=True)`` → (token id, whether it begins a word)."""
    return value >> 1, bool(value & 1)


class PairStream:
    """The pairs training reads, endlessly: epoch e visits ``docs`` in the order of a generator seeded by
    (seed, e); each document's pairs come from a generator seeded by (seed, e, document), its NotNext segments from
    other documents of ``docs``; a buffer of ``buffer`` pairs mixes pairs of neighbouring documents. Nothing is
    held per corpus but the document order, so a corpus larger than memory streams from its memmaps.

    ``state()`` / ``load_state()`` capture the exact position (epoch, next document, buffer contents, buffer
    generator) as tensors and a JSON-able dict, for checkpoints."""

    def __init__(self, cache: TokenCache, docs: list[int] | np.ndarray, *, max_seq_length: int,
                 short_seq_prob: float, seed: int, nsp: bool = True, word_starts: bool = False, buffer: int = 4096):
        self.cache, self.docs = cache, np.asarray(docs, dtype=np.int64)
        self.max_seq_length, self.short_seq_prob, self.seed = max_seq_length, short_seq_prob, seed
        self.nsp, self.word_starts, self.size = nsp, word_starts, buffer
        self.epoch, self.cursor, self.buffer = 0, 0, []
        self.rng = random.Random(f"{seed}:buffer")
        self._order = None

    def _epoch_order(self) -> np.ndarray:
        if self._order is None or self._order[0] != self.epoch:
            perm = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.docs))
            self._order = (self.epoch, self.docs[perm])
        return self._order[1]

    def _random_document(self, rng: random.Random, exclude: int) -> list[list[int]]:
        for _ in range(100):  # a document can be empty after tokenisation; try others
            d = int(self.docs[rng.randrange(len(self.docs))])
            if d != exclude:
                doc = self.cache.document(d, self.word_starts)
                if any(doc):
                    return doc
        raise ValueError("could not find another non-empty document for a NotNext segment")

    def _fill(self) -> None:
        order = self._epoch_order()
        while len(self.buffer) < self.size:
            if self.cursor == len(order):
                if self.buffer:
                    return
                self.epoch, self.cursor = self.epoch + 1, 0  # drained: the next epoch begins
                order = self._epoch_order()
            d = int(order[self.cursor])
            self.cursor += 1
            rng = random.Random(f"{self.seed}:{self.epoch}:{d}")
            self.buffer.extend(document_instances(self.cache.document(d, self.word_starts),
                                                  functools.partial(self._random_document, rng, d), self.max_seq_length,
                                                  self.short_seq_prob, rng, self.nsp))

    def take(self, n: int) -> list[PairInstance]:
        out = []
        for _ in range(n):
            self._fill()
            if not self.buffer:
                raise ValueError("the corpus yields no training pairs")
            i = self.rng.randrange(len(self.buffer))
            self.buffer[i], self.buffer[-1] = self.buffer[-1], self.buffer[i]
            out.append(self.buffer.pop())
        return out

    def state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        a = [p.tokens_a for p in self.buffer]
        b = [p.tokens_b for p in self.buffer]
        lengths = torch.tensor([[len(x), len(y), int(p.is_random_next)] for x, y, p in zip(a, b, self.buffer)],
                               dtype=torch.int64).reshape(-1, 3)
        flat = torch.tensor([t for x, y in zip(a, b) for t in (*x, *y)], dtype=torch.int64)
        version, internal, gauss = self.rng.getstate()
        meta = {"epoch": self.epoch, "cursor": self.cursor, "rng": [version, list(internal), gauss]}
        return meta, {"buffer_lengths": lengths, "buffer_tokens": flat}

    def load_state(self, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
        self.epoch, self.cursor = int(meta["epoch"]), int(meta["cursor"])
        version, internal, gauss = meta["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        flat = tensors["buffer_tokens"].tolist()
        self.buffer, pos = [], 0
        for la, lb, rand in tensors["buffer_lengths"].tolist():
            self.buffer.append(PairInstance(flat[pos:pos + la], flat[pos + la:pos + la + lb], bool(rand)))
            pos += la + lb

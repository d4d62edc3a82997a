"""A tokenised corpus on disk, read through numpy memmaps: tokenise once, reuse for every epoch and every run.

Layout of a cache folder: ``ids.bin`` (all sentence token ids back to back, uint16 when the vocabulary fits, else
uint32), ``sentences.npy`` (start offset of every sentence in ids.bin, plus the end), ``documents.npy`` (index of
every document's first sentence, plus the end), ``meta.json``. Documents are streamed through the tokenizer and
appended to ids.bin, so a corpus larger than memory works; the folder is built under a temporary name and renamed
when complete. The cache key covers the vocabulary and every file's size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.data.text import read_documents
from bertgan.io import write_json


def cache_key(files: list[Path], tokenizer: WordPieceTokenizer, layout: str | None, text_field: str) -> str:
    h = hashlib.sha256()
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    h.update(json.dumps([vocab, tokenizer.lowercase, tokenizer.strip_accents, layout, text_field]).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


class TokenCache:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        self.ids = np.memmap(self.folder / "ids.bin", dtype=meta["dtype"], mode="r", shape=(meta["tokens"],))
        self.sentences = np.load(self.folder / "sentences.npy", mmap_mode="r")
        self.documents = np.load(self.folder / "documents.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self.documents) - 1

    @property
    def num_tokens(self) -> int:
        return int(self.meta["tokens"])

    def document(self, i: int) -> list[list[int]]:
        """Document i as a list of sentences, each a list of token ids (no [CLS]/[SEP])."""
        first, last = int(self.documents[i]), int(self.documents[i + 1])
        bounds = self.sentences[first:last + 1]
        return [self.ids[int(a):int(b)].tolist() for a, b in zip(bounds[:-1], bounds[1:])]

    @classmethod
    def get_or_build(cls, files: list[str | Path], tokenizer: WordPieceTokenizer, root: str | Path,
                     layout: str | None = None, text_field: str = "text", batch_sentences: int = 4096) -> TokenCache:
        files = [Path(f) for f in files]
        for f in files:
            if not f.is_file():
                from bertgan.errors import UsageError

                raise UsageError(f"--corpus {f}: no such file")
        folder = Path(root) / cache_key(files, tokenizer, layout, text_field)
        if (folder / "meta.json").is_file():
            return cls(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            cls._build(files, tokenizer, tmp, layout, text_field, batch_sentences)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(folder)

    @staticmethod
    def _build(files, tokenizer, out: Path, layout, text_field, batch_sentences) -> None:
        dtype = np.uint16 if tokenizer.vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32
        sentence_starts, doc_starts = [0], [0]
        total = 0
        pending: list[str] = []
        pending_docs: list[int] = []  # sentence count of each pending document

        with open(out / "ids.bin", "wb") as sink:
            def flush():
                nonlocal total
                if not pending:
                    return
                enc = tokenizer.encode_batch(pending, truncation=None, padding=False)
                for ids in enc["input_ids"]:
                    body = np.asarray(ids[1:-1], dtype=dtype)  # drop the [CLS] … [SEP] the encoder adds
                    body.tofile(sink)
                    total += len(body)
                    sentence_starts.append(total)
                for n in pending_docs:
                    doc_starts.append(doc_starts[-1] + n)
                pending.clear()
                pending_docs.clear()

            for f in files:
                for doc in read_documents(f, layout, text_field):
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

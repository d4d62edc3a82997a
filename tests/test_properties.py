"""Property tests of the readers: whatever bytes a user hands them, the result satisfies the reader's invariants
or is one UsageError — never another exception. A few seconds in CI (the default profile); `pytest
--hypothesis-profile thorough tests/test_properties.py` runs 20× more examples."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bertgan.errors import UsageError

# The profiles are registered in conftest.py ("default": 40 examples a test; "thorough": 800).

# text that looks like each format often enough to reach deep into the readers
_tokens = st.sampled_from(["John", "Paris", "B-PER", "I-PER", "O", "B-", "x", "\t", " ", "\n", "\n\n", "#", "##",
                           "1", "1-2", "_", "NOUN", '"', "{", "}", ":", ",", "[", "]", "가", "\x00"])
_texts = st.lists(_tokens, max_size=60).map("".join)


def _write(tmp_path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@given(data=st.one_of(_texts.map(lambda t: t.encode("utf-8")), st.binary(max_size=200)))
def test_tables(tmp_path, data):
    from bertgan.data.tables import read_table

    for name in ("t.tsv", "t.csv", "t.jsonl"):
        p = _write(tmp_path, name, data)
        try:
            rows = read_table(p, ["sentence", "label"])
        except UsageError:
            continue
        assert rows and all(isinstance(r.get("sentence"), str) and isinstance(r.get("label"), str) for r in rows)


@given(data=st.one_of(_texts.map(lambda t: t.encode("utf-8")), st.binary(max_size=200)))
def test_tagging_readers(tmp_path, data):
    from bertgan.data.conll import read_tagging

    for name, fmt in (("a.txt", "conll"), ("a.conllu", "conllu"), ("a.tsv", "klue"), ("b.txt", "auto")):
        p = _write(tmp_path, name, data)
        try:
            sentences = read_tagging(p, fmt)
        except UsageError:
            continue
        assert sentences and all(len(s.words) == len(s.tags) > 0 for s in sentences)


@given(doc=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                        lambda c: st.one_of(st.lists(c, max_size=4),
                                            st.dictionaries(st.sampled_from(["data", "paragraphs", "context", "qas",
                                                                             "question", "id", "answers", "text",
                                                                             "answer_start", "title", "version"]),
                                                            c, max_size=5)), max_leaves=30))
def test_squad(tmp_path, doc):
    from bertgan.data.squad import read_squad

    p = _write(tmp_path, "s.json", json.dumps(doc).encode())
    try:
        examples = read_squad(p)
    except UsageError:
        return
    for e in examples:
        for text, start in e.answers:
            assert e.context[start:start + len(text)] == text


@given(dims=st.lists(st.integers(0, 70_000), min_size=0, max_size=5), code=st.sampled_from([0x08, 0x09, 0x0D, 0x07]),
       extra=st.integers(-3, 3), magic=st.sampled_from([0, 1]))
def test_idx(dims, code, extra, magic):
    from bertgan.data.images import parse_idx

    body = max(0, (int(np.prod(dims)) if dims and int(np.prod(dims)) < 4096 else 16) + extra)
    raw = struct.pack(">HBB", magic, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + bytes(body)
    for blob in (raw, raw[: len(raw) // 2]):
        try:
            arr = parse_idx(blob, "x.idx")
        except UsageError:
            continue
        assert list(arr.shape) == dims


@given(data=st.binary(max_size=300))
def test_idx_gz(tmp_path, data):
    from bertgan.data.images import parse_idx, read_idx_gz

    for blob in (data, gzip.compress(data)):
        p = _write(tmp_path, "x.gz", blob)
        try:
            parse_idx(read_idx_gz(p), str(p))
        except UsageError:
            pass


@given(header=st.binary(max_size=60), meta=st.one_of(st.none(), _texts))
def test_checkpoint_headers(tmp_path, header, meta):
    import torch

    from bertgan.io import save_tensors
    from bertgan.train.checkpoint import load_checkpoint

    p = tmp_path / "c.safetensors"
    save_tensors(p, {"m.w": torch.zeros(3)}, {"bertgan": meta} if meta is not None else {})
    raw = p.read_bytes()
    for blob in (raw, header, len(header).to_bytes(8, "little") + header + raw[8:]):
        p.write_bytes(blob)
        try:
            ck = load_checkpoint(p)
        except UsageError:
            continue
        assert isinstance(ck.meta, dict) and torch.equal(ck.tensors["m.w"], torch.zeros(3))


@given(data=st.one_of(_texts.map(lambda t: t.encode("utf-8")), st.binary(max_size=200)),
       layout=st.sampled_from(["text", "jsonl"]), gz=st.booleans())
def test_read_documents(tmp_path, data, layout, gz):
    from bertgan.data.text import read_documents

    name = "c.txt" if layout == "text" else "c.jsonl"
    p = _write(tmp_path, name + (".gz" if gz else ""), gzip.compress(data) if gz else data)
    try:
        docs = list(read_documents(p, encoding_errors="strict"))
    except UsageError:
        return
    assert docs and all(doc and all(isinstance(s, str) and s.strip() for s in doc) for doc in docs)


@given(text=st.text(max_size=80))
def test_tokenizer_round_trip_and_lengths(text):
    from conftest import shared_path

    tok = _minilm(shared_path)
    try:
        enc = tok.encode(text, max_length=32)
    except UsageError:
        return
    assert len(enc.ids) == len(enc.tokens) == len(enc.offsets) <= 32
    assert enc.ids[0] == tok.cls_token_id and enc.ids[-1] == tok.sep_token_id
    assert all(0 <= i < tok.vocab_size for i in enc.ids)


_CACHE: dict = {}


def _minilm(shared_path):
    if "tok" not in _CACHE:
        from bertgan.bert.tokenizer import WordPieceTokenizer

        _CACHE["tok"] = WordPieceTokenizer.from_dir(shared_path("all-MiniLM-L6-v2-tokenizer"))
    return _CACHE["tok"]


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

import os

import pytest

from bertgan.bert.corpus import TokenCache
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.errors import UsageError


@pytest.fixture(scope="module")
def tok():
    from conftest import shared_path

    return WordPieceTokenizer.from_dir(shared_path("all-MiniLM-L6-v2-tokenizer"))


def test_cache_roundtrip_documents_and_sentences(tmp_path, tok):
    corpus = tmp_path / "c.txt"
    corpus.write_text("The cat sat. It purred loudly.\nThen it slept.\n\nA second document. Short.\n",
                      encoding="utf-8")
    cache = TokenCache.get_or_build([corpus], tok, tmp_path / "cache", batch_sentences=2)
    assert len(cache) == 2 and cache.meta["sentences"] == 5
    assert cache.ids.dtype.name == "uint16"  # 30,522 ids fit in 16 bits
    expected = [["The cat sat.", "It purred loudly.", "Then it slept."], ["A second document.", "Short."]]
    for i, doc in enumerate(expected):
        assert cache.document(i) == [tok.encode(s).ids[1:-1] for s in doc]
    assert cache.num_tokens == sum(len(s) for i in range(2) for s in cache.document(i))


def test_cache_is_reused_and_invalidated(tmp_path, tok):
    corpus = tmp_path / "c.txt"
    corpus.write_text("One sentence here.\n\nAnother document.\n", encoding="utf-8")
    a = TokenCache.get_or_build([corpus], tok, tmp_path / "cache")
    stamp = os.stat(a.folder / "ids.bin").st_mtime_ns
    b = TokenCache.get_or_build([corpus], tok, tmp_path / "cache")
    assert b.folder == a.folder and os.stat(b.folder / "ids.bin").st_mtime_ns == stamp  # not rebuilt
    corpus.write_text("Changed text entirely now.\n\nAnother document.\n", encoding="utf-8")
    c = TokenCache.get_or_build([corpus], tok, tmp_path / "cache")
    assert c.folder != a.folder and c.document(0) == [tok.encode("Changed text entirely now.").ids[1:-1]]


def test_real_corpus_and_errors(tmp_path, tok, shared_file):
    cache = TokenCache.get_or_build([shared_file("wikitext-2/test.txt")], tok, tmp_path / "cache")
    assert len(cache) > 10 and cache.num_tokens > 200_000
    with pytest.raises(UsageError, match="no such file"):
        TokenCache.get_or_build([tmp_path / "missing.txt"], tok, tmp_path / "cache")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no text found"):
        TokenCache.get_or_build([empty], tok, tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no half-built folder left

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


def test_word_starts_follow_whitespace_not_pieces(tmp_path):
    from bertgan.bert.corpus import unpack

    text = "나는 시장에 가서 사과와 배를 샀다.\n오늘은 날씨가 좋다.\n\n세종대왕은 훈민정음을 만들었다.\n"
    src = tmp_path / "ko.txt"
    src.write_text(text * 3, encoding="utf-8")
    ko = WordPieceTokenizer.train([src], vocab_size=120)
    cache = TokenCache.get_or_build([src], ko, tmp_path / "cache")
    first = cache.document(0, word_starts=True)[0]
    tokens = ko.convert_ids_to_tokens([unpack(v)[0] for v in first])
    assert [unpack(v)[0] for v in first] == cache.document(0)[0]
    words, current = [], ""
    for t, v in zip(tokens, first):
        if unpack(v)[1] and current:
            words.append(current)
            current = ""
        current += t.removeprefix("##")
    words.append(current)
    assert words == ["나는", "시장에", "가서", "사과와", "배를", "샀다."]  # '.' stays with its eojeol


def test_pair_stream_is_reproducible_and_resumable(tmp_path, tok):
    from bertgan.bert.corpus import PairStream

    src = tmp_path / "c.txt"
    docs = [" ".join(f"Document {d} sentence {s} has words." for s in range(6)) for d in range(12)]
    src.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    cache = TokenCache.get_or_build([src], tok, tmp_path / "cache")
    kw = dict(max_seq_length=32, short_seq_prob=0.1, seed=3, buffer=8)
    a = PairStream(cache, range(12), **kw)
    first = a.take(20)
    meta, tensors = a.state()
    rest = a.take(200)  # several epochs: the stream never runs dry
    assert a.epoch >= 2
    b = PairStream(cache, range(12), **kw)
    assert b.take(20) == first  # same seed, same pairs
    c = PairStream(cache, range(12), **kw)
    c.load_state(meta, tensors)
    assert c.take(200) == rest  # restored mid-stream: exactly the same continuation
    assert PairStream(cache, range(12), **{**kw, "seed": 4}).take(20) != first
    real = sum(not p.is_random_next for p in rest)
    assert 0.3 < real / len(rest) < 0.7  # IsNext about half the time


@pytest.mark.parametrize("damage", ["cut ids", "no meta", "bad meta", "bad sentences"])
def test_a_damaged_cache_is_rebuilt_with_a_notice(tmp_path, damage, capsys):
    from bertgan.bert.corpus import TokenCache

    corpus = tmp_path / "c.txt"
    corpus.write_text("one sentence here. another one.\n\na second document.\n", encoding="utf-8")
    tok = WordPieceTokenizer.train([corpus], 60)
    first = TokenCache.get_or_build([corpus], tok, tmp_path / "cache")
    tokens = first.num_tokens
    folder = first.folder
    del first
    if damage == "cut ids":
        data = (folder / "ids.bin").read_bytes()
        (folder / "ids.bin").write_bytes(data[: len(data) // 2])
    elif damage == "no meta":
        (folder / "meta.json").unlink()
    elif damage == "bad meta":
        (folder / "meta.json").write_text("{not json")
    else:
        (folder / "sentences.npy").write_bytes(b"garbage")
    again = TokenCache.get_or_build([corpus], tok, tmp_path / "cache")
    assert "is damaged" in capsys.readouterr().err and again.num_tokens == tokens and len(again) == 2

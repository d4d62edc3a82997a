"""WordPiece (seed 000): parity with transformers' BertTokenizerFast, Korean pieces without jamo, pairs,
truncation, offsets, batches, the OOV claim, and one clear error per bad input."""

from __future__ import annotations

import json
import re
import shutil
import sys
import unicodedata

import pytest
from conftest import shared_path

from bertgan.bert.tokenizer import OOVReport, WordPieceTokenizer, build_word_vocab, measure_oov, read_lines
from bertgan.cli import _Parser
from bertgan.cli import tokenizer as tokenizer_cli
from bertgan.errors import UsageError

MINILM = "all-MiniLM-L6-v2-tokenizer"
NSMC_TRAIN = "nsmc-raw-derived/ratings_train_30k.txt"
NSMC_TEST = "nsmc-raw-derived/ratings_test_10k.txt"
KO_VOCAB = 5000  # the size at which the trainer keeps '감사' and '##합니다' but has not yet merged '감사합니다'
JAMO = re.compile("[\u1100-\u11ff]")  # Hangul conjoining jamo: what NFD makes of a syllable

ENGLISH = [
    "Hello, world! Isn't it café-time?",
    "Crème brûlée à la mode — naïve façade.",
    "The [MASK] sat on the mat.",
    "¿Qué tal? Ça va!!!  (really)",
    "東京 is Japan's capital; Zürich isn't.",
    "unaffable supercalifragilistic 12,345.67$ e-mail: a@b.org",
]


def _documents(path, limit=None):
    """The document column of an NSMC TSV (id, document, label; header line)."""
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    docs = [r.split("\t")[1] for r in rows if r.count("\t") == 2]
    return docs[:limit]


def run_cli(argv):
    """bertgan.cli.main's contract, with only this module's commands registered."""
    parser = _Parser(prog="bertgan")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    tokenizer_cli.register(sub)
    try:
        args = parser.parse_args(["tokenizer", *argv])
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"bertgan: error: {e}", file=sys.stderr)
        return 2


@pytest.fixture(scope="module")
def BertTokenizerFast():
    return pytest.importorskip("transformers").BertTokenizerFast


@pytest.fixture(scope="module")
def minilm_dir(data_dir):
    return shared_path(MINILM)


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return WordPieceTokenizer.from_dir(minilm_dir)


@pytest.fixture(scope="module")
def ko_dir(data_dir, tmp_path_factory):
    """Korean WordPiece: konlpy's constitution and bills + the NSMC training reviews, lowercase, accents kept."""
    docs = tmp_path_factory.mktemp("corpus") / "nsmc_train_documents.txt"
    docs.write_text("\n".join(_documents(shared_path(NSMC_TRAIN))) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("ko")
    assert run_cli(["train", "--corpus", str(shared_path("konlpy-corpus")), str(docs),
                    "--vocab-size", str(KO_VOCAB), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def ko(ko_dir):
    return WordPieceTokenizer.from_dir(ko_dir)


@pytest.fixture(scope="module")
def ko_heldout(data_dir):
    return _documents(shared_path(NSMC_TEST), limit=2000)


@pytest.fixture(scope="module")
def en_dir(data_dir, tmp_path_factory):
    """English WordPiece on WikiText-2 valid's first 2000 lines; cased with accents stripped (both non-default)."""
    lines = shared_path("wikitext-2/valid.txt").read_text(encoding="utf-8").splitlines()[:2000]
    corpus = tmp_path_factory.mktemp("en_corpus") / "wiki.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("en")
    assert run_cli(["train", "--corpus", str(corpus), "--vocab-size", "1500", "--cased", "--strip-accents",
                    "--min-frequency", "2", "--out", str(out)]) == 0
    return out


# ---------------------------------------------------------------------- parity with transformers
def test_minilm_dir_gives_bert_tokenizer_fast_ids(minilm, minilm_dir, BertTokenizerFast):
    hf = BertTokenizerFast.from_pretrained(str(minilm_dir))
    assert minilm.vocab_size == 30522 and minilm.lowercase and minilm.strip_accents  # strip_accents null = lowercase
    for a in ENGLISH:
        assert minilm.encode(a).ids == hf(a)["input_ids"], a
        b = ENGLISH[0]
        ours, theirs = minilm.encode(a, b), hf(a, b)
        assert (ours.ids, ours.token_type_ids) == (theirs["input_ids"], theirs["token_type_ids"]), a
    assert minilm.tokenize("Crème brûlée") == ["cr", "##eme", "br", "##ule", "##e"]
    assert (minilm.pad_token_id, minilm.unk_token_id, minilm.cls_token_id, minilm.sep_token_id,
            minilm.mask_token_id) == (0, 100, 101, 102, 103)


def test_vocab_txt_alone_loads_like_transformers(minilm_dir, tmp_path, BertTokenizerFast):
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(minilm_dir / name, tmp_path / name)
    ours = WordPieceTokenizer.from_dir(tmp_path)
    hf = BertTokenizerFast.from_pretrained(str(tmp_path))
    for a in ENGLISH:
        assert ours.encode(a).ids == hf(a)["input_ids"], a


def test_trained_folder_loads_in_transformers_with_the_same_ids(en_dir, data_dir, BertTokenizerFast):
    assert {p.name for p in en_dir.iterdir()} == {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                                  "special_tokens_map.json", "word_vocab.txt"}
    ours = WordPieceTokenizer.from_dir(en_dir)
    hf = BertTokenizerFast.from_pretrained(str(en_dir))
    held = shared_path("wikitext-2/test.txt").read_text(encoding="utf-8").splitlines()[:300]
    held = [s for s in held if s.strip()] + ENGLISH
    assert ours.vocab_size == 1500 == len(hf)
    assert [ours.encode(s).ids for s in held] == [hf(s)["input_ids"] for s in held]
    assert [ours.encode(s, "Second one.").token_type_ids for s in held] == [
        hf(s, "Second one.")["token_type_ids"] for s in held]
    # BERT's order for the special tokens of a trained vocabulary.
    assert ours.convert_ids_to_tokens(list(range(5))) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_options_are_saved_and_restored(en_dir, ko_dir, ko):
    config = json.loads((en_dir / "tokenizer_config.json").read_text())
    assert (config["do_lower_case"], config["strip_accents"]) == (False, True)
    en = WordPieceTokenizer.from_dir(en_dir)
    assert (en.lowercase, en.strip_accents) == (False, True)
    assert en.words("Café Zürich") == ["Cafe", "Zurich"]  # case kept, accents stripped
    config = json.loads((ko_dir / "tokenizer_config.json").read_text())
    assert (config["do_lower_case"], config["strip_accents"]) == (True, False)
    assert (ko.lowercase, ko.strip_accents) == (True, False)
    assert ko.words("Café Zürich") == ["café", "zürich"]


def test_save_then_load_keeps_every_id(ko, tmp_path, ko_heldout):
    ko.save(tmp_path)
    again = WordPieceTokenizer.from_dir(tmp_path)
    assert again.get_vocab() == ko.get_vocab() and again.word_vocab == ko.word_vocab
    assert [again.encode(s).ids for s in ko_heldout[:200]] == [ko.encode(s).ids for s in ko_heldout[:200]]


# ---------------------------------------------------------------------- Korean
def test_korean_splits_gamsahamnida_as_the_seed_says(ko):
    assert ko.vocab_size == KO_VOCAB
    assert ko.tokenize("감사합니다") == ["감사", "##합니다"]
    enc = ko.encode("감사합니다")
    assert enc.tokens == ["[CLS]", "감사", "##합니다", "[SEP]"]
    assert enc.ids == [ko.cls_token_id, *ko.convert_tokens_to_ids(["감사", "##합니다"]), ko.sep_token_id]


def test_no_jamo_decomposition(ko, minilm, ko_heldout):
    assert not [t for t in ko.get_vocab() if JAMO.search(t)]
    assert not [t for s in ko_heldout[:500] for t in ko.tokenize(s) if JAMO.search(t)]
    # The check can fail: BERT's uncased recipe (strip accents by NFD) does break Hangul into jamo.
    assert any(JAMO.search(t) for t in minilm.tokenize("감사합니다"))


def test_korean_round_trips_through_encode_and_decode(ko, ko_heldout):
    for s in ["감사합니다", "감사합니다. 정말 재밌어요!", "공주의 마음을 훔친 유진은 역시 엄청난 도둑!"]:
        assert ko.decode(ko.encode(s).ids) == s
    known = [s for s in ko_heldout if ko.unk_token_id not in ko.encode(s).ids]
    assert len(known) > 0.9 * len(ko_heldout)
    for s in known:  # decoding only re-spaces punctuation: the characters come back in order
        assert ko.decode(ko.encode(s).ids).replace(" ", "") == "".join(ko.words(s)), s


# ---------------------------------------------------------------------- pairs, truncation, offsets, batches
def test_pair_layout_and_token_type_ids(ko):
    enc = ko.encode("감사합니다", "정말 재밌어요")
    a = ko.tokenize("감사합니다")
    b = ko.tokenize("정말 재밌어요")
    assert enc.tokens == ["[CLS]", *a, "[SEP]", *b, "[SEP]"]
    assert enc.token_type_ids == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    assert enc.special_tokens_mask == [1] + [0] * len(a) + [1] + [0] * len(b) + [1]
    assert enc.sequence_ids == [None] + [0] * len(a) + [None] + [1] * len(b) + [None]
    assert enc.attention_mask == [1] * len(enc)


@pytest.mark.parametrize("strategy", ["longest_first", "only_second"])
def test_truncation_matches_transformers(strategy, minilm, minilm_dir, BertTokenizerFast):
    hf = BertTokenizerFast.from_pretrained(str(minilm_dir))
    a, b = "a short question?", " ".join(["the long context of the answer"] * 5)
    for n in (8, 12, 20):
        ours = minilm.encode(a, b, max_length=n, truncation=strategy)
        theirs = hf(a, b, max_length=n, truncation=strategy)
        assert len(ours) == n
        assert (ours.ids, ours.token_type_ids) == (theirs["input_ids"], theirs["token_type_ids"])
    kept_a = minilm.encode(a, b, max_length=8, truncation=strategy).sequence_ids.count(0)
    assert (kept_a == len(minilm.tokenize(a))) == (strategy == "only_second")  # only_second never cuts the first
    assert len(minilm.encode(a, b, max_length=12, truncation=None)) == 3 + len(minilm.tokenize(a + " " + b))
    with pytest.raises(UsageError, match="only_second"):
        minilm.encode(b, a, max_length=10, truncation="only_second")  # the first text alone is too long


def _fold(s):
    return "".join(c for c in unicodedata.normalize("NFD", s.lower()) if unicodedata.category(c) != "Mn")


def test_offsets_point_into_the_original_text(minilm, ko):
    for a, b in [("Crème brûlée, NAÏVE façade!", "Isn't it café-time?"), (ENGLISH[4], ENGLISH[5])]:
        enc = minilm.encode(a, b)
        for tok, (s, e), seq in zip(enc.tokens, enc.offsets, enc.sequence_ids):
            if seq is None:
                assert (s, e) == (0, 0)
            else:
                assert _fold((a, b)[seq][s:e]) == tok.removeprefix("##"), tok
    a, b = "감사합니다. 정말 재밌어요!", "공주의 마음을 훔친 유진은"
    enc = ko.encode(a, b)
    assert ko.unk_token_id not in enc.ids
    for tok, (s, e), seq in zip(enc.tokens, enc.offsets, enc.sequence_ids):
        if seq is None:
            assert (s, e) == (0, 0)
        else:
            assert (a, b)[seq][s:e] == tok.removeprefix("##"), tok
    assert enc.offsets[1:3] == [(0, 2), (2, 5)]  # '감사' = a[0:2], '##합니다' = a[2:5]


def test_batches_pad_to_the_longest_with_attention_mask(minilm, minilm_dir, BertTokenizerFast):
    texts = ["short", "a much longer sentence, with punctuation.", "mid length one"]
    out = minilm.encode_batch(texts)
    singles = [minilm.encode(t).ids for t in texts]
    width = max(map(len, singles))
    for ids, mask, single in zip(out["input_ids"], out["attention_mask"], singles):
        assert len(ids) == width
        assert ids[:len(single)] == single and set(ids[len(single):]) <= {minilm.pad_token_id}
        assert mask == [1] * len(single) + [0] * (width - len(single))
    hf = BertTokenizerFast.from_pretrained(str(minilm_dir))(texts, padding=True)
    assert out["input_ids"] == hf["input_ids"] and out["attention_mask"] == hf["attention_mask"]
    ragged = minilm.encode_batch(texts, padding=False)
    assert ragged["input_ids"] == singles
    pairs = minilm.encode_batch(texts, pairs=texts[::-1], max_length=9, return_tensors="pt")
    assert tuple(pairs["input_ids"].shape) == (3, 9) and tuple(pairs["offset_mapping"].shape) == (3, 9, 2)
    assert pairs["token_type_ids"].sum().item() > 0
    fixed = minilm.encode_batch(texts, max_length=16, padding="max_length", return_tensors="pt")
    assert tuple(fixed["attention_mask"].shape) == (3, 16)
    with pytest.raises(UsageError, match="padding"):
        minilm.encode_batch(texts, padding=False, return_tensors="pt")


# ---------------------------------------------------------------------- the OOV claim
def test_wordpiece_has_fewer_unknown_words_than_a_word_vocabulary(ko, ko_heldout):
    r = measure_oov(ko, ko_heldout)
    assert isinstance(r, OOVReport) and r.words > 10_000
    assert r.vocab_size == r.word_vocab_size == KO_VOCAB
    assert r.wordpiece_rate < 1.0 < 10.0 < r.word_level_rate  # measured: about 0.2 % against about 36 %
    assert r.wordpiece_unk < r.word_level_unk


def test_oov_command_and_word_vocab_from_corpus(ko_dir, ko, minilm_dir, tmp_path, capsys, ko_heldout):
    held = tmp_path / "held.txt"
    held.write_text("\n".join(ko_heldout[:300]) + "\n", encoding="utf-8")
    assert run_cli(["oov", "--tokenizer", str(ko_dir), "--text", str(held)]) == 0
    out = capsys.readouterr().out
    rates = [float(x) for x in re.findall(r"= +([\d.]+)%", out)]
    assert len(rates) == 2 and rates[0] < rates[1]
    # A tokenizer not trained here: the word-level vocabulary comes from --corpus.
    assert run_cli(["oov", "--tokenizer", str(minilm_dir), "--text", str(held)]) == 2
    assert "--corpus" in capsys.readouterr().err
    assert run_cli(["oov", "--tokenizer", str(minilm_dir), "--text", str(held), "--corpus", str(held)]) == 0
    words = build_word_vocab([held], 50, lowercase=True, strip_accents=False)
    assert len(words) == 50 and words[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert measure_oov(ko, ko_heldout[:300], words).word_level_unk > measure_oov(ko, ko_heldout[:300]).word_level_unk


def test_encode_command_prints_tokens_ids_types_offsets(ko_dir, capsys):
    assert run_cli(["encode", "--tokenizer", str(ko_dir), "감사합니다", "--pair", "좋아요", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["tokens"][:4] == ["[CLS]", "감사", "##합니다", "[SEP]"]
    assert got["token_type_ids"][-1] == 1 and got["offsets"][1:3] == [[0, 2], [2, 5]]
    assert run_cli(["encode", "--tokenizer", str(ko_dir), "감사합니다", "--max-length", "3"]) == 0
    assert "##합니다" not in capsys.readouterr().out


# ---------------------------------------------------------------------- bad input: one message, exit 2
@pytest.fixture
def small_ko(tmp_path, ko_heldout):
    f = tmp_path / "small.txt"
    f.write_text("\n".join(ko_heldout[:200]) + "\n", encoding="utf-8")
    return f


def test_dry_run_writes_nothing(small_ko, tmp_path, capsys):
    out = tmp_path / "never"
    assert run_cli(["train", "--corpus", str(small_ko), "--vocab-size", "3000", "--out", str(out), "--dry-run"]) == 0
    assert "would train" in capsys.readouterr().out and not out.exists()


def test_bad_corpus_inputs(tmp_path, small_ko, capsys):
    out = tmp_path / "out"
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n\t\n", encoding="utf-8")
    cp949 = tmp_path / "cp949.txt"
    cp949.write_bytes("첫 줄\n둘째 줄\n".encode() + "셋째 줄".encode("cp949") + b"\n")
    cases = [
        ([str(tmp_path / "missing.txt")], "3000", "no such file"),
        ([str(blank)], "3000", "empty"),
        ([str(cp949)], "3000",
         rf"{re.escape(str(cp949))} line 3, column 1 \(byte offset 19\): byte 0x.. is not UTF-8.*--encoding-errors"),
        ([str(small_ko)], "3", "more than the 5 special tokens"),
        ([str(small_ko)], "100", r"too small for this corpus.*use --vocab-size \d+"),
    ]
    for corpus, size, message in cases:
        assert run_cli(["train", "--corpus", *corpus, "--vocab-size", size, "--out", str(out)]) == 2, message
        err = capsys.readouterr().err
        assert re.search(message, err), err
        assert err.count("\n") == 1 and not out.exists()
    # The library raises the same errors.
    with pytest.raises(UsageError, match="line 3"):
        WordPieceTokenizer.train([cp949], 3000)
    # --encoding-errors replace reads the bad bytes as U+FFFD (which BERT's normaliser then drops) and trains.
    assert run_cli(["train", "--corpus", str(cp949), "--vocab-size", "60", "--min-frequency", "1",
                    "--encoding-errors", "replace", "--out", str(out)]) == 0
    assert {"첫", "둘", "##째"} <= set(WordPieceTokenizer.from_dir(out).get_vocab())


def test_unwritable_out(tmp_path, small_ko, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert run_cli(["train", "--corpus", str(small_ko), "--vocab-size", "3000", "--out", str(afile)]) == 2
    assert "not a folder" in capsys.readouterr().err and afile.read_text() == "x"
    assert run_cli(["train", "--corpus", str(small_ko), "--vocab-size", "3000", "--out",
                    str(afile / "sub")]) == 2


def test_bad_tokenizer_dirs(tmp_path, minilm_dir):
    with pytest.raises(UsageError, match="no such folder"):
        WordPieceTokenizer.from_dir(tmp_path / "nope")
    with pytest.raises(UsageError, match="neither vocab.txt nor tokenizer.json"):
        WordPieceTokenizer.from_dir(tmp_path)
    (tmp_path / "vocab.txt").write_text("hello\nworld\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"lacks the special token\(s\) \[PAD\]"):
        WordPieceTokenizer.from_dir(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UsageError, match=r"tokenizer.json: line 1: not valid"):
        WordPieceTokenizer.from_dir(tmp_path)
    assert run_cli(["encode", "--tokenizer", str(tmp_path / "nope"), "text"]) == 2


def test_bad_encode_arguments(minilm):
    with pytest.raises(UsageError, match="needs a second text"):
        minilm.encode("one text", max_length=8, truncation="only_second")
    with pytest.raises(UsageError, match="more than the 3 special tokens"):
        minilm.encode("a", "b", max_length=3)
    with pytest.raises(UsageError, match="truncation 'middle'"):
        minilm.encode("a", max_length=8, truncation="middle")
    with pytest.raises(UsageError, match="pairs has 1 texts but texts has 2"):
        minilm.encode_batch(["a", "b"], pairs=["c"])
    with pytest.raises(UsageError, match="not in the vocabulary"):
        minilm.decode([10**6])
    assert minilm.convert_tokens_to_ids("no-such-token") == minilm.unk_token_id


def test_read_lines_names_the_text_flag(tmp_path):
    with pytest.raises(UsageError, match="--text .*no such file"):
        read_lines(tmp_path / "none.txt")


def test_gzip_corpus_limit_alphabet_and_sizes(tmp_path):
    import gzip

    from bertgan.bert.tokenizer import measure_oov

    lines = ["감사합니다 여러분 오늘도 감사합니다", "학교에 갑니다 학교에서 공부합니다"] * 30 + ["희귀한 글자 龘"]
    with gzip.open(tmp_path / "c.txt.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    full = WordPieceTokenizer.train([tmp_path], 400)  # a folder: its .txt.gz is read, streamed
    assert "龘" in full.get_vocab()
    # the alphabet limited to the commonest characters: the rare one is dropped and its word becomes [UNK]
    limited = WordPieceTokenizer.train([tmp_path / "c.txt.gz"], 400, limit_alphabet=18)  # the 18 of the common lines
    assert "龘" not in limited.get_vocab() and limited.tokenize("龘") == ["[UNK]"]
    # 252 words seen once each (every 2- and 3-syllable word of six syllables): WordPiece stops short of the 400
    # entries asked (a pair seen once is never merged), and the word-level vocabulary takes its real size
    import itertools

    syl = "가나다라마바"
    words = ["".join(w) for n in (2, 3) for w in itertools.product(syl, repeat=n)]
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "words.txt").write_text(" ".join(words) + "\n", encoding="utf-8")
    hapax = WordPieceTokenizer.train([tmp_path / "w"], 400)
    assert hapax.vocab_size < len(words) < 400 and len(hapax.word_vocab) == hapax.vocab_size
    r = measure_oov(full, ["감사합니다 학교에서"])
    assert r.eojeols == 2 and r.pieces == len(full.tokenize("감사합니다 학교에서"))
    assert r.pieces_per_eojeol == r.pieces / 2
    with pytest.raises(UsageError, match="--limit-alphabet 0"):
        WordPieceTokenizer.train([tmp_path], 400, limit_alphabet=0)


def test_train_refuses_to_overwrite_a_tokenizer_or_model_folder(tmp_path, small_ko, capsys):
    out = tmp_path / "model"
    assert run_cli(["train", "--corpus", str(small_ko), "--vocab-size", "3000", "--out", str(out)]) == 0
    (out / "model.safetensors").write_bytes(b"the model that goes with this vocabulary")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert run_cli(["train", "--corpus", str(small_ko), "--vocab-size", "2000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    assert run_cli(["train", "--corpus", str(small_ko), "--vocab-size", "2000", "--out", str(out), "--overwrite"]) == 0
    assert (out / "vocab.txt").read_bytes() != before["vocab.txt"]


def test_train_says_when_it_gives_fewer_entries_than_asked(tmp_path, capsys):
    import itertools

    words = ["".join(w) for n in (2, 3) for w in itertools.product("가나다라마바", repeat=n)]
    corpus = tmp_path / "words.txt"
    corpus.write_text(" ".join(words) + "\n", encoding="utf-8")
    assert run_cli(["train", "--corpus", str(corpus), "--vocab-size", "400", "--out", str(tmp_path / "tok")]) == 0
    out = capsys.readouterr().out
    got = len((tmp_path / "tok" / "vocab.txt").read_text(encoding="utf-8").splitlines())
    assert f"trained {got:,} of 400 requested: the corpus has too few distinct pieces" in out
    assert len((tmp_path / "tok" / "word_vocab.txt").read_text(encoding="utf-8").splitlines()) == got

import re
from collections import Counter

import pytest

from bertgan.data.conll import (
    TaggedSentence,
    klue_chars_to_words,
    klue_entity_survival,
    read_conll,
    read_conllu,
    read_klue_ner,
    read_klue_ner_chars,
    read_tagging,
)
from bertgan.errors import UsageError

CONLL = """-DOCSTART- -X- -X- O

# a comment before the sentence
EU NNP B-NP B-ORG
rejects VBZ B-VP O
German\tJJ\tB-NP\tB-MISC


Peter NNP B-NP B-PER
# NN B-NP O
"""

CONLLU = """# sent_id = 1
# text = I'm here.
1-2\tI'm\t_\t_\t_\t_\t_\t_\t_\t_
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2\t'm\tbe\tAUX\tVBP\t_\t3\tcop\t_\t_
3\there\there\tADV\tRB\t_\t0\troot\t_\t_
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t3:conj\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = 2
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def _klue(*sentences: str) -> str:
    """KLUE NER file text from sentences marked up as KLUE's comment line does: <text:TYPE>."""
    import re

    out = ["## 토큰, 레이블 구분자 : \\t", "## 컬럼명 : CHAR\tNE_TAG"]
    for n, marked in enumerate(sentences):
        out.append(f"## klue-ner-v1_test_{n:05d}\t{marked}")
        for m in re.finditer(r"<([^:>]+):([A-Z]+)>|([^<])", marked):
            if m.group(3) is not None:
                out.append(f"{m.group(3)}\tO")
            else:
                out += [f"{c}\t{'B' if i == 0 else 'I'}-{m.group(2)}" for i, c in enumerate(m.group(1))]
        out.append("")
    return "\n".join(out) + "\n"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_conll_sentences_columns_docstart_and_comments(tmp_path):
    p = _write(tmp_path / "eng.train", CONLL)
    assert read_conll(p) == [(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"]),
                             (["Peter", "#"], ["B-PER", "O"])]  # '#' inside a sentence is a token
    assert read_conll(p, token_col=0, tag_col=2)[0].tags == ["B-NP", "B-VP", "B-NP"]
    assert read_conll(p, token_col=1, tag_col=-1)[1] == TaggedSentence(["NNP", "NN"], ["B-PER", "O"])


@pytest.mark.parametrize("content,message", [
    ("EU B-ORG\nrejects\n", r"c\.txt:2: 1 column\(s\), but the word is column 0 and the tag column -1"),
    ("EU B-ORG\n\n# lonely comment\n\nx O\n",
     r"c\.txt:3: sentence with no tokens \(only comment lines up to the blank line 4\)"),
    ("EU B-ORG\n\n# trailing comment\n", r"c\.txt:3: sentence with no tokens"),
    ("", r"c\.txt: no sentences \(the file is empty\)"),
    ("\n  \n", r"c\.txt: no sentences"),
    ("-DOCSTART- O\n\n", r"c\.txt: no sentences \(only comments or blank lines\)"),
])
def test_conll_errors(tmp_path, content, message):
    with pytest.raises(UsageError, match=message):
        read_conll(_write(tmp_path / "c.txt", content))


def test_conll_tag_column_out_of_range(tmp_path):
    p = _write(tmp_path / "c.txt", "EU NNP B-ORG\n")
    with pytest.raises(UsageError, match=r"c\.txt:1: 3 column\(s\), but the word is column 0 and the tag column 3 "
                                         r"\(need at least 4\)"):
        read_conll(p, tag_col=3)


def test_conllu_skips_ranges_and_empty_nodes(tmp_path):
    p = _write(tmp_path / "d.conllu", CONLLU)
    assert read_conllu(p) == [(["I", "'m", "here", "."], ["PRON", "AUX", "ADV", "PUNCT"]), (["Yes"], ["INTJ"])]
    assert read_conllu(p, column="xpos")[0].tags == ["PRP", "VBP", "RB", "."]
    assert read_conllu(p, column="deprel")[1].tags == ["root"]


@pytest.mark.parametrize("content,message", [
    ("# sent_id = 1\n1\tI\tI\tPRON\n", r"d\.conllu:2: 4 tab-separated field\(s\), CoNLL-U needs 10"),
    ("# sent_id = 1\n# text = \n\n" + CONLLU, r"d\.conllu:1: sentence with no tokens"),
    (CONLLU + "\n# sent_id = 3\n", r"d\.conllu:13: sentence with no tokens"),
    ("\n", r"d\.conllu: no sentences \(the file is empty\)"),
])
def test_conllu_errors(tmp_path, content, message):
    with pytest.raises(UsageError, match=message):
        read_conllu(_write(tmp_path / "d.conllu", content))


def test_conllu_unknown_column_and_missing_file(tmp_path):
    with pytest.raises(UsageError, match="CoNLL-U column 'pos': use one of id, form, lemma, upos, xpos"):
        read_conllu(_write(tmp_path / "d.conllu", CONLLU), column="pos")
    with pytest.raises(UsageError, match=r"missing\.conllu: no such file"):
        read_conllu(tmp_path / "missing.conllu")


def test_klue_characters_include_spaces(tmp_path):
    p = _write(tmp_path / "ner.tsv", _klue("<경찰:OG>은 또", "<서울 시청:LC>#"))
    assert read_klue_ner_chars(p) == [(list("경찰은 또"), ["B-OG", "I-OG", "O", "O", "O"]),
                                      (list("서울 시청#"), ["B-LC", "I-LC", "I-LC", "I-LC", "I-LC", "O"])]
    assert read_klue_ner(p) == [(["경찰은", "또"], ["B-OG", "O"]), (["서울", "시청#"], ["B-LC", "I-LC"])]


@pytest.mark.parametrize("marked,words,tags", [
    ("<경찰:OG>은 또", ["경찰은", "또"], ["B-OG", "O"]),  # the word takes the tag of its first character
    ("<박:PS>씨의 딸(<32:QT>)과", ["박씨의", "딸(32)과"], ["B-PS", "B-QT"]),  # O first, entity inside → B-X
    ("<10월 10일:DT> 오전", ["10월", "10일", "오전"], ["B-DT", "I-DT", "O"]),  # I-X continues across the space
    ("<김:PS>모(<33:QT>)씨", ["김모(33)씨"], ["B-PS"]),  # a second entity inside a word is lost
    ("<A:PS> <B:PS>", ["A", "B"], ["B-PS", "B-PS"]),  # adjacent entities stay two
])
def test_klue_chars_to_words(marked, words, tags, tmp_path):
    (chars, char_tags), = read_klue_ner_chars(_write(tmp_path / "n.tsv", _klue(marked)))
    assert klue_chars_to_words(chars, char_tags) == (words, tags)


def test_klue_conversion_edge_cases():
    # An entity that begins on a space: the next word starts inside it, and is its first word → B-X, not I-X.
    assert klue_chars_to_words(list("a bc"), ["O", "B-QT", "I-QT", "I-QT"]) == (["a", "bc"], ["O", "B-QT"])
    # An entity continuing from a word that belongs to another entity starts a new word entity.
    chars, tags = list("가(나 다)"), ["B-DT", "O", "B-DT", "I-DT", "I-DT", "O"]
    assert klue_chars_to_words(chars, tags) == (["가(나", "다)"], ["B-DT", "B-DT"])
    # 가 keeps its word; 나 다 touches both words but owns only the second; 경찰 is kept but not word-aligned.
    sentences = [TaggedSentence(chars, tags), TaggedSentence(list("경찰은"), ["B-OG", "I-OG", "O"])]
    assert klue_entity_survival(sentences) == {"total": 3, "words": 2, "aligned": 0}


@pytest.mark.parametrize("content,message", [
    ("## header\n경\tB-OG\n찰\n", r"n\.tsv:3: expected one character, a tab and its tag"),
    ("## header\n경찰\tB-OG\n", r"n\.tsv:2: expected one character"),
    ("## header\n\n## only a comment\n", r"n\.tsv:1: sentence with no characters"),
    ("", r"n\.tsv: no sentences \(the file is empty\)"),
])
def test_klue_errors(tmp_path, content, message):
    with pytest.raises(UsageError, match=message):
        read_klue_ner(_write(tmp_path / "n.tsv", content))


def test_read_tagging_detects_the_layout(tmp_path):
    assert read_tagging(_write(tmp_path / "a.conllu", CONLLU))[1] == (["Yes"], ["INTJ"])
    assert read_tagging(_write(tmp_path / "b.txt", CONLLU))[1] == (["Yes"], ["INTJ"])
    assert read_tagging(_write(tmp_path / "c.tsv", _klue("<경찰:OG>은")))[0] == (["경찰은"], ["B-OG"])
    assert read_tagging(_write(tmp_path / "d.tsv", "a\tO\nb\tB-X\n"))[0] == (["a", "b"], ["O", "B-X"])
    assert read_tagging(_write(tmp_path / "e.txt", CONLL))[0].words == ["EU", "rejects", "German"]
    assert read_tagging(tmp_path / "c.tsv", fmt="conll")[0].words[:3] == ["경", "찰", "은"]
    with pytest.raises(UsageError, match="tagging format 'iob': use one of auto, conll, conllu, klue"):
        read_tagging(tmp_path / "e.txt", fmt="iob")
    with pytest.raises(UsageError, match=r"nope\.txt: no such file"):
        read_tagging(tmp_path / "nope.txt")


@pytest.mark.parametrize("rel,n_sentences,n_words,first", [
    ("ud-english-ewt/en_ewt-ud-dev.conllu", 2001, 25147,
     (["From", "the", "AP", "comes", "this", "story", ":"], ["ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT"])),
    ("ud-korean-gsd/ko_gsd-ud-dev.conllu", 950, 11958,
     (["제일", "가까운", "스타벅스가", "어디", "있지"], ["ADV", "ADJ", "NOUN", "ADV", "ADJ"])),
])
def test_real_ud_dev(shared_file, rel, n_sentences, n_words, first):
    sentences = read_tagging(shared_file(rel))
    assert len(sentences) == n_sentences and sum(len(s.words) for s in sentences) == n_words
    assert sentences[0] == first
    assert all(len(s.words) == len(s.tags) for s in sentences)


def test_real_klue_ner_dev(shared_file):
    path = shared_file("klue/klue-ner-v1.1_dev.tsv")
    chars = read_klue_ner_chars(path)
    assert len(chars) == 5000 and sum(len(s.words) for s in chars) == 285929
    assert Counter(t[:2] for s in chars for t in s.tags)["B-"] == 14257
    # The numbers quoted in bertgan.data.conll's docstring.
    assert klue_entity_survival(chars) == {"total": 14257, "words": 13936, "aligned": 5238}
    words = read_tagging(path)
    assert len(words) == 5000 and sum(len(s.words) for s in words) == 65378
    assert words[0].words[:2] == ["경찰은", "또"] and words[0].tags[:2] == ["B-OG", "O"]


@pytest.mark.parametrize("bad", ["z", "PERSON", "B-", "X-PER"])
def test_a_tag_outside_the_bio_scheme_is_named_with_its_line_when_read(tmp_path, bad):
    p = tmp_path / "ner.txt"
    p.write_text(f"John B-PER\nlives O\n\nin O\nParis {bad}\n", encoding="utf-8")
    with pytest.raises(UsageError, match=rf"ner.txt:5: tag '{re.escape(bad)}' is not in the BIO/BIOES scheme"):
        read_conll(p)
    p.write_text("John NNP\nlives VBZ\n", encoding="utf-8")  # POS tags: no scheme to check
    assert read_conll(p)[0].tags == ["NNP", "VBZ"]

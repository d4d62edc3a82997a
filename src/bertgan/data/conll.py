"""Token-tagging data (NER, POS) as sentences of words and their tags, from the three layouts we fine-tune on.

  conll    CoNLL-2000/2003: one token per line, columns split by tabs (or by spaces if a line has no tab), the word
           in ``token_col`` and the tag in ``tag_col`` (default: first and last); a blank line between sentences;
           ``-DOCSTART-`` lines are skipped, and ``#`` lines before a sentence's first token are comments.
  conllu   Universal Dependencies CoNLL-U: ten tab-separated fields, FORM is the word and UPOS (or XPOS, ...) the tag;
           ``#`` comment lines, multi-word token ranges (``1-2``) and empty nodes (``1.1``) are skipped, so the words
           are the syntactic words UD annotates.
  klue     KLUE NER (``klue-ner-v1.1_*.tsv``): character-level, one character and its BIO tag per line (a space is a
           character too), ``##`` comment lines (the file header and, per sentence, its id and the tagged text), a
           blank line between sentences. ``read_klue_ner`` turns it into word (eojeol) level, see below.

KLUE character → word conversion (``klue_chars_to_words``): words are the runs of non-space characters. Each entity
(chunk of the character tags, by conlleval's rules) is given to the words it overlaps, each word to at most one
entity: the one holding the word's first character, else the first entity that starts inside the word. The first
word of an entity is tagged B-X, its following words I-X, other words O. In the usual case this is "the tag of the
word's first character, or B-X of an entity that begins inside a word starting with O"; it differs only where
an entity continues into a word from a space or from a word that belongs to another entity (B-X there, not I-X).
Measured on klue-ner-v1.1_dev.tsv (``klue_entity_survival``): of its 14,257 character-level entities, 13,936
(97.7%) survive as a word-level entity of the same type spanning exactly the words the entity touches (the plain
first-character rule keeps 13,929). The rest are lost where an entity begins inside a word that already belongs to
another (``<김:PS>모(<33:QT>)씨`` is one word, B-PS; the QT is gone). Word boundaries are also coarser than KLUE's:
only 5,238 entities (36.7%) start and end on word boundaries — Korean particles attach to the word (``<경찰:OG>은``
is the one word 경찰은, B-OG) — so word-level F1 is not comparable with KLUE's character-level F1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from bertgan.data.tables import read_utf8
from bertgan.errors import UsageError
from bertgan.metrics.seqeval import entities

CONLLU_FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
FORMATS = ("auto", "conll", "conllu", "klue")


class TaggedSentence(NamedTuple):
    """One sentence: its words and one tag per word."""

    words: list[str]
    tags: list[str]


def _lines(path: Path) -> list[str]:
    text = read_utf8(path)
    if not text.strip():
        raise UsageError(f"{path}: no sentences (the file is empty)")
    return [line.removesuffix("\r") for line in text.split("\n")]  # not splitlines(): KLUE has odd characters


def _no_sentences(path: Path, sentences: list[TaggedSentence]) -> list[TaggedSentence]:
    if not sentences:
        raise UsageError(f"{path}: no sentences (only comments or blank lines)")
    return sentences


def read_conll(path: str | Path, token_col: int = 0, tag_col: int = -1) -> list[TaggedSentence]:
    """Sentences of a CoNLL-2003-style file (see the module docstring). Columns count from 0; negative ones from
    the end, so the default reads CoNLL-2003 NER (``EU NNP B-NP B-ORG``) and any two-column ``word tag`` file."""
    path = Path(path)
    need = max(2, *(c + 1 if c >= 0 else -c for c in (token_col, tag_col)))
    sentences: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []
    where: dict[str, int] = {}  # each distinct tag → the first line it is on
    comment_line = 0  # a comment opened this sentence: a block of comments alone is an error
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            if words:
                sentences.append(TaggedSentence(words, tags))
                words, tags = [], []
            elif comment_line:
                raise UsageError(f"{path}:{comment_line}: sentence with no tokens (only comment lines up to "
                                 f"the blank line {n})")
            comment_line = 0
            continue
        if not words and line.startswith("#"):
            comment_line = comment_line or n
            continue
        parts = [p.strip() for p in line.split("\t")] if "\t" in line else line.split()
        if parts[0] == "-DOCSTART-":
            continue
        if len(parts) < need:
            raise UsageError(f"{path}:{n}: {len(parts)} column(s), but the word is column {token_col} and the tag "
                             f"column {tag_col} (need at least {need}): {line[:60]!r}")
        words.append(parts[token_col])
        tags.append(parts[tag_col])
        where.setdefault(parts[tag_col], n)
    if words:
        sentences.append(TaggedSentence(words, tags))
    elif comment_line:
        raise UsageError(f"{path}:{comment_line}: sentence with no tokens (only comment lines)")
    _check_scheme(path, where)
    return _no_sentences(path, sentences)


_SCHEME_TAG = re.compile(r"O|[BIES]-\S+")


def _check_scheme(path: Path, where: dict[str, int]) -> None:
    """Entity tags (a file with B-/I- tags) must all be O or B-/I-/E-/S- and a type, or the entity F1 cannot be
    computed; POS or chunk tag sets without B-/I- are left alone."""
    if not any(t.startswith(("B-", "I-")) for t in where):
        return
    bad = sorted((n, t) for t, n in where.items() if not _SCHEME_TAG.fullmatch(t))
    if bad:
        n, t = bad[0]
        raise UsageError(f"{path}:{n}: tag {t!r} is not in the BIO/BIOES scheme the file's other tags use (O, or B-, "
                         "I-, E-, S- and a type such as B-PER); fix the tag")


def read_conllu(path: str | Path, column: str = "upos") -> list[TaggedSentence]:
    """Sentences of a CoNLL-U file: FORM as the word, ``column`` (upos, xpos, deprel, ...) as the tag."""
    path = Path(path)
    if column not in CONLLU_FIELDS:
        raise UsageError(f"CoNLL-U column {column!r}: use one of {', '.join(CONLLU_FIELDS)}")
    index = CONLLU_FIELDS.index(column)
    sentences: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []
    first = 0  # line where the current sentence (its comments or tokens) began
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            if words:
                sentences.append(TaggedSentence(words, tags))
                words, tags = [], []
            elif first:
                raise UsageError(f"{path}:{first}: sentence with no tokens")
            first = 0
            continue
        first = first or n
        if line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != len(CONLLU_FIELDS):
            raise UsageError(f"{path}:{n}: {len(parts)} tab-separated field(s), CoNLL-U needs 10: {line[:60]!r}")
        if "-" in parts[0] or "." in parts[0]:
            continue  # multi-word token range or empty node
        words.append(parts[1])
        tags.append(parts[index])
    if words:
        sentences.append(TaggedSentence(words, tags))
    elif first:
        raise UsageError(f"{path}:{first}: sentence with no tokens")
    return _no_sentences(path, sentences)


def read_klue_ner_chars(path: str | Path) -> list[TaggedSentence]:
    """KLUE NER at its own level: each sentence's characters (spaces included) and their BIO tags."""
    path = Path(path)
    sentences: list[TaggedSentence] = []
    chars: list[str] = []
    tags: list[str] = []
    first = 0
    for n, line in enumerate(_lines(path), 1):
        if line == "":
            if chars:
                sentences.append(TaggedSentence(chars, tags))
                chars, tags = [], []
            elif first:
                raise UsageError(f"{path}:{first}: sentence with no characters")
            first = 0
            continue
        first = first or n
        if line.startswith("##"):
            continue
        char, sep, tag = line.rpartition("\t")
        if not sep or len(char) != 1 or not tag:
            raise UsageError(f"{path}:{n}: expected one character, a tab and its tag (KLUE NER layout): "
                             f"{line[:60]!r}")
        if not _SCHEME_TAG.fullmatch(tag):
            raise UsageError(f"{path}:{n}: tag {tag!r} is not in the BIO scheme of KLUE NER (O, or B- / I- and a "
                             "type such as B-PS); fix the tag")
        chars.append(char)
        tags.append(tag)
    if chars:
        sentences.append(TaggedSentence(chars, tags))
    elif first:
        raise UsageError(f"{path}:{first}: sentence with no characters")
    return _no_sentences(path, sentences)


def _words_of(chars: list[str]) -> list[tuple[int, int]]:
    """(start, end) character spans of the runs of non-space characters."""
    spans = []
    start = -1
    for i, c in enumerate(chars):
        if c.isspace():
            if start >= 0:
                spans.append((start, i))
                start = -1
        elif start < 0:
            start = i
    if start >= 0:
        spans.append((start, len(chars)))
    return spans


def _convert(chars: list[str], tags: list[str]) -> tuple[TaggedSentence, list[tuple[int, int]], list]:
    spans = _words_of(chars)
    chunks = entities(tags)
    owner: list[int | None] = []  # entity index each word belongs to
    for start, end in spans:
        holding = [k for k, (_, s, e) in enumerate(chunks) if s <= start < e]
        inside = [k for k, (_, s, _e) in enumerate(chunks) if start < s < end]
        owner.append(holding[0] if holding else inside[0] if inside else None)
    word_tags = []
    for w, k in enumerate(owner):
        if k is None:
            word_tags.append("O")
        else:
            word_tags.append(("I-" if w > 0 and owner[w - 1] == k else "B-") + chunks[k][0])
    words = ["".join(chars[s:e]) for s, e in spans]
    return TaggedSentence(words, word_tags), spans, chunks


def klue_chars_to_words(chars: list[str], tags: list[str]) -> TaggedSentence:
    """One KLUE sentence from character level to word level (the rule is in the module docstring)."""
    return _convert(chars, tags)[0]


def klue_entity_survival(sentences: list[TaggedSentence]) -> dict[str, int]:
    """How many character-level entities the word-level conversion keeps: ``total``; ``words`` — a word entity of the
    same type spans exactly the words the entity touches; ``aligned`` — that, and the entity starts and ends on word
    boundaries (so nothing was added to it)."""
    total = kept = aligned = 0
    for chars, tags in sentences:
        converted, spans, chunks = _convert(chars, tags)
        word_entities = set(entities(converted.tags))
        for kind, s, e in chunks:
            touched = [w for w, (ws, we) in enumerate(spans) if ws < e and s < we]
            total += 1
            if touched and (kind, touched[0], touched[-1] + 1) in word_entities:
                kept += 1
                aligned += spans[touched[0]][0] == s and spans[touched[-1]][1] == e
    return {"total": total, "words": kept, "aligned": aligned}


def read_klue_ner(path: str | Path) -> list[TaggedSentence]:
    """KLUE NER converted to words (eojeol) and word-level BIO tags."""
    return [klue_chars_to_words(chars, tags) for chars, tags in read_klue_ner_chars(path)]


def _sniff(path: Path) -> str:
    if path.suffix.lower() == ".conllu":
        return "conllu"
    head = read_utf8(path).split("\n", 200)[:200]
    tokens = [line for line in head if line.strip() and not line.startswith("#")]
    if any(line.startswith("##") for line in head) and tokens and all(re.fullmatch(r".\t\S+", t) for t in tokens):
        return "klue"
    if tokens and all(len(t.split("\t")) == 10 and re.match(r"\d+([-.]\d+)?\t", t) for t in tokens):
        return "conllu"
    return "conll"


def read_tagging(path: str | Path, fmt: str = "auto") -> list[TaggedSentence]:
    """Word-level tagging data in any of the layouts. fmt 'auto': ``.conllu`` files are CoNLL-U; otherwise the first
    lines decide — ``##`` comments and one character per line mean KLUE NER, ten tab-separated fields starting with a
    token id mean CoNLL-U, anything else is CoNLL (word first, tag last)."""
    path = Path(path)
    if fmt not in FORMATS:
        raise UsageError(f"tagging format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if fmt == "auto":
        fmt = _sniff(path)
    if fmt == "conllu":
        return read_conllu(path)
    if fmt == "klue":
        return read_klue_ner(path)
    return read_conll(path)

"""Sequence-labelling metrics (NER, chunking) as the CoNLL shared tasks score them: conlleval's rules, in Python.

Tags are IOB2/BIO strings (``B-PER``, ``I-PER``, ``O``); IOBES's ``E-`` and ``S-`` are read too, as the
``seqeval`` package's port of conlleval reads them (conlleval.pl itself knows E but not S). A chunk (entity) starts
and ends where conlleval.pl's ``startOfChunk``/``endOfChunk`` say, which is lenient to ill-formed sequences the way
CoNLL scores always have been: an ``I-X`` after ``O`` (or after a chunk of another type) starts a new chunk,
``I-PER I-LOC`` is two chunks, ``B-X B-X`` is two. Sentences are separate: no chunk crosses a sentence boundary. An
entity counts as correct only if its type, start and end all match a gold one (precision/recall/F1 over chunks, the
CoNLL-2000/2003 "exact match"); token accuracy counts every tag, ``O`` included.
"""

from __future__ import annotations

from collections import Counter

Entity = tuple[str, int, int]  # (type, start, end): tokens start..end-1 (end exclusive, like a slice)


def _split(tag: str) -> tuple[str, str]:
    """(prefix, type): 'B-PER' → ('B', 'PER'); 'O' → ('O', '')."""
    if tag == "O":
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in ("B", "I", "E", "S") or not kind:
        raise ValueError(f"tag {tag!r} is not O or B-/I-/E-/S- followed by a type")
    return prefix, kind


def _end_of_chunk(prev_tag: str, tag: str, prev_type: str, kind: str) -> bool:
    """conlleval.pl endOfChunk: does the chunk that holds the previous token end before this one?"""
    return (prev_tag in ("B", "I") and tag in ("B", "S", "O")
            or prev_tag in ("E", "S")
            or prev_tag != "O" and prev_type != kind)


def _start_of_chunk(prev_tag: str, tag: str, prev_type: str, kind: str) -> bool:
    """conlleval.pl startOfChunk: does a chunk start at this token?"""
    return (tag in ("B", "S")
            or prev_tag in ("E", "S", "O") and tag in ("I", "E")
            or tag != "O" and prev_type != kind)


def entities(tags: list[str]) -> list[Entity]:
    """The chunks of one sentence's tags as (type, start, end) with ``end`` exclusive, in order.

    >>> entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5), ('ORG', 5, 6)]
    """
    out: list[Entity] = []
    prev_tag, prev_type, start = "O", "", -1
    for i, tag in enumerate(tags):
        t, kind = _split(tag)
        if start >= 0 and _end_of_chunk(prev_tag, t, prev_type, kind):
            out.append((prev_type, start, i))
            start = -1
        if _start_of_chunk(prev_tag, t, prev_type, kind):
            start = i
        prev_tag, prev_type = t, kind
    if start >= 0:
        out.append((prev_type, start, len(tags)))
    return out


def _check(gold: list[list[str]], pred: list[list[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")


def token_accuracy(gold: list[list[str]], pred: list[list[str]]) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag (conlleval's "accuracy"); 0.0 with no tokens."""
    _check(gold, pred)
    total = sum(len(g) for g in gold)
    correct = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    return correct / total if total else 0.0


def _prf(correct: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_prf(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Entity-level scores over sentences of tags, exact type-and-span match (conlleval's totals and per type).

    Returns ``{"precision", "recall", "f1", "support", "predicted", "correct", "per_type": {type: {"precision",
    "recall", "f1", "support", "predicted", "correct"}}}``; support = gold entities, predicted = predicted entities.
    Fractions are in 0..1 (conlleval prints percentages); a score whose denominator is 0 is 0.0. per_type holds every
    type seen in gold or predictions, sorted by name."""
    _check(gold, pred)
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_correct: Counter[str] = Counter()
    for g, p in zip(gold, pred):
        gold_ents, pred_ents = entities(g), entities(p)
        n_gold.update(e[0] for e in gold_ents)
        n_pred.update(e[0] for e in pred_ents)
        n_correct.update(e[0] for e in set(gold_ents) & set(pred_ents))

    def scores(correct: int, predicted: int, support: int) -> dict:
        precision, recall, f1 = _prf(correct, predicted, support)
        return {"precision": precision, "recall": recall, "f1": f1, "support": support, "predicted": predicted,
                "correct": correct}

    result = scores(sum(n_correct.values()), sum(n_pred.values()), sum(n_gold.values()))
    result["per_type"] = {k: scores(n_correct[k], n_pred[k], n_gold[k]) for k in sorted(n_gold.keys() | n_pred.keys())}
    return result

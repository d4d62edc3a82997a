"""Extractive-QA exact match and F1, as the official scripts compute them — two metrics:

``squad``   SQuAD v1.1's ``evaluate-v1.1.py`` (Rajpurkar et al. 2016): answers normalised by lower-casing,
            removing ASCII punctuation (``string.punctuation``) and the English articles a / an / the, and
            collapsing whitespace; F1 over the bag of normalised whitespace tokens (words).
``korquad`` KorQuAD 1.0's ``evaluate-v1.0.py`` (Lim et al. 2019): first the quotes and brackets ' " 《 》 < > 〈 〉
            ( ) ‘ ’ become spaces, then lower-casing, ``string.punctuation`` removed and whitespace collapsed (no
            article rule); F1 over the bag of *characters* of the normalised words. A Korean answer differs from
            the gold one mostly by an attached particle ('서울에서' vs '서울'), which word F1 scores 0 and character
            F1 scores 0.67.

Exact match is 1 when the normalised strings are equal. A question's score is its maximum over the gold answers,
and :func:`evaluate` reports the means in percent. Quirks of the official scripts are kept on purpose so numbers
compare with published ones: an answer that normalises to nothing has F1 0 even against an equally empty gold
answer, while its exact match is 1.
"""

from __future__ import annotations

import re
import string
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence

from bertgan.errors import UsageError

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """Lower-case, drop punctuation, drop articles, collapse whitespace (evaluate-v1.1.py, in its order)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def exact_match(prediction: str, ground_truth: str) -> float:
    """1.0 when the normalised answers are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def f1(prediction: str, ground_truth: str) -> float:
    """Token-overlap F1 of the normalised answers, in [0, 1]."""
    pred = normalize_answer(prediction).split()
    gold = normalize_answer(ground_truth).split()
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


_KORQUAD_SPACES = re.compile("['\"《》<>〈〉()‘’]")


def normalize_answer_korquad(s: str) -> str:
    """evaluate-v1.0.py's normalisation: quotes and brackets → space, lower-case, drop punctuation, collapse
    whitespace."""
    s = _KORQUAD_SPACES.sub(" ", s).lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    return " ".join(s.split())


def exact_match_korquad(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer_korquad(prediction) == normalize_answer_korquad(ground_truth))


def f1_korquad(prediction: str, ground_truth: str) -> float:
    """Character-overlap F1 of the normalised answers (spaces not counted), in [0, 1]."""
    pred = [c for word in normalize_answer_korquad(prediction).split() for c in word]
    gold = [c for word in normalize_answer_korquad(ground_truth).split() for c in word]
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


METRICS = {"squad": (exact_match, f1), "korquad": (exact_match_korquad, f1_korquad)}


def pick_metric(texts: Sequence[str]) -> str:
    """``korquad`` when most letters of ``texts`` are Hangul, else ``squad`` — the script each dataset ships."""
    letters = [c for t in texts for c in t if c.isalpha()]
    hangul = sum("\uac00" <= c <= "\ud7a3" or "\u3131" <= c <= "\u318e" for c in letters)
    return "korquad" if letters and hangul / len(letters) > 0.5 else "squad"


def evaluate(gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str], metric: str = "squad"
             ) -> dict[str, float]:
    """{"exact_match": %, "f1": %} over every question of ``gold`` ({id: gold answer texts}), by ``metric``
    (``squad`` or ``korquad``).

    A question without a prediction scores 0 (the official script prints 'Unanswered question ... will receive
    score 0'; here one warning counts them); predictions for ids not in ``gold`` are ignored.
    """
    if metric not in METRICS:
        raise UsageError(f"--metric {metric}: choose one of {', '.join(METRICS)}")
    em_fn, f1_fn = METRICS[metric]
    if not gold:
        raise UsageError("no gold questions to evaluate against")
    em_total = f1_total = 0.0
    missing = []
    for qid, answers in gold.items():
        if isinstance(answers, str):
            raise UsageError(f"question {qid!r}: gold answers must be a list of texts, got one string")
        if not answers:
            raise UsageError(f"question {qid!r}: has no gold answers; SQuAD v1.1 questions have at least one")
        if qid not in predictions:
            missing.append(qid)
            continue
        pred = predictions[qid]
        em_total += max(em_fn(pred, a) for a in answers)
        f1_total += max(f1_fn(pred, a) for a in answers)
    if missing:
        warnings.warn(f"{len(missing)} of {len(gold)} question(s) have no prediction and score 0 "
                      f"(first: {missing[0]!r})", stacklevel=2)
    return {"exact_match": 100.0 * em_total / len(gold), "f1": 100.0 * f1_total / len(gold)}

"""SQuAD v1.1 exact match and F1, as the official ``evaluate-v1.1.py`` (Rajpurkar et al. 2016) computes them.

Both compare *normalised* answers: lower-cased, ASCII punctuation (``string.punctuation``) removed, the English
articles a / an / the removed, whitespace collapsed. Exact match is 1 when the normalised strings are equal; F1
is the harmonic mean of precision and recall over the bag of normalised whitespace tokens. A question's score is
its maximum over the gold answers (dev questions have several), and :func:`evaluate` reports the means in
percent. Quirks of the official script are kept on purpose so numbers compare with published ones: an answer
that normalises to nothing ('the') has F1 0 even against an equally empty gold answer, while its exact match is
1; the normalisation is English-only (for Korean, KorQuAD's script also strips particles — not done here).
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


def evaluate(gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> dict[str, float]:
    """{"exact_match": %, "f1": %} over every question of ``gold`` ({id: gold answer texts}).

    A question without a prediction scores 0 (the official script prints 'Unanswered question ... will receive
    score 0'; here one warning counts them); predictions for ids not in ``gold`` are ignored.
    """
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
        em_total += max(exact_match(pred, a) for a in answers)
        f1_total += max(f1(pred, a) for a in answers)
    if missing:
        warnings.warn(f"{len(missing)} of {len(gold)} question(s) have no prediction and score 0 "
                      f"(first: {missing[0]!r})", stacklevel=2)
    return {"exact_match": 100.0 * em_total / len(gold), "f1": 100.0 * f1_total / len(gold)}

"""Classification metrics (GLUE / KLUE style): accuracy, macro-F1 and the confusion matrix, in NumPy.

They agree with scikit-learn (``accuracy_score``, ``f1_score(average="macro", zero_division=0)``,
``confusion_matrix``) without needing it: labels are any sortable values (ints or strings), by default the sorted
union of the labels in gold and predictions. KLUE reports macro-F1 for its classification tasks, GLUE accuracy (and
F1 for MRPC/QQP, Matthews correlation for CoLA).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _arrays(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or p.ndim != 1:
        raise ValueError(f"expected 1-D label sequences, got shapes {t.shape} and {p.shape}")
    if len(t) != len(p):
        raise ValueError(f"{len(t)} gold labels but {len(p)} predicted")
    if len(t) == 0:
        raise ValueError("no labels to score")
    return t, p


def _labels(t: np.ndarray, p: np.ndarray, labels: Sequence | None) -> list:
    if labels is not None:
        if len(labels) == 0:
            raise ValueError("labels is empty")
        return list(labels)
    return sorted(set(t.tolist()) | set(p.tolist()))


def accuracy(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray) -> float:
    """Fraction of predictions equal to the gold label."""
    t, p = _arrays(y_true, y_pred)
    return float(np.mean(t == p))


def confusion_matrix(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray,
                     labels: Sequence | None = None) -> np.ndarray:
    """counts[i, j] = examples with gold ``labels[i]`` predicted as ``labels[j]`` (int64). Examples whose gold or
    predicted label is not in ``labels`` are left out, as in scikit-learn."""
    t, p = _arrays(y_true, y_pred)
    labels = _labels(t, p, labels)
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for a, b in zip(t.tolist(), p.tolist()):
        i, j = index.get(a), index.get(b)
        if i is not None and j is not None:
            counts[i, j] += 1
    return counts


def per_class_f1(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray,
                 labels: Sequence | None = None) -> dict:
    """label → F1 of that class against the rest; 0.0 where the class is neither in gold nor predicted."""
    t, p = _arrays(y_true, y_pred)
    out = {}
    for label in _labels(t, p, labels):
        gold, pred = t == label, p == label
        tp = int(np.sum(gold & pred))
        denominator = int(np.sum(gold)) + int(np.sum(pred))  # 2tp + fp + fn
        out[label] = 2 * tp / denominator if denominator else 0.0
    return out


def macro_f1(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray, labels: Sequence | None = None) -> float:
    """Unweighted mean of the per-class F1 over ``labels`` (default: every class in gold or predictions), as
    scikit-learn's ``f1_score(average="macro", zero_division=0)``."""
    return float(np.mean(list(per_class_f1(y_true, y_pred, labels).values())))


def auroc(is_positive: Sequence | np.ndarray, scores: Sequence | np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative, ties
    counting one half (the Mann–Whitney U statistic over n₊·n₋) — scikit-learn's ``roc_auc_score``. The anomaly
    detection protocol scores anomalies as positives."""
    y = np.asarray(is_positive).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"expected two 1-D arrays of one length, got shapes {y.shape} and {s.shape}")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positives and negatives")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties (1-based)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))

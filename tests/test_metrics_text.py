import numpy as np
import pytest

from bertgan.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class_f1
from bertgan.metrics.seqeval import entities, entity_prf, token_accuracy

# --- seqeval: expected chunks worked out by hand from conlleval.pl's startOfChunk / endOfChunk ---


@pytest.mark.parametrize("tags,expected", [
    (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
    (["O", "I-PER", "I-PER", "O"], [("PER", 1, 3)]),  # I after O starts a chunk
    (["I-ORG"], [("ORG", 0, 1)]),  # I at the start of a sentence too
    (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),  # adjacent B-X B-X: two entities
    (["I-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),  # type change inside I's
    (["B-PER", "I-LOC", "B-LOC"], [("PER", 0, 1), ("LOC", 1, 2), ("LOC", 2, 3)]),
    (["O", "O"], []),
    ([], []),
    (["S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "E-LOC"],  # IOBES, read as seqeval does
     [("PER", 0, 1), ("LOC", 1, 4), ("LOC", 4, 5), ("LOC", 5, 6)]),
])
def test_entities_follow_conlleval(tags, expected):
    assert entities(tags) == expected


@pytest.mark.parametrize("tag", ["PER", "X-PER", "B-", "b-PER"])
def test_entities_reject_malformed_tags(tag):
    with pytest.raises(ValueError, match=f"tag {tag!r}"):
        entities(["O", tag])


def test_entity_prf_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "I-MISC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-ORG", "I-MISC"]]
    # gold: PER(0,2) LOC(3,4) | ORG(0,1) MISC(2,3)            = 4
    # pred: PER(0,2) ORG(3,4) | ORG(0,1) ORG(1,2) MISC(2,3)   = 5; correct: PER, ORG(0,1), MISC = 3
    r = entity_prf(gold, pred)
    assert (r["support"], r["predicted"], r["correct"]) == (4, 5, 3)
    assert r["precision"] == pytest.approx(3 / 5) and r["recall"] == pytest.approx(3 / 4)
    assert r["f1"] == pytest.approx(2 / 3)
    assert list(r["per_type"]) == ["LOC", "MISC", "ORG", "PER"]
    assert r["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1, "predicted": 1,
                                    "correct": 1}
    assert r["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0,
                                    "correct": 0}
    org = r["per_type"]["ORG"]
    assert (org["precision"], org["recall"], org["f1"]) == pytest.approx((1 / 3, 1.0, 0.5))
    assert token_accuracy(gold, pred) == pytest.approx(5 / 7)


def test_entity_prf_span_must_match_exactly_and_sentences_do_not_join():
    # I-PER after O is a chunk of its own in gold; predicting B-PER I-PER over a wider span is wrong.
    r = entity_prf([["O", "I-PER", "O"]], [["B-PER", "I-PER", "O"]])
    assert (r["support"], r["predicted"], r["correct"], r["f1"]) == (1, 1, 0, 0.0)
    # A chunk ending one sentence and an I- starting the next are two entities.
    r = entity_prf([["O", "B-PER"], ["I-PER", "O"]], [["O", "B-PER"], ["I-PER", "O"]])
    assert (r["support"], r["correct"], r["f1"]) == (2, 2, 1.0)
    empty = entity_prf([["O"]], [["O"]])
    assert (empty["precision"], empty["recall"], empty["f1"], empty["per_type"]) == (0.0, 0.0, 0.0, {})


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="1 gold sentences but 2 predicted"):
        entity_prf([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sentence 1: 1 gold tags but 2 predicted"):
        token_accuracy([["O"], ["O"]], [["O"], ["O", "O"]])


# --- classification: against scikit-learn ---


@pytest.mark.parametrize("seed", range(5))
def test_classification_matches_sklearn(seed):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 60)), int(rng.integers(2, 6))
    y_true = rng.integers(0, k, n)
    y_pred = rng.integers(0, k + 1, n)  # the class k may appear only in predictions
    assert accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert macro_f1(y_true, y_pred) == pytest.approx(sk.f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert np.array_equal(confusion_matrix(y_true, y_pred), sk.confusion_matrix(y_true, y_pred))
    labels = [k + 2, 1, 0]  # a subset, in an order of our own, with a class seen nowhere
    assert macro_f1(list(y_true), list(y_pred), labels) == pytest.approx(
        sk.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    assert np.array_equal(confusion_matrix(y_true, y_pred, labels), sk.confusion_matrix(y_true, y_pred, labels=labels))
    names = np.array(["contradiction", "entailment", "neutral", "other", "x", "y"])
    t, p = names[y_true].tolist(), names[y_pred].tolist()
    assert macro_f1(t, p) == pytest.approx(sk.f1_score(t, p, average="macro", zero_division=0))


def test_classification_by_hand_and_errors():
    y_true, y_pred = ["a", "a", "b", "c"], ["a", "b", "b", "b"]
    assert accuracy(y_true, y_pred) == 0.5
    # a: tp1 fn1 → 2/3; b: tp1 fp2 → 1/2; c: tp0 → 0
    assert per_class_f1(y_true, y_pred) == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 0.0})
    assert macro_f1(y_true, y_pred) == pytest.approx((2 / 3 + 0.5) / 3)
    assert confusion_matrix(y_true, y_pred).tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="2 gold labels but 1 predicted"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="no labels"):
        macro_f1([], [])
    with pytest.raises(ValueError, match="labels is empty"):
        confusion_matrix([0], [0], labels=[])

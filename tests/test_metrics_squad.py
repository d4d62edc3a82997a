"""SQuAD v1.1 metrics (evaluate-v1.1.py) on hand-made cases whose scores are worked out by hand below."""

from __future__ import annotations

import pytest

from bertgan.errors import UsageError
from bertgan.metrics.squad import evaluate, exact_match, f1, normalize_answer


def test_normalize_lowercases_drops_punctuation_articles_and_extra_space():
    assert normalize_answer("  The Cat's   HAT! ") == "cats hat"
    assert normalize_answer("an apple a day, the end.") == "apple day end"
    assert normalize_answer("Theatre and anthem") == "theatre and anthem"  # articles only as whole words
    assert normalize_answer("U.S.-made (1,000)") == "usmade 1000"  # punctuation is removed, not spaced


def test_exact_match_after_normalisation():
    assert exact_match("the Eiffel Tower", "Eiffel tower.") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_f1_partial_overlap():
    # pred {big, red, dog} vs gold {red, dog, barked}: 2 shared, P = R = 2/3, F1 = 2/3.
    assert f1("the big red dog", "red dog barked") == pytest.approx(2 / 3)
    # pred {denver, broncos} vs gold {denver, broncos, of, 2015}: P = 1, R = 1/2, F1 = 2·1·½ / 1½ = 2/3.
    assert f1("Denver Broncos", "The Denver Broncos of 2015") == pytest.approx(2 / 3)
    # counts are a multiset: x x y vs x y y share one x and one y: P = R = 2/3.
    assert f1("x x y", "x y y") == pytest.approx(2 / 3)
    assert f1("Paris", "London") == 0.0


def test_empty_after_normalisation_keeps_the_official_quirk():
    assert exact_match("the", "a.") == 1.0  # both normalise to ''
    assert f1("the", "a.") == 0.0  # no shared token, so F1 is 0 in evaluate-v1.1.py


def test_evaluate_takes_the_max_over_gold_answers_in_percent():
    gold = {"q1": ["Denver Broncos", "The Denver Broncos"],
            "q2": ["Santa Clara, California", "Levi's Stadium"],
            "q3": ["1990"]}
    pred = {"q1": "Broncos", "q2": "levi's stadium.", "q3": "in 1991", "extra": "ignored"}
    # q1: EM 0, F1 = P 1 × R ½ → 2/3 (against either gold); q2: EM 1, F1 1 (second gold); q3: 0 and 0.
    out = evaluate(gold, pred)
    assert out["exact_match"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx(100 * (2 / 3 + 1) / 3)


def test_unanswered_questions_score_zero_with_a_warning():
    with pytest.warns(UserWarning, match=r"1 of 2 question\(s\) have no prediction"):
        out = evaluate({"a": ["yes"], "b": ["no"]}, {"a": "Yes!"})
    assert out == {"exact_match": 50.0, "f1": 50.0}


def test_bad_gold():
    with pytest.raises(UsageError, match="no gold questions"):
        evaluate({}, {})
    with pytest.raises(UsageError, match="'q'.*list of texts"):
        evaluate({"q": "answer"}, {"q": "answer"})


@pytest.mark.parametrize("pred, gold, em, f1_value", [
    ("서울", "서울", 1.0, 1.0),
    ("서울에서", "서울", 0.0, 2 * (2 / 4) * 1.0 / (2 / 4 + 1.0)),  # a particle attached: 2 of 4 characters
    ("《토지》", "토지", 1.0, 1.0),  # the quotes and brackets the script removes
    ("‘소나기’", "(소나기)", 1.0, 1.0),
    ("1,000원", "1000원", 1.0, 1.0),  # string.punctuation removed
    ("세종 대왕", "세종대왕", 0.0, 1.0),  # spaces are not characters: equal bags
    ("the Seoul", "seoul", 0.0, 2 * (5 / 8) * 1.0 / (5 / 8 + 1.0)),  # no English article rule, lower-cased
    ("부산", "서울", 0.0, 0.0),
])
def test_korquad_metric_as_its_script(pred, gold, em, f1_value):
    from bertgan.metrics.squad import exact_match_korquad, f1_korquad

    assert exact_match_korquad(pred, gold) == em
    assert f1_korquad(pred, gold) == pytest.approx(f1_value)


def test_korquad_is_chosen_for_korean_and_differs_from_word_f1():
    from bertgan.metrics.squad import evaluate, pick_metric

    gold, preds = {"q": ["서울"]}, {"q": "서울에서"}
    assert evaluate(gold, preds, "squad")["f1"] == 0.0  # one word, not the gold word
    assert evaluate(gold, preds, "korquad")["f1"] == pytest.approx(66.6667, abs=1e-3)
    assert pick_metric(["세종대왕은 한글을 만들었다. (1443년)"]) == "korquad"
    assert pick_metric(["The museum is in Paris."]) == "squad"
    with pytest.raises(UsageError, match="--metric bleu"):
        evaluate(gold, preds, "bleu")

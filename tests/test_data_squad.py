"""SQuAD v1.1 reading: fields, answer offsets checked against the context, errors that name the file and JSON
path, and splits that never put one article in both train and eval."""

from __future__ import annotations

import json

import pytest

from bertgan.data.squad import SquadExample, gold_answers, read_squad, split_by_article
from bertgan.errors import UsageError

CONTEXT = "Super Bowl 50 was played in Santa Clara. The Broncos won."


def _squad(**qa_overrides) -> dict:
    qa = {"id": "q1", "question": "Where was it played?", "answers": [{"text": "Santa Clara", "answer_start": 28}]}
    qa.update(qa_overrides)
    return {"version": "1.1", "data": [{"title": "Super_Bowl_50", "paragraphs": [
        {"context": CONTEXT, "qas": [qa, {"id": "q2", "question": "Who won?",
                                          "answers": [{"text": "Broncos", "answer_start": 45},
                                                      {"text": "The Broncos", "answer_start": 41}]}]}]}]}


def _write(tmp_path, obj, name="squad.json") -> str:
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return p


def test_read_examples(tmp_path):
    ex = read_squad(_write(tmp_path, _squad()))
    assert ex == [SquadExample("q1", "Super_Bowl_50", "Where was it played?", CONTEXT, [("Santa Clara", 28)]),
                  SquadExample("q2", "Super_Bowl_50", "Who won?", CONTEXT, [("Broncos", 45), ("The Broncos", 41)])]
    assert gold_answers(ex) == {"q1": ["Santa Clara"], "q2": ["Broncos", "The Broncos"]}


def test_korean_offsets_are_characters(tmp_path):
    ctx = "세종대왕은1443년에 훈민정음을 창제했다."
    obj = {"data": [{"title": "세종", "paragraphs": [{"context": ctx, "qas": [
        {"id": "k1", "question": "훈민정음은 언제 창제되었나?",
         "answers": [{"text": "1443년", "answer_start": 5}]}]}]}]}
    (ex,) = read_squad(_write(tmp_path, obj))
    assert ex.answers == [("1443년", 5)]


def test_wrong_answer_start_names_file_question_and_what_is_there(tmp_path):
    p = _write(tmp_path, _squad(answers=[{"text": "Santa Clara", "answer_start": 26}]))
    with pytest.raises(UsageError) as e:
        read_squad(p)
    msg = str(e.value)
    assert str(p) in msg and "'q1'" in msg and "data[0].paragraphs[0].qas[0].answers[0]" in msg
    assert "holds 'n Santa Cla' there" in msg and "occurs at offset 28" in msg


def test_missing_key_names_the_json_path(tmp_path):
    obj = _squad()
    del obj["data"][0]["paragraphs"][0]["qas"][1]["question"]
    p = _write(tmp_path, obj)
    with pytest.raises(UsageError, match=r"squad.json: data\[0\]\.paragraphs\[0\]\.qas\[1\]: no 'question'"):
        read_squad(p)
    with pytest.raises(UsageError, match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\]\.answers\[0\]\.answer_start: "
                                         r"expected a whole number, got str"):
        read_squad(_write(tmp_path, _squad(answers=[{"text": "Santa Clara", "answer_start": "28"}])))


@pytest.mark.parametrize("content, message", [
    ("", "the file is empty"),
    ("  \n", "the file is empty"),
    ("{\"data\": [", r"line 1, column \d+: not valid JSON"),
    ("[1, 2]", "expected SQuAD v1.1 JSON"),
    ({"data": []}, "holds no questions"),
    ({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": []}]}]}, "holds no questions"),
])
def test_empty_or_malformed_files(tmp_path, content, message):
    with pytest.raises(UsageError, match=message):
        read_squad(_write(tmp_path, content))


def test_missing_file_duplicate_ids_and_no_answers(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_squad(tmp_path / "nope.json")
    with pytest.raises(UsageError, match=r"question id 'q2' is used again \(first at data\[0\]\.paragraphs\[0\]"):
        read_squad(_write(tmp_path, _squad(id="q2")))
    with pytest.raises(UsageError, match="'q1' has no answers"):
        read_squad(_write(tmp_path, _squad(answers=[])))


def _examples(n_articles: int, per_article: int) -> list[SquadExample]:
    return [SquadExample(f"{a}-{q}", f"article{a}", "q?", "ctx", [("ctx", 0)])
            for a in range(n_articles) for q in range(per_article)]


def test_split_by_article_is_disjoint_complete_and_seeded():
    ex = _examples(10, 3)
    train, evaluation = split_by_article(ex, 0.2, seed=1)
    assert {e.title for e in train}.isdisjoint({e.title for e in evaluation})
    assert len({e.title for e in evaluation}) == 2 and len(train) + len(evaluation) == len(ex)
    assert sorted(e.id for e in train + evaluation) == sorted(e.id for e in ex)
    assert split_by_article(ex, 0.2, seed=1) == (train, evaluation)
    assert len({frozenset(e.title for e in split_by_article(ex, 0.2, seed=s)[1]) for s in range(5)}) > 1
    # at least one article on each side, whatever the fraction
    assert len({e.title for e in split_by_article(_examples(2, 1), 0.01, seed=0)[1]}) == 1
    assert len({e.title for e in split_by_article(_examples(2, 1), 0.99, seed=0)[0]}) == 1
    with pytest.raises(UsageError, match="at least two are needed"):
        split_by_article(_examples(1, 5), 0.5, seed=0)
    with pytest.raises(UsageError, match="between 0 and 1"):
        split_by_article(ex, 1.0, seed=0)


def test_real_xquad(shared_file):
    ex = read_squad(shared_file("xquad/xquad.en.json"))
    assert len(ex) == 1190 and len({e.context for e in ex}) == 240 and len({e.title for e in ex}) == 48
    assert all(e.context[s:s + len(t)] == t for e in ex for t, s in e.answers)
    train, evaluation = split_by_article(ex, 0.1, seed=0)
    assert {e.title for e in train}.isdisjoint({e.title for e in evaluation})
    assert len({e.title for e in evaluation}) == 5 and len(train) + len(evaluation) == 1190

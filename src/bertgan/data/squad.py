"""SQuAD v1.1 extractive question answering data: read the JSON, check every answer offset, split by article.

The layout is the one of Rajpurkar et al. (2016)'s train-v1.1.json / dev-v1.1.json (and XQuAD, KorQuAD 1.0)::

    {"data": [{"title": ..., "paragraphs": [{"context": ...,
               "qas": [{"id": ..., "question": ..., "answers": [{"text": ..., "answer_start": ...}]}]}]}]}

``answer_start`` is a character (code point) offset into ``context``. google-research/bert's ``run_squad.py``
(``read_squad_examples``) maps it onto whitespace-split words and only *warns* and skips a question whose
answer text is not found there; here a wrong offset is an error that names the file, the question id and what
the context really holds at that offset, because a silently skipped question changes the score. Nothing is
tokenised here: the offsets stay character offsets, so contexts without spaces (Korean '...대왕은1443년에...')
keep their exact answer spans (``bertgan.bert.squad_features`` works on the same characters).

Train and evaluation questions about the same article share its paragraphs, so :func:`split_by_article` splits
whole articles (SQuAD's own train/dev split is by article too).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bertgan.errors import UsageError


@dataclass
class SquadExample:
    """One question about one paragraph, with its gold answers as (text, start character in ``context``)."""

    id: str
    title: str  # the article; questions of one title are never split between train and eval
    question: str
    context: str
    answers: list[tuple[str, int]] = field(default_factory=list)

    @property
    def answer_texts(self) -> list[str]:
        return [text for text, _ in self.answers]


def _get(obj, key: str, kind: type | tuple[type, ...], where: str, path: Path):
    """``obj[key]`` checked to be of ``kind``; else a UsageError naming the file and the JSON path."""
    if not isinstance(obj, dict):
        raise UsageError(f"{path}: {where}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise UsageError(f"{path}: {where}: no {key!r}; expected SQuAD v1.1 JSON "
                         '({"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", "answers": '
                         '[{"text", "answer_start"}]}]}]}]})')
    value = obj[key]
    names = {list: "a list", str: "a string", int: "a whole number", dict: "an object"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or isinstance(value, bool):
        want = " or ".join(names.get(k, k.__name__) for k in kinds)
        raise UsageError(f"{path}: {where}.{key}: expected {want}, got {type(value).__name__} {value!r:.60}")
    return value


def _load(path: Path) -> dict:
    if not path.is_file():
        raise UsageError(f"{path}: no such file; give a SQuAD v1.1 JSON file (e.g. dev-v1.1.json, xquad.en.json)")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 (byte {e.start}); SQuAD JSON must be UTF-8") from e
    if not raw.strip():
        raise UsageError(f"{path}: the file is empty; expected SQuAD v1.1 JSON with a top-level \"data\" list")
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from e
    if not isinstance(obj, dict) or "data" not in obj:
        got = f"an object with keys {sorted(obj)[:5]}" if isinstance(obj, dict) else type(obj).__name__
        raise UsageError(f"{path}: expected SQuAD v1.1 JSON, an object with a \"data\" list; got {got}")
    return obj


def read_squad(path: str | Path) -> list[SquadExample]:
    """Every question of a SQuAD v1.1 JSON file, in file order, with its answers checked against the context.

    A missing or mistyped key names the JSON path (``data[3].paragraphs[0].qas[2]: no 'question'``); an answer
    whose ``answer_start`` does not point at its text names the question id and shows what is there. An article
    without ``title`` gets ``data[i]`` as its title so that it still counts as an article of its own.
    """
    path = Path(path)
    obj = _load(path)
    data = _get(obj, "data", list, "top level", path)
    examples: list[SquadExample] = []
    seen: dict[str, str] = {}
    for a, article in enumerate(data):
        where_a = f"data[{a}]"
        title = article.get("title") if isinstance(article, dict) else None
        title = title if isinstance(title, str) else where_a
        for p, paragraph in enumerate(_get(article, "paragraphs", list, where_a, path)):
            where_p = f"{where_a}.paragraphs[{p}]"
            context = _get(paragraph, "context", str, where_p, path)
            for q, qa in enumerate(_get(paragraph, "qas", list, where_p, path)):
                where_q = f"{where_p}.qas[{q}]"
                qid = str(_get(qa, "id", (str, int), where_q, path))
                question = _get(qa, "question", str, where_q, path)
                if qid in seen:
                    raise UsageError(f"{path}: {where_q}: question id {qid!r} is used again (first at "
                                     f"{seen[qid]}); ids must be unique, predictions are keyed by them")
                seen[qid] = where_q
                answers = _answers(qa, qid, context, where_q, path)
                examples.append(SquadExample(id=qid, title=title, question=question, context=context,
                                             answers=answers))
    if not examples:
        raise UsageError(f"{path}: holds no questions (\"data\" has {len(data)} article(s) but no \"qas\" entries); "
                         "is it the right file?")
    return examples


def _answers(qa: dict, qid: str, context: str, where: str, path: Path) -> list[tuple[str, int]]:
    answers = _get(qa, "answers", list, where, path)
    if not answers:
        raise UsageError(f"{path}: {where}: question {qid!r} has no answers; SQuAD v1.1 questions all have at "
                         "least one (SQuAD 2.0's unanswerable questions are not supported)")
    out = []
    for k, ans in enumerate(answers):
        where_k = f"{where}.answers[{k}]"
        text = _get(ans, "text", str, where_k, path)
        start = _get(ans, "answer_start", int, where_k, path)
        found = context[start:start + len(text)] if start >= 0 else ""
        if not text or found != text:
            if not text:
                raise UsageError(f"{path}: {where_k}: question {qid!r}: the answer text is empty")
            elsewhere = [i for i in range(len(context)) if context.startswith(text, i)][:3]
            hint = (f"; the answer occurs at offset {', '.join(map(str, elsewhere))}" if elsewhere
                    else "; the answer text does not occur in the context at all")
            raise UsageError(f"{path}: {where_k}: question {qid!r}: answer_start {start} does not point at the "
                             f"answer {text!r}: the context holds {found!r} there{hint}")
        out.append((text, start))
    return out


def gold_answers(examples: Sequence[SquadExample]) -> dict[str, list[str]]:
    """{question id: gold answer texts}, the ``gold`` argument of :func:`bertgan.metrics.squad.evaluate`."""
    return {ex.id: ex.answer_texts for ex in examples}


def split_by_article(examples: Sequence[SquadExample], eval_fraction: float,
                     seed: int = 0) -> tuple[list[SquadExample], list[SquadExample]]:
    """(train, eval): ``round(eval_fraction × articles)`` randomly chosen articles (at least one, and at least one
    left for training) go to eval, the rest to train; no article (title) is in both. Order within each part is
    the input order; the same seed gives the same split."""
    if not isinstance(eval_fraction, (int, float)) or not 0 < eval_fraction < 1:
        raise UsageError(f"eval fraction {eval_fraction!r}: must be between 0 and 1 (e.g. 0.1)")
    titles = list(dict.fromkeys(ex.title for ex in examples))
    if len(titles) < 2:
        raise UsageError(f"cannot split {len(examples)} question(s) by article: they come from {len(titles)} "
                         "article(s); at least two are needed (one for training, one for evaluation)")
    n_eval = min(max(1, round(eval_fraction * len(titles))), len(titles) - 1)
    shuffled = titles[:]
    random.Random(seed).shuffle(shuffled)
    held_out = set(shuffled[:n_eval])
    train = [ex for ex in examples if ex.title not in held_out]
    evaluation = [ex for ex in examples if ex.title in held_out]
    return train, evaluation

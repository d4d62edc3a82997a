"""The Korean benchmark's splits (benchmarks/korean_tasks.py): no test item leaks into training."""

from __future__ import annotations

import importlib.util
import json

from conftest import ROOT


def _korean_tasks():
    spec = importlib.util.spec_from_file_location("korean_tasks", ROOT / "benchmarks" / "korean_tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_klue_splits_share_no_premise_and_no_sentence(shared_file, tmp_path):
    shared_file("klue/klue-nli-v1.1_dev.json")
    shared_file("klue/klue-ner-v1.1_dev.tsv")
    splits = _korean_tasks().make_splits(shared_file("klue").parent, tmp_path)

    read = lambda p: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]  # noqa: E731
    train, test = (read(p) for p in splits["nli"])
    assert (len(train), len(test)) == (2400, 600)
    # KLUE NLI pairs each premise with one hypothesis per label: a premise on both sides would lead a model that
    # memorised its other two labels to a wrong answer, below chance.
    assert not {p["premise"] for p in train} & {p["premise"] for p in test}
    assert {p["gold_label"] for p in test} == {"entailment", "neutral", "contradiction"}

    blocks = [p.read_text(encoding="utf-8").split("\n\n") for p in splits["ner"]]
    sentences = [{b for b in part if b.strip() and not all(x.startswith("##") for x in b.splitlines())}
                 for part in blocks]
    assert (len(sentences[0]), len(sentences[1])) == (4000, 1000)
    assert not sentences[0] & sentences[1]

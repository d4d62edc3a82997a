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


def test_select_splits_cut_training_only(shared_file, tmp_path):
    """--select chooses settings on a fifth of each training split: nothing of a test split is in the files it cuts."""
    for name in ("klue/klue-nli-v1.1_dev.json", "klue/klue-ner-v1.1_dev.tsv", "ud-korean-gsd/ko_gsd-ud-dev.conllu",
                 "nsmc-raw-derived/ratings_train_30k.txt", "nsmc-raw-derived/ratings_test_10k.txt"):
        shared_file(name)
    tasks = _korean_tasks()
    full = tasks.make_splits(shared_file("klue").parent, tmp_path / "full")
    cut = tasks.make_splits(shared_file("klue").parent, tmp_path / "select", select=True)

    header, *rows = full["nsmc"][0].read_text(encoding="utf-8").splitlines()
    train, held = ([line for line in p.read_text(encoding="utf-8").splitlines()] for p in cut["nsmc"])
    assert train[0] == held[0] == header
    assert (len(train) - 1, len(held) - 1) == (len(rows) * 4 // 5, len(rows) - len(rows) * 4 // 5)
    assert sorted(train[1:] + held[1:]) == sorted(rows)
    test_ids = {line.split("\t")[0] for line in full["nsmc"][1].read_text(encoding="utf-8").splitlines()[1:]}
    assert not test_ids & {line.split("\t")[0] for line in train[1:] + held[1:]}

    read = lambda p: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]  # noqa: E731
    nli_train, nli_held = (read(p) for p in cut["nli"])
    assert len(nli_train) + len(nli_held) == len(read(full["nli"][0]))
    assert not {p["premise"] for p in nli_train} & {p["premise"] for p in nli_held}
    assert not {p["premise"] for p in nli_train + nli_held} & {p["premise"] for p in read(full["nli"][1])}

    for task in ("ner", "pos"):
        sentences = [[b for b in p.read_text(encoding="utf-8").split("\n\n")
                      if b.strip() and not all(x.startswith("##") for x in b.splitlines())] for p in cut[task]]
        source = [b for b in full[task][0].read_text(encoding="utf-8").strip("\n").split("\n\n")
                  if b.strip() and not all(x.startswith("##") for x in b.splitlines())]
        assert len(sentences[0]) == len(source) * 4 // 5
        assert sorted(s.strip("\n") for s in sentences[0] + sentences[1]) == sorted(s.strip("\n") for s in source)

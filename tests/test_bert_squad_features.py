"""SQuAD windows and decoding (run_squad.py with character offsets): oracle round trip on real XQuAD, a Korean
answer with no spaces around it, sliding windows and max-context, and the rules a decoded span must obey."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from bertgan.bert.squad_features import build_features, decode, features_to_tensors, nbest_predictions
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.data.squad import SquadExample, read_squad
from bertgan.errors import UsageError
from bertgan.metrics.squad import evaluate

MINILM = "all-MiniLM-L6-v2-tokenizer"
KO_CONTEXT = "세종대왕은1443년에 훈민정음을 창제했다."
KO_PIECES = ["세종대왕", "##은", "##1443", "##년", "##에", "훈민정음", "##을", "창제", "##했다", ".",
             "언제", "?", "만들", "##었", "##나"]


@pytest.fixture(scope="module")
def minilm() -> WordPieceTokenizer:
    return WordPieceTokenizer.from_dir(shared_path(MINILM))


@pytest.fixture(scope="module")
def korean() -> WordPieceTokenizer:
    """A hand-made vocabulary: '세종대왕은1443년에' is one pre-tokenised word split into 5 pieces."""
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *KO_PIECES])}
    return WordPieceTokenizer(vocab, lowercase=False)


def _oracle(examples, features, seq_len):
    """Logits 10 at the token holding the first gold answer's first / last character, 0 elsewhere."""
    start, end = np.zeros((len(features), seq_len)), np.zeros((len(features), seq_len))
    for i, f in enumerate(features):
        text, s = examples[f.example_index].answers[0]
        e = s + len(text)
        for j, o in enumerate(f.token_offsets):
            if o is not None and o[0] <= s < o[1]:
                start[i, j] = 10
            if o is not None and o[0] < e <= o[1]:
                end[i, j] = 10
    return start, end


def test_xquad_oracle_round_trip(minilm):
    examples = read_squad(shared_path("xquad/xquad.en.json"))
    features = build_features(examples, minilm, max_seq_length=128, doc_stride=64)
    assert all(len(f.input_ids) == len(f.token_offsets) == 128 and sum(f.attention_mask) <= 128 for f in features)
    start, end = _oracle(examples, features, 128)
    for i, f in enumerate(features):  # the recorded training positions are the oracle's tokens
        if f.start_position:
            assert (start[i].argmax(), end[i].argmax()) == (f.start_position, f.end_position)
    pred = decode(examples, features, start, end)
    exact = [pred[ex.id] == ex.answers[0][0] for ex in examples]
    # 1189 / 1190 = 99.92 %: the one miss is '... (2,70' whose end falls inside the WordPiece '700'.
    assert sum(exact) / len(exact) >= 0.99
    assert sum(exact) == 1189
    assert evaluate({ex.id: ex.answer_texts for ex in examples}, pred)["exact_match"] > 99.9


def test_korean_answer_without_spaces_decodes_exactly(korean):
    ex = SquadExample("k1", "세종", "훈민정음은 언제 만들었나?", KO_CONTEXT, [("1443년", 5)])
    (f,) = build_features([ex], korean, max_seq_length=32, is_training=True)
    tokens = korean.convert_ids_to_tokens(f.input_ids[:sum(f.attention_mask)])
    assert tokens[f.start_position:f.end_position + 1] == ["##1443", "##년"]
    start = np.zeros((1, 32))
    end = np.zeros((1, 32))
    start[0, f.start_position], end[0, f.end_position] = 5.0, 5.0
    assert decode([ex], [f], start, end) == {"k1": "1443년"}
    # a span ending at the sentence's last piece keeps the original text, spaces included
    end[0, f.end_position] = 0
    end[0, tokens.index("##했다")] = 6.0
    assert decode([ex], [f], start, end) == {"k1": "1443년에 훈민정음을 창제했다"}


def _long_example():
    context = " ".join(f"Sentence number {i} talks about topic {i * 7}." for i in range(40))
    answer = "topic 203"
    return SquadExample("long", "t", "Which topic comes in sentence 29?", context, [(answer, context.index(answer))])


def test_long_context_slides_windows_with_one_max_context_window_per_token(minilm):
    ex = _long_example()
    features = build_features([ex], minilm, max_seq_length=64, doc_stride=20)
    n_ctx = len(minilm.tokenize(ex.context))
    assert len(features) > 3
    q = minilm.encode(ex.question).ids[1:-1]
    covered, max_ctx = set(), {}
    for w, f in enumerate(features):
        n = sum(f.attention_mask)
        assert len(f.input_ids) == 64 and n <= 64 and f.window_index == w
        assert f.input_ids[:len(q) + 2] == [minilm.cls_token_id, *q, minilm.sep_token_id]
        assert f.input_ids[n - 1] == minilm.sep_token_id and set(f.input_ids[n:]) <= {minilm.pad_token_id}
        assert f.token_type_ids[:n] == [0] * (len(q) + 2) + [1] * (n - len(q) - 2)
        a, b = f.context_tokens
        assert b - a == n - len(q) - 3 and sum(o is not None for o in f.token_offsets) == b - a
        assert a == 20 * w  # windows start doc_stride tokens apart
        covered.update(range(a, b))
        for k in range(a, b):
            if f.token_is_max_context[len(q) + 2 + k - a]:
                max_ctx[k] = max_ctx.get(k, 0) + 1
    assert covered == set(range(n_ctx)) and features[-1].context_tokens[1] == n_ctx
    assert max_ctx == dict.fromkeys(range(n_ctx), 1)  # every context token is scored in exactly one window


def test_training_windows_without_the_answer(minilm):
    ex = _long_example()
    every = build_features([ex], minilm, max_seq_length=64, doc_stride=20)
    kept = build_features([ex], minilm, max_seq_length=64, doc_stride=20, is_training=True, keep_impossible=True)
    dropped = build_features([ex], minilm, max_seq_length=64, doc_stride=20, is_training=True)
    assert len(every) == len(kept) > len(dropped) >= 1
    assert any(f.is_impossible and f.start_position == f.end_position == 0 for f in kept)
    assert not any(f.is_impossible for f in dropped)
    for f in dropped:
        a, b = f.token_offsets[f.start_position][0], f.token_offsets[f.end_position][1]
        assert ex.context[a:b] == "topic 203"
    batch = features_to_tensors(dropped)
    assert batch["input_ids"].shape == (len(dropped), 64) and batch["start_positions"].shape == (len(dropped),)
    no_answer = SquadExample("n", "t", "q?", "some context", [])
    assert "start_positions" not in features_to_tensors(build_features([no_answer], minilm, 16))


def test_decoding_rules(minilm):
    ex = SquadExample("d", "t", "Who?", "Alice met Bob in Paris on Monday.", [("Bob", 10)])
    (f,) = build_features([ex], minilm, max_seq_length=32)
    pos = {ex.context[o[0]:o[1]]: j for j, o in enumerate(f.token_offsets) if o is not None}
    start, end = np.full((1, 32), -100.0), np.full((1, 32), -100.0)
    start[0, 1] = end[0, 1] = 100.0  # a question token scores highest but is never an answer
    start[0, pos["Monday"]], end[0, pos["Bob"]] = 30.0, 30.0  # Monday…Bob (60) ends before it starts: not a span
    start[0, pos["Bob"]], start[0, pos["met"]], end[0, pos["Paris"]] = 10.0, 5.0, 40.0
    # valid: Bob…Paris 50 (3 tokens), met…Paris 45 (4), Bob…Bob 40 (1), met…Bob 35 (2)
    assert decode([ex], [f], start, end) == {"d": "Bob in Paris"}
    assert decode([ex], [f], start, end, max_answer_length=2) == {"d": "Bob"}
    best = nbest_predictions([ex], [f], start, end)["d"]
    assert [p.text for p in best[:4]] == ["Bob in Paris", "met Bob in Paris", "Bob", "met Bob"]
    assert best[0].score == 50.0 and (best[0].start_char, best[0].end_char) == (10, 22)
    # only the n_best highest starts and ends are paired (run_squad.py): with 3, 'met' (5) is not among them
    assert [p.text for p in nbest_predictions([ex], [f], start, end, n_best=3)["d"]] == ["Bob in Paris", "Bob"]
    import torch

    assert decode([ex], [f], torch.tensor(start), torch.tensor(end)) == {"d": "Bob in Paris"}
    assert decode([ex], [], np.zeros((0, 32)), np.zeros((0, 32))) == {"d": ""}
    with pytest.raises(UsageError, match="start_logits has 2 rows but there are 1 features"):
        decode([ex], [f], np.zeros((2, 32)), np.zeros((1, 32)))


def test_bad_lengths(minilm):
    ex = SquadExample("d", "t", "a question of quite a few words here", "ctx", [("ctx", 0)])
    with pytest.raises(UsageError, match="leaves no room for the context"):
        build_features([ex], minilm, max_seq_length=8)
    with pytest.raises(UsageError, match="doc_stride 0"):
        build_features([ex], minilm, doc_stride=0)
    (f,) = build_features([ex], minilm, max_seq_length=8, max_query_length=2)  # question cut to 2 tokens
    assert f.input_ids[1:4] == [*minilm.encode("a question").ids[1:3], minilm.sep_token_id]
    with pytest.raises(UsageError, match="max_answer_length 0"):
        decode([ex], [f], np.zeros((1, 8)), np.zeros((1, 8)), max_answer_length=0)

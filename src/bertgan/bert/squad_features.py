"""SQuAD examples → BERT inputs (sliding windows over the context), and span logits → answer text.

This follows google-research/bert's ``run_squad.py`` (``convert_examples_to_features``, ``_check_is_max_context``,
``write_predictions``) with one change: positions are *character offsets* from the tokenizer, not indexes into
a whitespace-split word list. ``run_squad.py`` splits the context on whitespace, tokenizes each word, and
recovers the answer by de-tokenising and re-aligning (``get_final_text``); a context without spaces around the
answer (Korean '세종대왕은1443년에', where the answer is '1443년') has no word boundary there, so the gold span
cannot even be represented. Here the context is tokenised once with offsets, a gold span becomes the tightest
run of tokens that covers its characters, and a predicted span becomes ``context[start_char:end_char]`` — the
original spelling, spacing and case, exactly.

Input of one window (one *feature*)::

    [CLS] question (≤ max_query_length tokens) [SEP] context[start : start + n] [SEP] [PAD]...

with ``3 + len(question) + n ≤ max_seq_length``; windows start ``doc_stride`` tokens apart until the last one
reaches the end of the context. A context token seen by several windows is scored in decoding only in the
window where it has the most context on both sides (``_check_is_max_context``).

Training targets: the start/end token of the (first) gold answer inside the window; a window that does not
contain the whole answer points both at [CLS] (position 0, the SQuAD 2.0 convention for "no answer here").
``run_squad.py``'s comment says such windows are "thrown out"; for SQuAD v1.1 its code in fact keeps them
pointing at [CLS]. ``keep_impossible=False`` (the default) drops them from training features, as the comment
says; ``keep_impossible=True`` keeps them, as the code does. Evaluation features (``is_training=False``) keep
every window.

A span boundary that falls inside a WordPiece token (gold '1990' inside the token '1990s') cannot be predicted
exactly: the nearest token boundary outside it is used, the same loss as ``run_squad.py``'s
``_improve_answer_span``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.data.squad import SquadExample
from bertgan.errors import UsageError


@dataclass
class SquadFeature:
    """One window of one example, padded to ``max_seq_length``; per-token lists all have that length."""

    example_index: int  # index into the examples list it was built from
    window_index: int  # which window of that example (0, 1, ...)
    input_ids: list[int]
    token_type_ids: list[int]  # 0 for [CLS] question [SEP] and padding, 1 for the context window and its [SEP]
    attention_mask: list[int]
    token_offsets: list[tuple[int, int] | None]  # context tokens: (start, end) characters; others: None
    token_is_max_context: list[bool]  # context tokens: is this the window that scores this token in decoding
    start_position: int | None = None  # answer tokens in this window; 0 = [CLS] when outside; None = no answer
    end_position: int | None = None
    context_tokens: tuple[int, int] = field(default=(0, 0))  # [first, last + 1) context token of the window

    @property
    def is_impossible(self) -> bool:
        """True when the example has an answer but this window does not contain it."""
        return self.start_position == 0


@dataclass(frozen=True)
class Prediction:
    """One candidate answer span: its text, characters in the context, and start + end logit."""

    text: str
    start_char: int
    end_char: int
    score: float


def _answer_tokens(offsets: Sequence[tuple[int, int]], start_char: int, end_char: int) -> tuple[int, int] | None:
    """The tightest run of context tokens covering characters [start_char, end_char); None if none overlaps."""
    first = next((i for i, (s, e) in enumerate(offsets) if e > start_char), None)
    last = next((i for i in range(len(offsets) - 1, -1, -1) if offsets[i][0] < end_char), None)
    if first is None or last is None or last < first:
        return None
    return first, last


def _windows(n_tokens: int, max_tokens: int, doc_stride: int) -> list[tuple[int, int]]:
    """run_squad.py's doc_spans as (start, length)."""
    spans = []
    start = 0
    while start < n_tokens:
        length = min(n_tokens - start, max_tokens)
        spans.append((start, length))
        if start + length == n_tokens:
            break
        start += min(length, doc_stride)
    return spans


def _is_max_context(spans: Sequence[tuple[int, int]], span_index: int, position: int) -> bool:
    """run_squad.py's _check_is_max_context: the window where ``position`` has the most context on its shorter
    side (ties: the longer window, then the earlier one)."""
    best_score, best = None, None
    for i, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best = score, i
    return best == span_index


def build_features(examples: Sequence[SquadExample], tokenizer: WordPieceTokenizer, max_seq_length: int = 384,
                   doc_stride: int = 128, max_query_length: int = 64, is_training: bool = False,
                   keep_impossible: bool = False) -> list[SquadFeature]:
    """Features for ``examples``, in example order (run_squad.py's defaults: 384 / 128 / 64).

    Every feature records the token offsets and max-context flags that :func:`decode` needs. When an example has
    an answer, start/end positions of its first answer are recorded (0 when the window does not contain it);
    with ``is_training`` such windows are dropped unless ``keep_impossible``.
    """
    for name, value, low in (("max_seq_length", max_seq_length, 4), ("doc_stride", doc_stride, 1),
                             ("max_query_length", max_query_length, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise UsageError(f"{name} {value!r}: must be a whole number ≥ {low}")
    examples = list(examples)
    if not examples:
        return []
    # Tokenise each distinct context once (SQuAD has ~5 questions a paragraph) and all questions, in Rust batches.
    contexts = list(dict.fromkeys(ex.context for ex in examples))
    ctx_enc = tokenizer.encode_batch(contexts, truncation=None, padding=False)
    ctx = {c: (ids[1:-1], offs[1:-1]) for c, ids, offs in zip(contexts, ctx_enc["input_ids"],
                                                               ctx_enc["offset_mapping"])}
    q_ids = tokenizer.encode_batch([ex.question for ex in examples], truncation=None, padding=False)["input_ids"]
    cls_id, sep_id, pad_id = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id

    features: list[SquadFeature] = []
    for ei, ex in enumerate(examples):
        query = q_ids[ei][1:-1][:max_query_length]
        max_tokens = max_seq_length - len(query) - 3
        if max_tokens < 1:
            raise UsageError(f"max_seq_length {max_seq_length} leaves no room for the context after a question "
                             f"of {len(query)} tokens; raise max_seq_length or lower max_query_length "
                             f"(run_squad.py: 384 and 64)")
        doc_ids, doc_offsets = ctx[ex.context]
        answer = None
        if ex.answers:
            text, start_char = ex.answers[0]
            answer = _answer_tokens(doc_offsets, start_char, start_char + len(text))
        spans = _windows(len(doc_ids), max_tokens, doc_stride)
        offset = len(query) + 2  # [CLS] question [SEP]
        for wi, (start, length) in enumerate(spans):
            n_real = offset + length + 1
            pad = max_seq_length - n_real
            input_ids = [cls_id, *query, sep_id, *doc_ids[start:start + length], sep_id] + [pad_id] * pad
            token_type_ids = [0] * offset + [1] * (length + 1) + [0] * pad
            token_offsets: list[tuple[int, int] | None] = [None] * max_seq_length
            max_context = [False] * max_seq_length
            for j in range(length):
                token_offsets[offset + j] = tuple(doc_offsets[start + j])
                max_context[offset + j] = _is_max_context(spans, wi, start + j)
            start_pos = end_pos = None
            if ex.answers:
                if answer is not None and start <= answer[0] and answer[1] < start + length:
                    start_pos, end_pos = answer[0] - start + offset, answer[1] - start + offset
                else:
                    start_pos = end_pos = 0
                    if is_training and not keep_impossible:
                        continue
            features.append(SquadFeature(example_index=ei, window_index=wi, input_ids=input_ids,
                                         token_type_ids=token_type_ids, attention_mask=[1] * n_real + [0] * pad,
                                         token_offsets=token_offsets, token_is_max_context=max_context,
                                         start_position=start_pos, end_position=end_pos,
                                         context_tokens=(start, start + length)))
    return features


def features_to_tensors(features: Sequence[SquadFeature]) -> dict:
    """Stack features into int64 torch tensors: input_ids, token_type_ids, attention_mask [N, max_seq_length],
    and start_positions / end_positions [N] when every feature has them (the names HF's QA heads take)."""
    import torch

    if not features:
        raise UsageError("no features to batch")
    out = {k: torch.tensor([getattr(f, k) for f in features], dtype=torch.long)
           for k in ("input_ids", "token_type_ids", "attention_mask")}
    if all(f.start_position is not None for f in features):
        out["start_positions"] = torch.tensor([f.start_position for f in features], dtype=torch.long)
        out["end_positions"] = torch.tensor([f.end_position for f in features], dtype=torch.long)
    return out


def _as_rows(logits, n: int, name: str) -> list[np.ndarray]:
    if hasattr(logits, "detach"):  # a torch tensor
        logits = logits.detach().float().cpu().numpy()
    rows = [np.asarray(r, dtype=np.float64).reshape(-1) for r in logits]
    if len(rows) != n:
        raise UsageError(f"{name} has {len(rows)} rows but there are {n} features; give one row per feature")
    return rows


def _best_indexes(row: np.ndarray, n_best: int) -> list[int]:
    # Highest first; ties in index order (run_squad.py's _get_best_indexes sorts stably the same way).
    return np.argsort(-row, kind="stable")[:n_best].tolist()


def nbest_predictions(examples: Sequence[SquadExample], features: Sequence[SquadFeature], start_logits,
                      end_logits, n_best: int = 20, max_answer_length: int = 30) -> dict[str, list[Prediction]]:
    """{example id: up to ``n_best`` distinct answers, best first} (run_squad.py's write_predictions).

    For each window, the ``n_best`` highest start and end logits are paired; a pair counts only if both tokens
    are context tokens, the start token is max-context in this window, end ≥ start and the span has at most
    ``max_answer_length`` tokens. Score = start logit + end logit; equal texts are kept once.
    ``start_logits`` / ``end_logits``: [num_features, seq_len] as a torch tensor, numpy array or lists.
    """
    for name, value in (("n_best", n_best), ("max_answer_length", max_answer_length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(f"{name} {value!r}: must be a whole number ≥ 1 (run_squad.py: 20 and 30)")
    starts = _as_rows(start_logits, len(features), "start_logits")
    ends = _as_rows(end_logits, len(features), "end_logits")
    by_example: dict[int, list[int]] = {}
    for fi, f in enumerate(features):
        by_example.setdefault(f.example_index, []).append(fi)
    out: dict[str, list[Prediction]] = {}
    for ei, ex in enumerate(examples):
        candidates = []
        for fi in by_example.get(ei, []):
            f, s_row, e_row = features[fi], starts[fi], ends[fi]
            n = min(len(f.token_offsets), len(s_row), len(e_row))
            for s in _best_indexes(s_row[:n], n_best):
                if f.token_offsets[s] is None or not f.token_is_max_context[s]:
                    continue
                for e in _best_indexes(e_row[:n], n_best):
                    if f.token_offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                        continue
                    candidates.append((float(s_row[s] + e_row[e]), f.token_offsets[s][0], f.token_offsets[e][1]))
        candidates.sort(key=lambda c: -c[0])
        seen: set[str] = set()
        preds: list[Prediction] = []
        for score, a, b in candidates:
            text = ex.context[a:b]
            if text in seen:
                continue
            seen.add(text)
            preds.append(Prediction(text=text, start_char=a, end_char=b, score=score))
            if len(preds) == n_best:
                break
        out[ex.id] = preds
    return out


def decode(examples: Sequence[SquadExample], features: Sequence[SquadFeature], start_logits, end_logits,
           n_best: int = 20, max_answer_length: int = 30) -> dict[str, str]:
    """{example id: best answer text}, the text cut from the context by character offsets ('' when no span is
    valid; run_squad.py writes 'empty'). The dict is what :func:`bertgan.metrics.squad.evaluate` scores."""
    nbest = nbest_predictions(examples, features, start_logits, end_logits, n_best, max_answer_length)
    return {qid: preds[0].text if preds else "" for qid, preds in nbest.items()}

"""Inference pipelines named as transformers names them: ``fill-mask``, ``feature-extraction``,
``text-classification``, ``token-classification`` and ``question-answering``.

``fill-mask`` is the masked-LM objective of seed 000 run forwards: "'나는 [MASK]에 가서 사과와 [MASK]를 샀다'라는
문장에서 Masking된 '슈퍼'와 '바나나'를 맞추게 하는 것". Every [MASK] gets its own top-k list, predicted jointly from
one forward pass over the whole sentence (both directions of context).

The three fine-tuning pipelines run seed 000's three recipes forwards, with the outputs transformers' pipelines
give, so that a model fine-tuned here or by transformers reads the same either way:

* ``text-classification``: the [CLS] head's softmax over ``config.id2label`` (a text or a text pair).
* ``token-classification``: one tag per *word*. Words are whitespace-separated units and nothing more, so Korean
  eojeols ('시장에', '샀다.') are words as they stand; each word is tokenised on its own and its tag is read at its
  first WordPiece, the fine-tuning convention (the label on the first sub-token, −100 on the rest). Inputs longer
  than the model are cut into overlapping windows of whole words, and each word is read in the window where it
  has the most context on both sides, so no word is dropped.
* ``question-answering``: SQuAD decoding (:mod:`bertgan.bert.squad_features`) with exact character offsets into
  the context, scored as transformers scores spans: P(start) × P(end), each a softmax over the window's context
  tokens and [CLS].

A fine-tuning pipeline refuses a folder without its trained head (a pre-training checkpoint has no ``classifier``
or ``qa_outputs`` weights), since a randomly initialised head would answer with confident-looking noise.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from bertgan.bert.hub import from_pretrained, model_path
from bertgan.bert.model import (
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.errors import UsageError
from bertgan.io import read_json
from bertgan.train.runtime import autocast, pick_device, resolve_precision


def _load_tokenizer(folder: str | Path) -> WordPieceTokenizer:
    folder = model_path(folder)
    if not any((folder / f).is_file() for f in ("tokenizer.json", "vocab.txt")):
        raise UsageError(f"--model {folder}: no tokenizer (vocab.txt or tokenizer.json) beside the weights; save "
                         "the tokenizer into the model folder")
    return WordPieceTokenizer.from_dir(folder)


def _inference(method):
    """A pipeline call: no gradients, and the pipeline's precision over the whole call — one autocast region, so
    each weight is cast to bf16 once per call rather than once per batch."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with torch.no_grad(), autocast(self.device, self.precision):
            return method(self, *args, **kwargs)
    return run


@dataclass
class _Batch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor


def pad(rows: list[list[int]], pad_id: int, device, types: list[list[int]] | None = None) -> _Batch:
    """Token-id rows (and their segment ids; default all 0) padded to the longest, on ``device``."""
    input_ids = torch.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=torch.long)
    type_ids, mask = torch.zeros_like(input_ids), torch.zeros_like(input_ids)
    for i, r in enumerate(rows):
        input_ids[i, :len(r)], mask[i, :len(r)] = torch.tensor(r), 1
        if types is not None:
            type_ids[i, :len(r)] = torch.tensor(types[i])
    return _Batch(input_ids.to(device), mask.to(device), type_ids.to(device))


class _Pipeline:
    def __init__(self, model: str | Path, cls, device: str = "auto", truncate: bool = True,
                 precision: str = "fp32"):
        model = model_path(model)  # a folder, or a packaged model's name
        self.tokenizer = _load_tokenizer(model)
        quiet = logging.getLogger("bertgan")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # a pre-training checkpoint carries heads this task does not use
        try:
            self.model = from_pretrained(model, cls, device=pick_device(device))
        finally:
            quiet.setLevel(level)
        self.device = next(self.model.parameters()).device
        self.max_length = self.model.config.max_position_embeddings
        self.truncate = truncate
        self.precision = resolve_precision(precision, self.device)

    def _pad(self, rows: list[list[int]], types: list[list[int]] | None = None) -> _Batch:
        return pad(rows, self.tokenizer.pad_token_id, self.device, types)

    def _run_onnx(self, path: str | Path | None) -> None:
        """Run the graph exported by ``bertgan bert export`` (onnxruntime, CPU) in place of the torch model; the
        folder still gives the tokenizer, the labels and the checks."""
        if path is not None:
            from bertgan.onnx import OnnxBert

            self.model, self.device = OnnxBert(path, self.model.config), torch.device("cpu")
            self.precision = "fp32"  # the exported graph is fp32; autocast does not reach onnxruntime

    def _sorted_batches(self, texts: list[str], pairs: list[str] | None, batch_size: int):
        """Yield ``(positions, batch)``: every text tokenised once, then batched in order of length so that each
        batch pads to a length close to all of its rows (a batch of mixed lengths is mostly padding); the caller
        puts results back at ``positions``."""
        enc = self.tokenizer.encode_batch(texts, pairs, truncation=None, padding=False)
        ids, types = enc["input_ids"], enc["token_type_ids"]
        long = [i for i, x in enumerate(ids) if len(x) > self.max_length]
        if long:
            if not self.truncate:
                raise UsageError(f"input {long[0]} has {len(ids[long[0]])} tokens, more than max_position_embeddings "
                                 f"{self.max_length}; shorten it or allow truncation (drop --no-truncate)")
            warnings.warn(f"{len(long)} input(s) longer than max_position_embeddings {self.max_length} truncated",
                          stacklevel=3)
            cut = self.tokenizer.encode_batch([texts[i] for i in long], None if pairs is None else
                                              [pairs[i] for i in long], max_length=self.max_length,
                                              truncation="longest_first", padding=False)
            for j, i in enumerate(long):
                ids[i], types[i] = cut["input_ids"][j], cut["token_type_ids"][j]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            pos = order[start:start + batch_size]
            yield pos, self._pad([ids[i] for i in pos], [types[i] for i in pos])


class FillMaskPipeline(_Pipeline):
    """Top-k for every [MASK] (seed 000's masked LM), one piece per [MASK] as transformers' fill-mask gives — or,
    with ``whole_word=K``, whole words of up to K pieces with their joint probability.

    A word glued to a [MASK] continues the masked word: in '나는 [MASK]에 가서' the particle 에 is encoded as the
    continuation piece '##에', as it is in '슈퍼에' (슈퍼 ##에), not as a word of its own (what a plain encoding of
    the text gives, and a Korean model never saw in training)."""

    def __init__(self, model, device="auto", truncate=True, precision: str = "fp32"):
        super().__init__(model, BertForMaskedLM, device, truncate, precision)
        missing = [k for k in self.model.load_report.missing if k.startswith("cls.predictions")]
        if missing:
            from bertgan.bert.hub import is_extension, packaged_models

            with_head = [n for n, f in packaged_models().items() if n != "minilm" and not is_extension(f)]
            raise UsageError(f"--model {model}: has no masked-LM head ({missing[0]} … not in the weights); "
                             "fill-mask needs a BertForPreTraining or BertForMaskedLM checkpoint"
                             + (f" (packaged models with one: {', '.join(with_head)})" if with_head else ""))
        vocab = self.tokenizer.get_vocab()
        self._vocab = vocab
        continuation = torch.zeros(self.tokenizer.vocab_size, dtype=torch.bool)
        continuation[[i for t, i in vocab.items() if t.startswith("##")]] = True
        special = torch.zeros_like(continuation)
        special[self.tokenizer.all_special_ids] = True
        self._continuation, self._special = continuation, special

    # -------------------------------------------------------------------------------------------- encoding
    def _continue_word(self, word: str) -> list[int]:
        """WordPiece's greedy longest match for the rest of a word: '##' pieces only; [UNK] if it cannot."""
        ids, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = self._vocab.get("##" + word[start:end])
                if piece is not None:
                    ids.append(piece)
                    start = end
                    break
            else:
                return [self.tokenizer.unk_token_id]
        return ids

    def _mask_ids(self, text: str) -> tuple[list[int], list[bool]]:
        """[CLS] … [SEP] ids of ``text``, and for each [MASK] whether it begins a word (not glued to letters before
        it). A word glued after a [MASK] is encoded as its continuation."""
        tok = self.tokenizer
        mask = tok.special_tokens["mask"]
        norm, pre, model = tok._tok.normalizer, tok._tok.pre_tokenizer, tok._tok.model
        ids, starts = [tok.cls_token_id], []
        parts = text.split(mask)
        for i, part in enumerate(parts):
            if i:
                ids.append(tok.mask_token_id)
                before = parts[i - 1]
                # a word starts after whitespace or punctuation (BERT splits there), or at the very beginning;
                # right after letters, or after another [MASK], the mask continues a word
                starts.append(_breaks_word(before[-1]) if before else i == 1)
            words = pre.pre_tokenize_str(norm.normalize_str(part))
            for j, (word, (a, _)) in enumerate(words):
                if j == 0 and i and a == 0 and not _breaks_word(word[0]):  # glued to the [MASK]: its word goes on
                    ids.extend(self._continue_word(word))
                else:
                    ids.extend(tok.convert_tokens_to_ids([t.value for t in model.tokenize(word)]))
        ids.append(tok.sep_token_id)
        return ids, starts

    def _batch(self, rows: list[list[int]]) -> _Batch:
        longest = max(len(r) for r in rows)
        if longest > self.max_length:
            if not self.truncate:
                raise UsageError(f"input of {longest} tokens is longer than max_position_embeddings "
                                 f"{self.max_length}; shorten it or allow truncation (drop --no-truncate)")
            warnings.warn(f"input of {longest} tokens truncated to max_position_embeddings {self.max_length}",
                          stacklevel=3)
            rows = [r[:self.max_length - 1] + [r[-1]] if len(r) > self.max_length else r for r in rows]
        return self._pad(rows)

    @_inference
    def _probs(self, rows: list[list[int]]) -> torch.Tensor:
        """(N, L, V) masked-LM probabilities of each row."""
        b = self._batch(rows)
        return self.model(b.input_ids, b.attention_mask, b.token_type_ids).prediction_logits.float().softmax(-1)

    # -------------------------------------------------------------------------------------------- answers
    @_inference
    def __call__(self, texts: str | list[str], top_k: int = 5, whole_word: int = 0) -> list:
        """For each text, for each [MASK] in it: the top_k answers, best first — {token, token_id, score} dicts, or
        with ``whole_word=K`` {word, pieces, score} dicts, score the joint probability of the pieces."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        if top_k <= 0:
            raise UsageError(f"--top-k {top_k}: must be a positive integer")
        if not isinstance(whole_word, int) or whole_word < 0 or whole_word > 8:
            raise UsageError(f"--whole-word {whole_word}: the most pieces a word may have, 1–8 (0: one piece per "
                             "[MASK], no word constraint)")
        encoded = []
        for i, t in enumerate(texts):
            _check_str(t, i)
            ids, starts = self._mask_ids(t)
            if not starts:
                raise UsageError(f"text {i + 1} has no [MASK] token: {t!r}; write [MASK] where a word should be "
                                 "predicted")
            encoded.append((ids, starts))
        mask_id = self.tokenizer.mask_token_id
        if whole_word:
            out = [[self._whole_words(ids, m, starts[m], whole_word, top_k) for m in range(len(starts))]
                   for ids, starts in encoded]
            return out[0] if single else out
        probs = self._probs([ids for ids, _ in encoded])
        out = []
        for i, (ids, _) in enumerate(encoded):
            where = [p for p, t in enumerate(ids[:probs.shape[1]]) if t == mask_id]
            top = probs[i, where].topk(min(top_k, probs.shape[-1]), dim=-1)
            out.append([[{"token": self.tokenizer.convert_ids_to_tokens(int(t)), "token_id": int(t), "score": float(s)}
                         for s, t in zip(scores, ids_)] for scores, ids_ in zip(top.values, top.indices)])
        return out[0] if single else out

    def _beam(self, ids: list[int], pos: int, length: int, starts_word: bool, width: int
              ) -> list[tuple[list[int], float]]:
        """The [MASK] at ``pos`` as ``length`` masks, filled left to right: the ``width`` best (piece ids, log joint
        probability), each piece's probability conditioned on the pieces before it."""
        mask_id = self.tokenizer.mask_token_id
        beams = [([], 0.0)]
        for j in range(length):
            rows = [ids[:pos] + pieces + [mask_id] * (length - len(pieces)) + ids[pos + 1:] for pieces, _ in beams]
            probs = self._probs(rows)[:, pos + j]  # (beams, V)
            allowed = self._continuation if j or not starts_word else ~self._continuation
            probs = probs.masked_fill(~allowed | self._special, 0.0)
            logp = probs.clamp_min(1e-30).log() + torch.tensor([lp for _, lp in beams])[:, None]
            best = logp.flatten().topk(min(width, logp.numel()))
            beams = [(beams[int(f) // logp.shape[1]][0] + [int(f) % logp.shape[1]], float(v))
                     for v, f in zip(best.values, best.indices)]
        return beams

    def _whole_words(self, ids: list[int], m: int, starts_word: bool, k: int, top_k: int) -> list[dict]:
        """Whole-word decoding of the m-th [MASK]: for each length L = 1…k it becomes L masks, filled left to right by
        a beam of ``top_k`` (the first piece a word start, unless the [MASK] is glued to letters before it; the rest
        '##' pieces), each piece conditioned on the pieces already chosen — the order-based multi-token decoding of
        Jiang et al. 2020 (X-FACTR). Words of every length are ranked together by joint probability."""
        pos = [p for p, t in enumerate(ids) if t == self.tokenizer.mask_token_id][m]
        found: dict[str, dict] = {}
        for length in range(1, k + 1):
            for pieces, lp in self._beam(ids, pos, length, starts_word, top_k):
                tokens = self.tokenizer.convert_ids_to_tokens(pieces)
                word = "".join(t[2:] if t.startswith("##") else t for t in tokens)
                if word not in found or found[word]["score"] < math.exp(lp):
                    found[word] = {"word": word, "pieces": tokens, "score": math.exp(lp)}
        return sorted(found.values(), key=lambda w: -w["score"])[:top_k]


def _breaks_word(c: str) -> bool:
    """Whitespace or punctuation, where BERT's pre-tokeniser ends a word (its _is_punctuation: ASCII symbols too)."""
    import unicodedata

    return c.isspace() or unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47 or 58 <= ord(c) <= 64
                                                                       or 91 <= ord(c) <= 96 or 123 <= ord(c) <= 126)


def _check_str(text, i: int) -> None:
    if not isinstance(text, str):
        raise UsageError(f"text {i + 1}: expected a string, got {type(text).__name__}")


class FeatureExtractionPipeline(_Pipeline):
    """Sentence vectors. ``pooling="auto"`` pools as the folder says — a sentence-transformers folder's modules.json
    (all-MiniLM-L6-v2: the mean over tokens, then L2-normalised; an aligned student: mean, a Dense layer onto its
    teacher's width, normalised) — and by [CLS] for a plain BERT folder. An explicit ``cls``/``mean`` changes only
    the pooling; a Dense layer or normalisation the folder lists is part of the model and always applied."""

    def __init__(self, model, device="auto", truncate=True, pooling: str = "auto", onnx: str | Path | None = None,
                 precision: str = "fp32"):
        super().__init__(model, BertModel, device, truncate, precision)
        self._run_onnx(onnx)
        if pooling not in ("auto", "cls", "mean"):
            raise UsageError(f"--pooling {pooling}: use auto (as the model folder says), cls (the [CLS] vector) or "
                             "mean (average of the tokens)")
        from bertgan.bert.hub import read_sentence_head

        self.head = read_sentence_head(model_path(model))
        if self.head.dense is not None:
            self.head.dense.to(self.device)
        self.pooling = (self.head.pooling or "cls") if pooling == "auto" else pooling

    @property
    def dim(self) -> int:
        """The width of the vectors returned: the Dense layer's output, else the hidden size."""
        return self.head.dim or self.model.config.hidden_size

    @_inference
    def __call__(self, texts: str | list[str], batch_size: int = 32, progress: bool = False) -> torch.Tensor:
        """(N, dim) sentence vectors: the final hidden state of [CLS], or the mean over real (non-padding) tokens,
        then the folder's sentence modules (Dense, normalisation) if it has them."""
        from tqdm.auto import tqdm

        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        _positive(batch_size, "--batch-size")
        out = torch.zeros(len(texts), self.dim)
        with tqdm(total=len(texts), disable=not progress, desc="embed", unit="text") as bar:
            for pos, b in self._sorted_batches(texts, None, batch_size):
                h = self.model(b.input_ids, b.attention_mask, b.token_type_ids).last_hidden_state  # (N, L, H)
                v = pool(h, b.attention_mask, self.pooling)  # (N, H)
                out[pos] = self.head(v.float()).cpu()
                bar.update(len(pos))
        return out[0] if single else out


def pool(h: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """(N, L, H) token states → (N, H): the [CLS] state, or the mean over the tokens ``mask`` marks real."""
    if pooling == "cls":
        return h[:, 0]
    m = mask[..., None].to(h.dtype)
    return (h * m).sum(1) / m.sum(1)


# ------------------------------------------------------------------------------------------------ fine-tuned heads

# The fine-tuned classes, the weights only they have, the task and the ``bertgan bert predict`` sub-command.
_HEADS = {"BertForSequenceClassification": ("classifier", "text-classification", "classify"),
          "BertForTokenClassification": ("classifier", "token-classification", "tag"),
          "BertForQuestionAnswering": ("qa_outputs", "question-answering", "qa")}


def _positive(value, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{name} {value!r}: must be a positive whole number")


class _HeadPipeline(_Pipeline):
    """A pipeline over a fine-tuned head: refuses a folder that holds another head, or none."""

    def __init__(self, model: str | Path, cls: type, device: str = "auto", truncate: bool = True,
                 onnx: str | Path | None = None, precision: str = "fp32"):
        head, task, sub = _HEADS[cls.__name__]
        super().__init__(model, cls, device, truncate, precision)
        config = read_json(Path(model) / "config.json") or {}
        archs = config.get("architectures") or []
        other = next((a for a in archs if a in _HEADS and a != cls.__name__), None)
        if other is not None and cls.__name__ not in archs:
            raise UsageError(f"--model {model}: holds a {other} (config.json architectures), not a {cls.__name__}; "
                             f"use the {_HEADS[other][1]} pipeline ('bertgan bert predict {_HEADS[other][2]}')")
        missing = [k for k in self.model.load_report.missing if k.startswith(head + ".")]
        if missing:
            raise UsageError(f"--model {model}: has no fine-tuned {head!r} weights ({missing[0]} … not in the "
                             f"weights; a pre-training checkpoint has none), so it cannot do {task}; fine-tune it "
                             f"first ('bertgan bert finetune {sub} --model {model} …') and predict with the "
                             "fine-tuned folder it writes")
        self.labels = self.model.config.labels
        self._run_onnx(onnx)

    def _check_top_k(self, top_k: int | None) -> None:
        _positive(top_k, "--top-k", allow_none=True)
        if top_k is not None and top_k > len(self.labels):
            raise UsageError(f"--top-k {top_k}: the model has {len(self.labels)} labels ({', '.join(self.labels)}); "
                             f"use 1 to {len(self.labels)}")


class TextClassificationPipeline(_HeadPipeline):
    """A label for each text (or text pair) from the [CLS] head, as transformers' ``text-classification``."""

    def __init__(self, model: str | Path, device: str = "auto", truncate: bool = True,
                 onnx: str | Path | None = None, precision: str = "fp32"):
        super().__init__(model, BertForSequenceClassification, device, truncate, onnx, precision)

    @_inference
    def __call__(self, texts: str | Sequence[str], text_pairs: str | Sequence[str] | None = None,
                 top_k: int | None = 1, batch_size: int = 32) -> dict | list:
        """Per text ``{"label", "score"}`` (softmax probability); with ``top_k`` > 1 a list of them, best first,
        and with ``top_k=None`` every label. A one-output (regression) head gives its raw value as the score.
        A single string gives one result, a list a list of results."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        pairs = None
        if text_pairs is not None:
            pairs = [text_pairs] if isinstance(text_pairs, str) else list(text_pairs)
            if len(pairs) != len(texts):
                raise UsageError(f"{len(pairs)} text pair(s) for {len(texts)} text(s); give one pair per text")
        self._check_top_k(top_k)
        _positive(batch_size, "--batch-size")
        if not texts:
            return []
        logits = torch.zeros(len(texts), len(self.labels))
        for pos, b in self._sorted_batches(texts, pairs, batch_size):
            logits[pos] = self.model(b.input_ids, b.attention_mask, b.token_type_ids).logits.float().cpu()
        scores = logits if logits.shape[-1] == 1 else logits.softmax(-1)
        out: list = []
        for row in scores:
            ranked = [{"label": self.labels[int(i)], "score": float(row[i])}
                      for i in torch.argsort(row, descending=True, stable=True)]
            out.append(ranked[0] if top_k == 1 else ranked[:top_k])
        return out[0] if single else out


@dataclass
class _Word:
    text: str
    start: int  # characters in the sentence
    end: int
    ids: list[int]  # its WordPiece ids, tokenised on its own


def _split_words(text: str) -> list[_Word]:
    return [_Word(m.group(), m.start(), m.end(), []) for m in re.finditer(r"\S+", text)]


def _word_windows(lengths: Sequence[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Word ranges [first, last) whose pieces fit ``budget``, covering every word; each window starts at the earliest
    word that shares at most ``overlap`` pieces with the window before it and still leaves it room to go further."""
    windows: list[tuple[int, int]] = []
    first, n = 0, len(lengths)
    while first < n:
        last, used = first, 0
        while last < n and used + lengths[last] <= budget:
            used += lengths[last]
            last += 1
        last = max(last, first + 1)  # lengths are ≤ budget, so this only guards the loop
        windows.append((first, last))
        if last == n:
            break
        nxt, shared = last, 0
        room = min(overlap, budget - lengths[last])  # the next window must reach past this one
        while nxt - 1 > first and shared + lengths[nxt - 1] <= room:
            nxt -= 1
            shared += lengths[nxt]
        first = nxt
    return windows


class TokenClassificationPipeline(_HeadPipeline):
    """A tag per word (or, with ``aggregate``, BIO entities), as transformers' ``token-classification`` with
    ``aggregation_strategy="first"``."""

    def __init__(self, model: str | Path, device: str = "auto", truncate: bool = True,
                 onnx: str | Path | None = None, precision: str = "fp32"):
        super().__init__(model, BertForTokenClassification, device, truncate, onnx, precision)

    def __call__(self, inputs: str | Sequence[str] | Sequence[Sequence[str]], aggregate: bool = False,
                 batch_size: int = 32, stride: int | None = None, max_length: int | None = None) -> list:
        """Tag one text (str), one pre-split sentence (list of words) or a batch of pre-split sentences.

        Per word: ``{"word", "tag", "score", "start", "end"}``, the tag being the argmax at the word's first
        WordPiece and the score its softmax probability; start/end are character offsets into the text (for
        pre-split words, into ``" ".join(words)``, as transformers' ``is_split_into_words``). With
        ``aggregate=True``: the entities of the IOB2/BIO tags (conlleval's chunking,
        :func:`bertgan.metrics.seqeval.entities`) as ``{"entity_group", "text", "score", "start", "end"}``, the
        score being the mean over the entity's words. See :meth:`batch` for lists of texts.
        """
        if isinstance(inputs, str):
            return self.batch([inputs], aggregate, batch_size, stride, max_length)[0]
        inputs = list(inputs)
        if inputs and all(isinstance(w, str) for w in inputs):
            return self.batch([inputs], aggregate, batch_size, stride, max_length)[0]
        return self.batch(inputs, aggregate, batch_size, stride, max_length)

    @_inference
    def batch(self, items: Sequence[str | Sequence[str]], aggregate: bool = False, batch_size: int = 32,
              stride: int | None = None, max_length: int | None = None) -> list[list[dict]]:
        """One result list per item; an item is a text (str) or a pre-split sentence (list of words).

        ``max_length``: tokens per window ([CLS] and [SEP] included; default and maximum the model's
        max_position_embeddings); ``stride``: tokens shared by neighbouring windows (default a quarter of a window).
        """
        _positive(batch_size, "--batch-size")
        max_length = self.max_length if max_length is None else max_length
        if not isinstance(max_length, int) or not 3 <= max_length <= self.max_length:
            raise UsageError(f"max_length {max_length!r}: must be 3 to the model's {self.max_length} tokens")
        budget = max_length - 2
        stride = budget // 4 if stride is None else stride
        if not isinstance(stride, int) or not 0 <= stride < budget:
            raise UsageError(f"stride {stride!r}: tokens shared by neighbouring windows; must be 0 to {budget - 1}")
        if aggregate:
            self._check_bio()
        sentences = [self._words(item, i) for i, item in enumerate(items)]
        flat = [w for words in sentences for w in words]
        if flat:
            enc = self.tokenizer.encode_batch([w.text for w in flat], truncation=None, padding=False)["input_ids"]
            for w, ids in zip(flat, enc):
                w.ids = ids[1:-1] or [self.tokenizer.unk_token_id]  # a word of only ignored characters: [UNK]
                if len(w.ids) > budget:
                    warnings.warn(f"word {w.text[:40]!r} of {len(w.ids)} WordPieces cut to the window's {budget}",
                                  stacklevel=2)
                    w.ids = w.ids[:budget]
        # Windows of whole words; each word is read where it has the most context on its shorter side.
        jobs = []  # (sentence, first word, last word)
        for si, words in enumerate(sentences):
            jobs += [(si, a, b) for a, b in _word_windows([len(w.ids) for w in words], budget, stride)]
        best: list[list[float]] = [[-1.0] * len(words) for words in sentences]
        probs: dict[tuple[int, int], torch.Tensor] = {}  # (sentence, word) → class probabilities
        cls_id, sep_id, pad_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.tokenizer.pad_token_id
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            seqs, firsts = [], []
            for si, a, b in chunk:
                words = sentences[si][a:b]
                ids, pos = [cls_id], []
                for w in words:
                    pos.append(len(ids))
                    ids += w.ids
                seqs.append(ids + [sep_id])
                firsts.append(pos)
            longest = max(len(x) for x in seqs)
            input_ids = torch.tensor([x + [pad_id] * (longest - len(x)) for x in seqs], device=self.device)
            mask = torch.tensor([[1] * len(x) + [0] * (longest - len(x)) for x in seqs], device=self.device)
            p = self.model(input_ids, mask, torch.zeros_like(input_ids)).logits.float().softmax(-1).cpu()
            for row, seq, (si, a, b), pos in zip(p, seqs, chunk, firsts):
                total = len(seq) - 2  # the window's word pieces
                for wi, at in zip(range(a, b), pos):
                    before = at - 1
                    after = total - before - len(sentences[si][wi].ids)
                    context = min(before, after) + 0.01 * total  # run_squad.py's _check_is_max_context score
                    if context > best[si][wi]:
                        best[si][wi] = context
                        probs[(si, wi)] = row[at]
        out = []
        for si, words in enumerate(sentences):
            tagged = []
            for wi, w in enumerate(words):
                pw = probs[(si, wi)]
                i = int(pw.argmax())
                tagged.append({"word": w.text, "tag": self.labels[i], "score": float(pw[i]), "start": w.start,
                               "end": w.end})
            out.append(self._entities(tagged, items[si]) if aggregate else tagged)
        return out

    def _words(self, item, index: int) -> list[_Word]:
        if isinstance(item, str):
            return _split_words(item)
        if not isinstance(item, (list, tuple)) or not all(isinstance(w, str) for w in item):
            raise UsageError(f"input {index + 1}: expected a text (str) or a list of words (str), got "
                             f"{type(item).__name__}")
        words, at = [], 0
        for j, w in enumerate(item):
            if not w.strip():
                raise UsageError(f"input {index + 1}, word {j + 1}: empty or blank; a word needs a character")
            words.append(_Word(w, at, at + len(w), []))
            at += len(w) + 1
        return words

    def _check_bio(self) -> None:
        from bertgan.metrics.seqeval import entities

        for label in self.labels:
            try:
                entities([label])
            except ValueError:
                raise UsageError(f"aggregate needs IOB2/BIO tags (B-X, I-X, O; E-X, S-X too); this model's labels "
                                 f"are {', '.join(self.labels)} — tag words without aggregating") from None

    @staticmethod
    def _entities(tagged: list[dict], item) -> list[dict]:
        from bertgan.metrics.seqeval import entities

        text = item if isinstance(item, str) else " ".join(item)
        out = []
        for kind, a, b in entities([t["tag"] for t in tagged]):
            s, e = tagged[a]["start"], tagged[b - 1]["end"]
            score = sum(t["score"] for t in tagged[a:b]) / (b - a)
            out.append({"entity_group": kind, "text": text[s:e], "score": score, "start": s, "end": e})
        return out


class QuestionAnsweringPipeline(_HeadPipeline):
    """The answer span in a context, as transformers' ``question-answering`` (SQuAD v1.1: always an answer)."""

    def __init__(self, model: str | Path, device: str = "auto", truncate: bool = True,
                 onnx: str | Path | None = None, precision: str = "fp32"):
        super().__init__(model, BertForQuestionAnswering, device, truncate, onnx, precision)
        config = read_json(model_path(model) / "config.json") or {}
        self.settings = (config.get("task_specific_params") or {}).get("question-answering") or {}

    @_inference
    def __call__(self, question: str | Sequence[str] | None = None, context: str | Sequence[str] | None = None,
                 top_k: int = 1, max_answer_length: int | None = None, doc_stride: int | None = None,
                 max_seq_length: int | None = None, max_question_length: int | None = None,
                 batch_size: int = 32) -> dict | list:
        """``{"answer", "score", "start", "end"}`` for a question; with ``top_k`` > 1 a list, best first.

        ``start``/``end`` are character offsets: ``context[start:end] == answer``. Lists of questions take a list
        of contexts of the same length or one context for all. Long contexts are read in windows of
        ``max_seq_length`` tokens starting ``doc_stride`` tokens apart. Spans are ranked exactly as the fine-tuning
        evaluation ranks them (``squad_features.decode``, run_squad.py's rule: raw start + end logits, across
        windows), so the answer is the one the reported EM/F1 scored; ``score`` is the softmax of those sums over
        the n-best spans (run_squad.py's ``probability``). The window settings default to those the model was
        fine-tuned with (saved in its config.json by ``bertgan bert finetune qa``), else 384 / a third of it / 64 /
        30."""
        from bertgan.bert.squad_features import build_features, nbest_predictions
        from bertgan.data.squad import SquadExample

        if question is None or context is None:
            raise UsageError("question answering needs a question and a context")
        single = isinstance(question, str)
        questions = [question] if single else list(question)
        contexts = [context] * len(questions) if isinstance(context, str) else list(context)
        if len(contexts) != len(questions):
            raise UsageError(f"{len(questions)} question(s) but {len(contexts)} context(s); give one context per "
                             "question, or one for all")
        for name, values in (("question", questions), ("context", contexts)):
            for i, v in enumerate(values):
                if not isinstance(v, str) or not v.strip():
                    raise UsageError(f"{name} {i + 1}: empty or not a string; give text")
        trained = self.settings
        max_seq_length = max_seq_length or trained.get("max_seq_length") or min(384, self.max_length)
        doc_stride = doc_stride or trained.get("doc_stride") or max(1, max_seq_length // 3)
        max_question_length = max_question_length or trained.get("max_query_length") or 64
        max_answer_length = max_answer_length or trained.get("max_answer_length") or 30
        _positive(top_k, "--top-k")
        _positive(batch_size, "--batch-size")
        _positive(max_answer_length, "--max-answer-length")
        if not isinstance(max_seq_length, int) or max_seq_length > self.max_length:
            raise UsageError(f"--max-seq-length {max_seq_length}: the model has {self.max_length} positions "
                             f"(max_position_embeddings); use at most {self.max_length}")
        examples = [SquadExample(id=str(i), title="", question=q, context=c, answers=[])
                    for i, (q, c) in enumerate(zip(questions, contexts))]
        features = build_features(examples, self.tokenizer, max_seq_length=max_seq_length, doc_stride=doc_stride,
                                  max_query_length=max_question_length)
        starts, ends = [], []
        for at in range(0, len(features), batch_size):
            chunk = features[at:at + batch_size]
            n = max(sum(f.attention_mask) for f in chunk)  # features are padded to max_seq_length: trim it
            t = {k: torch.tensor([getattr(f, k)[:n] for f in chunk], device=self.device)
                 for k in ("input_ids", "attention_mask", "token_type_ids")}
            out = self.model(t["input_ids"], t["attention_mask"], t["token_type_ids"])
            starts.extend(out.start_logits.float().cpu().numpy())
            ends.extend(out.end_logits.float().cpu().numpy())
        nbest = nbest_predictions(examples, features, starts, ends, n_best=max(20, top_k),
                                  max_answer_length=max_answer_length)
        results = []
        for ex in examples:
            found = nbest[ex.id]
            top = max((p.score for p in found), default=0.0)
            total = sum(math.exp(p.score - top) for p in found)
            preds = [{"answer": p.text, "score": math.exp(p.score - top) / total, "start": p.start_char,
                      "end": p.end_char} for p in found[:top_k]]
            if not preds:
                preds = [{"answer": "", "score": 0.0, "start": 0, "end": 0}]
            results.append(preds[0] if top_k == 1 else preds)
        return results[0] if single else results


PIPELINES = {"fill-mask": FillMaskPipeline, "feature-extraction": FeatureExtractionPipeline,
             "text-classification": TextClassificationPipeline, "token-classification": TokenClassificationPipeline,
             "question-answering": QuestionAnsweringPipeline}


def pipeline(task: str, model: str | Path, **kwargs):
    """``pipeline("text-classification", model=DIR)`` → a callable, named as transformers' tasks."""
    if task not in PIPELINES:
        raise UsageError(f"unknown task {task!r}; choose one of {', '.join(PIPELINES)}")
    return PIPELINES[task](model, **kwargs)

"""Inference pipelines named as transformers names them: ``fill-mask`` and ``feature-extraction``.

``fill-mask`` is the masked-LM objective of seed 000 run forwards: "'나는 [MASK]에 가서 사과와 [MASK]를 샀다'라는
문장에서 Masking된 '슈퍼'와 '바나나'를 맞추게 하는 것". Every [MASK] gets its own top-k list, predicted jointly from
one forward pass over the whole sentence (both directions of context).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from bertgan.bert.hub import from_pretrained
from bertgan.bert.model import BertForMaskedLM, BertModel
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.errors import UsageError
from bertgan.train.runtime import pick_device


def _load_tokenizer(folder: str | Path) -> WordPieceTokenizer:
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--model {folder}: no such folder; give an HF-format model folder (config.json, weights, "
                         "tokenizer)")
    if not any((folder / f).is_file() for f in ("tokenizer.json", "vocab.txt")):
        raise UsageError(f"--model {folder}: no tokenizer (vocab.txt or tokenizer.json) beside the weights; save "
                         "the tokenizer into the model folder")
    return WordPieceTokenizer.from_dir(folder)


@dataclass
class _Batch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor


class _Pipeline:
    def __init__(self, model: str | Path, cls, device: str = "auto", truncate: bool = True):
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

    def _encode(self, texts: list[str]) -> _Batch:
        full = self.tokenizer.encode_batch(texts, truncation=None, padding=False)
        longest = max(len(ids) for ids in full["input_ids"])
        if longest > self.max_length:
            if not self.truncate:
                raise UsageError(f"input of {longest} tokens is longer than max_position_embeddings "
                                 f"{self.max_length}; shorten it or allow truncation (drop --no-truncate)")
            warnings.warn(f"input of {longest} tokens truncated to max_position_embeddings {self.max_length}",
                          stacklevel=3)
        enc = self.tokenizer.encode_batch(texts, max_length=self.max_length, truncation="longest_first",
                                          return_tensors="pt")
        return _Batch(*(enc[k].to(self.device) for k in ("input_ids", "attention_mask", "token_type_ids")))


class FillMaskPipeline(_Pipeline):
    def __init__(self, model, device="auto", truncate=True):
        super().__init__(model, BertForMaskedLM, device, truncate)
        missing = [k for k in self.model.load_report.missing if k.startswith("cls.predictions")]
        if missing:
            raise UsageError(f"--model {model}: has no masked-LM head ({missing[0]} … not in the weights); "
                             "fill-mask needs a BertForPreTraining or BertForMaskedLM checkpoint")

    @torch.no_grad()
    def __call__(self, texts: str | list[str], top_k: int = 5) -> list[list[list[dict]]]:
        """For each text, for each [MASK] in it: the top_k {token, token_id, score} dicts, best first."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        if top_k <= 0:
            raise UsageError(f"--top-k {top_k}: must be a positive integer")
        mask_id = self.tokenizer.mask_token_id
        batch = self._encode(texts)
        for i, t in enumerate(texts):
            if not (batch.input_ids[i] == mask_id).any():
                raise UsageError(f"text {i + 1} has no [MASK] token: {t!r}; write [MASK] where a word should be "
                                 "predicted")
        logits = self.model(batch.input_ids, batch.attention_mask, batch.token_type_ids).prediction_logits
        out = []
        for i in range(len(texts)):
            where = (batch.input_ids[i] == mask_id).nonzero().flatten()
            probs = logits[i, where].float().softmax(-1)  # (masks, V)
            top = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
            out.append([[{"token": self.tokenizer.convert_ids_to_tokens(int(t)), "token_id": int(t), "score": float(s)}
                         for s, t in zip(scores, ids)] for scores, ids in zip(top.values, top.indices)])
        return out[0] if single else out


class FeatureExtractionPipeline(_Pipeline):
    def __init__(self, model, device="auto", truncate=True, pooling: str = "cls"):
        super().__init__(model, BertModel, device, truncate)
        if pooling not in ("cls", "mean"):
            raise UsageError(f"--pooling {pooling}: use cls (the [CLS] vector) or mean (average of the tokens)")
        self.pooling = pooling

    @torch.no_grad()
    def __call__(self, texts: str | list[str], batch_size: int = 32) -> torch.Tensor:
        """(N, H) sentence vectors: the final hidden state of [CLS], or the mean over real (non-padding) tokens."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        rows = []
        for start in range(0, len(texts), batch_size):
            b = self._encode(texts[start:start + batch_size])
            h = self.model(b.input_ids, b.attention_mask, b.token_type_ids).last_hidden_state  # (N, L, H)
            if self.pooling == "cls":
                rows.append(h[:, 0])
            else:
                m = b.attention_mask[..., None].to(h.dtype)
                rows.append((h * m).sum(1) / m.sum(1))
        out = torch.cat(rows).float().cpu()
        return out[0] if single else out


PIPELINES = {"fill-mask": FillMaskPipeline, "feature-extraction": FeatureExtractionPipeline}


def pipeline(task: str, model: str | Path, **kwargs):
    if task not in PIPELINES:
        raise UsageError(f"unknown task {task!r}; choose one of {', '.join(PIPELINES)}")
    return PIPELINES[task](model, **kwargs)

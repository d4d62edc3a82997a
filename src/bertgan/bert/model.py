"""BERT (Devlin et al. 2018), read top to bottom: embeddings → self-attention → layer → encoder → pooler → heads.

Seed 000: the input is embedded three ways and summed — Token Embedding (WordPiece ids), Segmentation Embedding
(0 up to and including the first [SEP], 1 after it) and Position Embedding (the Transformer encoder has no sense
of order without it) — then a bidirectional Transformer encoder with GELU. Pre-training heads: the masked LM
(predict the 15% chosen tokens) and next-sentence prediction (is segment B the real continuation of A?).

Parameter names are Hugging Face's (``bert.embeddings.word_embeddings.weight``,
``bert.encoder.layer.0.attention.self.query.weight``, ``cls.predictions.transform.dense.weight``,
``cls.seq_relationship.weight`` …) so real checkpoints load without renaming (see hub.py). The model holds no
training code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bertgan.bert.config import BertConfig
from bertgan.ops import dropout


def activation(name: str):
    return {"gelu": F.gelu,  # exact erf form, as Google's BERT
            "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
            "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
            "relu": F.relu}[name]


# ----------------------------------------------------------------------------------------------------- embeddings

class BertEmbeddings(nn.Module):
    """token + segment + position embeddings, summed, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.p = config.hidden_dropout_prob

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        n, length = input_ids.shape
        if position_ids is None:
            position_ids = torch.arange(length, device=input_ids.device).unsqueeze(0)  # (1, L)
        x = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)  # (N, L, H)
        if token_type_ids is None:
            x = x + self.token_type_embeddings.weight[0]  # every token in segment 0
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return dropout(self.LayerNorm(x), self.p, self.training)


# ----------------------------------------------------------------------------------------------------- attention

class Unpadded:
    """Where the real (non-padding) tokens of a padded batch are, so the dense layers — every matrix product of a
    layer except attention's — run on the T real tokens only: (N, L, C) ⇄ (T, C). Padding is a quarter of the
    positions of real pre-training batches (measured on WikiText-2 pairs, batch 32 padded to its longest); the
    idea is Effective Transformer's / MosaicBERT's unpadding."""

    def __init__(self, attention_mask: torch.Tensor):
        self.n, self.length = attention_mask.shape
        self.index = attention_mask.reshape(-1).nonzero().squeeze(1)  # (T,) positions in the flattened batch

    def pad(self, t: torch.Tensor) -> torch.Tensor:  # (T, C) → (N, L, C), zeros at padding
        out = t.new_zeros(self.n * self.length, t.shape[-1]).index_copy(0, self.index, t)
        return out.view(self.n, self.length, -1)

    def unpad(self, t: torch.Tensor) -> torch.Tensor:  # (N, L, C) → (T, C)
        return t.reshape(self.n * self.length, -1).index_select(0, self.index)


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product attention over all positions in both directions (no causal mask: this is
    what makes BERT *bidirectional*), computed by ``F.scaled_dot_product_attention``."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.heads, self.head_dim = config.num_attention_heads, config.head_dim
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.p = config.attention_probs_dropout_prob
        self._fused: tuple | None = None  # (key, weight, bias): the inference-time copy of the fused Q/K/V

    def _qkv(self, device_type: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Q, K and V as one (3H, H) matrix (HF's three parameter names kept): fewer, larger GEMMs. Training
        concatenates every call (the graph needs it); without gradients the concatenation — and, under autocast,
        its bf16 copy — is kept until a weight changes (in-place updates bump ``_version``): re-made per call it
        was 16% of a sentence's time at batch 1."""
        parts = (self.query.weight, self.key.weight, self.value.weight, self.query.bias, self.key.bias,
                 self.value.bias)
        if (torch.is_grad_enabled() and any(t.requires_grad for t in parts)) or torch.jit.is_tracing():
            return torch.cat(parts[:3]), torch.cat(parts[3:])
        dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None
        key = (dtype, *((t.data_ptr(), t._version) for t in parts))
        if self._fused is None or self._fused[0] != key:
            w, b = torch.cat(parts[:3]), torch.cat(parts[3:])
            self._fused = (key, w if dtype is None else w.to(dtype), b)
        return self._fused[1], self._fused[2]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, unpadded: Unpadded | None = None,
                attentions: list | None = None) -> torch.Tensor:
        w, b = self._qkv(x.device.type)
        qkv = F.linear(x, w, b)  # (N, L, 3H) or, unpadded, (T, 3H)
        if unpadded is not None:
            qkv = unpadded.pad(qkv)  # (T, 3H) → (N, L, 3H): attention needs the rectangle
        n, length, _ = qkv.shape
        q, k, v = qkv.view(n, length, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # 3 × (N, h, L, d)
        if attentions is not None:  # the probabilities asked for (output_attentions): computed, kept, applied
            scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)  # (N, h, L, L)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            probs = scores.softmax(-1)
            attentions.append(probs)
            out = dropout(probs, self.p, self.training) @ v
        elif self.training and self.p > 0 and q.device.type == "cpu":
            out = _attention_with_fast_dropout(q, k, v, mask, self.p)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0)
        out = out.transpose(1, 2).reshape(n, length, self.heads * self.head_dim)  # (N, h, L, d) → (N, L, H)
        return out if unpadded is None else unpadded.unpad(out)  # → (T, H)


def _attention_with_fast_dropout(q, k, v, mask, p: float) -> torch.Tensor:
    # With dropout on the attention probabilities SDPA takes its unfused path on CPU anyway, and draws the mask
    # with a per-element Bernoulli: 6.5% of a BERT-small training step, measured. The same path written out, with
    # ops.dropout's mask. (N, h, L, d) → (N, h, L, d)
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)  # (N, h, L, L); scaling q costs L/d times less
    if mask is not None:
        scores.masked_fill_(~mask, float("-inf"))
    return dropout(scores.softmax(-1), p, True) @ v


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.p = config.hidden_dropout_prob

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(dropout(self.dense(h), self.p, self.training) + residual)  # post-LN, as in BERT


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, unpadded: Unpadded | None = None,
                attentions: list | None = None) -> torch.Tensor:
        return self.output(self.self(x, mask, unpadded, attentions), x)


# ----------------------------------------------------------------------------------------------------- layer

class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(x))


class BertOutput(BertSelfOutput):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, unpadded: Unpadded | None = None,
                attentions: list | None = None) -> torch.Tensor:
        a = self.attention(x, mask, unpadded, attentions)
        return self.output(self.intermediate(a), a)


def attention_bias(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(N, L) 1/0 padding mask → (N, 1, 1, L) boolean mask for SDPA (True = may attend); None when nothing is
    padded, which lets SDPA take its fastest path."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return attention_mask.bool()[:, None, None, :]


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))
        # For export (bertgan.onnx): one graph for every input — the padded rectangle with its mask, no branch on
        # the data and no unpadding, whose indices a traced graph would freeze.
        self.static_graph = False

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None, attentions: list | None = None
                ) -> torch.Tensor:
        """(N, L, H) → (N, L, H). With padding, the layers run on the real tokens only (see :class:`Unpadded`);
        the padding positions of the result are zeros (transformers leaves meaningless values there).
        ``attentions``: a list that receives each layer's attention probabilities (N, heads, L, L)."""
        if self.static_graph:
            keep = torch.ones_like(x[..., 0]) if attention_mask is None else attention_mask.to(x.dtype)  # (N, L)
            mask = keep.bool()[:, None, None, :]
            for layer in self.layer:
                x = layer(x, mask)
            return x * keep[..., None]  # zeros at padding, as the unpadded path gives
        mask = attention_bias(attention_mask)
        unpadded = None if mask is None else Unpadded(attention_mask)
        if unpadded is not None:
            x = unpadded.unpad(x)  # (N, L, H) → (T, H)
        for layer in self.layer:
            x = layer(x, mask, unpadded, attentions)
        return x if unpadded is None else unpadded.pad(x)


class BertPooler(nn.Module):
    """tanh(W · h_[CLS] + b): the sentence vector NSP and classification read."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (N, L, H) → (N, H)


# ----------------------------------------------------------------------------------------------------- trunk

@dataclass
class BertModelOutput:
    last_hidden_state: torch.Tensor  # (N, L, H)
    pooler_output: torch.Tensor | None  # (N, H)
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer (N, heads, L, L), with output_attentions


class BertModel(nn.Module):
    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.apply(lambda m: init_weights(m, config))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                output_attentions: bool = False) -> BertModelOutput:
        if input_ids.shape[1] > self.config.max_position_embeddings:
            raise ValueError(f"sequence length {input_ids.shape[1]} exceeds max_position_embeddings "
                             f"{self.config.max_position_embeddings}; truncate the input")
        attentions: list | None = [] if output_attentions else None
        h = self.encoder(self.embeddings(input_ids, token_type_ids, position_ids), attention_mask, attentions)
        return BertModelOutput(h, self.pooler(h) if self.pooler is not None else None,
                               tuple(attentions) if attentions is not None else None)


def init_weights(m: nn.Module, config: BertConfig) -> None:
    # BERT: truncated-normal-like N(0, 0.02) for every weight, zero biases, LayerNorm at identity.
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, config.initializer_range)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, 0.0, config.initializer_range)
        if m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------------------------------- heads

class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    """transform → decoder whose weight *is* the word-embedding matrix (tied) → + per-token bias."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One addmm: adding the bias as a separate pass over the (…, V) logits cost 28% of BERT-mini inference.
        return F.linear(self.transform(x), self.decoder.weight, self.bias)  # (…, H) → (…, V)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.predictions = BertLMPredictionHead(config, word_embeddings)


class BertPreTrainingHeads(BertOnlyMLMHead):
    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__(config, word_embeddings)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)  # IsNext / NotNext from the pooled [CLS]


def _init_head(head: nn.Module, config: BertConfig) -> None:
    # Not the decoder: its weight is the word-embedding matrix, already initialised with its padding row zeroed.
    for name, m in head.named_modules():
        if not name.endswith("decoder"):
            init_weights(m, config)


@dataclass
class PreTrainingOutput:
    loss: torch.Tensor | None  # mlm_loss + nsp_loss (those given)
    prediction_logits: torch.Tensor  # (N, L, V); with labels: (M, V) at the M labelled positions only
    seq_relationship_logits: torch.Tensor | None  # (N, 2)
    last_hidden_state: torch.Tensor  # (N, L, H)
    mlm_loss: torch.Tensor | None = None
    nsp_loss: torch.Tensor | None = None


def _mlm(head: BertLMPredictionHead, hidden: torch.Tensor, labels: torch.Tensor | None):
    """Vocabulary logits where they are needed. With labels only the labelled (masked) positions are projected
    onto the vocabulary: ~15% of the positions, and the projection is the largest matrix product in a small
    BERT (measured: ~70% of a BERT-mini step when done everywhere)."""
    if labels is None:
        return head(hidden), None
    where = labels != -100  # (N, L)
    logits = head(hidden[where])  # (M, H) → (M, V)
    return logits, F.cross_entropy(logits.float(), labels[where])


class BertForPreTraining(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config, self.bert.embeddings.word_embeddings)
        _init_head(self.cls, config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, labels=None,
                next_sentence_label=None) -> PreTrainingOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids)
        logits, mlm_loss = _mlm(self.cls.predictions, out.last_hidden_state, labels)
        nsp_logits = self.cls.seq_relationship(out.pooler_output)
        nsp_loss = None if next_sentence_label is None else F.cross_entropy(nsp_logits.float(),
                                                                            next_sentence_label.view(-1))
        losses = [x for x in (mlm_loss, nsp_loss) if x is not None]
        return PreTrainingOutput(sum(losses) if losses else None, logits, nsp_logits, out.last_hidden_state,
                                 mlm_loss, nsp_loss)


class BertForMaskedLM(nn.Module):
    """The MLM head alone (no pooler, no NSP): what fill-mask needs."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config, self.bert.embeddings.word_embeddings)
        _init_head(self.cls, config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, labels=None
                ) -> PreTrainingOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids)
        logits, loss = _mlm(self.cls.predictions, out.last_hidden_state, labels)
        return PreTrainingOutput(loss, logits, None, out.last_hidden_state, loss)


# ----------------------------------------------------------------------------------------------------- fine-tuning
# Seed 000's three recipes: [CLS] → dense for a text (or pair) label; a dense layer on every token for tagging;
# start/end scores on every token for an answer span. Names as transformers' (``classifier``, ``qa_outputs``).

@dataclass
class ClassifierOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor  # (N, C) per text, or (N, L, C) per token
    last_hidden_state: torch.Tensor  # (N, L, H)


@dataclass
class SpanOutput:
    loss: torch.Tensor | None
    start_logits: torch.Tensor  # (N, L)
    end_logits: torch.Tensor  # (N, L)
    last_hidden_state: torch.Tensor


def _head_dropout(config: BertConfig) -> float:
    return config.hidden_dropout_prob if config.classifier_dropout is None else config.classifier_dropout


class BertForSequenceClassification(nn.Module):
    """The pooled [CLS] vector → dropout → linear → one score per label (one output: regression, MSE loss)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.p = _head_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        init_weights(self.classifier, config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, labels=None
                ) -> ClassifierOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids)
        logits = self.classifier(dropout(out.pooler_output, self.p, self.training))  # (N, H) → (N, C)
        loss = None
        if labels is not None:
            if self.config.num_labels == 1:
                loss = F.mse_loss(logits.squeeze(-1).float(), labels.float())
            else:
                loss = F.cross_entropy(logits.float(), labels.view(-1))
        return ClassifierOutput(loss, logits, out.last_hidden_state)


class BertForTokenClassification(nn.Module):
    """Every token's final state → dropout → linear → one score per tag (labels −100 are not scored)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.p = _head_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        init_weights(self.classifier, config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, labels=None
                ) -> ClassifierOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids)
        logits = self.classifier(dropout(out.last_hidden_state, self.p, self.training))  # (N, L, H) → (N, L, C)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return ClassifierOutput(loss, logits, out.last_hidden_state)


class BertForQuestionAnswering(nn.Module):
    """Every token's final state → linear → (start score, end score): the answer is the best span (SQuAD)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        init_weights(self.qa_outputs, config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, start_positions=None,
                end_positions=None) -> SpanOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids)
        start, end = self.qa_outputs(out.last_hidden_state).unbind(-1)  # (N, L, 2) → 2 × (N, L)
        loss = None
        if start_positions is not None and end_positions is not None:
            # As transformers: positions outside the sequence are ignored; the loss is the mean of the two. Unlike
            # transformers, padding takes no part in the softmax (it can never be an answer).
            length = start.shape[1]
            s, e = start_positions.clamp(0, length), end_positions.clamp(0, length)
            pad = None if attention_mask is None else ~attention_mask.bool()
            masked = (lambda t: t.float() if pad is None else t.float().masked_fill(pad, -1e4))
            loss = (F.cross_entropy(masked(start), s, ignore_index=length)
                    + F.cross_entropy(masked(end), e, ignore_index=length)) / 2
        return SpanOutput(loss, start, end, out.last_hidden_state)

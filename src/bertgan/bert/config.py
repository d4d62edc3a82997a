"""BERT configuration with Hugging Face's field names, so ``config.json`` files are interchangeable.

Presets: Google's compact BERTs (Turc et al. 2019, "Well-Read Students Learn Better": tiny L=2/H=128,
mini 4/256, small 4/512, medium 8/512) and the paper's base (12/768) and large (24/1024). Heads = H/64 and
intermediate size = 4H throughout, as in those releases.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bertgan.checks import check_lr, check_seed, check_weight
from bertgan.data.text import ENCODING_ERRORS
from bertgan.errors import UsageError
from bertgan.io import read_json

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"  # the seed: "활성화 함수로는 ReLu가 아닌 GELU" — exact (erf) GELU, as Google's BERT
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    initializer_range: float = 0.02
    # Fine-tuning heads (transformers' names): the label names by id, and the head's dropout (None: hidden's).
    id2label: dict[str, str] | None = None
    classifier_dropout: float | None = None

    def __post_init__(self):
        if self.id2label is not None:
            self.id2label = {str(k): str(v) for k, v in self.id2label.items()}
        self.validate()

    @property
    def num_labels(self) -> int:
        return len(self.id2label) if self.id2label else 2  # transformers' default

    @property
    def labels(self) -> list[str]:
        return [self.id2label[str(i)] for i in range(len(self.id2label))] if self.id2label else ["LABEL_0", "LABEL_1"]

    def validate(self, source: str = "config") -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise UsageError(f"{source}: {name} = {value!r}; must be a positive integer")
        if self.hidden_size % self.num_attention_heads:
            raise UsageError(f"{source}: hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                             f"{self.num_attention_heads}")
        if self.hidden_act not in ACTIVATIONS:
            raise UsageError(f"{source}: hidden_act {self.hidden_act!r} is not supported; use one of "
                             f"{', '.join(ACTIVATIONS)}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise UsageError(f"{source}: pad_token_id {self.pad_token_id} is outside the vocabulary")
        if self.id2label is not None and sorted(self.id2label, key=int) != [str(i) for i in range(len(self.id2label))]:
            raise UsageError(f"{source}: id2label keys must be 0..{len(self.id2label) - 1}; got {list(self.id2label)}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_dict(self) -> dict:
        d = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        d.update(model_type="bert", position_embedding_type="absolute")
        if self.id2label:
            d["label2id"] = {v: int(k) for k, v in self.id2label.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> BertConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        if d.get("model_type", "bert") not in ("bert",):
            raise UsageError(f"{source}: model_type {d['model_type']!r} is not a BERT; bertgan loads model_type 'bert'")
        if d.get("position_embedding_type", "absolute") != "absolute":
            raise UsageError(f"{source}: position_embedding_type {d['position_embedding_type']!r} is not supported; "
                             "BERT uses learned absolute positions")
        # Other keys transformers writes (architectures, torch_dtype, transformers_version, …) carry no model shape.
        try:
            return cls(**{k: v for k, v in d.items() if k in names})
        except TypeError as e:
            raise UsageError(f"{source}: {e}") from e

    @classmethod
    def from_json_file(cls, path: str | Path) -> BertConfig:
        return cls.from_dict(read_json(path, "a BERT model folder needs config.json (HF format)"), str(path))


def _preset(layers: int, hidden: int) -> dict:
    return dict(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=max(1, hidden // 64),
                intermediate_size=4 * hidden)


PRESETS: dict[str, dict] = {
    "tiny": _preset(2, 128),
    "mini": _preset(4, 256),
    "small": _preset(4, 512),
    "medium": _preset(8, 512),
    "base": _preset(12, 768),
    "large": _preset(24, 1024),
}


def preset(name: str, **overrides) -> BertConfig:
    if name not in PRESETS:
        raise UsageError(f"--preset {name}: unknown BERT preset; choose one of {', '.join(PRESETS)}")
    return BertConfig(**{**PRESETS[name], **overrides})


@dataclass
class PretrainConfig:
    """Everything a pre-training run needs; saved as the run's config.json (see bert/trainer.py)."""

    corpus: list[str]
    tokenizer: str  # relative to the run folder (its own copy, "tokenizer"), or absolute (runs written before)
    eval_corpus: list[str] | None = None  # held-out files to evaluate on; None: eval_fraction of the documents
    vocab_size: int | None = None  # the --vocab-size the run's tokenizer was trained with (None: one was given)
    preset: str | None = "mini"  # None with init_from: the model's own config sets the size
    # Continued (domain-adaptive) pre-training: start from this model's weights and size instead of the preset's
    # random ones (Gururangan et al. 2020); its vocabulary must be the run's.
    init_from: str | None = None
    max_seq_length: int = 128
    batch_size: int = 32  # the global batch of one micro-step (split across torchrun processes)
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    max_steps: int = 1000
    mlm_prob: float = 0.15
    whole_word_mask: bool = False
    nsp: bool = True
    dropout: float | None = None  # None: the preset's 0.1 (hidden and attention)
    short_seq_prob: float = 0.1
    clip_norm: float = 1.0
    eval_fraction: float = 0.05  # of the documents, held out for evaluation
    eval_every: int = 200
    checkpoint_every: int = 200
    log_every: int = 10
    encoding_errors: str = "strict"
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0

    def validate(self) -> None:
        if self.init_from is None and self.preset not in PRESETS:
            raise UsageError(f"--preset {self.preset}: unknown BERT preset; choose one of {', '.join(PRESETS)}")
        for name in ("max_seq_length", "batch_size", "grad_accum", "max_steps", "eval_every", "checkpoint_every",
                     "log_every"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be a positive integer")
        if self.warmup_steps < 0:
            raise UsageError(f"--warmup-steps {self.warmup_steps}: must be 0 or more")
        if self.max_seq_length < 8:
            raise UsageError(f"--max-seq-length {self.max_seq_length}: too short for two segments; use ≥ 8")
        if self.max_seq_length > 512:
            raise UsageError(f"--max-seq-length {self.max_seq_length}: BERT's position table has 512 entries; "
                             "use ≤ 512")
        if not 0 < self.mlm_prob < 1:
            raise UsageError(f"--mlm-prob {self.mlm_prob}: must be between 0 and 1")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise UsageError(f"--dropout {self.dropout}: must be in [0, 1)")
        if not 0 < self.eval_fraction < 1:
            raise UsageError(f"eval_fraction {self.eval_fraction}: must be between 0 and 1")
        if self.encoding_errors not in ENCODING_ERRORS:
            raise UsageError(f"--encoding-errors {self.encoding_errors}: use strict or replace")
        check_lr(self.lr)
        check_seed(self.seed)
        check_weight(self.weight_decay, "--weight-decay")


FINETUNE_TASKS = ("classify", "tag", "qa")


@dataclass
class FinetuneConfig:
    """A fine-tuning run (see bert/finetune.py); saved as the run's config.json. Defaults follow Devlin et al.
    2018 §A.3 (batch 32, lr 5e-5 within their 2e-5…5e-5 grid, 3 epochs, 10% warm-up)."""

    task: str  # classify | tag | qa
    model: str  # HF-format folder: the pre-trained BERT (with its tokenizer)
    train: str
    dev: str | None = None  # qa: optional — whole articles of --train are held out instead
    text_col: str = "sentence"
    text_pair_col: str | None = None
    label_col: str = "label"
    tag_format: str = "auto"
    max_seq_length: int = 128
    batch_size: int = 32
    epochs: int = 3
    max_steps: int | None = None  # overrides epochs
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    dropout: float | None = None  # None: the model's own
    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 30
    metric: str = "auto"  # qa: squad (word F1) or korquad (character F1); auto: korquad when the text is Korean
    eval_fraction: float = 0.2
    eval_every: int | None = None  # None: at the end of every epoch only
    log_every: int = 10
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0

    def validate(self) -> None:
        if self.task not in FINETUNE_TASKS:
            raise UsageError(f"task {self.task!r}: choose one of {', '.join(FINETUNE_TASKS)}")
        for flag, value in (("--train", self.train), ("--dev", self.dev)):
            if value is not None and not Path(value).is_file():
                raise UsageError(f"{flag} {value}: no such file")
        if self.dev is None and self.task != "qa":
            raise UsageError(f"--dev: {self.task} needs an evaluation file (the best model is chosen on it)")
        for name in ("max_seq_length", "batch_size", "epochs", "doc_stride", "max_query_length",
                     "max_answer_length", "log_every"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be a positive integer")
        for name in ("max_steps", "eval_every"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be a positive integer")
        if self.metric not in ("auto", "squad", "korquad"):
            raise UsageError(f"--metric {self.metric}: choose auto, squad or korquad")
        if not 8 <= self.max_seq_length <= 512:
            raise UsageError(f"--max-seq-length {self.max_seq_length}: use 8…512")
        if self.task == "qa" and self.max_query_length + 3 >= self.max_seq_length:
            raise UsageError(f"--max-query-length {self.max_query_length} leaves no room for context in "
                             f"--max-seq-length {self.max_seq_length}")
        if not 0 <= self.warmup_ratio < 1:
            raise UsageError(f"--warmup-ratio {self.warmup_ratio}: must be in [0, 1)")
        check_lr(self.lr)
        check_seed(self.seed)
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise UsageError(f"--dropout {self.dropout}: must be in [0, 1)")


@dataclass
class AlignConfig:
    """A multilingual distillation run (bert/align.py; Reimers & Gurevych 2020); saved as the run's
    align_config.json."""

    pairs: list[str]  # TSV files, english<TAB>korean
    teacher: str = "minilm"  # the frozen English sentence encoder whose space the student learns
    student: str = "ko-mini"  # the BERT that reads Korean
    held_out: int = 1000  # pairs kept for the retrieval test
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3  # only new embedding rows train: a rate far above a whole BERT's
    warmup_ratio: float = 0.1
    max_seq_length: int = 128
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0

    def validate(self) -> None:
        if not self.pairs:
            raise UsageError("--pairs: give one or more TSV files of english<TAB>korean lines")
        for name in ("held_out", "epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be a positive integer")
        if self.held_out < 2:
            raise UsageError(f"--held-out {self.held_out}: retrieval needs at least 2 held-out pairs")
        if not 8 <= self.max_seq_length <= 512:
            raise UsageError(f"--max-seq-length {self.max_seq_length}: use 8…512")
        if not 0 <= self.warmup_ratio < 1:
            raise UsageError(f"--warmup-ratio {self.warmup_ratio}: must be in [0, 1)")
        check_lr(self.lr)
        check_seed(self.seed)

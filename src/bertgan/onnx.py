"""ONNX export and inference: a fine-tuned BERT (classify, tag, QA, or the bare encoder) or a GAN generator as one
``.onnx`` file that onnxruntime — or any ONNX runtime — runs without bertgan or torch.

BERT graphs take transformers' input names (``input_ids``, ``attention_mask``, ``token_type_ids``, int64) with
dynamic batch and sequence axes and give transformers' output names (``logits``; ``start_logits`` and
``end_logits``; ``last_hidden_state``); the encoder runs its static graph (the padded rectangle with its mask,
``BertEncoder.static_graph``) so one graph serves every input. A generator's graph takes ``z`` (N, d) — and
``y`` (N,) int64 for a class-conditional G — and gives ``images`` (N, C, H, W) in [−1, 1].

``pip install onnx onnxruntime`` (the ``onnx`` extra) provides the exporter's and the runtime's dependencies.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import torch

from bertgan.errors import UsageError
from bertgan.io import atomic_path

INSTALL_HINT = "ONNX needs the onnx extra: pip install onnx onnxruntime  (or pip install -e '.[onnx]')"
BERT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{module} is not installed. {INSTALL_HINT}")


class _BertGraph(torch.nn.Module):
    """A BERT with a head (or none) as a function of the three input tensors, returning plain tensors."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids, attention_mask, token_type_ids)
        if hasattr(out, "start_logits"):
            return out.start_logits, out.end_logits
        if hasattr(out, "logits"):
            return out.logits
        return out.last_hidden_state


def bert_outputs(model: torch.nn.Module) -> tuple[str, ...]:
    kind = type(model).__name__
    return {"BertForQuestionAnswering": ("start_logits", "end_logits"), "BertModel": ("last_hidden_state",)
            }.get(kind, ("logits",))


def export_bert(model: torch.nn.Module, path: str | Path) -> Path:
    """Write ``model`` (BertModel or a fine-tuned head) as ONNX at ``path`` (atomically)."""
    _require("onnx")
    path = Path(path)
    encoder = (model.bert if hasattr(model, "bert") else model).encoder
    ids = torch.tensor([[2, 7, 8, 9, 3, 0], [2, 5, 3, 0, 0, 0]])  # a padded example: the mask's path is traced
    example = (ids, (ids != 0).long(), torch.zeros_like(ids))
    outputs = bert_outputs(model)
    axes = {name: {0: "batch", 1: "sequence"} for name in BERT_INPUTS}
    for name in outputs:
        axes[name] = {0: "batch"} if name == "logits" and model.__class__.__name__.endswith(
            "SequenceClassification") else {0: "batch", 1: "sequence"}
    was_training = model.training
    encoder.static_graph = True
    try:
        with atomic_path(path) as tmp, torch.no_grad():
            # the wrapper in eval mode too: the exporter restores every module's mode from the wrapper's afterwards
            torch.onnx.export(_BertGraph(model).eval(), example, str(tmp), input_names=list(BERT_INPUTS),
                              output_names=list(outputs), dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    finally:
        encoder.static_graph = False
        model.train(was_training)
    return path


def export_generator(G: torch.nn.Module, latent_dim: int, path: str | Path, n_classes: int = 0) -> Path:
    """Write G as ONNX: z (N, d) [and y (N,) int64] → images (N, C, H, W) in [−1, 1]."""
    _require("onnx")
    path = Path(path)
    z = torch.randn(2, latent_dim)
    inputs, names = ((z, torch.tensor([0, 1])), ["z", "y"]) if n_classes else ((z,), ["z"])
    axes = {name: {0: "batch"} for name in (*names, "images")}
    with atomic_path(path) as tmp, torch.no_grad():
        torch.onnx.export(G.eval(), inputs, str(tmp), input_names=names, output_names=["images"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)
    return path


class OnnxBert:
    """An exported BERT run by onnxruntime, called like the torch model: ``(input_ids, attention_mask,
    token_type_ids)`` → an object with the output names as torch tensors."""

    def __init__(self, path: str | Path, config=None):
        _require("onnxruntime")
        import onnxruntime

        path = Path(path)
        if not path.is_file():
            raise UsageError(f"--onnx {path}: no such file; write one with 'bertgan bert export --onnx {path}'")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable graphs
            raise UsageError(f"--onnx {path}: onnxruntime cannot load it ({e})") from e
        names = [i.name for i in self.session.get_inputs()]
        if names != list(BERT_INPUTS):
            raise UsageError(f"--onnx {path}: its inputs are {names}, not a BERT's {list(BERT_INPUTS)}")
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.config = config

    def __call__(self, input_ids, attention_mask=None, token_type_ids=None):
        feed = {"input_ids": input_ids, "attention_mask": attention_mask if attention_mask is not None else
                torch.ones_like(input_ids), "token_type_ids": token_type_ids if token_type_ids is not None else
                torch.zeros_like(input_ids)}
        got = self.session.run(self.outputs, {k: v.cpu().numpy() for k, v in feed.items()})
        return SimpleNamespace(**{name: torch.from_numpy(value) for name, value in zip(self.outputs, got)})

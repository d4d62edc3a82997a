r"""GAN losses as pure functions of D's logits, in pairs ``d_<name>`` / ``g_<name>``.

The seed's objective (lecture 15, §03; Goodfellow et al. 2014, eq. 1) is the two-player minimax game

    min_θ max_η  V(D, G) = E_{x∼p_data}[log D(x; η)] + E_{z∼p(z)}[log(1 − D(G(z; θ); η))]

D maximises V (it classifies real as real and generated as fake), G minimises it, and the two are updated in
turn. D(x) = sigmoid(logit), so every log is computed from logits with ``logsigmoid``:
log D(x) = logsigmoid(l) and log(1 − D(x)) = logsigmoid(−l). That is exact and never takes log(0), however
confident D becomes.

``minimax``: D descends −V; G descends the only term of V that depends on θ, E[log(1 − D(G(z)))].

``nonsaturating``: early in training D rejects samples with high confidence, D(G(z)) ≈ 0, where
log(1 − D(G(z))) is flat (its gradient w.r.t. the logit is −D(G(z)) ≈ 0): G learns nothing — the loss
*saturates*. Goodfellow et al. (2014, §3) therefore train G to maximise log D(G(z)) instead. It has the same
fixed point (p_g = p_data), and its gradient (1 − D(G(z))) is largest exactly when G is worst. D's loss is
unchanged. The TensorFlow DCGAN tutorial that the lecture's code follows uses this form.

Each function returns a scalar to *minimise*. Means are taken over the batch, as in the expectation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def d_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """−V(D, G): D ascends E[log D(x)] + E[log(1 − D(G(z)))]."""
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def g_minimax(fake_logits: Tensor) -> Tensor:
    """E[log(1 − D(G(z)))]: G descends V (the term of V that depends on θ)."""
    return F.logsigmoid(-fake_logits).mean()


def d_nonsaturating(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """D's loss is the same as in the minimax game (binary cross-entropy, real = 1, fake = 0)."""
    return d_minimax(real_logits, fake_logits)


def g_nonsaturating(fake_logits: Tensor) -> Tensor:
    """−E[log D(G(z))]: G ascends log D(G(z)) (Goodfellow et al. 2014, §3)."""
    return -F.logsigmoid(fake_logits).mean()


LOSSES: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "minimax": (d_minimax, g_minimax),
    "nonsaturating": (d_nonsaturating, g_nonsaturating),
}


def d_of(logits: Tensor) -> Tensor:
    """D(x; η) ∈ (0, 1): the probability D assigns to "x came from the training data"."""
    return torch.sigmoid(logits)


def judged_real(logits: Tensor) -> Tensor:
    """The seed's decision rule: D(x; η) ≥ 0.5 → real, D(x; η) < 0.5 → generated. sigmoid(l) ≥ 0.5 ⇔ l ≥ 0."""
    return logits >= 0


def threshold_accuracy(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    """D's accuracy at the 0.5 threshold on a real batch and on a generated batch."""
    return judged_real(real_logits).float().mean(), (~judged_real(fake_logits)).float().mean()

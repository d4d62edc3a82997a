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

The stabilised games change what D's output means, so they come as their own pairs:

``least-squares`` (Mao et al. 2017, LSGAN, a = 0, b = c = 1): D regresses real → 1 and fake → 0 with squared
error, G pulls D(G(z)) towards 1. The quadratic penalises samples far on the correct side of the boundary too,
which keeps gradients alive where the sigmoid cross-entropy saturates.

``hinge`` (Lim & Ye 2017; Miyato et al. 2018, SN-GAN): D minimises E[relu(1 − D(x))] + E[relu(1 + D(G(z)))], G
minimises −E[D(G(z))]. D stops pushing once a sample is beyond the margin.

``wasserstein`` (Arjovsky et al. 2017; with the gradient penalty of Gulrajani et al. 2017 it is WGAN-GP): the
critic maximises E[D(x)] − E[D(G(z))], an estimate of the Wasserstein-1 distance *only* while D is
1-Lipschitz — which ``regularizers.gradient_penalty`` (``--gp 10``) or spectral normalisation enforce.

For these three the raw output is a score, not a logit: the sigmoid(·) ≥ 0.5 rule still reports which side of
zero a sample falls, but D(x) is no longer a probability.

Each function returns a scalar to *minimise*. Means are taken over the batch, as in the expectation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def d_minimax(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """−V(D, G): D ascends E[log D(x)] + E[log(1 − D(G(z)))].

    ``real_label`` < 1 is one-sided label smoothing (Salimans et al. 2016, §3.4: real targets 0.9, fake targets
    left at 0 so D is not rewarded for pushing G's samples towards the data): real samples are scored as the
    cross-entropy with target ``real_label``."""
    real_term = F.logsigmoid(real_logits).mean()
    if real_label != 1.0:
        real_term = real_label * real_term + (1.0 - real_label) * F.logsigmoid(-real_logits).mean()
    return -(real_term + F.logsigmoid(-fake_logits).mean())


def g_minimax(fake_logits: Tensor) -> Tensor:
    """E[log(1 − D(G(z)))]: G descends V (the term of V that depends on θ)."""
    return F.logsigmoid(-fake_logits).mean()


def d_nonsaturating(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """D's loss is the same as in the minimax game (binary cross-entropy, real = 1, fake = 0)."""
    return d_minimax(real_logits, fake_logits, real_label)


def g_nonsaturating(fake_logits: Tensor) -> Tensor:
    """−E[log D(G(z))]: G ascends log D(G(z)) (Goodfellow et al. 2014, §3)."""
    return -F.logsigmoid(fake_logits).mean()


def d_least_squares(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """½E[(D(x) − 1)²] + ½E[D(G(z))²] (Mao et al. 2017, eq. 2 with a = 0, b = 1)."""
    return 0.5 * ((real_logits - 1).square().mean() + fake_logits.square().mean())


def g_least_squares(fake_logits: Tensor) -> Tensor:
    """½E[(D(G(z)) − 1)²] (Mao et al. 2017, eq. 2 with c = 1)."""
    return 0.5 * (fake_logits - 1).square().mean()


def d_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge(fake_logits: Tensor) -> Tensor:
    """−E[D(G(z))]."""
    return -fake_logits.mean()


def d_wasserstein(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """−(E[D(x)] − E[D(G(z))]): the critic ascends the Wasserstein estimate."""
    return fake_logits.mean() - real_logits.mean()


def g_wasserstein(fake_logits: Tensor) -> Tensor:
    """−E[D(G(z))]."""
    return -fake_logits.mean()


def d_matching_aware(real_logits: Tensor, wrong_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """GAN-INT-CLS's D loss (Reed et al. 2016, Algorithm 1): a text-conditional D must also learn that a real
    image with a *mismatched* description is not a real pair. −[log D(x, h) + (log(1 − D(x, ĥ)) +
    log(1 − D(G(z, h), h))) / 2]. G's pair is ``g_nonsaturating`` on D(G(z, h), h)."""
    return -(F.logsigmoid(real_logits).mean()
             + 0.5 * (F.logsigmoid(-wrong_logits).mean() + F.logsigmoid(-fake_logits).mean()))


LOSSES: dict[str, tuple[Callable[..., Tensor], Callable[[Tensor], Tensor]]] = {
    "minimax": (d_minimax, g_minimax),
    "nonsaturating": (d_nonsaturating, g_nonsaturating),
    "least-squares": (d_least_squares, g_least_squares),
    "hinge": (d_hinge, g_hinge),
    "wasserstein": (d_wasserstein, g_wasserstein),
}
# The losses whose D output is a logit of "real" (cross-entropy): only they take one-sided label smoothing.
LOGIT_LOSSES = ("minimax", "nonsaturating")


def d_of(logits: Tensor) -> Tensor:
    """D(x; η) ∈ (0, 1): the probability D assigns to "x came from the training data"."""
    return torch.sigmoid(logits)


def judged_real(logits: Tensor) -> Tensor:
    """The seed's decision rule: D(x; η) ≥ 0.5 → real, D(x; η) < 0.5 → generated. sigmoid(l) ≥ 0.5 ⇔ l ≥ 0."""
    return logits >= 0


def threshold_accuracy(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    """D's accuracy at the 0.5 threshold on a real batch and on a generated batch."""
    return judged_real(real_logits).float().mean(), (~judged_real(fake_logits)).float().mean()

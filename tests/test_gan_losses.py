import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bertgan.gan.losses import (
    LOSSES,
    d_minimax,
    d_nonsaturating,
    d_of,
    g_minimax,
    g_nonsaturating,
    judged_real,
    threshold_accuracy,
)

LN3 = math.log(3.0)


def test_minimax_on_hand_computed_values():
    # logits 0 and ln 3 → D = 0.5 and 0.75; logit −ln 3 → D = 0.25.
    real = torch.tensor([0.0, LN3])
    fake = torch.tensor([-LN3, 0.0])
    v = 0.5 * (math.log(0.5) + math.log(0.75)) + 0.5 * (math.log(1 - 0.25) + math.log(1 - 0.5))
    assert math.isclose(d_minimax(real, fake).item(), -v, rel_tol=1e-6)
    assert math.isclose(g_minimax(fake).item(), 0.5 * (math.log(0.75) + math.log(0.5)), rel_tol=1e-6)


def test_nonsaturating_on_hand_computed_values():
    fake = torch.tensor([-LN3, 0.0])  # D(G(z)) = 0.25, 0.5
    assert math.isclose(g_nonsaturating(fake).item(), -0.5 * (math.log(0.25) + math.log(0.5)), rel_tol=1e-6)
    real = torch.tensor([LN3])
    assert math.isclose(d_nonsaturating(real, fake).item(), d_minimax(real, fake).item())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-15, 15), min_size=1, max_size=8), st.lists(st.floats(-15, 15), min_size=1, max_size=8))
def test_losses_equal_their_formulas(real, fake):
    r, f = torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64)
    dr, df = torch.sigmoid(r), torch.sigmoid(f)
    v = torch.log(dr).mean() + torch.log(1 - df).mean()  # the seed's V(D, G)
    assert torch.allclose(d_minimax(r, f), -v, rtol=1e-9, atol=1e-9)
    assert torch.allclose(g_minimax(f), torch.log(1 - df).mean(), rtol=1e-9, atol=1e-9)
    assert torch.allclose(g_nonsaturating(f), -torch.log(df).mean(), rtol=1e-9, atol=1e-9)


def test_stable_for_confident_discriminator():
    # log(1 − D) with D = sigmoid(200) would be log(0) = −inf computed naively.
    huge = torch.tensor([200.0, -200.0], requires_grad=True)
    for loss in (d_minimax(huge, huge), g_minimax(huge), g_nonsaturating(huge)):
        assert torch.isfinite(loss)
        (g,) = torch.autograd.grad(loss, huge)
        assert torch.isfinite(g).all()


def test_minimax_generator_saturates_where_nonsaturating_does_not():
    # Goodfellow et al. 2014 §3: when D rejects G's samples confidently the minimax G loss has ~no gradient.
    fake = torch.tensor([-8.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(g_minimax(fake), fake)
    (g_ns,) = torch.autograd.grad(g_nonsaturating(fake), fake)
    assert abs(g_mm.item()) < 1e-3 < abs(g_ns.item())


def test_registry_pairs():
    assert set(LOSSES) == {"minimax", "nonsaturating", "least-squares", "hinge", "wasserstein"}
    for d_loss, g_loss in LOSSES.values():
        x = torch.randn(4)
        assert d_loss(x, x).ndim == 0 and g_loss(x).ndim == 0


def test_stabilised_losses_on_hand_computed_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-0.5, 1.5])
    d_ls, g_ls = LOSSES["least-squares"]
    assert math.isclose(d_ls(real, fake).item(), 0.5 * ((1 + 0.25) / 2 + (0.25 + 2.25) / 2))
    assert math.isclose(g_ls(fake).item(), 0.5 * (2.25 + 0.25) / 2)
    d_h, g_h = LOSSES["hinge"]
    # relu(1 − 2) = 0, relu(1 − 0.5) = 0.5; relu(1 − 0.5) = 0.5, relu(1 + 1.5) = 2.5
    assert math.isclose(d_h(real, fake).item(), 0.25 + 1.5)
    assert math.isclose(g_h(fake).item(), -0.5)
    d_w, g_w = LOSSES["wasserstein"]
    assert math.isclose(d_w(real, fake).item(), 0.5 - 1.25)  # E[D(G(z))] − E[D(x)]
    assert math.isclose(g_w(fake).item(), -0.5)


def test_one_sided_label_smoothing():
    # Real target 0.9: the cross-entropy −(0.9 log D(x) + 0.1 log(1 − D(x))); generated targets stay 0.
    real, fake = torch.tensor([LN3]), torch.tensor([-LN3])
    smoothed = d_minimax(real, fake, real_label=0.9).item()
    expected = -(0.9 * math.log(0.75) + 0.1 * math.log(0.25)) - math.log(0.75)
    assert math.isclose(smoothed, expected, rel_tol=1e-6)
    assert math.isclose(d_nonsaturating(real, fake, 0.9).item(), expected, rel_tol=1e-6)
    # Smoothing stops rewarding D for ever more confident real logits: the optimum moves to D(x) = 0.9.
    x = torch.tensor([math.log(9.0)], requires_grad=True)
    (g,) = torch.autograd.grad(d_minimax(x, torch.tensor([-20.0]), real_label=0.9), x)
    assert abs(g.item()) < 1e-6


def test_threshold_rule_and_accuracy():
    logits = torch.tensor([-1.0, 0.0, 2.0])
    assert torch.allclose(d_of(logits), torch.sigmoid(logits))
    assert judged_real(logits).tolist() == [False, True, True]  # D = 0.5 exactly counts as real (seed: D ≥ 0.5)
    acc_real, acc_fake = threshold_accuracy(torch.tensor([1.0, -1.0, 3.0, 0.0]), torch.tensor([-2.0, 0.5]))
    assert acc_real.item() == 0.75 and acc_fake.item() == 0.5

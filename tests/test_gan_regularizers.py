"""Stabilisers: each penalty and layer against its formula, on cases small enough to compute by hand."""

import math

import pytest
import torch
from torch import nn

from bertgan.gan.models import Discriminator, MinibatchStdDev, build_gan
from bertgan.gan.regularizers import (
    EMA,
    add_instance_noise,
    gradient_penalty,
    instance_noise_std,
    interpolates,
    r1_penalty,
)


class Linear(nn.Module):
    """D(x) = w·x: ∇_x D = w for every x, so the penalties have closed forms."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_r1_is_half_gamma_squared_gradient_norm():
    D = Linear([3.0, 4.0])
    x = torch.randn(5, 2, requires_grad=True)
    pen = r1_penalty(D(x), x, gamma=10.0)
    assert math.isclose(pen.item(), 0.5 * 10.0 * 25.0, rel_tol=1e-6)
    pen.backward()  # the penalty is differentiable w.r.t. D's weights: ∂/∂w of 5‖w‖² = 10w
    assert torch.allclose(D.w.grad, 10.0 * torch.tensor([3.0, 4.0]))


@pytest.mark.parametrize("w,expected", [([0.6, 0.8], 0.0), ([1.2, 1.6], 10.0 * 1.0)])
def test_gradient_penalty_is_zero_only_at_unit_norm(w, expected):
    D = Linear(w)
    x_hat = interpolates(torch.randn(6, 2), torch.randn(6, 2))
    assert math.isclose(gradient_penalty(D(x_hat), x_hat, 10.0).item(), expected, abs_tol=1e-5)


def test_interpolates_lie_between_real_and_fake():
    real, fake = torch.zeros(100, 3), torch.ones(100, 3)
    x = interpolates(real, fake, torch.Generator().manual_seed(0))
    assert x.requires_grad and (x >= 0).all() and (x <= 1).all()
    assert torch.equal(x[:, 0], x[:, 2])  # one ε per sample, shared by its coordinates


def test_instance_noise_anneals_to_zero():
    assert instance_noise_std(0.2, 0, 100) == 0.2
    assert math.isclose(instance_noise_std(0.2, 50, 100), 0.1)
    assert instance_noise_std(0.2, 100, 100) == 0.0 and instance_noise_std(0.0, 3, 100) == 0.0
    x = torch.zeros(20000)
    assert add_instance_noise(x, 0.0) is x
    assert abs(add_instance_noise(x, 0.5).std().item() - 0.5) < 0.02


def test_ema_is_the_exponential_average_and_copies_buffers():
    m = nn.BatchNorm1d(2)
    ema = EMA(m, decay=0.9)
    with torch.no_grad():
        m.weight.fill_(2.0)  # was 1
        m.running_mean.fill_(5.0)
    ema.update(m)
    assert torch.allclose(ema.model.weight, torch.full((2,), 0.9 * 1.0 + 0.1 * 2.0))
    assert torch.equal(ema.model.running_mean, m.running_mean)
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_minibatch_stddev_appends_the_group_spread():
    h = torch.tensor([[0.0, 0.0], [2.0, 4.0], [0.0, 0.0], [2.0, 4.0]])  # groups of 4 → one group
    out = MinibatchStdDev(group=4)(h)
    assert out.shape == (4, 3)
    # per-feature population std over the group: 1 and 2 → mean 1.5, for every sample
    assert torch.allclose(out[:, 2], torch.full((4,), 1.5), atol=1e-4)
    same = MinibatchStdDev(group=4)(torch.ones(8, 3))
    assert torch.allclose(same[:, 3], torch.zeros(8), atol=1e-3)  # a collapsed batch: zero spread


def test_pack_feeds_consecutive_samples_together():
    torch.manual_seed(0)
    _, D = build_gan("mlp", 4, (1, 4, 4), width=2, pack=2)
    D.eval()
    x = torch.randn(6, 1, 4, 4)
    out = D(x)
    assert out.shape == (3,)  # one logit per pack
    by_hand = D.head(D.trunk(torch.cat([x[2:3], x[3:4]], 1))).squeeze(1)
    assert torch.allclose(out[1], by_hand[0])


def test_projection_discriminator():
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    trunk.features = 3
    D = Discriminator(trunk, n_classes=5)
    x, y = torch.randn(4, 1, 2, 2), torch.tensor([0, 4, 4, 1])
    h = trunk(x)
    expected = D.head(h).squeeze(1) + (D.embed.weight[y] * h).sum(1)  # Miyato & Koyama 2018, eq. 3
    assert torch.allclose(D(x, y), expected)
    with pytest.raises(ValueError):
        D(x)


def test_conditional_generator_uses_the_class():
    torch.manual_seed(0)
    G, D = build_gan("dcgan", 8, (1, 28, 28), width=4, n_classes=10)
    G.eval()
    z = torch.randn(2, 8).repeat(1, 1)
    a = G(z, torch.tensor([0, 0]))
    b = G(z, torch.tensor([3, 3]))
    assert a.shape == (2, 1, 28, 28) and not torch.allclose(a, b)
    assert D(a, torch.tensor([0, 1])).shape == (2,)


@pytest.mark.parametrize("flags,batchnorm", [({}, True), ({"spectral_norm": True}, False), ({"gp": 10.0}, False),
                                             ({"r1": 1.0}, False)])
def test_per_sample_constraints_take_batchnorm_out_of_D(flags, batchnorm):
    from bertgan.gan.config import resolve
    from bertgan.gan.trainer import build_run_models

    _, D = build_run_models(resolve("dcgan", image_size=28, channels=1, width=4, **flags))
    assert any(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == batchnorm


def test_spectral_norm_bounds_every_layer():
    torch.manual_seed(0)
    _, D = build_gan("dcgan", 8, (1, 28, 28), width=4, spectral_norm=True, d_batchnorm=False)
    D.train()
    x = torch.randn(4, 1, 28, 28)
    for _ in range(30):  # one power iteration per forward pass converges the estimate
        D(x)
    D.eval()
    for m in D.modules():
        if isinstance(m, nn.Linear):
            assert torch.linalg.matrix_norm(m.weight, ord=2).item() == pytest.approx(1.0, abs=0.05)

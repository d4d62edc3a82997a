import pytest
import torch

from bertgan.gan.models import build_gan, sample_prior


@pytest.mark.parametrize("arch,shape", [("mlp", (1, 8, 8)), ("mlp", (3, 32, 32)), ("dcgan", (1, 28, 28)),
                                        ("dcgan", (3, 32, 32)), ("dcgan", (1, 64, 64)), ("tf-dcgan", (1, 28, 28))])
def test_shapes_and_ranges(arch, shape):
    torch.manual_seed(0)
    G, D = build_gan(arch, 16, shape, width=8)
    z = sample_prior(3, 16)
    x = G(z)
    assert x.shape == (3, *shape)
    assert x.min() >= -1 and x.max() <= 1  # tanh: the data range [−1, 1]
    logits = D(x)
    assert logits.shape == (3,)  # one logit per image; D(x) = sigmoid(logit)


def _count(module, trainable=True):
    if trainable:
        return sum(p.numel() for p in module.parameters())
    return sum(b.numel() for n, b in module.named_buffers() if "num_batches" not in n)


def test_tf_dcgan_matches_the_tutorial_summary():
    # tensorflow.org/tutorials/generative/dcgan model summaries: G 2,305,472 trainable + 25,472 non-trainable
    # (BatchNorm moving mean/variance), D 212,865.
    G, D = build_gan("tf-dcgan", 100, (1, 28, 28))
    assert _count(G) == 2_305_472
    assert _count(G, trainable=False) == 25_472
    assert _count(D) == 212_865
    assert all(getattr(m, "bias", None) is None for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    slopes = {m.negative_slope for m in (*G.modules(), *D.modules()) if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.3}


def test_priors():
    g = torch.Generator().manual_seed(0)
    u = sample_prior(10000, 4, "uniform", generator=g)
    assert u.min() >= -1 and u.max() <= 1 and abs(u.mean()) < 0.05
    n = sample_prior(10000, 4, "normal", generator=g)
    assert abs(n.std() - 1) < 0.05
    with pytest.raises(ValueError):
        sample_prior(1, 1, "cauchy")


def test_dcgan_rejects_unsupported_size():
    with pytest.raises(ValueError):
        build_gan("dcgan", 8, (1, 40, 40))

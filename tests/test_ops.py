import pytest
import torch
import torch.nn.functional as F

from bertgan.ops import Dropout, dropout


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_drop_rate_and_scale(p):
    torch.manual_seed(0)
    x = torch.ones(200_000)
    y = dropout(x, p)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 0.005
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 0.01  # inverted dropout keeps the expectation


def test_channels_last_layout_and_lanes_are_independent():
    torch.manual_seed(0)
    x = torch.ones(64, 8, 5, 5).contiguous(memory_format=torch.channels_last)
    y = dropout(x, 0.5)
    assert y.is_contiguous(memory_format=torch.channels_last)
    kept = (y != 0).flatten().float()
    # neighbouring elements come from the same 64-bit draw: they must still be uncorrelated
    corr = torch.corrcoef(torch.stack([kept[:-1], kept[1:]]))[0, 1]
    assert abs(corr) < 0.02


def test_backward_matches_mask():
    torch.manual_seed(1)
    x = torch.randn(1000, requires_grad=True)
    y = dropout(x, 0.3)
    y.sum().backward()
    assert torch.equal(x.grad != 0, y != 0)


def test_eval_is_identity_and_seeded():
    m = Dropout(0.3)
    x = torch.randn(100)
    m.eval()
    assert torch.equal(m(x), x)
    m.train()
    torch.manual_seed(5)
    a = m(x)
    torch.manual_seed(5)
    assert torch.equal(a, m(x))
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_non_dense_input_falls_back():
    x = torch.ones(10, 10)[:, ::2]  # not contiguous
    torch.manual_seed(0)
    y = dropout(x, 0.5)
    torch.manual_seed(0)
    assert torch.equal(y, F.dropout(x, 0.5, True))

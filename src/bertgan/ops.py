"""Small tensor operations shared by the BERT and GAN models.

``dropout``: on CPU, ``torch.nn.functional.dropout`` draws one Bernoulli sample per element from PyTorch's serial
CPU generator; measured on a 2-core AVX2 machine that is 47 ms for a 256×64×14×14 activation — a sixth of a
whole DCGAN training step. Here one 64-bit draw feeds four elements (16 random bits each, so the drop
probability is rounded to a multiple of 2⁻¹⁶), 4 ms for the same tensor. Same semantics as inverted dropout
(keep with probability 1 − p, scale kept values by 1/(1 − p)), same global RNG, so seeding and resuming work as
usual. On other devices it is plain ``F.dropout``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_INT16_SPAN = 1 << 16


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    if not training or p == 0.0:
        return x
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    dense = x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)
    if x.device.type != "cpu" or not dense:
        return F.dropout(x, p, True)
    n = x.numel()
    # One int64 gives four independent, uniform int16 lanes (the full signed range, hence the bounds).
    bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), 2**63 - 1).view(torch.int16)
    bits = bits[:n].as_strided(x.shape, x.stride())  # same memory layout as x (channels_last too)
    threshold = round(p * _INT16_SPAN) - _INT16_SPAN // 2  # P(bits < threshold) = p (to 2⁻¹⁶)
    return torch.where(bits >= threshold, x * (1.0 / (1.0 - p)), 0.0)  # saves a bool mask for backward


class Dropout(nn.Module):
    """``nn.Dropout`` with the fast CPU mask above."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"

"""One rule per kind of flag, shared by every command that takes it (no torch import: config modules use it)."""

from __future__ import annotations

import math

from bertgan.errors import UsageError

MAX_SEED = 2**31 - 1
"""Seeds are whole numbers 0…2³¹−1: loops derive per-step seeds as seed × 1,000,003 + step, which must stay within
the 64-bit range torch.Generator takes."""


def check_seed(seed, flag: str = "--seed") -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"{flag} {seed}: a seed is a whole number from 0 to {MAX_SEED:,}")


def check_lr(lr, flag: str = "--lr") -> None:
    """One rule for every learning rate: a finite number above 0."""
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise UsageError(f"{flag} {lr}: a learning rate is a finite number above 0 (e.g. 1e-4)")


def check_weight(value, flag: str) -> None:
    """Penalty weights, noise levels and the like: a finite number, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise UsageError(f"{flag} {value}: must be a finite number, 0 or more")


def check_positive(value, flag: str) -> None:
    """Counts (batch sizes, steps, samples): a whole number above 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{flag} {value}: must be a whole number above 0")

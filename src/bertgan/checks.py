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


def _fits(value, annotation: str) -> bool:
    for t in (part.strip() for part in annotation.split("|")):
        if t == "None" and value is None:
            return True
        if t == "bool" and isinstance(value, bool):
            return True
        if t == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t == "float" and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if t == "str" and isinstance(value, str):
            return True
        if t.startswith("list[") and isinstance(value, list) and all(_fits(v, t[5:-1]) for v in value):
            return True
        if t.startswith("dict") and isinstance(value, dict):
            return True
        if t not in ("None", "bool", "int", "float", "str") and not t.startswith(("list[", "dict")):
            return True  # a type this check does not know: the dataclass's own code decides
    return False


def from_dict(cls, d: dict, source: str):
    """A dataclass from a JSON object (a run's config.json): unknown fields and values of the wrong type are one
    error naming the file and the field, instead of a TypeError deep inside a run."""
    import dataclasses

    if not isinstance(d, dict):
        raise UsageError(f"{source}: expected a JSON object of settings")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise UsageError(f"{source}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    for name, value in d.items():
        annotation = fields[name].type if isinstance(fields[name].type, str) else getattr(fields[name].type,
                                                                                          "__name__", "")
        if not _fits(value, annotation):
            raise UsageError(f"{source}: field {name!r} is {value!r} ({type(value).__name__}), but it takes "
                             f"{annotation}; fix the file or start a new run")
    missing = [n for n, f in fields.items() if n not in d and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise UsageError(f"{source}: missing field(s) {', '.join(missing)}")
    return cls(**d)

"""Device, precision and interruption — the parts of a training run that are not the model."""

from __future__ import annotations

import contextlib
import signal
import threading

import torch

from bertgan.errors import UsageError


def pick_device(name: str | None = "auto") -> torch.device:
    """``auto`` (or None): CUDA if present, else Apple MPS, else CPU. Anything else must exist on this machine."""
    if name is None or name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise UsageError(f"--device {name}: not a device name; use auto, cpu, cuda, cuda:N or mps") from e
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise UsageError(f"--device {name}: no such CUDA device on this machine; use --device cpu or auto")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {name}: MPS is not available here; use --device cpu or auto")
    return dev


def has_fast_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix units exist: CUDA compute capability ≥ 8 (Ampere+), or a CPU with AVX-512-BF16/AMX.
    On a CPU without them bf16 is emulated — measured 15× slower than fp32 for the DCGAN step on AVX2."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        return "bf16" if has_fast_bf16(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise UsageError(f"--precision {precision}: unknown precision; choose auto, fp32 or bf16")
    return precision


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CPU or CUDA (weights and optimiser state stay fp32); a no-op for fp32."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class GracefulInterrupt:
    """The first Ctrl-C (SIGINT) only sets ``requested``; the loop checks it between steps, saves a
    checkpoint and stops. A second Ctrl-C interrupts at once. Outside the main thread it does nothing."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class NonFiniteGuard:
    """Notices a NaN or infinite loss without a host sync per step: ``observe`` keeps, on the device, the first
    step whose loss was not finite; ``check`` reads it (one sync) at log and checkpoint boundaries and raises
    :class:`~bertgan.errors.NonFiniteError` naming that step and the likely cause. The run then stops before it
    writes anything, so its last checkpoint — finite — is what stays on disk."""

    def __init__(self, device: torch.device, precision: str, lr: str):
        self.first = torch.full((), float("inf"), device=device)
        self.precision, self.lr = precision, lr

    def observe(self, step: int, *losses: torch.Tensor) -> None:
        total = sum(loss.detach().float() for loss in losses)
        self.first = torch.where(torch.isfinite(total), self.first, torch.minimum(self.first,
                                                                                 torch.full_like(self.first, step)))

    def check(self, saved: int | None, where: str) -> None:
        first = float(self.first)
        if first == float("inf"):
            return
        from bertgan.errors import NonFiniteError

        cause = f"the learning rate ({self.lr}) is too high for this model and data"
        if self.precision == "bf16":
            cause += ", or bf16's narrow mantissa lost the loss (try --precision fp32)"
        kept = (f"its last checkpoint (step {saved}) in {where} is kept as it was" if saved else
                f"no checkpoint of {where} was written before it")
        raise NonFiniteError(f"step {int(first)}: the loss became NaN or infinite, so the run stopped; {kept}. "
                             f"Likely cause: {cause}. Start again with a lower learning rate")


"""Images/s of the lecture's DCGAN (preset ``tf-dcgan``, batch 256, one D step + one G step) trained by
bertgan's step (fp32 and bf16) and by plain eager loops written the straightforward way — all in one run.

    python benchmarks/gan_speed.py [--rounds 5] [--steps 4] [--batch-size 256] [--device cpu] [--json FILE]

The plain loops are what a user writes from the lecture / the TF tutorial: ``nn.Sequential`` models with
``nn.Dropout``, ``BCEWithLogitsLoss`` on ones/zeros, default Adam, default memory layout. Two variants:
  plain-2G  the lecture's alternation read literally: the G step draws a fresh z and runs G again;
  plain-1G  as the PyTorch DCGAN example: the G step reuses the D step's G(z) (D(real) and D(fake) separate).
Variants are measured in interleaved rounds (each round times every variant) and the median is reported, so
a slow spell of the machine hits all of them alike. Images are random in [−1, 1]: speed does not depend on
content. bf16 on a CPU without bf16 units (AVX-512-BF16/AMX) is emulated and very slow; it is measured with
fewer steps and flagged.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from torch import nn

from bertgan.gan.config import resolve
from bertgan.gan.models import build_gan
from bertgan.gan.trainer import GANStep, make_optimizers
from bertgan.train.runtime import NonFiniteGuard, has_fast_bf16


def plain_models():
    G = nn.Sequential(
        nn.Linear(100, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.3),
        nn.Unflatten(1, (256, 7, 7)),
        nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(7 * 7 * 128, 1))
    return G, D


def plain_step(device, batch, fresh_z_for_g: bool):
    G, D = plain_models()
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4)
    bce = nn.BCEWithLogitsLoss()
    ones = torch.ones(batch, 1, device=device)
    zeros = torch.zeros(batch, 1, device=device)

    def step(real):
        z = torch.randn(batch, 100, device=device)
        fake = G(z)
        opt_d.zero_grad()
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        if fresh_z_for_g:
            fake = G(torch.randn(batch, 100, device=device))
        opt_g.zero_grad()
        loss_g = bce(D(fake), ones)
        loss_g.backward()
        opt_g.step()

    return step


def ours_step(device, batch, precision, guard: bool = False):
    """bertgan's step; ``guard`` adds what the trainer does on top of it every step: the non-finite guard's
    observation (no host sync), so the two variants measure the guard's cost."""
    cfg = resolve("tf-dcgan", batch_size=batch, precision=precision)
    G, D = build_gan(cfg.arch, cfg.latent_dim, (1, 28, 28), cfg.width)
    fmt = torch.channels_last
    G, D = G.to(device, memory_format=fmt), D.to(device, memory_format=fmt)
    opt_g, opt_d = make_optimizers(G, D, cfg, device)
    stepper = GANStep(G, D, opt_g, opt_d, cfg, device, precision)
    watch = NonFiniteGuard(device, precision, "") if guard else None
    counter = iter(range(10**9))

    def step(real):
        i = next(counter)
        stepper(real.contiguous(memory_format=fmt), i)
        if watch is not None:
            watch.observe(i + 1, *stepper.losses)

    return step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4, help="timed steps per variant per round")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    device, batch = torch.device(args.device), args.batch_size
    torch.manual_seed(0)
    real = torch.rand(batch, 1, 28, 28, device=device) * 2 - 1
    fast_bf16 = has_fast_bf16(device)
    variants = {
        "plain-2G fp32": (plain_step(device, batch, True), args.steps),
        "plain-1G fp32": (plain_step(device, batch, False), args.steps),
        "bertgan fp32": (ours_step(device, batch, "fp32"), args.steps),
        "bertgan fp32+guard": (ours_step(device, batch, "fp32", guard=True), args.steps),
        "bertgan bf16": (ours_step(device, batch, "bf16"), args.steps if fast_bf16 else 1),
    }
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for step, _ in variants.values():  # warm-up: allocator, oneDNN/cuDNN kernel choice
        step(real)
        step(real)
    sync(device)
    for r in range(args.rounds):
        for name, (step, n) in variants.items():
            sync(device)
            t = time.perf_counter()
            for _ in range(n):
                step(real)
            sync(device)
            rates[name].append(n * batch / (time.perf_counter() - t))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()),
              flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"\ntf-dcgan, batch {batch}, one D step + one G step, {device} ({where}), "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}; fast bf16 units: {fast_bf16}")
    print(f"{'variant':20s} {'img/s (median)':>15s} {'min':>8s} {'max':>8s}")
    for k, v in rates.items():
        print(f"{k:20s} {med[k]:15.1f} {min(v):8.1f} {max(v):8.1f}")
    base2, base1 = med["plain-2G fp32"], med["plain-1G fp32"]
    best = max(med["bertgan fp32"], med["bertgan bf16"])
    print(f"\nbertgan fp32 / plain-2G: {med['bertgan fp32'] / base2:.2f}x   bertgan fp32 / plain-1G: "
          f"{med['bertgan fp32'] / base1:.2f}x")
    print(f"bertgan bf16 / plain-2G: {med['bertgan bf16'] / base2:.2f}x   bertgan bf16 / plain-1G: "
          f"{med['bertgan bf16'] / base1:.2f}x")
    print(f"best bertgan / plain-2G: {best / base2:.2f}x (goal ≥ 1.5x)")
    # The guard alone, timed directly: the difference of two noisy medians cannot resolve a fraction of a percent.
    watch, loss = NonFiniteGuard(device, "fp32", ""), torch.ones((), device=device)
    sync(device)
    t = time.perf_counter()
    for i in range(2000):
        watch.observe(i, loss, loss)
    sync(device)
    per_call = (time.perf_counter() - t) / 2000
    step_s = batch / med["bertgan fp32"]
    print(f"non-finite guard: {per_call * 1e6:.1f} µs a step = {100 * per_call / step_s:.3f}% of a bertgan fp32 step "
          f"(goal under 1%); the two medians differ by "
          f"{100 * (1 - med['bertgan fp32+guard'] / med['bertgan fp32']):+.1f}% (noise)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(device), "where": where, "batch": batch, "rates": rates, "median": med,
                       "fast_bf16": fast_bf16, "torch": torch.__version__}, f, indent=2)


if __name__ == "__main__":
    main()

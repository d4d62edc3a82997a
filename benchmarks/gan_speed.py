"""Images/s of the lecture's DCGAN (preset ``tf-dcgan``, batch 256, one D step + one G step) trained by
bertgan's step (fp32 and bf16) and by plain eager loops written the straightforward way — all in one run.

    python benchmarks/gan_speed.py [--rounds 5] [--steps 4] [--batch-size 256] [--device cpu] [--json FILE]
                                   [--e2e-data ../shared/data] [--e2e-steps 40]

The plain loops are what a user writes from the lecture / the TF tutorial: ``nn.Sequential`` models with
``nn.Dropout``, ``BCEWithLogitsLoss`` on ones/zeros, default Adam, default memory layout. Two variants:
  plain-2G  the lecture's alternation read literally: the G step draws a fresh z and runs G again;
  plain-1G  as the PyTorch DCGAN example: the G step reuses the D step's G(z) (D(real) and D(fake) separate).
Variants are measured in interleaved rounds (each round times every variant) and the median is reported, so
a slow spell of the machine hits all of them alike. Images are random in [−1, 1]: speed does not depend on
content. bf16 on a CPU without bf16 units (AVX-512-BF16/AMX) is emulated and very slow; it is measured with
fewer steps and flagged.

TensorFlow, the lecture's framework, is a measured peer when ``tensorflow`` is importable (``pip install
tensorflow-cpu``): the TF DCGAN tutorial's own ``train_step`` — Keras ``Sequential`` models, both
``GradientTape``s, ``@tf.function``, ``BinaryCrossentropy(from_logits=True)``, Adam 1e-4, NHWC images — timed in
the same interleaved rounds with TF's thread pools set to torch's thread count.

``--e2e-data DIR`` also runs ``bertgan gan train --preset tf-dcgan`` itself on MNIST from DIR for ``--e2e-steps``
steps at the default precision (``auto``) and reports the images/s its own metrics log — data loading, the
shuffle, logging and the non-finite guard included — against TensorFlow's step alone.
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
from bertgan.train.runtime import NonFiniteGuard, has_fast_bf16, resolve_precision


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


def tf_step(batch: int, threads: int):
    """The TensorFlow DCGAN tutorial's train step, verbatim but for Keras 3's Input layers; None without TF."""
    try:
        import tensorflow as tf
    except ImportError:
        return None
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    layers = tf.keras.layers
    generator = tf.keras.Sequential([
        layers.Input((100,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh")])
    discriminator = tf.keras.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1)])
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    generator_optimizer = tf.keras.optimizers.Adam(1e-4)
    discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([batch, 100])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = (cross_entropy(tf.ones_like(real_output), real_output)
                         + cross_entropy(tf.zeros_like(fake_output), fake_output))
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))
        return gen_loss

    images = tf.random.uniform([batch, 28, 28, 1], -1.0, 1.0)

    def step(_real):
        train_step(images).numpy()  # .numpy() waits for the step, as torch's CPU ops do

    return step, tf.__version__


def e2e_rate(data: str, steps: int, device: torch.device) -> dict:
    """``bertgan gan train --preset tf-dcgan`` on MNIST for ``steps`` steps; the images/s of its own log rows
    (each row covers log_every steps of the whole loop), the first row (warm-up) left out."""
    import tempfile
    from pathlib import Path

    from bertgan.gan.trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve("tf-dcgan", dataset="mnist", data_dir=data, max_steps=steps, log_every=10,
                      checkpoint_every=10**9, device=device.type)
        train(cfg, Path(tmp) / "run", progress=False, log=lambda *_: None)
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    rates = [r["img_per_s"] for r in rows if "img_per_s" in r][1:]
    return {"steps": steps, "median": statistics.median(rates), "min": min(rates), "max": max(rates),
            "precision": resolve_precision(cfg.precision, device)}


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
    ap.add_argument("--e2e-data", help="also time 'bertgan gan train --preset tf-dcgan' on MNIST from this folder")
    ap.add_argument("--e2e-steps", type=int, default=40)
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
    tf = tf_step(batch, torch.get_num_threads()) if device.type == "cpu" else None
    if tf is not None:
        variants[f"tensorflow {tf[1]}"] = (tf[0], args.steps)
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
    tf_name = next((k for k in med if k.startswith("tensorflow")), None)
    default = "bertgan bf16" if fast_bf16 else "bertgan fp32"  # what --precision auto picks here
    if tf_name:
        print(f"bertgan default ({default.split()[1]}) / {tf_name}: {med[default] / med[tf_name]:.2f}x   "
              f"bertgan fp32 / {tf_name}: {med['bertgan fp32'] / med[tf_name]:.2f}x (goal ≥ 1.5x)")
    e2e = None
    if args.e2e_data:
        e2e = e2e_rate(args.e2e_data, args.e2e_steps, device)
        line = (f"bertgan gan train --preset tf-dcgan end to end ({e2e['precision']}, {e2e['steps']} steps, data "
                f"loading included): {e2e['median']:.1f} img/s (min {e2e['min']:.1f}, max {e2e['max']:.1f})")
        if tf_name:
            line += f" = {e2e['median'] / med[tf_name]:.2f}x {tf_name}'s step alone"
        print(line)
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
                       "fast_bf16": fast_bf16, "torch": torch.__version__, "e2e": e2e}, f, indent=2)


if __name__ == "__main__":
    main()

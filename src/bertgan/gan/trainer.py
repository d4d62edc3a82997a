"""Training the GAN: the minimax game played by alternating updates.

Seed 001, §03: "주어진 목적 함수를 η에 대해서 최대화하고, θ에 대해서 최소화하는 작업을 번갈아 진행" — maximise the
objective over D's η, then minimise it over G's θ, in turn (Goodfellow et al. 2014, Algorithm 1, with k =
``d_steps`` D updates per G update).

Run folder (``--out RUN``): config.json, checkpoint.safetensors, metrics.jsonl, samples/epoch_NNN.png (a fixed z
each epoch), samples.png (latest), real.png, curves.png, report.html.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from bertgan.data.images import load_images
from bertgan.errors import UsageError
from bertgan.gan.config import GANConfig, resolve_shape, validate
from bertgan.gan.losses import LOSSES, threshold_accuracy
from bertgan.gan.models import build_gan, sample_prior
from bertgan.gan.regularizers import (
    EMA,
    add_instance_noise,
    gradient_penalty,
    instance_noise_std,
    interpolates,
    r1_penalty,
)
from bertgan.io import read_json, write_json
from bertgan.report.html import write_report
from bertgan.report.plots import plot_gan_curves, plot_points, save_grid, to_uint8
from bertgan.train import distributed
from bertgan.train.checkpoint import (
    check_run_dir,
    load_checkpoint,
    prepare_run_dir,
    restore_module,
    restore_optimizer,
    restore_rng,
    rewind_metrics,
    save_checkpoint,
)
from bertgan.train.distributed import Dist, average_gradients
from bertgan.train.runtime import GracefulInterrupt, NonFiniteGuard, autocast, resolve_precision

CHECKPOINT = "checkpoint.safetensors"
GENERATOR = "generator.safetensors"  # an exported G alone (``export_generator``): what ships in gan/pretrained/
CONFIG = "config.json"
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
METRICS = "metrics.jsonl"
N_FIXED = 64  # size of the fixed-z sample grid
N_FIXED_POINTS = 2500  # the 2-D sets are drawn as a scatter of this many samples (PacGAN's evaluation count)
REPORT_EVERY_S = 20.0  # redraw curves.png and report.html at epoch ends at most this often (and at the end)
METRIC_NAMES = ("loss_d", "loss_g", "d_real", "d_fake", "acc_real", "acc_fake")
_LABELS = {"img_per_s": "images/s", "loss_d": "loss_D", "loss_g": "loss_G", "d_real": "mean D(x), real",
           "d_fake": "mean D(G(z)), generated", "acc_real": "real judged real (D ≥ 0.5)",
           "acc_fake": "generated judged fake (D < 0.5)"}


# ------------------------------------------------------------------------------------------------ one step

class GANStep:
    """One D update on a real batch, and — every ``d_steps``-th call — one G update.

    Work is not done twice: G's forward pass for the D update is kept (with its graph) and reused by the G
    update that follows, as the PyTorch DCGAN example does; D's weights are frozen during the G update, whose
    backward pass then computes only ∂/∂x through D. The stabilisers the config turns on (regularizers.py) enter
    D's loss here; G's samples are class-conditioned on the real batch's labels, so the generated class mix
    follows the data's.
    """

    def __init__(self, G: torch.nn.Module, D: torch.nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, cfg: GANConfig, device: torch.device, precision: str,
                 ema: EMA | None = None, dist: Dist | None = None):
        self.G, self.D, self.opt_g, self.opt_d, self.ema = G, D, opt_g, opt_d, ema
        self.dist = dist or Dist()  # under torchrun: this process's rows of each global batch
        self.d_loss, self.g_loss = LOSSES[cfg.loss]
        self.d_kwargs = {"real_label": 1.0 - cfg.label_smoothing} if cfg.label_smoothing else {}
        self.latent_dim, self.prior, self.d_steps = cfg.latent_dim, cfg.prior, cfg.d_steps
        self.r1, self.gp, self.conditional = cfg.r1, cfg.gp, cfg.conditional
        self.device, self.precision = device, precision
        self.reset_metrics()

    def reset_metrics(self) -> None:
        self._sums = torch.zeros(len(METRIC_NAMES), device=self.device)
        self._d_count = self._g_count = 0

    def __call__(self, real: torch.Tensor, step: int, labels: torch.Tensor | None = None,
                 noise_std: float = 0.0) -> None:
        n = real.shape[0]
        g_turn = (step + 1) % self.d_steps == 0
        y = labels if self.conditional else None
        G = (lambda z: self.G(z, y)) if self.conditional else self.G
        D = (lambda x: self.D(x, y)) if self.conditional else self.D
        # The global batch's z, this process's rows of it: every process draws the same numbers (same seed), so
        # N processes train on exactly the z one process would draw.
        world = self.dist.world
        z = sample_prior(n * world, self.latent_dim, self.prior, device=self.device)[self.dist.rows(n * world)]
        with autocast(self.device, self.precision):
            with torch.set_grad_enabled(g_turn):
                fake = G(z)  # (N, C, H, W); graph kept only if the G update below will reuse it
            d_real_in = add_instance_noise(real, noise_std)
            if self.r1:
                d_real_in = d_real_in.detach().requires_grad_(True)
            # Real and generated batches go through D separately: BatchNorm in D must not mix their statistics,
            # and one concatenated batch measured slower on CPU anyway.
            real_logits = D(d_real_in).float()
            fake_logits = D(add_instance_noise(fake.detach(), noise_std)).float()
        # D ascends V(D, G): descend d_loss = −V.
        loss_d = self.d_loss(real_logits, fake_logits, **self.d_kwargs)
        if self.r1:
            loss_d = loss_d + r1_penalty(real_logits, d_real_in, self.r1)
        if self.gp:
            x_hat = interpolates(real, fake)
            with autocast(self.device, self.precision):
                hat_logits = D(x_hat).float()
            loss_d = loss_d + gradient_penalty(hat_logits, x_hat, self.gp)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        average_gradients(self.D, self.dist)
        self.opt_d.step()
        self.losses = (loss_d,)  # this step's losses, for the trainer's non-finite guard
        with torch.no_grad():
            acc_real, acc_fake = threshold_accuracy(real_logits, fake_logits)
            self._sums[0] += loss_d.detach()
            self._sums[2] += torch.sigmoid(real_logits).mean()
            self._sums[3] += torch.sigmoid(fake_logits).mean()
            self._sums[4] += acc_real
            self._sums[5] += acc_fake
        self._d_count += 1
        if not g_turn:
            return
        # G descends its loss through the D just updated (alternating, not simultaneous, updates).
        self.D.requires_grad_(False)
        try:
            with autocast(self.device, self.precision):
                g_logits = D(add_instance_noise(fake, noise_std)).float()
            loss_g = self.g_loss(g_logits)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            average_gradients(self.G, self.dist)
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.G)
        self.losses = (loss_d, loss_g)
        self._sums[1] += loss_g.detach()
        self._g_count += 1

    def pop_metrics(self) -> dict[str, float]:
        """Means since the last call (one host sync; under torchrun, over every process)."""
        sums = [v / self.dist.world for v in self.dist.sum(self._sums.tolist())]
        d, g = max(self._d_count, 1), max(self._g_count, 1)
        out = {name: sums[i] / (g if name == "loss_g" else d) for i, name in enumerate(METRIC_NAMES)}
        self.reset_metrics()
        return out


# ------------------------------------------------------------------------------------------------ the run

@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: float
    interrupted: bool
    metrics: dict
    report: Path
    samples: Path


def load_run_config(run_dir: str | Path) -> GANConfig:
    path = Path(run_dir) / CONFIG
    data = read_json(path, "--run/--out must be a folder written by 'bertgan gan train'")
    cfg = GANConfig.from_dict(data, str(path))
    validate(cfg)
    return cfg


def make_optimizers(G, D, cfg: GANConfig, device: torch.device):
    fused = device.type in ("cpu", "cuda")  # one kernel per step instead of one per tensor
    adam = lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps,
                                               fused=fused)
    return adam(G.parameters(), cfg.lr_g), adam(D.parameters(), cfg.lr_d)


def uses_convolutions(arch: str) -> bool:
    return arch in ("dcgan", "cnn", "tf-dcgan")


def lr_scale(step: int, total_steps: int, decay: float) -> float:
    """The learning rates' factor at ``step``: 1 until the last ``decay`` fraction of the run, then falling linearly
    to 0 at its end (decay = 1: Miyato et al. 2018's whole-run schedule, 1 − step / total, to the bit)."""
    return min(1.0, (1.0 - step / total_steps) / decay)


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The data order of one epoch, a pure function of (seed, epoch): a resumed run needs no saved state."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def _absolute_paths(cfg: GANConfig) -> dict:
    """config.json must work from any working directory (resume, sample): store data paths absolute."""
    out = {}
    if cfg.data_dir:
        out["data_dir"] = str(Path(cfg.data_dir).expanduser().resolve())
    if cfg.dataset.startswith("folder:"):
        out["dataset"] = "folder:" + str(Path(cfg.dataset[len("folder:"):]).expanduser().resolve())
    return out


def train(cfg: GANConfig, out: str | Path, *, resume: bool = False, progress: bool = True,
          log: Callable[[str], None] = print, after_step: Callable[[int], None] | None = None) -> TrainResult:
    """Train G and D as configured, writing everything into ``out``. With ``resume``, ``cfg`` must be the
    run's own config (``load_run_config``) with at most epochs / max_steps changed.

    Under ``torchrun --nproc_per_node N`` each process trains on its rows of every global batch (``--batch-size``
    is the global batch) with the same z, averages its gradients with the others after each backward, and
    computes BatchNorm statistics over the global batch (torch's SyncBatchNorm on CUDA, ``DistBatchNorm`` on CPU):
    N processes train the G one process would. Rank 0 alone writes the run folder."""
    validate(cfg)
    with distributed.session(cfg.device) as (d, device):
        return _train(cfg, out, resume, progress, log, after_step, d, device)


def _train(cfg: GANConfig, out, resume: bool, progress: bool, log, after_step, d: Dist, device: torch.device
           ) -> TrainResult:
    from tqdm.auto import tqdm

    if cfg.batch_size % d.world:
        raise UsageError(f"--batch-size {cfg.batch_size}: must be a multiple of the {d.world} torchrun processes "
                         "(it is the global batch, split evenly between them)")
    check_run_dir(out, resume, CHECKPOINT)  # before the data (a failed download must leave no empty folder)
    precision = resolve_precision(cfg.precision, device)
    cfg = resolve_shape(dataclasses.replace(cfg, precision=precision, **_absolute_paths(cfg)))
    data = load_images(cfg.dataset, cfg.image_size, cfg.channels, cfg.data_dir)
    if cfg.channels is None:
        cfg = dataclasses.replace(cfg, channels=int(data.images.shape[1]))
    n = len(data)
    if cfg.batch_size > n:
        raise UsageError(f"--batch-size {cfg.batch_size}: larger than the dataset ({n} images in {cfg.dataset}); "
                         f"use at most {n}")
    steps_per_epoch = n // cfg.batch_size  # full batches only: BatchNorm sees the same batch size every step
    # --max-steps, when given, overrides --epochs (as in transformers' Trainer).
    total_steps = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch
    run, ckpt_path = d.on_main(lambda: prepare_run_dir(out, resume, CHECKPOINT))
    progress = progress and d.main
    rows_of = d.rows(cfg.batch_size)  # this process's rows of every global batch

    torch.manual_seed(cfg.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    n_classes = len(data.class_names) if cfg.conditional else 0
    if cfg.conditional and data.labels is None:
        raise UsageError(f"--conditional: {cfg.dataset} has no class labels")
    G, D = build_run_models(cfg, n_classes)
    fmt = torch.channels_last if uses_convolutions(cfg.arch) else torch.contiguous_format
    if d.active:
        G, D = distributed.sync_batchnorm(G, device), distributed.sync_batchnorm(D, device)
    G = G.to(device, memory_format=fmt)
    D = D.to(device, memory_format=fmt)
    opt_g, opt_d = make_optimizers(G, D, cfg, device)
    ema = EMA(G, cfg.ema) if cfg.ema else None
    points = cfg.arch == "toy"
    fixed_n = N_FIXED_POINTS if points else N_FIXED
    fixed_z = sample_prior(fixed_n, cfg.latent_dim, cfg.prior,
                           generator=torch.Generator().manual_seed(cfg.seed + 12345)).to(device)
    fixed_y = (torch.arange(fixed_n) % n_classes).to(device) if n_classes else None

    step, elapsed = 0, 0.0
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        restore_module(G, ckpt, "G", str(ckpt_path))
        restore_module(D, ckpt, "D", str(ckpt_path))
        if ema is not None:
            restore_module(ema.model, ckpt, "G_ema", str(ckpt_path))
        restore_optimizer(opt_g, ckpt, "opt_G")
        restore_optimizer(opt_d, ckpt, "opt_D")
        restore_rng(ckpt)
        step, elapsed = ckpt.step, float(ckpt.meta.get("elapsed", 0.0))
    if resume and step >= total_steps and d.main:
        rule = f"--max-steps {cfg.max_steps}" if cfg.max_steps is not None else f"--epochs {cfg.epochs}"
        log(f"nothing to do: the run is at step {step}, and {rule} ends it at step {total_steps}; give a larger "
            "--max-steps or --epochs to train longer")
    rows: list[dict] = []
    if d.main:
        rows = rewind_metrics(run / METRICS, step)
        write_json(run / CONFIG, dataclasses.asdict(cfg))
        (run / "samples").mkdir(exist_ok=True)
        if not resume and not points:
            save_grid(run / "real.png", data.images[:N_FIXED])

    images = data.images.to(device) if device.type != "cpu" else data.images
    labels = data.labels.to(images.device) if n_classes else None
    stepper = GANStep(G, D, opt_g, opt_d, cfg, device, precision, ema, d)
    guard = NonFiniteGuard(device, precision, f"--lr-g {cfg.lr_g}, --lr-d {cfg.lr_d}")

    def checkpoint() -> None:
        guard.check(last_saved, str(ckpt_path))  # never replace a finite checkpoint by a diverged one
        modules = {"G": G, "D": D} | ({"G_ema": ema.model} if ema is not None else {})
        save_checkpoint(ckpt_path, modules, {"opt_G": opt_g, "opt_D": opt_d},
                        meta={"step": step, "epoch": step / steps_per_epoch, "elapsed": elapsed_now(),
                              "n_classes": n_classes})

    t0 = time.perf_counter()
    elapsed_now = lambda: elapsed + time.perf_counter() - t0

    def sample_grid(name: str | None) -> Path:
        sampler = ema.model if ema is not None else G
        sampler.eval()
        with torch.no_grad(), autocast(device, precision):
            out = sampler(fixed_z, fixed_y) if n_classes else sampler(fixed_z)
        sampler.train(sampler is G)
        if points:
            fake, real = out.float().cpu().numpy(), data.images[:fixed_n].numpy()
            draw = lambda path: plot_points(path, fake, real, f"{cfg.dataset}: {fixed_n} samples at step {step}")
        else:
            imgs, nrow = to_uint8(out), (n_classes if 2 <= n_classes <= 16 else None)  # a column per class
            draw = lambda path: save_grid(path, imgs, nrow)
        if name:
            draw(run / "samples" / name)
        return draw(run / "samples.png")

    def report(interrupted: bool = False) -> Path:
        if rows:
            plot_gan_curves(run / "curves.png", rows, f"{cfg.arch} on {cfg.dataset}, {cfg.loss} loss")
        last = rows[-1] if rows else {}
        summary = {"step": f"{step} / {total_steps}", "epoch": f"{step / steps_per_epoch:.2f} / {cfg.epochs}",
                   "status": "interrupted (resume with --resume)" if interrupted else
                   ("finished" if step >= total_steps else "running"),
                   "device": f"{device} ({precision})", "elapsed": f"{elapsed_now():.1f} s"}
        summary.update({label: last[k] for k, label in _LABELS.items() if k in last})
        gallery = [(p.stem.replace("_", " "), f"samples/{p.name}")
                   for p in sorted((run / "samples").glob("epoch_*.png"))]
        figures = [("samples from a fixed z (latest)", "samples.png")]
        if (run / "interpolation.png").is_file():
            figures.append(("walks between two z (spherical interpolation)", "interpolation.png"))
        if not points:
            figures.append(("real training images", "real.png"))
        if rows:
            figures.append(("losses, D(x) vs D(G(z)), D's threshold accuracy", "curves.png"))
        return write_report(run, f"GAN run — {run.name}", summary, figures, gallery, dataclasses.asdict(cfg),
                            note="G(z; θ) against D(x; η): D ≥ 0.5 is judged real (the GAN lecture).")

    interrupted = False
    bar = tqdm(total=total_steps * cfg.batch_size, initial=step * cfg.batch_size, unit="img", unit_scale=True,
               disable=not progress, dynamic_ncols=True, desc=f"{cfg.arch} {cfg.dataset}")
    last_saved = step
    t_log, images_log = time.perf_counter(), 0
    t_report = t_log
    order = None
    with GracefulInterrupt() as stop, bar:
        while step < total_steps:
            epoch, i = divmod(step, steps_per_epoch)
            if order is None or i == 0:
                order = epoch_order(cfg.seed, epoch, n).to(images.device)
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size][rows_of]  # this process's rows
            if cfg.lr_decay:  # a pure function of the step, so a resumed run follows the same schedule
                scale = lr_scale(step, total_steps, cfg.lr_decay)
                for opt, lr in ((opt_g, cfg.lr_g), (opt_d, cfg.lr_d)):
                    for group in opt.param_groups:
                        group["lr"] = lr * scale
            real = images[idx].to(device, non_blocking=True).float()
            if not points:
                real = real.div_(127.5).sub_(1.0).contiguous(memory_format=fmt)  # uint8 → [−1, 1]
            stepper(real, step, labels[idx] if labels is not None else None,
                    instance_noise_std(cfg.instance_noise, step, total_steps))
            step += 1
            guard.observe(step, *stepper.losses)
            images_log += cfg.batch_size
            bar.update(cfg.batch_size)
            end_of_epoch = step % steps_per_epoch == 0
            if after_step is not None:
                after_step(step)
            stopping = stop.requested if not d.active else d.sum([float(stop.requested)])[0] > 0
            if step % cfg.log_every == 0 or end_of_epoch or step == total_steps or stopping:
                metrics = stepper.pop_metrics()  # summed over processes: a NaN anywhere stops every process
                if not all(math.isfinite(v) for v in metrics.values()):
                    guard.observe(step, torch.tensor(float("nan")))
                guard.check(last_saved, str(ckpt_path))
                now = time.perf_counter()
                row = {"step": step, "epoch": round(step / steps_per_epoch, 4), **metrics,
                       "img_per_s": images_log / max(now - t_log, 1e-9), "elapsed": elapsed_now()}
                t_log, images_log = now, 0
                if d.main:
                    rows.append(row)
                    with open(run / METRICS, "a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
                bar.set_postfix(loss_d=f"{row['loss_d']:.3f}", loss_g=f"{row['loss_g']:.3f}",
                                Dx=f"{row['d_real']:.2f}", DGz=f"{row['d_fake']:.2f}")
            if end_of_epoch and d.main:
                sample_grid(f"epoch_{step // steps_per_epoch:03d}.png")
                if time.perf_counter() - t_report >= REPORT_EVERY_S:  # matplotlib costs ~0.3 s a figure
                    report()
                    t_report = time.perf_counter()
            if end_of_epoch or step % cfg.checkpoint_every == 0 or stopping:
                if d.main:
                    checkpoint()
                last_saved = step
            if stopping:
                interrupted = True
                break
    d.barrier()
    if not d.main:
        return TrainResult(run, step, step / steps_per_epoch, interrupted, {}, run / "report.html",
                           run / "samples.png")
    if last_saved != step:
        checkpoint()
    samples = sample_grid(None)
    if not points:
        sampler = (ema.model if ema is not None else G).eval()
        strip, nrow = generate(sampler, cfg, 80, cfg.seed, device, interpolate=True)
        save_grid(run / "interpolation.png", strip, nrow)
    report_path = report(interrupted)
    if interrupted:
        log(f"interrupted at step {step}: checkpoint saved; continue with: bertgan gan train --resume --out {run}")
    return TrainResult(run, step, step / steps_per_epoch, interrupted, rows[-1] if rows else {}, report_path,
                       samples)


# ------------------------------------------------------------------------------------------------ sampling

def build_run_models(cfg: GANConfig, n_classes: int = 0):
    """(G, D) as a run's config describes them. BatchNorm leaves D when a per-sample constraint is on (R1,
    gradient penalty, spectral norm): Miyato et al.'s SN-DCGAN and Gulrajani et al.'s critic have none, and a
    batch-normalised D makes each sample's gradient depend on the others."""
    shape = (cfg.channels,) if cfg.arch == "toy" else (cfg.channels, cfg.image_size, cfg.image_size)
    return build_gan(cfg.arch, cfg.latent_dim, shape, cfg.width, pack=cfg.pack, mbstd=cfg.mbstd,
                     n_classes=n_classes, spectral_norm=cfg.spectral_norm,
                     d_batchnorm=not (cfg.spectral_norm or cfg.gp or cfg.r1))


def list_pretrained() -> dict[str, Path]:
    """The generators that ship inside the package: name → folder (config.json, generator.safetensors, card.md)."""
    if not PRETRAINED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(PRETRAINED_DIR.iterdir()) if (p / GENERATOR).is_file()}


def pretrained_path(name: str) -> Path:
    found = list_pretrained()
    if name not in found:
        raise UsageError(f"--pretrained {name}: no such shipped generator; choose one of "
                         f"{', '.join(found) or '(none installed)'} ('bertgan gan list-pretrained')")
    return found[name]


def _restore_part(cfg: GANConfig, path: Path, part: str, device: torch.device) -> torch.nn.Module:
    """G (its EMA weights where the file has them) or D of a run, built from its config and restored from path."""
    ckpt = load_checkpoint(path)
    G, D = build_run_models(cfg, int(ckpt.meta.get("n_classes", 0)))
    if part == "D":
        module, name = D, "D"
    else:
        module, name = G, "G_ema" if any(k.startswith("G_ema.") for k in ckpt.tensors) else "G"
    restore_module(module, ckpt, name, str(path))  # fp16 tensors of an exported G are widened to G's fp32
    return module.to(device).eval()


def load_generator(run_dir: str | Path, device: torch.device) -> tuple[torch.nn.Module, GANConfig]:
    """A run's G for sampling — its EMA weights where the run kept them. Also reads a folder written by
    ``export_generator`` (a shipped generator): config.json and generator.safetensors, the same tensors."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    path = run_dir / CHECKPOINT
    if not path.is_file() and (run_dir / GENERATOR).is_file():
        path = run_dir / GENERATOR
    if not path.is_file():
        raise UsageError(f"{path}: no such file — {run_dir} holds no trained generator; train one with "
                         f"'bertgan gan train --out {run_dir}'")
    return _restore_part(cfg, path, "G", device), cfg


def load_discriminator(run_dir: str | Path, device: torch.device) -> torch.nn.Module:
    """A run's D (for rejection sampling); only a training run's checkpoint has one — a shipped or exported
    generator is G alone."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise UsageError(f"{run_dir}: no {CHECKPOINT}, so no discriminator — rejection sampling needs the D of a "
                         f"training run ('bertgan gan train --out DIR'); exported and shipped generators are G only")
    return _restore_part(cfg, path, "D", device)


def export_generator(run_dir: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """G alone (its EMA weights where kept), in ``dtype``, with the run's config.json: a folder that
    ``load_generator`` (and ``bertgan gan sample --run``) reads like the run itself, at a fraction of the size."""
    from bertgan.io import ensure_writable_dir

    run_dir = Path(run_dir)
    G, cfg = load_generator(run_dir, torch.device("cpu"))
    ckpt = load_checkpoint(run_dir / CHECKPOINT)
    out = ensure_writable_dir(out, "--out")
    if (out / GENERATOR).exists() or (out / CHECKPOINT).exists():
        raise UsageError(f"--out {out}: already holds a generator; choose another folder")
    meta = {"n_classes": int(ckpt.meta.get("n_classes", 0)), "step": ckpt.step,
            "epoch": ckpt.meta.get("epoch"), "dtype": str(dtype).removeprefix("torch."),
            "weights": "G_ema" if cfg.ema else "G"}
    save_checkpoint(out / GENERATOR, {"G": G.to(dtype)}, meta=meta, rng=False)
    write_json(out / CONFIG, dataclasses.asdict(dataclasses.replace(cfg, data_dir=None)))
    return out


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: under N(0, I) every point keeps a typical norm (White 2016)."""
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True))
    omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def generate(G: torch.nn.Module, cfg: GANConfig, n: int, seed: int, device: torch.device,
             interpolate: bool = False, frames: int = 10, raw: bool = False, progress: bool = False
             ) -> tuple[torch.Tensor, int]:
    """uint8 images (float points for the 2-D sets; with ``raw``, G's float output (N, C, H, W) in [−1, 1]) and
    the grid's row length. interpolate: n // frames rows (at least one), each a walk from one z to another in
    ``frames`` steps (slerp for the normal prior, a straight line for the uniform one)."""
    gen = torch.Generator().manual_seed(seed)
    if interpolate:
        rows = max(1, n // frames)
        a, b = (sample_prior(rows, cfg.latent_dim, cfg.prior, generator=gen) for _ in range(2))
        t = torch.linspace(0, 1, frames).view(1, frames, 1)
        a, b = a[:, None, :], b[:, None, :]  # (rows, 1, d)
        z = _slerp(a, b, t) if cfg.prior == "normal" else a + (b - a) * t  # (rows, frames, d)
        z, nrow = z.reshape(rows * frames, cfg.latent_dim), frames
    else:
        z, nrow = sample_prior(n, cfg.latent_dim, cfg.prior, generator=gen), math.ceil(math.sqrt(n))
    from tqdm.auto import tqdm

    k = getattr(G, "n_classes", 0)
    if k:  # class i mod k: with nrow = k, a column per class
        nrow = k if k <= 16 and not interpolate else nrow
    chunks = []
    with torch.no_grad():
        for a in tqdm(range(0, len(z), 1000), disable=not progress, desc="sampling", unit="×1000"):
            zc = z[a:a + 1000].to(device)
            chunks.append(G(zc, (torch.arange(a, a + len(zc)) % k).to(device)) if k else G(zc))
    out = torch.cat(chunks)
    return (out.float().cpu() if raw or cfg.arch == "toy" else to_uint8(out)), nrow

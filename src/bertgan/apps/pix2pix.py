"""Paired image-to-image translation, pix2pix (Isola et al. 2017) — seed 001's 이미지 변환 (pix2pix).

Tasks are built from real labelled images, so the paired target is the real image itself:
  edges    the input is a binary edge map of the image (Sobel gradient magnitude, thresholded — a Canny-like
           outline, as the paper's edges→photo tasks use HED edges); G must fill the strokes back in
  masked   the input is the image with a half-side square (14×14 at 28×28) at a random place greyed out; G must
           complete the hidden part — the ambiguous case where the paper says L1 alone averages the possibilities

Both variants of the paper's ablation (its Table 1, "L1" vs "L1+cGAN") are trained with the same seed, data order
and steps: G is the U-Net, D the conditional PatchGAN (``gan/image2image.py``), λ = 100, Adam 2e-4, β₁ = 0.5, D's
objective halved (§3.3). On held-out test images the command reports the per-pixel L1 error, PSNR and SSIM against
the targets, the sharpness of the outputs (mean Sobel gradient magnitude, the targets' for reference), and the
real-data classifier's accuracy on the outputs — with the classifier's accuracy on the targets (ceiling) and on
the inputs (floor), the "FCN-score" protocol of the paper's §4.2 with a digit classifier in place of the FCN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bertgan.apps.common import (
    accuracy_by_judge,
    batches,
    check_labelled,
    check_positive,
    judge,
    save_rows,
    seed_everything,
)
from bertgan.errors import UsageError
from bertgan.train.runtime import NonFiniteGuard

TASKS = {
    "edges": "edge map (thresholded Sobel magnitude) → image",
    "masked": "image with a half-side square greyed out → full image",
}
VARIANTS = ("l1", "l1+cgan")  # the paper's Table 1 rows "L1" and "L1+cGAN"
EDGE_THRESHOLD = 0.5  # on the Sobel magnitude of [0, 1] images: keeps the stroke borders, drops the anti-aliasing

DESCRIPTION = """\
pix2pix (Isola et al. 2017): a U-Net generator with skip connections and a conditional PatchGAN discriminator,
trained on paired images built from real MNIST / Fashion-MNIST — edges→image or masked→full image. Trains the
paper's ablation, L1 alone vs L1 + conditional GAN (λ = 100), with the same seed and steps, and measures on test
images: per-pixel L1, PSNR, SSIM, sharpness (mean gradient magnitude) and the real-data classifier's accuracy on
the outputs (with the targets as ceiling and the inputs as floor). Writes pix2pix_test.png (input / L1 /
L1+cGAN / target rows) and pix2pix_curves.png.

examples:
  bertgan apps pix2pix --quick --out runs/pix2pix-quick
  bertgan apps pix2pix --out runs/pix2pix-edges
  bertgan apps pix2pix --task masked --dataset fashion-mnist --out runs/pix2pix-masked-fashion
"""


@dataclasses.dataclass
class Config:
    dataset: str = dataclasses.field(default="mnist", metadata={
        "help": "labelled image set: mnist, fashion-mnist (or digits, 8×8, for tests)"})
    task: str = dataclasses.field(default="edges", metadata={
        "help": "paired task: " + "; ".join(f"{k} = {v}" for k, v in TASKS.items())})
    steps: int = dataclasses.field(default=1500, metadata={"help": "training steps of each variant"})
    batch_size: int = dataclasses.field(default=64, metadata={"help": "images per step"})
    lam: float = dataclasses.field(default=100.0, metadata={
        "help": "λ, the L1 weight beside the cGAN loss (the paper's 100)"})
    lr: float = dataclasses.field(default=2e-4, metadata={"help": "Adam learning rate of G and D (β₁ = 0.5)"})
    width: int = dataclasses.field(default=32, metadata={"help": "channels of G's and D's first layer"})
    depth: int = dataclasses.field(default=2, metadata={
        "help": "U-Net halvings; the image size must be divisible by 2**depth"})
    image_size: int = dataclasses.field(default=28, metadata={"help": "images are resized to this side"})
    train_images: int = dataclasses.field(default=60000, metadata={"help": "at most this many training images"})
    test_images: int = dataclasses.field(default=2000, metadata={"help": "held-out test images scored"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of weights, data order and masks"})
    device: str = dataclasses.field(default="auto", metadata={"help": "auto, cpu, cuda, mps"})


SETTINGS = {"quick": {"steps": 400, "train_images": 20000, "test_images": 1000}, "full": {}}


def validate(cfg: Config) -> None:
    if cfg.task not in TASKS:
        raise UsageError(f"--task {cfg.task}: unknown task; choose one of {', '.join(TASKS)}")
    check_labelled(cfg.dataset)
    check_positive(cfg, "steps", "batch_size", "lam", "lr", "width", "depth", "image_size", "train_images",
                   "test_images")
    from bertgan.gan.image2image import check_size

    if not check_size(cfg.image_size, cfg.depth):
        raise UsageError(f"--image-size {cfg.image_size}: the U-Net halves the image {cfg.depth} time(s) "
                         f"(--depth {cfg.depth}), so the side must be divisible by {2 ** cfg.depth}; use e.g. "
                         f"--image-size {max(2 ** cfg.depth, cfg.image_size // 2 ** cfg.depth * 2 ** cfg.depth)}")


# ------------------------------------------------------------------------------------------------ the tasks

def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """|∇x| of (N, 1, H, W) by the 3×3 Sobel kernels (replicate padding): the edge detector of the `edges` task
    and the sharpness measure of the outputs."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    k = torch.stack([kx, kx.T])[:, None].to(x)  # (2, 1, 3, 3): ∂/∂x, ∂/∂y
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k)  # (N, 2, H, W)
    return g.square().sum(1, keepdim=True).sqrt()  # (N, 1, H, W)


def task_inputs(task: str, targets: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The input that G translates from, made from the target images (float (N, 1, H, W) in [−1, 1])."""
    if task == "edges":
        edges = sobel_magnitude((targets + 1) / 2) > EDGE_THRESHOLD
        return edges.float() * 2 - 1  # white outline on black, like the digits
    if task == "masked":
        n, _, h, w = targets.shape
        side = h // 2
        top = torch.randint(0, h - side + 1, (n,), generator=generator)
        left = torch.randint(0, w - side + 1, (n,), generator=generator)
        rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
        hole = ((rows >= top[:, None, None]) & (rows < top[:, None, None] + side)
                & (cols >= left[:, None, None]) & (cols < left[:, None, None] + side))  # (N, H, W)
        return targets.masked_fill(hole[:, None].to(targets.device), 0.0)  # grey = unknown (neither ink nor paper)
    raise UsageError(f"--task {task}: unknown task; choose one of {', '.join(TASKS)}")


def load_pairs(cfg: Config, data_dir=None):
    """(train images, test images, test labels): uint8 train targets, float [−1, 1] test targets and inputs."""
    from bertgan.data.images import resize_images, to_unit
    from bertgan.gan.evaluate import labelled_splits

    train, test = labelled_splits(cfg.dataset, data_dir)
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(cfg.seed + 1))[:cfg.test_images]
    train_images = resize_images(train.images[:cfg.train_images], cfg.image_size)
    y_test = to_unit(resize_images(test.images[order], cfg.image_size))
    x_test = task_inputs(cfg.task, y_test, torch.Generator().manual_seed(cfg.seed + 2))  # fixed test masks
    return train_images, x_test, y_test, test.labels[order]


# ------------------------------------------------------------------------------------------------ training

def train_variant(cfg: Config, variant: str, train_images: torch.Tensor, device: torch.device, *,
                  progress: bool = False) -> tuple[torch.nn.Module, list[dict]]:
    """One row of the ablation: G (and D for l1+cgan) trained for cfg.steps; returns G in eval mode and the
    loss curve. Both variants start from the same seed, so G's initial weights and the batches are the same."""
    from tqdm.auto import tqdm

    from bertgan.data.images import to_unit
    from bertgan.gan.image2image import PatchDiscriminator, UNetGenerator
    from bertgan.gan.losses import d_nonsaturating, g_nonsaturating

    gen = seed_everything(cfg.seed)
    G = UNetGenerator(1, 1, cfg.width, cfg.depth).to(device)
    use_gan = variant == "l1+cgan"
    D = PatchDiscriminator(2, cfg.width).to(device) if use_gan else None  # conditional: (input, output) pairs
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=betas) if use_gan else None
    torch.manual_seed(cfg.seed + 1)  # D's initialisation drew from the global RNG: reseed so that G's dropout masks
    # are the same in both variants
    curve: list[dict] = []
    bar = tqdm(total=cfg.steps, disable=not progress, desc=f"pix2pix {variant}", unit="step")
    step = 0
    guard = NonFiniteGuard(device, "fp32", f"--lr {cfg.lr}")
    G.train()
    while step < cfg.steps:
        for idx in batches(len(train_images), cfg.batch_size, gen):
            y = to_unit(train_images[idx]).to(device)
            x = task_inputs(cfg.task, y.cpu(), gen).to(device)  # masks drawn afresh: every epoch new holes
            fake = G(x)
            row = {"step": step + 1}
            if use_gan:
                # D: real pairs (x, y) → 1, generated pairs (x, G(x)) → 0; "we divide the objective by 2 while
                # optimizing D, which slows down the rate at which D learns relative to G" (§3.3).
                loss_d = 0.5 * d_nonsaturating(D(y, x), D(fake.detach(), x))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                row["loss_d"] = float(loss_d.detach())
            l1 = (fake - y).abs().mean()
            # G* = arg min_G max_D L_cGAN(G, D) + λ L_L1(G) (eq. 4); L1 alone is the same λ·L1 without the game
            loss_g = cfg.lam * l1 + (g_nonsaturating(D(fake, x)) if use_gan else 0.0)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            row["l1"] = float(l1.detach())
            curve.append(row)
            step += 1
            guard.observe(step, loss_g, *([loss_d] if use_gan else []))
            guard.check(None, f"the {variant} run")  # l1 is read every step anyway: no extra sync
            bar.update(1)
            if step >= cfg.steps:
                break
    bar.close()
    return G.eval(), curve


@torch.no_grad()
def translate(G: torch.nn.Module, x: torch.Tensor, device: torch.device, batch: int = 500) -> torch.Tensor:
    return torch.cat([G(x[i:i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)])


def score(images: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor, model) -> dict:
    """The figures of one row of the table: images and targets float (N, 1, H, W) in [−1, 1]."""
    from bertgan.metrics.image import psnr, ssim

    a, b = images.numpy(), targets.numpy()
    return {"l1": float(np.abs(a - b).mean() / 2),  # per pixel, on the [0, 1] scale
            "psnr": psnr(a, b, data_range=2.0), "ssim": ssim(a, b, data_range=2.0),
            "sharpness": float(sobel_magnitude((images + 1) / 2).mean()),
            "judge_accuracy": accuracy_by_judge(model, images, labels)}


def plot_curves(path: Path, curves: dict[str, list[dict]]) -> Path:
    from bertgan.report.plots import _plt, save_figure

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, rows in curves.items():
        steps = [r["step"] for r in rows]
        axes[0].plot(steps, [r["l1"] for r in rows], label=name, lw=0.8)
        if "loss_d" in rows[0]:
            axes[1].plot(steps, [r["loss_d"] for r in rows], label=f"{name}: D", lw=0.8)
    axes[0].set(xlabel="step", ylabel="training L1 ([−1, 1] scale)", yscale="log")
    axes[1].set(xlabel="step", ylabel="½ D loss (cross-entropy)")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def run(cfg: Config, out: Path, *, data_dir=None, progress: bool = True,
        log: Callable[[str], None] = print) -> dict:
    from bertgan.train.runtime import pick_device

    device = pick_device(cfg.device)
    model, info = judge(cfg.dataset, data_dir, log=log)
    train_images, x_test, y_test, labels = load_pairs(cfg, data_dir)
    log(f"pix2pix {cfg.task} on {cfg.dataset}: {len(train_images)} training pairs, {len(y_test)} test pairs, "
        f"{cfg.steps} steps per variant")
    outputs, curves, rows = {}, {}, {}
    for variant in VARIANTS:
        G, curves[variant] = train_variant(cfg, variant, train_images, device, progress=progress)
        outputs[variant] = translate(G, x_test, device)
        rows[variant] = score(outputs[variant], y_test, labels, model)
    rows["input"] = score(x_test, y_test, labels, model)  # the floor: no translation at all
    rows["target"] = score(y_test, y_test, labels, model)  # the ceiling: the real image itself
    k = min(12, len(y_test))
    save_rows(out / "pix2pix_test.png", {"input": x_test[:k], "L1": outputs["l1"][:k],
                                         "L1+cGAN": outputs["l1+cgan"][:k], "target": y_test[:k]},
              title=f"pix2pix {cfg.task} ({TASKS[cfg.task]}), {cfg.dataset} test images, {cfg.steps} steps")
    plot_curves(out / "pix2pix_curves.png", curves)
    l1, gan, tgt = rows["l1"], rows["l1+cgan"], rows["target"]
    return {"dataset": cfg.dataset, "task": cfg.task, "steps": cfg.steps, "train_images": len(train_images),
            "test_images": len(y_test), "rows": rows, "judge": info,
            # The paper's finding, as measured here: L1 alone has the lower per-pixel error, cGAN the sharper
            # outputs (closer to the targets' gradient magnitude).
            "finding": {"l1_lower_error": l1["l1"] < gan["l1"],
                        "cgan_sharper": abs(gan["sharpness"] - tgt["sharpness"]) < abs(l1["sharpness"]
                                                                                       - tgt["sharpness"])},
            "final_loss_d": float(np.mean([r["loss_d"] for r in curves["l1+cgan"][-50:]])),
            "pictures": ["pix2pix_test.png", "pix2pix_curves.png"]}


def format_result(r: dict) -> str:
    lines = [f"pix2pix {r['task']} on {r['dataset']}: {r['steps']} steps per variant, {r['test_images']} test pairs",
             f"{'':10} {'L1':>7} {'PSNR':>7} {'SSIM':>6} {'sharp':>6} {'judge acc':>9}"]
    for name, row in r["rows"].items():
        lines.append(f"{name:10} {row['l1']:7.4f} {row['psnr']:7.2f} {row['ssim']:6.3f} {row['sharpness']:6.3f} "
                     f"{row['judge_accuracy']:9.3f}")
    f = r["finding"]
    lines.append(f"L1 alone has the lower per-pixel error: {f['l1_lower_error']}; L1+cGAN is the sharper "
                 f"(closer to the targets' gradient magnitude): {f['cgan_sharper']}")
    if r["task"] != "masked" or r["steps"] < Config.steps:  # the full length is the default
        lines.append("this setting does not show the paper's finding (on edge maps, or after a few hundred steps, "
                     "the two variants are within noise of each other); the setting that does: --task masked at the "
                     "full length (the default steps, about 7 CPU-minutes): docs/apps/pix2pix.md")
    return "\n".join(lines)


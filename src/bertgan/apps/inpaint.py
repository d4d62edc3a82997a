"""``bertgan apps inpaint``: restoration by inpainting with a context encoder — seed 001's 데이터 복원 ("data
restoration"; its example: "손실된 … 자료를 복구할 수 있다", lost material can be recovered).

Pathak et al. 2016 (CVPR), "Context encoders: feature learning by inpainting": an encoder–decoder G sees an image
with regions removed and fills them in. Its loss is the masked L2 reconstruction of the missing pixels plus an
adversarial term, L = λ_rec · L_rec + λ_adv · L_adv with λ_rec = 0.999, λ_adv = 0.001 (their §3.2.3), where D
(DCGAN's) tells real images from completed ones. The holes are a centre square (their "central region") or
random squares (their "random block" masks); G also receives the mask as a channel, so it knows what is missing.

Two G's are trained from the same initialisation for the same steps — L2 only, and L2 + adversarial — and
compared on the test set (the same masks for every method) with two baselines that need no training: each hole
filled with the mean training image at those pixels ("mean fill"), and with the image's own visible mean.
Measured: PSNR on the hole pixels only (data range 2), SSIM of the completed image, and the judge's accuracy (the
evaluation classifier trained on real images) on completed vs masked images: is the content restored?
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import field
from pathlib import Path

import numpy as np
import torch

from bertgan.apps.common import accuracy_by_judge, check_positive, endless_batches, judge, save_rows, seed_everything
from bertgan.errors import UsageError
from bertgan.train.runtime import NonFiniteGuard

DATASETS = ("mnist", "fashion-mnist")
SIZE = 28
MASK_RANGE = (4, 20)  # a hole of 4–20 pixels of 28 leaves context on every side of a centre hole


@dataclasses.dataclass
class Config:
    dataset: str = field(default="fashion-mnist", metadata={"choices": list(DATASETS), "help": "the image set"})
    mask: str = field(default="centre", metadata={
        "choices": ["centre", "random"], "help": "centre: one centre square (Pathak et al.'s main setting); random: "
                                                "--holes squares at random places (may overlap)"})
    mask_size: int = field(default=14, metadata={"help": "side of each square hole in pixels (4–20 of 28)"})
    holes: int = field(default=2, metadata={"help": "--mask random: squares per image (centre: always 1)"})
    steps: int = field(default=2000, metadata={"help": "training steps of each G (L2-only and L2+adv)"})
    batch_size: int = field(default=64, metadata={"help": "images per step"})
    width: int = field(default=32, metadata={"help": "G's and D's first-layer channels"})
    code: int = field(default=256, metadata={"help": "G's bottleneck size (the paper: 4000)"})
    lr: float = field(default=5e-4, metadata={"help": "Adam learning rate of G and D (β1 0.5)"})
    rec_weight: float = field(default=0.999, metadata={"help": "λ_rec, the masked L2 weight (the paper's 0.999)"})
    adv_weight: float = field(default=0.001, metadata={"help": "λ_adv, the adversarial weight (the paper's 0.001)"})
    train_images: int = field(default=0, metadata={"help": "use the first N training images (0: all 60,000)"})
    test_images: int = field(default=0, metadata={"help": "evaluate on the first N test images (0: all 10,000)"})
    examples: int = field(default=10, metadata={"help": "examples in the input / output / target picture"})
    seed: int = 0
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:N or mps"})


SETTINGS = {"quick": {"steps": 300, "train_images": 20000, "test_images": 2000}, "full": {}}

DESCRIPTION = """\
Inpainting (the GAN lecture: 데이터 복원, restoration). Trains a context encoder (Pathak et al. 2016, CVPR): an
encoder–decoder G that fills masked regions, with masked L2 (0.999) + adversarial (0.001) loss against a DCGAN
discriminator, and the same G with L2 alone. Holes: a centre square (--mask centre) or random squares (--mask
random --holes N), --mask-size pixels wide. Measures PSNR on the holes of the test set against mean-fill
baselines, SSIM, and the evaluation classifier's accuracy on completed vs masked images. Writes inpaint.png
(input / mean fill / L2 / L2+adv / target).

examples:
  bertgan apps inpaint --quick --out runs/inpaint-quick --data-dir ../shared/data
  bertgan apps inpaint --out runs/inpaint-fashion --dataset fashion-mnist --data-dir ../shared/data
  bertgan apps inpaint --out runs/inpaint-random --mask random --holes 3 --mask-size 8 --dataset mnist
"""


def validate(cfg) -> None:
    check_positive(cfg, "steps", "batch_size", "width", "code", "lr", "holes", "examples")
    if cfg.dataset not in DATASETS:
        raise UsageError(f"--dataset {cfg.dataset}: the judge needs a labelled 28×28 set; choose mnist or "
                         "fashion-mnist")
    if cfg.mask not in ("centre", "random"):
        raise UsageError(f"--mask {cfg.mask}: choose centre or random")
    lo, hi = MASK_RANGE
    if not lo <= cfg.mask_size <= hi:
        raise UsageError(f"--mask-size {cfg.mask_size}: must be between {lo} and {hi} pixels (the images are "
                         f"{SIZE}×{SIZE}; a hole needs context around it)")
    if cfg.rec_weight <= 0 or cfg.adv_weight < 0:
        raise UsageError(f"--rec-weight {cfg.rec_weight} / --adv-weight {cfg.adv_weight}: the reconstruction "
                         "weight must be > 0 and the adversarial weight ≥ 0")
    for name in ("train_images", "test_images"):
        if getattr(cfg, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be ≥ 0 (0: all)")


# ----------------------------------------------------------------------------------------------- masks, losses

def make_masks(n: int, mode: str, mask_size: int, holes: int, gen: torch.Generator, size: int = SIZE):
    """(n, 1, size, size) float masks, 1 = missing: one centre square, or ``holes`` squares at uniform positions."""
    m = torch.zeros(n, 1, size, size)
    if mode == "centre":
        a = (size - mask_size) // 2
        m[:, :, a:a + mask_size, a:a + mask_size] = 1
        return m
    pos = torch.randint(size - mask_size + 1, (n, holes, 2), generator=gen).tolist()
    for i, squares in enumerate(pos):
        for y, x in squares:
            m[i, :, y:y + mask_size, x:x + mask_size] = 1
    return m


def apply_mask(x: torch.Tensor, mask: torch.Tensor, fill: float | torch.Tensor = 0.0) -> torch.Tensor:
    """The known pixels of x, ``fill`` in the holes (0: mid-grey in [−1, 1], what G sees)."""
    return x * (1 - mask) + mask * fill


def masked_l2(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Pathak et al. eq. 1, averaged over the missing pixels: Σ M ⊙ (x − G(x̂))² / Σ M."""
    return (mask * (pred - target) ** 2).sum() / mask.sum()


def complete(G, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(G's raw output, the completed image: known pixels kept, G's pasted into the holes)."""
    pred = G(apply_mask(x, mask), mask)
    return pred, apply_mask(x, mask, pred)


# ---------------------------------------------------------------------------------------------------- training

def train_context_encoder(G, D, cfg, train_images: torch.Tensor, gen: torch.Generator, device, progress: bool,
                          adversarial: bool, desc: str) -> dict:
    from tqdm.auto import tqdm

    from bertgan.data.images import to_unit
    from bertgan.gan.losses import d_nonsaturating, g_nonsaturating

    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) if adversarial else None
    hist = {k: [] for k in ("rec", "adv", "loss_d", "d_real", "d_fake")}
    stream = endless_batches(len(train_images), cfg.batch_size, gen)
    G.train()
    guard = NonFiniteGuard(device, "fp32", f"--lr {cfg.lr}")
    for step in tqdm(range(cfg.steps), disable=not progress, desc=desc, unit="step"):
        x = to_unit(train_images[next(stream)]).to(device)
        mask = make_masks(len(x), cfg.mask, cfg.mask_size, cfg.holes, gen).to(device)
        pred, filled = complete(G, x, mask)
        rec = masked_l2(pred, x, mask)
        if adversarial:
            real_logits, fake_logits = D(x), D(filled.detach())
            loss_d = d_nonsaturating(real_logits, fake_logits)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            adv = g_nonsaturating(D(filled))
            loss = cfg.rec_weight * rec + cfg.adv_weight * adv  # Pathak et al. eq. 3
            hist["adv"].append(adv.item())
            hist["loss_d"].append(loss_d.item())
            hist["d_real"].append(torch.sigmoid(real_logits).mean().item())
            hist["d_fake"].append(torch.sigmoid(fake_logits).mean().item())
        else:
            loss = rec
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        hist["rec"].append(rec.item())
        guard.observe(step + 1, loss)
        guard.check(None, "the context encoder")  # rec is read every step anyway: no extra sync
    return hist


@torch.no_grad()
def inpaint(G, x: torch.Tensor, mask: torch.Tensor, device, batch: int = 1000) -> torch.Tensor:
    G.eval()
    return torch.cat([complete(G, x[i:i + batch].to(device), mask[i:i + batch].to(device))[1].cpu()
                      for i in range(0, len(x), batch)])


def run(cfg, out: Path, *, data_dir=None, progress: bool = True, log=print) -> dict:
    from bertgan.data.images import to_unit
    from bertgan.gan.evaluate import labelled_splits
    from bertgan.gan.restoration import ContextEncoder, context_discriminator
    from bertgan.metrics.image import psnr, ssim
    from bertgan.train.runtime import pick_device

    device = pick_device(cfg.device)
    # The judge first: training it on first use reseeds torch, which must not change G's initial weights.
    judge_model, judge_info = judge(cfg.dataset, data_dir, log=log)
    seed_everything(cfg.seed)  # G's and D's initial weights
    train, test = labelled_splits(cfg.dataset, data_dir)
    train_images = train.images[:cfg.train_images or len(train)]
    n_test = cfg.test_images or len(test)
    x_test, labels = to_unit(test.images[:n_test]), test.labels[:n_test].numpy()
    holes = 1 if cfg.mask == "centre" else cfg.holes
    log(f"inpainting {cfg.dataset}: {cfg.mask} mask, {holes} hole(s) of {cfg.mask_size}×{cfg.mask_size}; "
        f"{len(train_images)} training images, {n_test} test images")

    G0 = ContextEncoder(1, cfg.width, cfg.code)
    D0 = context_discriminator(1, cfg.width)
    runs = {}
    for name, adversarial in (("l2", False), ("l2_adv", True)):
        G, D = copy.deepcopy(G0).to(device), copy.deepcopy(D0).to(device)  # same start for both
        g = torch.Generator().manual_seed(cfg.seed + 1)  # same batches and masks for both
        hist = train_context_encoder(G, D, cfg, train_images, g, device, progress, adversarial,
                                     "L2 + adversarial" if adversarial else "L2 only")
        runs[name] = (G, hist)

    # The test masks: drawn once from their own seed, the same for every method.
    mask = make_masks(n_test, cfg.mask, cfg.mask_size, cfg.holes, torch.Generator().manual_seed(10_000 + cfg.seed))
    mean_image = to_unit(train_images).mean(0, keepdim=True)  # (1, 1, 28, 28) per-pixel training mean
    visible_mean = (x_test * (1 - mask)).sum((1, 2, 3), keepdim=True) / (1 - mask).sum((1, 2, 3), keepdim=True)
    outputs = {"masked": apply_mask(x_test, mask), "mean_fill": apply_mask(x_test, mask, mean_image),
               "visible_mean_fill": apply_mask(x_test, mask, visible_mean),
               "l2": inpaint(runs["l2"][0], x_test, mask, device),
               "l2_adv": inpaint(runs["l2_adv"][0], x_test, mask, device)}
    xn, mn = x_test.numpy(), mask.numpy()
    methods = {}
    for name, img in outputs.items():
        methods[name] = {"judge_accuracy": accuracy_by_judge(judge_model, img, labels)}
        if name != "masked":
            methods[name]["psnr_hole"] = psnr(img.numpy(), xn, 2.0, mask=mn)
            methods[name]["ssim"] = ssim(img.numpy(), xn, 2.0)
    for name in ("l2", "l2_adv"):
        methods[name]["psnr_gain_db"] = methods[name]["psnr_hole"] - methods["mean_fill"]["psnr_hole"]
    result = {
        "dataset": cfg.dataset, "mask": cfg.mask, "mask_size": cfg.mask_size, "holes": holes,
        "hole_share": float(mask.mean()), "train_images": len(train_images), "test_images": n_test,
        "methods": methods, "judge_accuracy_on_originals": accuracy_by_judge(judge_model, x_test, labels),
        "judge_test_accuracy": judge_info.get("test_accuracy"),
        "losses": {f"{name}_{k}": float(np.mean(v[-100:])) for name, (_, h) in runs.items() for k, v in h.items()
                   if v},
        "weights": {"rec": cfg.rec_weight, "adv": cfg.adv_weight},
    }
    k = min(cfg.examples, n_test)
    pick = torch.linspace(0, n_test - 1, k).round().long()
    rows = {"input": outputs["masked"][pick], "mean fill": outputs["mean_fill"][pick], "L2": outputs["l2"][pick],
            "L2 + adv": outputs["l2_adv"][pick], "target": x_test[pick]}
    save_rows(out / "inpaint.png", rows, f"{cfg.mask} holes, PSNR on the hole (dB): mean fill "
                                         f"{methods['mean_fill']['psnr_hole']:.2f}, L2 {methods['l2']['psnr_hole']:.2f}"
                                         f", L2+adv {methods['l2_adv']['psnr_hole']:.2f}")
    _plot_curves(out / "inpaint_curves.png", runs)
    result["pictures"] = ["inpaint.png", "inpaint_curves.png"]
    return result


def _plot_curves(path: Path, runs: dict) -> Path:
    from bertgan.report.plots import _plt, save_figure

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, (_, h) in runs.items():
        axes[0].plot(h["rec"], lw=0.7, label=name)
    axes[0].set(title="masked L2 on the hole", xlabel="step", yscale="log")
    axes[0].legend(fontsize=8)
    h = runs["l2_adv"][1]
    axes[1].plot(h["d_real"], lw=0.7, label="D(real)")
    axes[1].plot(h["d_fake"], lw=0.7, label="D(completed)")
    axes[1].set(title="L2 + adv: discriminator", xlabel="step", ylim=(0, 1))
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def format_result(r: dict) -> str:
    m = r["methods"]
    lines = [f"inpainting {r['dataset']}, {r['mask']} mask ({r['holes']} × {r['mask_size']}×{r['mask_size']}, "
             f"{100 * r['hole_share']:.1f}% of pixels), {r['test_images']} test images:",
             f"  {'method':<18}{'PSNR hole':>10}{'gain':>8}{'SSIM':>8}{'judge acc':>11}"]
    for name in ("masked", "mean_fill", "visible_mean_fill", "l2", "l2_adv"):
        v = m[name]
        gain = v.get("psnr_gain_db")
        p, s = v.get("psnr_hole"), v.get("ssim")
        lines.append(f"  {name:<18}{'' if p is None else f'{p:.2f}':>10}{'' if gain is None else f'{gain:+.2f}':>8}"
                     f"{'' if s is None else f'{s:.4f}':>8}{v['judge_accuracy']:>11.4f}")
    lines.append(f"  judge accuracy on the originals: {r['judge_accuracy_on_originals']:.4f}")
    return "\n".join(lines)

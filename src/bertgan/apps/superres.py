"""``bertgan apps superres``: super-resolution with SRGAN — seed 001's 화질 개선 ("image quality enhancement";
"이미지 해상도 복원 (SRGAN; Ledig et al., 2016)").

Low-resolution input = bicubic (antialiased) down-sampling of the target by ``scale``; the baseline is bicubic
up-sampling of that input. Two generators are trained, as in Ledig et al. 2017:

  SRResNet  the residual generator (gan/restoration.py) trained on pixel MSE alone — the PSNR-oriented model;
  SRGAN     the same generator initialised from SRResNet and trained further on content + 10⁻³ × adversarial loss
            (the paper's weight), against SRDiscriminator.

The paper's content loss compares VGG-19 feature maps of the output and the target. No VGG weights are available
offline, so the content features come from the evaluation classifier trained on the same data (gan/evaluate.py,
the "judge"): its deepest convolutional feature map, as the paper's φ5,4 is VGG's deepest, plus pixel MSE. On a
folder of images there is no classifier, so SRGAN's content loss is pixel MSE alone.

Measured on the held-out images: PSNR and SSIM (data range 2 for [−1, 1]) of bicubic, SRResNet and SRGAN, and — on
the labelled sets — the judge's accuracy on each (is the class still recognisable after ×4?).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bertgan.apps.common import accuracy_by_judge, batches, check_positive, judge, save_rows, seed_everything
from bertgan.errors import UsageError
from bertgan.train.runtime import NonFiniteGuard

DATASETS = ("mnist", "fashion-mnist")  # labelled 28×28: ×4 is the 7×7 → 28×28


@dataclasses.dataclass
class Config:
    dataset: str = field(default="fashion-mnist", metadata={
        "help": "mnist, fashion-mnist (28×28, ×4 from 7×7) or folder:PATH (PNG/JPEG, trained on random patches)"})
    scale: int = field(default=4, metadata={
        "choices": [2, 4], "help": "up-scaling factor: 4 (7×7 → 28×28 on the 28×28 sets) or 2"})
    steps: int = field(default=2500, metadata={"help": "SRResNet training steps (pixel MSE)"})
    gan_steps: int = field(default=500, metadata={"help": "SRGAN steps after SRResNet (content + adversarial)"})
    batch_size: int = field(default=32, metadata={"help": "images (or patches) per step"})
    width: int = field(default=32, metadata={"help": "generator channels (the paper: 64)"})
    blocks: int = field(default=4, metadata={"help": "residual blocks (the paper: 16)"})
    d_width: int = field(default=16, metadata={"help": "discriminator's first-layer channels (the paper: 64)"})
    lr: float = field(default=1e-3, metadata={"help": "SRResNet Adam learning rate (cosine decay to 0)"})
    gan_lr: float = field(default=1e-4, metadata={"help": "SRGAN Adam learning rate, G and D (the paper's 1e-4)"})
    adv_weight: float = field(default=1e-3, metadata={"help": "adversarial weight in G's loss (the paper's 1e-3)"})
    feature_weight: float = field(default=0.1, metadata={
        "help": "weight of the classifier-feature MSE in the content loss (labelled sets), beside pixel MSE × 1"})
    train_images: int = field(default=0, metadata={"help": "use the first N training images (0: all)"})
    test_images: int = field(default=0, metadata={"help": "evaluate on the first N test images (0: all 10,000)"})
    image_size: int = field(default=96, metadata={"help": "folders: images are centre-cropped and resized to this"})
    patch_size: int = field(default=32, metadata={"help": "folders: training patch side (a multiple of --scale)"})
    holdout: float = field(default=0.2, metadata={"help": "folders: share of the images held out for evaluation"})
    examples: int = field(default=10, metadata={"help": "examples in the input / output / target picture"})
    seed: int = 0
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:N or mps"})


SETTINGS = {"quick": {"steps": 800, "gan_steps": 100, "train_images": 20000, "test_images": 2000}, "full": {}}

DESCRIPTION = """\
Super-resolution (the GAN lecture: 화질 개선, SRGAN). Trains SRResNet (a residual generator with sub-pixel up-sampling,
pixel MSE) and then SRGAN (the same generator fine-tuned with content loss + 1e-3 × adversarial loss against a
convolutional discriminator), Ledig et al. 2017, CVPR. The input is the target down-sampled by --scale (bicubic,
antialiased); the baseline is bicubic up-sampling. Measures PSNR and SSIM on held-out images (Fashion-MNIST /
MNIST: the test set, 7×7 → 28×28; folders: held-out images, ×2 or ×4) and the evaluation classifier's accuracy on
each output. VGG weights are not available offline: the content features come from the evaluation classifier
trained on the same data. Writes superres.png (input / bicubic / SRResNet / SRGAN / target).

examples:
  bertgan apps superres --quick --out runs/sr-quick --data-dir ../shared/data
  bertgan apps superres --out runs/sr-fashion --dataset fashion-mnist --data-dir ../shared/data
  bertgan apps superres --out runs/sr-photos --dataset folder:photos --scale 2 --image-size 128 --patch-size 48
"""


def _folder(cfg) -> Path | None:
    return Path(cfg.dataset[len("folder:"):]) if cfg.dataset.startswith("folder:") else None


def validate(cfg) -> None:
    check_positive(cfg, "steps", "gan_steps", "batch_size", "width", "blocks", "d_width", "lr", "gan_lr",
                   "examples")
    if cfg.scale not in (2, 4):
        raise UsageError(f"--scale {cfg.scale}: SRGAN's sub-pixel generator up-samples by 2 or 4; use --scale 2 or 4")
    for name in ("adv_weight", "feature_weight", "train_images", "test_images"):
        if getattr(cfg, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be ≥ 0")
    folder = _folder(cfg)
    if folder is None:
        if cfg.dataset not in DATASETS:
            raise UsageError(f"--dataset {cfg.dataset}: choose mnist, fashion-mnist or folder:PATH")
        return
    from bertgan.data.images import list_images

    if not folder.is_dir():
        raise UsageError(f"--dataset folder:{folder}: no such folder; give a folder of PNG or JPEG images")
    if len(list_images(folder)) < 2:
        raise UsageError(f"--dataset folder:{folder}: needs at least 2 PNG/JPEG images (one to train on, one held "
                         "out to measure); add images")
    if cfg.image_size % cfg.scale or cfg.image_size < 2 * cfg.scale:
        raise UsageError(f"--image-size {cfg.image_size}: must be a multiple of --scale {cfg.scale} (and ≥ "
                         f"{2 * cfg.scale})")
    if cfg.patch_size % cfg.scale or cfg.patch_size < 2 * cfg.scale:
        raise UsageError(f"--patch-size {cfg.patch_size}: must be a multiple of --scale {cfg.scale} (and ≥ "
                         f"{2 * cfg.scale}); try {max(2, cfg.patch_size // cfg.scale) * cfg.scale}")
    if cfg.patch_size > cfg.image_size:
        raise UsageError(f"--patch-size {cfg.patch_size}: larger than the images (--image-size {cfg.image_size}); "
                         "use a smaller patch or a larger --image-size")
    if not 0 < cfg.holdout < 1:
        raise UsageError(f"--holdout {cfg.holdout}: must be between 0 and 1 (e.g. 0.2)")


# -------------------------------------------------------------------------------------------------- resampling

def downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The low-resolution input: bicubic with antialiasing (a low-pass before decimation, like MATLAB's imresize
    that the SR papers use), (N, C, H, W) → (N, C, H/s, W/s), clamped to [−1, 1]."""
    h, w = hr.shape[-2:]
    return F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                         align_corners=False).clamp(-1, 1)


def bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline: bicubic up-sampling of the input, clamped to [−1, 1]."""
    h, w = lr.shape[-2:]
    return F.interpolate(lr, size=(h * scale, w * scale), mode="bicubic", align_corners=False).clamp(-1, 1)


# ---------------------------------------------------------------------------------------------------- the data

@dataclasses.dataclass
class SRData:
    train: torch.Tensor  # uint8 (N, C, H, W)
    test: torch.Tensor  # uint8 (M, C, H, W)
    test_labels: np.ndarray | None
    patch: int | None  # folders: train on random patch×patch crops


def load_data(cfg, data_dir) -> SRData:
    folder = _folder(cfg)
    if folder is None:
        from bertgan.gan.evaluate import labelled_splits

        train, test = labelled_splits(cfg.dataset, data_dir)
        n_train = cfg.train_images or len(train)
        n_test = cfg.test_images or len(test)
        return SRData(train.images[:n_train], test.images[:n_test], test.labels[:n_test].numpy(), None)
    from bertgan.data.images import load_folder

    data = load_folder(folder, cfg.image_size)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed))
    n_test = min(len(data) - 1, max(1, round(cfg.holdout * len(data))))
    test, train = data.images[order[:n_test]], data.images[order[n_test:]]
    if cfg.train_images:
        train = train[:cfg.train_images]
    if cfg.test_images:
        test = test[:cfg.test_images]
    return SRData(train, test, None, cfg.patch_size)


def sample_batches(data: SRData, batch: int, gen: torch.Generator):
    """Endless HR training batches in [−1, 1]: whole images (28×28 sets) in shuffled epochs, or random patches of
    random images (folders)."""
    from bertgan.data.images import to_unit

    n = len(data.train)
    while True:
        if data.patch is None:
            for idx in batches(n, min(batch, n), gen):
                yield to_unit(data.train[idx])
            continue
        size, p = data.train.shape[-1], data.patch
        idx = torch.randint(n, (batch,), generator=gen)
        ys = torch.randint(size - p + 1, (batch,), generator=gen).tolist()
        xs = torch.randint(size - p + 1, (batch,), generator=gen).tolist()
        yield to_unit(torch.stack([data.train[i, :, y:y + p, x:x + p] for i, y, x in zip(idx.tolist(), ys, xs)]))


# ---------------------------------------------------------------------------------------------------- training

def content_features(judge_model):
    """φ: the judge's deepest convolutional feature map — (N, 1, 28, 28) → (N, 64, 7, 7) after the last conv's ReLU
    (the paper's φ5,4 is VGG-19's deepest). Frozen: only G learns from it."""
    trunk = judge_model.conv[:8]  # conv-relu-pool, conv-relu-pool, conv-relu
    for p in judge_model.parameters():
        p.requires_grad_(False)
    return lambda x: trunk(judge_model.prepare(x))


def train_srresnet(G, cfg, stream, device, progress: bool) -> list[float]:
    from tqdm.auto import tqdm

    opt = torch.optim.Adam(G.parameters(), lr=cfg.lr)
    # Cosine decay: a CPU budget of a few thousand steps instead of the paper's 10⁶ at a fixed 1e-4.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    losses = []
    G.train()
    guard = NonFiniteGuard(device, "fp32", f"--lr {cfg.lr}")
    for step in tqdm(range(cfg.steps), disable=not progress, desc="SRResNet (MSE)", unit="step"):
        hr = next(stream).to(device)
        loss = F.mse_loss(G(downsample(hr, cfg.scale)), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        guard.observe(step + 1, loss)
        guard.check(None, "the SRResNet")  # the loss is read every step anyway: no extra sync
    return losses


def srgan_g_loss(sr, hr, fake_logits, phi, feature_weight: float, adv_weight: float) -> dict:
    """Ledig et al. eq. 3: l^SR = content + 10⁻³ · l_Gen, with l_Gen = −log D(G(x)) (eq. 6); content = pixel MSE
    + feature_weight · MSE(φ(G(x)), φ(y)) (their eq. 5 with the classifier's φ in place of VGG's)."""
    from bertgan.gan.losses import g_nonsaturating

    pixel = F.mse_loss(sr, hr)
    feat = F.mse_loss(phi(sr), phi(hr)) if phi is not None else torch.zeros((), device=sr.device)
    adv = g_nonsaturating(fake_logits)
    return {"total": pixel + feature_weight * feat + adv_weight * adv, "pixel": pixel, "feature": feat, "adv": adv}


def train_srgan(G, D, phi, cfg, stream, device, progress: bool) -> dict:
    from tqdm.auto import tqdm

    from bertgan.gan.losses import d_nonsaturating

    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.gan_lr, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.gan_lr, betas=(0.9, 0.999))
    G.train()
    D.train()
    hist = {k: [] for k in ("loss_d", "pixel", "feature", "adv", "d_real", "d_fake")}
    guard = NonFiniteGuard(device, "fp32", f"--gan-lr {cfg.gan_lr}")
    for step in tqdm(range(cfg.gan_steps), disable=not progress, desc="SRGAN", unit="step"):
        hr = next(stream).to(device)
        sr = G(downsample(hr, cfg.scale))
        real_logits, fake_logits = D(hr), D(sr.detach())
        loss_d = d_nonsaturating(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        g = srgan_g_loss(sr, hr, D(sr), phi, cfg.feature_weight, cfg.adv_weight)
        opt_g.zero_grad(set_to_none=True)
        g["total"].backward()
        opt_g.step()
        hist["loss_d"].append(loss_d.item())
        for k in ("pixel", "feature", "adv"):
            hist[k].append(g[k].item())
        hist["d_real"].append(torch.sigmoid(real_logits).mean().item())
        hist["d_fake"].append(torch.sigmoid(fake_logits).mean().item())
        guard.observe(step + 1, loss_d, g["total"])
        guard.check(None, "the SRGAN")
    return hist


@torch.no_grad()
def upscale(G, lr: torch.Tensor, device, batch: int = 500) -> torch.Tensor:
    G.eval()
    return torch.cat([G(lr[i:i + batch].to(device)).float().cpu() for i in range(0, len(lr), batch)])


def _tail_mean(values: list[float], n: int = 100) -> float | None:
    return float(np.mean(values[-n:])) if values else None


def run(cfg, out: Path, *, data_dir=None, progress: bool = True, log=print) -> dict:
    from bertgan.data.images import to_unit
    from bertgan.gan.restoration import SRDiscriminator, SRResNetGenerator
    from bertgan.metrics.image import psnr, ssim
    from bertgan.train.runtime import pick_device

    device = pick_device(cfg.device)
    data = load_data(cfg, data_dir)
    channels = data.train.shape[1]
    labelled = data.test_labels is not None
    judge_model = phi = None
    if labelled:  # the judge before seeding: training it on first use reseeds torch
        judge_model, judge_info = judge(cfg.dataset, data_dir, log=log)
        phi = content_features(copy.deepcopy(judge_model).to(device).eval())
    gen = seed_everything(cfg.seed)
    log(f"super-resolution ×{cfg.scale} on {cfg.dataset}: {len(data.train)} training images"
        f"{f' (random {data.patch}×{data.patch} patches)' if data.patch else ''}, {len(data.test)} held out")

    G = SRResNetGenerator(channels, cfg.scale, cfg.width, cfg.blocks).to(device)
    stream = sample_batches(data, cfg.batch_size, gen)
    mse_hist = train_srresnet(G, cfg, stream, device, progress)
    srresnet = copy.deepcopy(G)
    D = SRDiscriminator(channels, cfg.d_width).to(device)
    gan_hist = train_srgan(G, D, phi, cfg, stream, device, progress)

    # Evaluation on the held-out images, each method from the same low-resolution input.
    hr = to_unit(data.test)
    lr = downsample(hr, cfg.scale)
    outputs = {"bicubic": bicubic(lr, cfg.scale), "srresnet": upscale(srresnet, lr, device),
               "srgan": upscale(G, lr, device)}
    methods = {}
    for name, img in outputs.items():
        m = {"psnr": psnr(img.numpy(), hr.numpy(), data_range=2.0), "ssim": ssim(img.numpy(), hr.numpy(), 2.0)}
        if labelled:
            m["judge_accuracy"] = accuracy_by_judge(judge_model, img, data.test_labels)
        methods[name] = m
    for name in ("srresnet", "srgan"):
        methods[name]["psnr_gain_db"] = methods[name]["psnr"] - methods["bicubic"]["psnr"]
    result = {
        "dataset": cfg.dataset, "scale": cfg.scale, "input_size": list(lr.shape[-2:]),
        "output_size": list(hr.shape[-2:]),
        "train_images": len(data.train), "test_images": len(data.test), "methods": methods,
        "goal_4db_met": bool(max(methods["srresnet"]["psnr_gain_db"], methods["srgan"]["psnr_gain_db"]) >= 4.0),
        "losses": {"srresnet_mse": _tail_mean(mse_hist),
                   **{f"srgan_{k}": _tail_mean(v) for k, v in gan_hist.items()}},
        "content_loss": (f"pixel MSE + {cfg.feature_weight:g} × MSE of the judge's conv3 features" if labelled
                         else "pixel MSE (no classifier for a folder)"),
    }
    if labelled:
        result["judge_accuracy_on_targets"] = accuracy_by_judge(judge_model, hr, data.test_labels)
        result["judge_test_accuracy"] = judge_info.get("test_accuracy")

    k = min(cfg.examples, len(hr))
    pick = torch.linspace(0, len(hr) - 1, k).round().long() if len(hr) > k else torch.arange(k)
    rows = {f"input {lr.shape[-1]}×{lr.shape[-2]}": lr[pick], "bicubic": outputs["bicubic"][pick],
            "SRResNet": outputs["srresnet"][pick], "SRGAN": outputs["srgan"][pick], "target": hr[pick]}
    title = (f"×{cfg.scale} PSNR dB: bicubic {methods['bicubic']['psnr']:.2f}, SRResNet "
             f"{methods['srresnet']['psnr']:.2f}, SRGAN {methods['srgan']['psnr']:.2f}")
    save_rows(out / "superres.png", rows, title)
    _plot_curves(out / "superres_curves.png", mse_hist, gan_hist)
    result["pictures"] = ["superres.png", "superres_curves.png"]
    return result


def _plot_curves(path: Path, mse_hist: list[float], gan_hist: dict) -> Path:
    from bertgan.report.plots import _plt, save_figure

    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    axes[0].plot(mse_hist, lw=0.7)
    axes[0].set(title="SRResNet pixel MSE", xlabel="step", yscale="log")
    for k in ("pixel", "feature"):
        axes[1].plot(gan_hist[k], lw=0.7, label=k)
    axes[1].set(title="SRGAN content losses", xlabel="step", yscale="log")
    axes[1].legend(fontsize=8)
    axes[2].plot(gan_hist["d_real"], lw=0.7, label="D(real)")
    axes[2].plot(gan_hist["d_fake"], lw=0.7, label="D(G(x))")
    axes[2].set(title="SRGAN discriminator", xlabel="step", ylim=(0, 1))
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def format_result(r: dict) -> str:
    m = r["methods"]
    lines = [f"super-resolution ×{r['scale']} on {r['dataset']} ({r['input_size'][0]}×{r['input_size'][1]} → "
             f"{r['output_size'][0]}×{r['output_size'][1]}), {r['test_images']} held-out images:",
             f"  {'method':<10}{'PSNR dB':>9}{'gain':>8}{'SSIM':>8}" + ("   judge acc" if "judge_accuracy" in
                                                                         m["bicubic"] else "")]
    for name in ("bicubic", "srresnet", "srgan"):
        gain = m[name].get("psnr_gain_db")
        line = (f"  {name:<10}{m[name]['psnr']:>9.2f}{'' if gain is None else f'{gain:+.2f}':>8}"
                f"{m[name]['ssim']:>8.4f}")
        if "judge_accuracy" in m[name]:
            line += f"   {m[name]['judge_accuracy']:.4f}"
        lines.append(line)
    if "judge_accuracy_on_targets" in r:
        lines.append(f"  judge accuracy on the high-resolution targets: {r['judge_accuracy_on_targets']:.4f}")
    lines.append(f"  goal ≥ +4 dB over bicubic: {'met' if r['goal_4db_met'] else 'not met'}")
    return "\n".join(lines)


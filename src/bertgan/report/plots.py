"""Sample grids (Pillow) and training curves (matplotlib, Agg backend) — written atomically."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from bertgan.io import atomic_path


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """G's output in [−1, 1] → uint8 [0, 255], (N, C, H, W)."""
    return images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, min_cell: int = 56):
    """uint8 (N, C, H, W) → a PIL image of the images in a grid. Small images (the 8×8 digits) are enlarged
    with nearest-neighbour so that each cell is at least ``min_cell`` pixels wide: pixels stay pixels."""
    from PIL import Image

    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    scale = max(1, math.ceil(min_cell / max(h, w)))
    arr = images.permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
    if scale > 1:
        arr = arr.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = h * scale, w * scale
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = arr[i]
    return Image.fromarray(grid[..., 0] if c == 1 else grid, mode="L" if c == 1 else "RGB")


def save_grid(path: str | Path, images: torch.Tensor, nrow: int | None = None) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        image_grid(images, nrow).save(tmp, format="PNG")
    return path


_CJK_FONTS = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", "AppleGothic", "Apple SD Gothic Neo")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    # Hangul in tick labels (tokens, class names): an installed Korean font as the fallback family, glyph by glyph
    # (matplotlib ≥ 3.6 falls back across the families of font.family, not across the font.sans-serif list)
    have = {f.name for f in font_manager.fontManager.ttflist}
    korean = [f for f in _CJK_FONTS if f in have]
    if korean and korean[0] not in plt.rcParams["font.family"]:
        plt.rcParams["font.family"] = [*plt.rcParams["font.family"], korean[0]]
    return plt


def plot_points(path: str | Path, fake: np.ndarray, real: np.ndarray, title: str = "",
                centers: np.ndarray | None = None) -> Path:
    """A 2-D GAN's samples (orange) over the real points (blue): collapse shows as empty modes."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.35, c="tab:blue", label="real", linewidths=0)
    ax.scatter(fake[:, 0], fake[:, 1], s=4, alpha=0.6, c="tab:orange", label="generated", linewidths=0)
    if centers is not None:
        ax.scatter(centers[:, 0], centers[:, 1], marker="x", c="black", s=30, label="modes")
    lim = max(np.abs(real).max(), 1.0) * 1.25
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    ax.set_title(title, fontsize=9)
    return save_figure(plt, fig, path)


def plot_class_histogram(path: str | Path, generated_share: np.ndarray, real_share: np.ndarray,
                         names: Sequence[str] | None = None, title: str = "") -> Path:
    """Share of generated samples per class (bars) against the real data's share (black ticks): the seed's
    "only a few of the classes get generated" as a picture."""
    plt = _plt()
    k = len(generated_share)
    fig, ax = plt.subplots(figsize=(min(12, 3 + 0.5 * k) if k <= 30 else 12, 3.6))
    x = np.arange(k)
    ax.bar(x, generated_share, width=0.8 if k <= 30 else 1.0, color="tab:orange", label="generated")
    if k <= 30:
        ax.scatter(x, real_share, marker="_", s=400, c="black", label="real", zorder=3)
        ax.set_xticks(x, list(names) if names is not None else [str(i) for i in x], rotation=30 if k > 10 else 0,
                      fontsize=8)
    else:
        ax.plot(x, real_share, c="black", lw=1, label="real")
        ax.set_xlabel("mode")
    ax.set_ylabel("share of samples")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def plot_gan_curves(path: str | Path, rows: Sequence[dict], title: str = "") -> Path:
    """Three panels over steps: loss_D and loss_G; mean D(x) and D(G(z)) against the 0.5 threshold; D's
    accuracy at that threshold on real and on generated batches."""
    plt = _plt()
    steps = [r["step"] for r in rows]
    col = lambda k: [r[k] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
    ax = axes[0]
    ax.plot(steps, col("loss_d"), label="loss_D")
    ax.plot(steps, col("loss_g"), label="loss_G")
    ax.set_title("losses")
    ax = axes[1]
    ax.plot(steps, col("d_real"), label="mean D(x), real")
    ax.plot(steps, col("d_fake"), label="mean D(G(z)), generated")
    ax.axhline(0.5, color="grey", ls="--", lw=1, label="threshold 0.5")
    ax.set_ylim(0, 1)
    ax.set_title("D's output")
    ax = axes[2]
    ax.plot(steps, col("acc_real"), label="real judged real (D ≥ 0.5)")
    ax.plot(steps, col("acc_fake"), label="generated judged fake (D < 0.5)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("D's accuracy at the 0.5 threshold")
    if title:
        fig.suptitle(title)
    return _save_panels(plt, fig, axes, path)


def plot_bert_curves(path: str | Path, rows: Sequence[dict]) -> Path:
    """Three panels over steps: training loss against held-out MLM loss; held-out MLM and NSP accuracy; tokens/s."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
    tr = [r for r in rows if "loss" in r]
    ev = [r for r in rows if "eval_mlm_acc" in r]
    nsp = any("nsp_loss" in r or "eval_nsp_acc" in r for r in rows)
    axes[0].plot([r["step"] for r in tr], [r["loss"] for r in tr], label="train loss (MLM + NSP)" if nsp else
                 "train MLM loss")
    axes[0].plot([r["step"] for r in ev], [r["eval_mlm_loss"] for r in ev], "o-", label="eval MLM loss")
    axes[1].plot([r["step"] for r in ev], [r["eval_mlm_acc"] for r in ev], "o-", label="eval MLM accuracy")
    if nsp:  # a --no-nsp run has no NSP head to score
        axes[1].plot([r["step"] for r in ev], [r["eval_nsp_acc"] for r in ev], "o-", label="eval NSP accuracy")
    axes[1].set_ylim(0, 1)
    axes[2].plot([r["step"] for r in tr], [r["tokens_per_s"] for r in tr], label="tokens/s")
    return _save_panels(plt, fig, axes, path)


def plot_finetune_curves(path: str | Path, rows: Sequence[dict], metric: str) -> Path:
    """Two panels over steps: training loss; the evaluation ``metric`` (and the other eval scores) per epoch."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    tr = [r for r in rows if "loss" in r]
    ev = [r for r in rows if metric in r]
    axes[0].plot([r["step"] for r in tr], [r["loss"] for r in tr], label="train loss")
    for key in sorted({k for r in ev for k in r if k.startswith("eval_") and isinstance(r[k], float)}):
        if all(0 <= r.get(key, 0) <= 100 for r in ev):
            axes[1].plot([r["step"] for r in ev if key in r], [r[key] for r in ev if key in r], "o-",
                         label=key[5:] + (" (best-model metric)" if key == metric else ""))
    return _save_panels(plt, fig, axes, path)


def plot_align_curves(path: str | Path, rows: Sequence[dict]) -> Path:
    """Two panels over steps: the two distillation losses (English → teacher, Korean → teacher); held-out
    translation retrieval (ko → en, en → ko) at the end of each epoch."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    tr = [r for r in rows if "loss_en" in r]
    ev = [r for r in rows if "ko_to_en" in r]
    axes[0].plot([r["step"] for r in tr], [r["loss_en"] for r in tr], label="MSE(S(en), T(en))")
    axes[0].plot([r["step"] for r in tr], [r["loss_ko"] for r in tr], label="MSE(S(ko), T(en))")
    axes[0].set_yscale("log")
    axes[1].plot([r["step"] for r in ev], [r["ko_to_en"] for r in ev], "o-", label="held-out retrieval ko → en")
    axes[1].plot([r["step"] for r in ev], [r["en_to_ko"] for r in ev], "o-", label="held-out retrieval en → ko")
    axes[1].set_ylim(0, 1)
    return _save_panels(plt, fig, axes, path)


def plot_attention(path: str | Path, maps: np.ndarray, tokens: Sequence[str], title: str = "") -> Path:
    """Attention probabilities (layers, heads, L, L) as a layer × head grid of heat maps; with one map, the
    tokens label both axes (row = the query token, column = the token it attends to, left or right)."""
    plt = _plt()
    layers, heads, n, _ = maps.shape
    one = layers == 1 and heads == 1
    # an uncased vocabulary strips accents through NFD, which splits Hangul syllables into jamo: compose them back
    # for the labels, or a reader sees letters no font draws as one syllable
    labels = [unicodedata.normalize("NFC", t) for t in tokens]
    size = max(4.0, 0.32 * n) if one else 1.6
    fig, axes = plt.subplots(layers, heads, figsize=(size * heads + (0.6 if one else 0), size * layers + 0.4),
                             squeeze=False)
    for i in range(layers):
        for j in range(heads):
            ax = axes[i][j]
            ax.imshow(maps[i, j], cmap="viridis", vmin=0, vmax=1)
            if one:
                ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
                ax.set_yticks(range(n), labels, fontsize=8)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(f"head {j}", fontsize=8)
                if j == 0:
                    ax.set_ylabel(f"layer {i}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def plot_d_scores(path: str | Path, fake: torch.Tensor, real: torch.Tensor, d_fake: np.ndarray,
                  d_real: np.ndarray) -> Path:
    """Generated (top row) and real (bottom row) images, each titled with D's probability that it is real;
    green when D is right at the 0.5 threshold, red when fooled."""
    plt = _plt()
    fake, real = to_uint8(fake), to_uint8(real)
    n = max(len(fake), len(real))
    fig, axes = plt.subplots(2, n, figsize=(1.1 * n, 2.9), squeeze=False)
    for row, (imgs, scores, is_real) in enumerate(((fake, d_fake, False), (real, d_real, True))):
        for j in range(n):
            ax = axes[row][j]
            ax.axis("off")
            if j >= len(imgs):
                continue
            img = imgs[j].permute(1, 2, 0).numpy()
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
            p = float(np.ravel(scores)[j])
            right = (p >= 0.5) == is_real
            ax.set_title(f"{p:.2f}", fontsize=8, color="tab:green" if right else "tab:red")
    axes[0][0].text(-0.2, 0.5, "G(z)", transform=axes[0][0].transAxes, ha="right", va="center", fontsize=9)
    axes[1][0].text(-0.2, 0.5, "real x", transform=axes[1][0].transAxes, ha="right", va="center", fontsize=9)
    fig.suptitle("D(x): probability 'real'; D says real when ≥ 0.5 (green: right, red: fooled)", fontsize=9)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def _save_panels(plt, fig, axes, path: str | Path) -> Path:
    """Step on x, a grid and a legend in every panel; the PNG written atomically."""
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(plt, fig, path)


def save_figure(plt, fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path

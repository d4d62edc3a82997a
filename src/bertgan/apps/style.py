"""Unpaired style transfer, CycleGAN (Zhu et al. 2017) — seed 000's Style Transfer: "한 이미지의 스타일을 다른
이미지로 전송 … 한 이미지의 콘텐츠는 유지하면서 다른 이미지의 예술적 스타일을 채택한 이미지를 생성".

Two domains from real MNIST: A = the digits as they are, B = the digits in a stated style (``STYLES``). A and B
are made from the two *disjoint* halves of a seeded shuffle of MNIST train, so no image of B is the restyled twin
of an image of A: the training pairs are truly unpaired. Two ResNet-block generators G: A→B and F: B→A, two
PatchGAN discriminators (``gan/image2image.py``), LSGAN adversarial losses, cycle-consistency λ = 10 and the
identity loss 0.5λ, Adam 2e-4 with β₁ = 0.5 (the paper's §4 and §7.1).

Because B is a known transform T of A, the test set has ground truth that training never saw: for a held-out
MNIST test digit a, T(a) is the right answer for G(a) and a the right answer for F(T(a)). The command reports
  content      the real-data MNIST classifier's accuracy on F(T(a)) — restyled test digits translated back into
               the classifier's own style — against the baseline of no translation (the classifier on T(a)) and
               the ceiling (on a); and on F(G(a)), the full cycle
  translation  per-pixel L1 of G(a) vs T(a) and of F(T(a)) vs a (0 would be the transform learnt exactly), with
               the identity map's error as the baseline
  cycle        the reconstruction error |F(G(a)) − a| and |G(F(b)) − b| on test images
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
    check_labelled,
    check_positive,
    endless_batches,
    judge,
    save_rows,
    seed_everything,
)
from bertgan.errors import UsageError
from bertgan.train.runtime import NonFiniteGuard

STYLES = {
    "thick": "strokes dilated by a 3×3 max-pool (bold pen)",
    "inverted": "black ink on white paper (255 − x)",
    "stripes": "ink shaded by diagonal stripes of period 4 (a texture)",
}

DESCRIPTION = """\
CycleGAN (Zhu et al. 2017) between MNIST (domain A) and a restyled MNIST (domain B: thick strokes, inverted, or
striped ink) built from a disjoint half of the training set, so the domains are unpaired. Two ResNet generators,
two PatchGAN discriminators, LSGAN losses, cycle λ = 10, identity 0.5λ. Measures on held-out test digits: how often
the real-data MNIST classifier still recognises the digit after B→A translation (vs the untranslated restyled
digit and the original), per-pixel error against the known restyled / original image, and the cycle
reconstruction error. Writes style_test.png (A, G(A), T(A), F(G(A)), B, F(B) rows) and style_curves.png.

examples:
  bertgan apps style --quick --out runs/style-quick
  bertgan apps style --out runs/style-thick
  bertgan apps style --style inverted --out runs/style-inverted
"""


@dataclasses.dataclass
class Config:
    style: str = dataclasses.field(default="thick", metadata={
        "help": "domain B: " + "; ".join(f"{k} = {v}" for k, v in STYLES.items())})
    dataset: str = dataclasses.field(default="mnist", metadata={
        "help": "labelled image set of domain A: mnist, fashion-mnist (or digits, 8×8, for tests)"})
    steps: int = dataclasses.field(default=1000, metadata={"help": "training steps (one batch of A and one of B)"})
    batch_size: int = dataclasses.field(default=16, metadata={"help": "images of each domain per step"})
    lam: float = dataclasses.field(default=10.0, metadata={"help": "λ, the cycle-consistency weight (paper: 10)"})
    identity: float = dataclasses.field(default=0.5, metadata={
        "help": "identity-loss weight as a fraction of λ (paper: 0.5; 0 turns it off)"})
    lr: float = dataclasses.field(default=2e-4, metadata={"help": "Adam learning rate (β₁ = 0.5)"})
    width: int = dataclasses.field(default=16, metadata={"help": "channels of G's and D's first layer"})
    blocks: int = dataclasses.field(default=3, metadata={"help": "residual blocks in each generator"})
    image_size: int = dataclasses.field(default=28, metadata={
        "help": "images are resized to this side; must be divisible by 4 (G halves twice)"})
    train_images: int = dataclasses.field(default=60000, metadata={
        "help": "training images used, split in two disjoint halves for A and B"})
    test_images: int = dataclasses.field(default=2000, metadata={"help": "held-out test digits scored"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of weights, split and data order"})
    device: str = dataclasses.field(default="auto", metadata={"help": "auto, cpu, cuda, mps"})


SETTINGS = {"quick": {"steps": 200, "test_images": 1000}, "full": {}}
DEPTH = 2  # the generators' halvings


def validate(cfg: Config) -> None:
    if cfg.style not in STYLES:
        raise UsageError(f"--style {cfg.style}: unknown style; choose one of {', '.join(STYLES)}")
    check_labelled(cfg.dataset)
    check_positive(cfg, "steps", "batch_size", "lam", "lr", "width", "blocks", "image_size", "test_images")
    if cfg.identity < 0:
        raise UsageError(f"--identity {cfg.identity}: must be ≥ 0 (0 turns the identity loss off)")
    if cfg.train_images < 2:
        raise UsageError(f"--train-images {cfg.train_images}: need at least 2, one for each domain")
    from bertgan.gan.image2image import check_size

    if not check_size(cfg.image_size, DEPTH):
        raise UsageError(f"--image-size {cfg.image_size}: the generators halve the image twice, so the side must "
                         f"be divisible by 4; use e.g. --image-size {max(4, cfg.image_size // 4 * 4)}")


# ------------------------------------------------------------------------------------------------ domain B

def restyle(style: str, images: torch.Tensor) -> torch.Tensor:
    """T: domain A → domain B on uint8 (N, 1, H, W), deterministic."""
    if style == "thick":
        return F.max_pool2d(images.float(), 3, 1, 1).to(torch.uint8)  # grey-level dilation: every stroke +1 px
    if style == "inverted":
        return 255 - images
    if style == "stripes":
        h, w = images.shape[-2:]
        rows, cols = torch.arange(h)[:, None], torch.arange(w)[None, :]
        stripe = ((rows + cols) % 4 < 2).float() * 0.6 + 0.4  # (H, W): ink at full or 40 % strength
        return (images.float() * stripe).round().to(torch.uint8)
    raise UsageError(f"--style {style}: unknown style; choose one of {', '.join(STYLES)}")


def load_domains(cfg: Config, data_dir=None):
    """(A train uint8, B train uint8, test digits float, their restyled twins float, test labels)."""
    from bertgan.data.images import resize_images, to_unit
    from bertgan.gan.evaluate import labelled_splits

    train, test = labelled_splits(cfg.dataset, data_dir)
    n = min(cfg.train_images, len(train))
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.seed))[:n]
    half = n // 2
    images = resize_images(train.images[order], cfg.image_size)
    a_train, b_train = images[:half], restyle(cfg.style, images[half:2 * half])  # disjoint halves: unpaired
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(cfg.seed + 1))[:cfg.test_images]
    a_test = resize_images(test.images[pick], cfg.image_size)
    return a_train, b_train, to_unit(a_test), to_unit(restyle(cfg.style, a_test)), test.labels[pick]


# ------------------------------------------------------------------------------------------------ training

def train_cyclegan(cfg: Config, a_train: torch.Tensor, b_train: torch.Tensor, device: torch.device, *,
                   progress: bool = False):
    """G: A→B and F: B→A trained together; returns (G, F) in eval mode and the loss curve."""
    from tqdm.auto import tqdm

    from bertgan.data.images import to_unit
    from bertgan.gan.image2image import PatchDiscriminator, ResnetGenerator
    from bertgan.gan.losses import d_least_squares, g_least_squares

    gen = seed_everything(cfg.seed)
    G_ab = ResnetGenerator(1, cfg.width, cfg.blocks, DEPTH).to(device)
    G_ba = ResnetGenerator(1, cfg.width, cfg.blocks, DEPTH).to(device)
    D_a = PatchDiscriminator(1, cfg.width, norm="instance").to(device)  # unconditional: one image, not a pair
    D_b = PatchDiscriminator(1, cfg.width, norm="instance").to(device)
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam([*G_ab.parameters(), *G_ba.parameters()], lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam([*D_a.parameters(), *D_b.parameters()], lr=cfg.lr, betas=betas)
    it_a = endless_batches(len(a_train), cfg.batch_size, gen)
    it_b = endless_batches(len(b_train), cfg.batch_size, gen)
    curve: list[dict] = []
    guard = NonFiniteGuard(device, "fp32", f"--lr {cfg.lr}")
    for step in tqdm(range(cfg.steps), disable=not progress, desc=f"cyclegan {cfg.style}", unit="step"):
        a = to_unit(a_train[next(it_a)]).to(device)
        b = to_unit(b_train[next(it_b)]).to(device)
        fake_b, fake_a = G_ab(a), G_ba(b)
        # G and F: fool the discriminators (LSGAN, the paper's E[(D(G(x)) − 1)²] = 2·g_least_squares), and come
        # back: F(G(a)) ≈ a, G(F(b)) ≈ b (eq. 2, weight λ); identity: G(b) ≈ b, F(a) ≈ a (weight 0.5λ, §5.2,
        # which keeps G from changing what already is in the target style).
        adv = 2 * (g_least_squares(D_b(fake_b)) + g_least_squares(D_a(fake_a)))
        cyc = (G_ba(fake_b) - a).abs().mean() + (G_ab(fake_a) - b).abs().mean()
        loss_g = adv + cfg.lam * cyc
        idt = torch.zeros((), device=device)
        if cfg.identity > 0:
            idt = (G_ab(b) - b).abs().mean() + (G_ba(a) - a).abs().mean()
            loss_g = loss_g + cfg.identity * cfg.lam * idt
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        # D_A and D_B: real → 1, translated → 0, the objective halved (§7.1) — d_least_squares carries the ½.
        loss_d = (d_least_squares(D_b(b), D_b(fake_b.detach())) + d_least_squares(D_a(a), D_a(fake_a.detach())))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        curve.append({"step": step + 1, "adv": float(adv.detach()), "cycle": float(cyc.detach()),
                      "identity": float(idt.detach()), "loss_d": float(loss_d.detach())})
        guard.observe(step + 1, loss_g, loss_d)
        guard.check(None, "the CycleGAN")  # the losses are read every step anyway: no extra sync
    return G_ab.eval(), G_ba.eval(), curve


@torch.no_grad()
def translate(G: torch.nn.Module, x: torch.Tensor, device: torch.device, batch: int = 500) -> torch.Tensor:
    return torch.cat([G(x[i:i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)])


def l1(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean per-pixel |a − b| on the [0, 1] scale, for images in [−1, 1]."""
    return float((a - b).abs().mean() / 2)


def plot_curves(path: Path, curve: list[dict]) -> Path:
    from bertgan.report.plots import _plt, save_figure

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    steps = [r["step"] for r in curve]
    for key, label in (("adv", "G+F adversarial"), ("cycle", "cycle L1"), ("identity", "identity L1"),
                       ("loss_d", "D_A + D_B")):
        ax.plot(steps, [r[key] for r in curve], label=label, lw=0.8)
    ax.set(xlabel="step", ylabel="loss", yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def run(cfg: Config, out: Path, *, data_dir=None, progress: bool = True,
        log: Callable[[str], None] = print) -> dict:
    from bertgan.train.runtime import pick_device

    device = pick_device(cfg.device)
    model, info = judge(cfg.dataset, data_dir, log=log)
    a_train, b_train, a_test, b_test, labels = load_domains(cfg, data_dir)
    log(f"CycleGAN {cfg.dataset} ↔ {cfg.style} ({STYLES[cfg.style]}): {len(a_train)} + {len(b_train)} unpaired "
        f"training images, {len(a_test)} test digits, {cfg.steps} steps")
    G_ab, G_ba, curve = train_cyclegan(cfg, a_train, b_train, device, progress=progress)
    ab = translate(G_ab, a_test, device)  # G(a): should look like T(a)
    aba = translate(G_ba, ab, device)  # F(G(a)): the cycle back
    ba = translate(G_ba, b_test, device)  # F(T(a)): should look like a
    bab = translate(G_ab, ba, device)
    acc = lambda x: accuracy_by_judge(model, x, labels)  # noqa: E731
    k = min(12, len(a_test))
    save_rows(out / "style_test.png", {"A": a_test[:k], "G(A)": ab[:k], "T(A) truth": b_test[:k],
                                       "F(G(A))": aba[:k], "B = T(A)": b_test[:k], "F(B)": ba[:k]},
              title=f"CycleGAN MNIST ↔ {cfg.style}, held-out test digits, {cfg.steps} steps")
    plot_curves(out / "style_curves.png", curve)
    last = curve[-min(50, len(curve)):]
    return {
        "dataset": cfg.dataset, "style": cfg.style, "steps": cfg.steps, "train_images_per_domain": len(a_train),
        "test_images": len(a_test), "judge": info,
        "content": {  # the judge's accuracy: does the digit survive translation?
            "b_to_a": acc(ba),  # F(T(a)): restyled digits translated back into the judge's style
            "no_translation": acc(b_test),  # the baseline: the judge on T(a) itself
            "original": acc(a_test),  # the ceiling: the judge on a
            "cycle_a": acc(aba),  # F(G(a))
        },
        "translation_l1": {  # against the ground truth the unpaired training never saw
            "a_to_b": l1(ab, b_test), "a_to_b_identity_baseline": l1(a_test, b_test),
            "b_to_a": l1(ba, a_test), "b_to_a_identity_baseline": l1(b_test, a_test),
        },
        "cycle_l1": {"a": l1(aba, a_test), "b": l1(bab, b_test)},
        "final_losses": {key: float(np.mean([r[key] for r in last])) for key in ("adv", "cycle", "identity",
                                                                                 "loss_d")},
        "pictures": ["style_test.png", "style_curves.png"],
    }


def format_result(r: dict) -> str:
    c, t, y = r["content"], r["translation_l1"], r["cycle_l1"]
    return "\n".join([
        f"CycleGAN {r['dataset']} ↔ {r['style']}: {r['steps']} steps, {r['test_images']} held-out test digits",
        f"judge accuracy on F(B) (B→A) {c['b_to_a']:.3f}  | untranslated B {c['no_translation']:.3f}  | "
        f"original A {c['original']:.3f}  | cycle F(G(A)) {c['cycle_a']:.3f}",
        f"per-pixel L1 vs ground truth: A→B {t['a_to_b']:.4f} (identity {t['a_to_b_identity_baseline']:.4f}), "
        f"B→A {t['b_to_a']:.4f} (identity {t['b_to_a_identity_baseline']:.4f})",
        f"cycle reconstruction L1: A {y['a']:.4f}, B {y['b']:.4f}",
    ])

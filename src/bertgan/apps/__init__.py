"""The seeds' GAN applications, one module each, one command each (``bertgan apps NAME``).

Seed 000 lists what GANs are for — 이미지 합성, 데이터 증강, 스타일 변환, 텍스트→이미지, 이상 탐지 — and seed 001 adds
화질 개선 (super-resolution), 이미지 변환 (pix2pix) and 데이터 복원 (restoration). Each module defines:

  Config        a dataclass; every field is a flag of ``bertgan apps NAME`` (its help in the field's metadata)
  SETTINGS      {"quick": {...}, "full": {...}}: overrides of Config's defaults. quick ≤ 5 CPU-minutes (the README
                tour, the tests' scale); full is the setting the measured figures in docs/apps.md come from
  DESCRIPTION   the command's --help text: what it trains, what it measures, the paper it follows
  validate(cfg) raises UsageError naming the flag and the fix
  run(cfg, out, *, data_dir, progress, log) -> dict
                trains and measures; writes its PNGs into ``out`` and returns the figures, which
                ``apps/common.run_app`` saves as out/result.json beside out/config.json
  format_result(result) -> str   the few lines the command prints

``apps/text2image.py`` is the one module where ``bert/`` and ``gan/`` meet.
"""

from __future__ import annotations

import importlib
from types import ModuleType

APPS: dict[str, str] = {
    "text2image": "text → image: a GAN conditioned on our BERT's sentence embeddings (GAN-INT-CLS)",
    "augment": "data augmentation: a conditional GAN enlarges a small labelled set; classifier with vs without it",
    "anomaly": "anomaly detection: f-AnoGAN trained on one normal class; AUROC on the MNIST one-class protocol",
    "superres": "super-resolution (SRGAN): ×4 / ×2 on MNIST, Fashion-MNIST and image folders; PSNR, SSIM vs bicubic",
    "pix2pix": "image translation (pix2pix): edges→image, masked→full; U-Net + PatchGAN, L1 vs L1+cGAN",
    "style": "style transfer (CycleGAN): MNIST ↔ thick / inverted / striped MNIST, unpaired; content kept?",
    "inpaint": "restoration by inpainting (context encoder): masked L2 vs L2+adv; PSNR on the hole vs mean fill",
}
SETTINGS = ("quick", "full")
# Config fields whose flag follows the CLI grammar (docs/cli.md) rather than the field's name; the old spelling
# still works, hidden, with a one-line notice. "steps" of a one-part app is its --max-steps.
FLAG_NAMES = {("superres", "steps"): "--mse-steps", ("text2image", "bert"): "--model",
              ("text2image", "samples"): "--per-text"}


def flag_name(app: str, field: str) -> str:
    """The command-line flag of an app's Config field."""
    return FLAG_NAMES.get((app, field)) or ("--max-steps" if field == "steps" else "--" + field.replace("_", "-"))


def load(name: str) -> ModuleType:
    return importlib.import_module(f"bertgan.apps.{name}")

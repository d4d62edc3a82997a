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

``apps/text2image.py`` is the one module where ``bert/`` and ``gan/`` meet.
"""

from __future__ import annotations

import importlib
from types import ModuleType

APPS: dict[str, str] = {
}
SETTINGS = ("quick", "full")


def load(name: str) -> ModuleType:
    return importlib.import_module(f"bertgan.apps.{name}")

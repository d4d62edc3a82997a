"""2-D mixtures of Gaussians, the mode-collapse benchmarks of Metz et al. 2017 (unrolled GAN), VEEGAN
(Srivastava et al. 2017) and PacGAN (Lin et al. 2018, Table 1).

  ring-8    8 Gaussians evenly spaced on a circle of radius 2, standard deviation 0.02.
  grid-25   25 Gaussians at (−4, −2, 0, 2, 4)², standard deviation 0.05.

Training sets hold 100,000 points drawn with a fixed seed (another seed for the test split); the label is the
index of the Gaussian a point was drawn from. The centres and standard deviations live with the metric that
scores them (``metrics/modes.py``) so the two cannot disagree.
"""

from __future__ import annotations

import numpy as np
import torch

from bertgan.data.images import ImageData

N_POINTS = 100_000
_SEEDS = {"train": 0, "test": 1}


def mixture(name: str) -> tuple[np.ndarray, float]:
    """(centres (K, 2), standard deviation) of a point dataset."""
    from bertgan.metrics import modes

    if name == "ring-8":
        return modes.ring_centers(), modes.RING_STD
    if name == "grid-25":
        return modes.grid_centers(), modes.GRID_STD
    raise ValueError(f"unknown point dataset {name!r}")


def load_points(name: str, split: str = "train", n: int = N_POINTS) -> ImageData:
    centers, std = mixture(name)
    rng = np.random.default_rng(_SEEDS[split] + (0 if name == "ring-8" else 100))
    labels = rng.integers(0, len(centers), size=n)
    points = centers[labels] + std * rng.standard_normal((n, 2))
    return ImageData(torch.from_numpy(points.astype(np.float32)), torch.from_numpy(labels.astype(np.int64)), name,
                     tuple(str(i) for i in range(len(centers))))

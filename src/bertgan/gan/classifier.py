"""The evaluation classifier: a small CNN trained on a dataset's real training images.

It serves the GAN evaluation twice: its predicted class labels generated samples for mode coverage
(the PacGAN / VEEGAN protocol: "a pretrained classifier"), and its 128-d penultimate layer is the feature space of
the fast "domain FID" — Fréchet distance measured by a network that knows the domain, cheap enough for a CPU, where
InceptionV3 (ImageNet features, 299×299 input) costs ~0.1–0.2 s an image. The applications reuse it as the judge of
generated content. Training code lives in ``gan/evaluate.py``.

Input: (N, 1, H, W) in [−1, 1], G's range; any H, W is resized to 28×28 (the 8×8 digits are enlarged).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SIZE = 28
FEATURES = 128


class DomainClassifier(nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.n_classes = n_classes
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 28 → 14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 14 → 7
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 7 → 3
            nn.Flatten(),  # (N, 64, 3, 3) → (N, 576)
        )
        self.fc = nn.Linear(64 * 3 * 3, FEATURES)
        self.dropout = nn.Dropout(0.3)
        self.out = nn.Linear(FEATURES, n_classes)

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 1:
            raise ValueError(f"the classifier takes one channel, got {x.shape[1]}")
        if x.shape[-2:] != (SIZE, SIZE):
            x = F.interpolate(x.float(), size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) in [−1, 1] → (N, 128), after the ReLU: the domain-FID feature space."""
        return F.relu(self.fc(self.conv(self.prepare(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)))  # (N, classes) logits

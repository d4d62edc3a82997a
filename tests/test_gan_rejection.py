"""Discriminator rejection sampling: the acceptance rule, the sampler on a known density ratio, packs, the CLI."""

import json
import math

import pytest
import torch

from bertgan.cli import main
from bertgan.errors import UsageError
from bertgan.gan.config import resolve
from bertgan.gan.rejection import acceptance, rejection_sample
from bertgan.gan.trainer import train

pytestmark = pytest.mark.usefixtures("private_cache")


def test_acceptance_is_the_density_ratio_over_m_when_gamma_is_zero():
    """σ(F) with γ = 0 is exp(logit − log M): exact rejection sampling from p_data for the optimal D."""
    logits = torch.tensor([-8.0, -3.0, -1.0, -0.1, 0.0])
    p = acceptance(logits, log_m=0.0, gamma=0.0)
    assert torch.allclose(p, torch.exp(logits.double()), atol=1e-5)
    assert torch.all(p[1:] > p[:-1])  # a more data-like sample is kept more often
    shifted = acceptance(logits, log_m=0.0, gamma=2.0)
    assert torch.all(shifted < p)  # γ > 0 keeps fewer


class _Scale(torch.nn.Module):
    """G(z) = s·z: p_g = N(0, s² I)."""

    def __init__(self, s: float):
        super().__init__()
        self.s = s

    def forward(self, z):
        return self.s * z


class _RatioD(torch.nn.Module):
    """The optimal D's logit for data N(0, I) against G = N(0, 2² I) in 2-D, log p_data(x) / p_g(x) =
    −3|x|²/8 + log 4 (at most log 4, at x = 0), summed over each pack of ``pack`` samples."""

    def __init__(self, pack: int = 1):
        super().__init__()
        self.pack = pack

    def forward(self, x):
        ratio = -(3 / 8) * (x ** 2).sum(1) + math.log(4)
        return ratio.view(-1, self.pack).sum(1)


def test_sampler_recovers_the_data_from_a_too_wide_g():
    """G draws N(0, 2² I), the data is N(0, I), M = 4: exact rejection keeps a quarter and the kept samples have
    std 1. DRS at the 80th percentile keeps about that share and lands on std ≈ 1; at 0 it keeps nearly all."""
    G, D, cpu = _Scale(2.0), _RatioD(), torch.device("cpu")
    x, info = rejection_sample(G, D, 2, "normal", 3000, seed=0, device=cpu, percentile=80.0)
    assert x.shape == (3000, 2) and 0.18 < info["acceptance"] < 0.32
    assert math.log(4) - 0.05 < info["log_m"] <= math.log(4) + 1e-6  # the largest ratio, estimated
    assert torch.all((x.std(0) > 0.85) & (x.std(0) < 1.15))  # G alone: 2.0
    again, _ = rejection_sample(G, D, 2, "normal", 3000, seed=0, device=cpu, percentile=80.0)
    assert torch.equal(x, again)  # same seed, same samples
    loose, info0 = rejection_sample(G, D, 2, "normal", 3000, seed=0, device=cpu, percentile=0.0)
    assert info0["acceptance"] > 0.95 and torch.all(loose.std(0) > 1.8)


def test_sampler_accepts_whole_packs():
    """PacGAN's D scores packs: whole packs are kept, so every count is a multiple of the pack, and the kept
    samples still narrow towards the data."""
    x, info = rejection_sample(_Scale(2.0), _RatioD(pack=2), 2, "normal", 3000, seed=0, device=torch.device("cpu"),
                               percentile=80.0)
    assert x.shape == (3000, 2) and info["pack"] == 2 and info["drawn"] % 2 == 0
    assert torch.all(x.std(0) < 1.35)


def test_sampler_gives_up_with_a_message_and_checks_the_percentile():
    G, D, cpu = _Scale(2.0), _RatioD(), torch.device("cpu")
    with pytest.raises(UsageError, match="fewer than the 5000 asked for"):  # ~24% of at most 3 × 1000 draws
        rejection_sample(G, D, 2, "normal", 5000, seed=0, device=cpu, percentile=80.0, burn_in=1000, max_draws=3)
    with pytest.raises(UsageError, match=r"\[0, 100\)"):
        rejection_sample(G, D, 2, "normal", 10, seed=0, device=cpu, percentile=100.0)


def test_evaluate_and_sample_with_rejection_cli(tmp_path, capsys):
    run = tmp_path / "grid"
    train(resolve("toy", max_steps=5, precision="fp32", device="cpu", log_every=1), run, progress=False)
    assert main(["gan", "evaluate", "--run", str(run), "--rejection", "50", "--no-progress"]) == 0
    assert "kept by D's rejection sampling" in capsys.readouterr().out
    r = json.loads((run / "eval_drs.json").read_text())
    assert r["rejection"]["percentile"] == 50 and 0 < r["rejection"]["acceptance"] <= 1
    assert sum(r["modes"]["counts"]) == 2500 and (run / "eval_drs_points.png").is_file()
    assert not (run / "eval.json").exists()  # the plain evaluation's file is left alone
    out = tmp_path / "s.npy"
    assert main(["gan", "sample", "--run", str(run), "--rejection", "50", "-n", "100", "--out", str(out)]) == 0
    import numpy as np

    assert np.load(out).shape == (100, 2)


@pytest.mark.parametrize("argv, message", [
    (["--pretrained", "mnist", "--rejection", "80"], "--rejection needs a training run's D"),
    (["--run", "RUN", "--rejection", "80", "--interpolate"], "without --interpolate"),
    (["--run", "RUN", "--rejection", "100", "--dry-run"], "--rejection 100: the percentile"),
])
def test_sample_rejection_bad_input(argv, message, tmp_path, capsys):
    argv = [a.replace("RUN", str(tmp_path)) for a in argv]
    assert main(["gan", "sample", *argv, "--out", str(tmp_path / "x.png")]) == 2
    assert message in capsys.readouterr().err


def test_exported_generator_has_no_d(tmp_path, capsys):
    run = tmp_path / "grid"
    train(resolve("toy", max_steps=2, precision="fp32", device="cpu", log_every=1), run, progress=False)
    assert main(["gan", "export", "--run", str(run), "--out", str(tmp_path / "g")]) == 0
    assert main(["gan", "sample", "--run", str(tmp_path / "g"), "--rejection", "80", "--out",
                 str(tmp_path / "x.png")]) == 2
    assert "no checkpoint.safetensors, so no discriminator" in capsys.readouterr().err

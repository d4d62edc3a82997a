import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from bertgan.errors import UsageError
from bertgan.gan.config import resolve
from bertgan.gan.trainer import generate, load_generator, load_run_config, lr_scale, train

TINY = dict(dataset="digits", width=8, batch_size=32, log_every=2, precision="fp32", device="cpu")


def _weights(run):
    t = load_file(str(run / "checkpoint.safetensors"))
    return {k: v for k, v in t.items() if not k.startswith("rng.")}


def test_run_folder_contents(tmp_path):
    cfg = resolve("mlp", epochs=2, **TINY)
    r = train(cfg, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert r.step == 2 * (1797 // 32) and not r.interrupted
    for name in ("config.json", "checkpoint.safetensors", "metrics.jsonl", "samples.png", "real.png", "curves.png",
                 "report.html", "samples/epoch_001.png", "samples/epoch_002.png"):
        assert (run / name).is_file(), name
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == r.step
    for k in ("loss_d", "loss_g", "d_real", "d_fake", "acc_real", "acc_fake", "img_per_s"):
        assert k in rows[-1]
    assert 0 <= rows[-1]["d_real"] <= 1 and 0 <= rows[-1]["acc_fake"] <= 1
    saved = json.loads((run / "config.json").read_text())
    assert saved["arch"] == "mlp" and saved["image_size"] == 8 and saved["channels"] == 1
    html = (run / "report.html").read_text()
    assert "samples.png" in html and "curves.png" in html and "epoch 002" in html
    assert "mean D(G(z)), generated" in html and "real judged real (D ≥ 0.5)" in html
    assert not list(run.rglob("*.tmp"))  # atomic writes left no temporaries


@pytest.mark.parametrize("arch", ["tf-dcgan", "mlp"])
def test_resume_is_bit_exact(tmp_path, arch):
    # tf-dcgan covers BatchNorm statistics, dropout RNG, channels_last and fused Adam state.
    extra = dict(batch_size=16, max_steps=6) if arch == "tf-dcgan" else dict(max_steps=6)
    cfg = resolve(arch, **{**TINY, **extra})
    train(cfg, tmp_path / "straight", progress=False)
    first = resolve(arch, **{**TINY, **extra, "max_steps": 3})
    train(first, tmp_path / "split", progress=False)
    again = load_run_config(tmp_path / "split")
    again.max_steps = 6
    r = train(again, tmp_path / "split", resume=True, progress=False)
    assert r.step == 6
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # no duplicated rows after the resume


def test_lr_schedule_holds_then_falls_to_zero_over_the_last_fraction():
    total = 440
    assert [lr_scale(s, total, 1.0) for s in (0, 110, 330)] == [1.0 - s / total for s in (0, 110, 330)]
    tail = [lr_scale(s, total, 40 / 440) for s in range(total)]
    assert tail[:400] == [1.0] * 400  # held at the configured rate
    assert tail[400] == pytest.approx(1.0) and tail[420] == pytest.approx(0.5) and tail[439] == pytest.approx(1 / 40)
    assert all(a > b for a, b in zip(tail[400:], tail[401:]))


def test_lr_decay_flag_and_run_folders_that_stored_it_as_on_off(tmp_path, capsys):
    from bertgan.cli import main
    from bertgan.gan.config import GANConfig

    for argv, want in (([], None), (["--lr-decay"], 1.0), (["--lr-decay", "0.25"], 0.25)):
        assert main(["gan", "train", "--dry-run", "--preset", "mlp", "--dataset", "digits", *argv,
                     "--out", str(tmp_path / "d")]) == 0
        assert f'"lr_decay": {want if want is not None else 0.0}' in capsys.readouterr().out
    assert main(["gan", "train", "--dry-run", "--lr-decay", "1.5", "--out", str(tmp_path / "d")]) == 2
    assert "--lr-decay 1.5" in capsys.readouterr().err
    assert GANConfig.from_dict({"lr_decay": True}).lr_decay == 1.0  # an older config.json still loads
    assert GANConfig.from_dict({"lr_decay": False}).lr_decay == 0.0


def test_ctrl_c_saves_and_resume_continues_exactly(tmp_path):
    cfg = resolve("mlp", **{**TINY, "max_steps": 8})
    train(cfg, tmp_path / "straight", progress=False)

    def interrupt(step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    r = train(cfg, tmp_path / "split", progress=False, after_step=interrupt, log=lambda s: None)
    assert r.interrupted and r.step == 3
    assert json.loads((tmp_path / "split" / "config.json").read_text())["max_steps"] == 8
    r = train(load_run_config(tmp_path / "split"), tmp_path / "split", resume=True, progress=False)
    assert r.step == 8 and not r.interrupted
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    cfg = resolve("mlp", **{**TINY, "max_steps": 1})
    train(cfg, tmp_path / "run", progress=False)
    with pytest.raises(UsageError, match="already holds a run"):
        train(cfg, tmp_path / "run", progress=False)
    with pytest.raises(UsageError, match="nothing was trained there yet"):
        train(cfg, tmp_path / "other", resume=True, progress=False)


def test_batch_larger_than_dataset(tmp_path):
    cfg = resolve("mlp", **{**TINY, "batch_size": 5000})
    with pytest.raises(UsageError, match="larger than the dataset"):
        train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "config.json").exists()  # nothing half-written


def test_d_steps_and_minimax_and_uniform_prior(tmp_path):
    cfg = resolve("mlp", **{**TINY, "max_steps": 4, "d_steps": 2, "loss": "minimax", "prior": "uniform"})
    r = train(cfg, tmp_path / "run", progress=False)
    assert r.step == 4 and r.metrics["loss_g"] < 0  # minimax G loss E[log(1 − D(G(z)))] is negative


def test_sampling_and_interpolation(tmp_path):
    train(resolve("mlp", **{**TINY, "max_steps": 2}), tmp_path / "run", progress=False)
    G, cfg = load_generator(tmp_path / "run", torch.device("cpu"))
    imgs, nrow = generate(G, cfg, 16, seed=1, device=torch.device("cpu"))
    assert imgs.shape == (16, 1, 8, 8) and nrow == 4
    again, _ = generate(G, cfg, 16, seed=1, device=torch.device("cpu"))
    assert torch.equal(imgs, again)  # same seed, same samples
    strip, nrow = generate(G, cfg, 20, seed=1, device=torch.device("cpu"), interpolate=True)
    assert strip.shape[0] == 20 and nrow == 10


def test_step_equals_the_textbook_alternating_update():
    """One GANStep = D step on BCE(real → 1, G(z) → 0), then G step on BCE(D(G(z)) → 1) through the updated D,
    written the plain way, from the same weights and the same z (dropout off: it draws other random numbers)."""
    import copy

    import torch.nn.functional as F

    from bertgan.gan.models import build_gan, sample_prior
    from bertgan.gan.trainer import GANStep
    from bertgan.ops import Dropout

    torch.manual_seed(0)
    cfg = resolve("tf-dcgan", precision="fp32", device="cpu")
    G, D = build_gan("tf-dcgan", 100, (1, 28, 28))
    for m in D.modules():
        if isinstance(m, Dropout):
            m.p = 0.0
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    Ga, Da = copy.deepcopy(G), copy.deepcopy(D)
    # SGD on both sides: this test is about the step. (Adam's first update is ~lr·sign(g), so a rounding-level
    # difference in a near-zero gradient would flip a whole update.)
    sgd = lambda m: torch.optim.SGD(m.parameters(), lr=0.05)
    torch.manual_seed(1)
    GANStep(Ga, Da, sgd(Ga), sgd(Da), cfg, torch.device("cpu"), "fp32")(real, 0)

    og, od = sgd(G), sgd(D)
    torch.manual_seed(1)
    fake = G(sample_prior(16, 100))
    ones, zeros = torch.ones(16), torch.zeros(16)
    loss_d = F.binary_cross_entropy_with_logits(D(real), ones) + F.binary_cross_entropy_with_logits(
        D(fake.detach()), zeros)
    od.zero_grad()
    loss_d.backward()
    od.step()
    loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
    og.zero_grad()
    loss_g.backward()
    og.step()
    for (name, a), b in zip([*Ga.named_parameters(), *Da.named_parameters()], [*G.parameters(), *D.parameters()]):
        assert torch.allclose(a, b, atol=1e-6, rtol=0), name


def test_export_is_a_smaller_folder_that_samples_like_the_run(tmp_path, capsys):
    import numpy as np

    from bertgan.cli import main

    cfg = resolve("dcgan", max_steps=4, ema=0.9, **{**TINY, "width": 8})
    train(cfg, tmp_path / "run", progress=False)
    assert main(["gan", "export", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "g")]) == 0
    tensors = load_file(str(tmp_path / "g" / "generator.safetensors"))
    assert tensors and all(k.startswith("G.") for k in tensors)  # G alone: no D, no optimiser, no RNG state
    assert {v.dtype for k, v in tensors.items() if v.is_floating_point()} == {torch.float16}
    run_G, _ = load_generator(tmp_path / "run", torch.device("cpu"))
    shipped_G, cfg2 = load_generator(tmp_path / "g", torch.device("cpu"))
    assert cfg2.arch == "dcgan" and cfg2.data_dir is None
    for (k, a), b in zip(run_G.state_dict().items(), shipped_G.state_dict().values()):
        if a.is_floating_point():  # the EMA weights, rounded to fp16
            torch.testing.assert_close(b, a.half().float(), rtol=0, atol=0, msg=k)
    for target in ("run", "g"):
        out = tmp_path / f"{target}.npy"
        assert main(["gan", "sample", "--run", str(tmp_path / target), "-n", "5", "--out", str(out)]) == 0
        x = np.load(out, allow_pickle=False)
        assert x.shape == (5, 1, 32, 32) and x.dtype == np.float32 and -1 <= x.min() and x.max() <= 1
    a, b = np.load(tmp_path / "run.npy"), np.load(tmp_path / "g.npy")
    assert np.abs(a - b).max() < 0.02  # the same z through the fp16-rounded weights
    capsys.readouterr()
    for argv, message in ((["export", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "g")],
                           "already holds a generator"),
                          (["sample", "--pretrained", "no-such-name", "--out", str(tmp_path / "x.png")],
                           "no such shipped generator"),
                          (["sample", "--run", str(tmp_path / "g"), "--out", str(tmp_path / "x.jpg")],
                           ".png file (a grid) or a .npy file")):
        assert main(["gan", *argv]) == 2
        assert message in capsys.readouterr().err


def test_nan_stops_the_run_and_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch, capsys):
    """A loss that turns NaN at step 5 (checkpoints every 2 steps): exit status 3, a message naming the step and the
    likely cause, the step-4 checkpoint left as it was; --lr 1e30 from the start writes no checkpoint at all."""
    import bertgan.gan.losses as losses
    from bertgan.cli import main

    d_loss, g_loss = losses.LOSSES["nonsaturating"]
    calls = {"n": 0}

    def poisoned(real, fake, **kw):
        calls["n"] += 1
        out = d_loss(real, fake, **kw)
        return out * float("nan") if calls["n"] >= 5 else out

    monkeypatch.setitem(losses.LOSSES, "nonsaturating", (poisoned, g_loss))
    out = tmp_path / "run"
    argv = ["gan", "train", "--arch", "mlp", "--width", "8", "--batch-size", "32", "--max-steps", "8",
            "--checkpoint-every", "2", "--log-every", "1", "--precision", "fp32", "--out", str(out), "--no-progress"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "step 5: the loss became NaN or infinite" in err and "last checkpoint (step 4)" in err
    assert "learning rate" in err
    G, _ = load_generator(out, torch.device("cpu"))  # the step-4 checkpoint: finite, loadable
    assert all(torch.isfinite(p).all() for p in G.parameters())
    from bertgan.train.checkpoint import load_checkpoint

    assert load_checkpoint(out / "checkpoint.safetensors").meta["step"] == 4
    monkeypatch.setitem(losses.LOSSES, "nonsaturating", (d_loss, g_loss))
    assert main(["gan", "train", "--arch", "mlp", "--width", "8", "--batch-size", "32", "--max-steps", "4",
                 "--lr-g", "1e30", "--lr-d", "1e30", "--out", str(tmp_path / "huge"), "--no-progress"]) == 3
    assert "no checkpoint of" in capsys.readouterr().err
    assert not (tmp_path / "huge" / "checkpoint.safetensors").exists()


def test_damaged_run_folders_are_one_clear_error(tmp_path, capsys):
    """A config.json with a value of the wrong type, a checkpoint without its step or its optimiser state: one
    line naming the file and the field, exit status 2 — no TypeError / KeyError traceback."""
    from bertgan.cli import main
    from bertgan.io import load_tensors, save_tensors

    run = tmp_path / "run"
    train(resolve("mlp", **{**TINY, "max_steps": 2}), run, progress=False)
    good = (run / "config.json").read_text()
    (run / "config.json").write_text(good.replace('"latent_dim": 100', '"latent_dim": "abc"'))
    assert main(["gan", "sample", "--run", str(run), "--out", str(tmp_path / "x.png")]) == 2
    assert "field 'latent_dim' is 'abc' (str), but it takes int" in capsys.readouterr().err
    (run / "config.json").write_text(good)
    tensors, meta = load_tensors(run / "checkpoint.safetensors")
    for damage, message in ((lambda m: m.pop("step"), "records no valid step"),
                            (lambda m: m.update(step=2) or None, None)):
        info = json.loads(meta["bertgan"])
        damage(info["meta"])
        save_tensors(run / "checkpoint.safetensors", tensors, {"bertgan": json.dumps(info)})
        if message:
            assert main(["gan", "train", "--resume", "--out", str(run), "--max-steps", "4", "--no-progress"]) == 2
            assert message in capsys.readouterr().err
    info = json.loads(meta["bertgan"])
    info["optimizers"].pop("opt_D")
    save_tensors(run / "checkpoint.safetensors", tensors, {"bertgan": json.dumps(info)})
    assert main(["gan", "train", "--resume", "--out", str(run), "--max-steps", "4", "--no-progress"]) == 2
    assert "holds no state for the optimiser 'opt_D'" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_train_the_g_one_process_trains(tmp_path):
    """torchrun --nproc_per_node 2 (gloo on CPU), global batch 16 split 8 + 8, against one process with batch 16:
    the same G (BatchNorm synchronised over the global batch, gradients averaged, the same z) within float
    tolerance; rank 0 alone writes the run folder, and a resumed 2-process run continues it."""
    import subprocess
    import sys

    common = ["gan", "train", "--arch", "dcgan", "--width", "8", "--batch-size", "16", "--precision", "fp32",
              "--device", "cpu", "--ema", "0.9", "--no-progress", "--seed", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = lambda *argv: subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True,
                                       timeout=300)
    one = run("-m", "bertgan", *common, "--max-steps", "4", "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    torchrun = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "bertgan")
    two = run(*torchrun, *common, "--max-steps", "2", "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    two = run(*torchrun, *common, "--max-steps", "4", "--resume", "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert a.keys() == b.keys()
    for k in a:
        if k.startswith(("G.", "G_ema.", "D.")) and a[k].is_floating_point():
            assert float((a[k] - b[k]).abs().max()) < 1e-5, k  # measured 2.2e-7
    rows = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == sorted({r["step"] for r in rows}) and rows[-1]["step"] == 4


@pytest.mark.parametrize("arch", ["toy", "tf-dcgan"])
def test_same_seed_same_threads_same_run_bit_for_bit(tmp_path, arch):
    """A run is a function of its config, seed and thread count: twice in a row, the same weights and the same
    metrics to the last bit (docs/gan.md: another thread count sums in another order, and the game amplifies it)."""
    extra = (dict(batch_size=16, max_steps=5) if arch == "tf-dcgan"
             else dict(dataset="grid-25", latent_dim=2, max_steps=40))
    for name in ("a", "b"):
        train(resolve(arch, **{**TINY, **extra}), tmp_path / name, progress=False)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [[{k: v for k, v in json.loads(line).items() if k not in ("img_per_s", "elapsed")}
             for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()] for name in ("a", "b")]
    assert rows[0] == rows[1] and rows[0]

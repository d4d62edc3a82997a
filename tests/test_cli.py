"""The command line: --help and --dry-run of every subcommand, and bad input → one message, exit 2, nothing written."""

import json

import pytest

from bertgan.cli import main

SUBCOMMANDS = [["demo"], ["gan", "train"], ["gan", "sample"], ["gan", "evaluate"], ["gan", "collapse-demo"]]


@pytest.mark.parametrize("cmd", [[], *SUBCOMMANDS, ["gan"]])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--help"])
    assert e.value.code == 0
    assert "usage: bertgan" in capsys.readouterr().out


def test_dry_run_demo(tmp_path, capsys):
    assert main(["demo", "--dry-run", "--out", str(tmp_path / "d")]) == 0
    assert "GAN" in capsys.readouterr().out
    assert not (tmp_path / "d").exists()


def test_dry_run_train_resolves_preset_then_flags(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["gan", "train", "--preset", "tf-dcgan", "--epochs", "5", "--out", str(out), "--dry-run"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert (cfg["arch"], cfg["batch_size"], cfg["lr_g"], cfg["epochs"], cfg["preset"]) == ("tf-dcgan", 256, 1e-4, 5,
                                                                                            "tf-dcgan")
    assert not out.exists()


def test_dry_run_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["gan", "train", "--arch", "mlp", "--width", "8", "--max-steps", "1", "--batch-size", "16",
                 "--precision", "fp32", "--no-progress", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["gan", "sample", "--run", str(run), "--out", str(tmp_path / "g.png"), "--dry-run"]) == 0
    assert "would draw 64 samples" in capsys.readouterr().out
    assert not (tmp_path / "g.png").exists()
    strip = tmp_path / "g.png"
    assert main(["gan", "sample", "--run", str(run), "-n", "20", "--interpolate", "--out", str(strip)]) == 0
    assert (tmp_path / "g.png").is_file()


BAD = [
    (["gan", "train", "--dataset", "cifar"], "--dataset cifar: unknown dataset"),
    (["gan", "train", "--arch", "resnet"], "--arch resnet: unknown architecture"),
    (["gan", "train", "--loss", "earth-mover"], "--loss earth-mover: unknown loss"),
    (["gan", "train", "--preset", "biggan"], "--preset biggan: unknown preset"),
    (["gan", "train", "--prior", "cauchy"], "--prior cauchy: unknown prior"),
    (["gan", "train", "--latent-dim", "0"], "--latent-dim 0: must be a positive integer"),
    (["gan", "train", "--latent-dim", "-3"], "--latent-dim -3: must be a positive integer"),
    (["gan", "train", "--batch-size", "100000", "--arch", "mlp"], "larger than the dataset"),
    (["gan", "train", "--dataset", "mnist", "--data-dir", "{tmp}/nodata"], "no such folder"),
    (["gan", "train", "--dataset", "mnist", "--data-dir", "{tmp}"], "not found"),
    (["gan", "train", "--dataset", "folder:{tmp}"], "no .png/.jpg/.jpeg images"),
    (["gan", "train", "--arch", "tf-dcgan", "--image-size", "32"], "fixed at 28×28×1"),
    (["gan", "train", "--precision", "fp16"], "argument --precision: invalid choice: 'fp16'"),
    (["gan", "train", "--epochs", "many"], "invalid int value"),
    (["gan", "train", "--device", "cuda:7"], "no such CUDA device"),
    (["gan", "sample", "--run", "{tmp}"], "config.json: not found"),
    (["gan", "train", "--pack", "3", "--batch-size", "64"], "must be a multiple of it"),
    (["gan", "train", "--loss", "hinge", "--label-smoothing", "0.1"], "not to --loss hinge"),
    (["gan", "train", "--arch", "toy"], "train with --arch toy"),
    (["gan", "train", "--dataset", "grid-25"], "train with --arch toy"),
    (["gan", "train", "--ema", "1.5"], "--ema 1.5: the decay must be in [0, 1)"),
    (["gan", "train", "--gp", "-1"], "--gp -1.0: must be a finite number, 0 or more"),
    (["gan", "train", "--r1", "nan"], "--r1 nan: must be a finite number, 0 or more"),
    (["gan", "train", "--lr-d", "inf"], "--lr-d inf: a learning rate is a finite number above 0"),
    (["gan", "train", "--lr-g", "0"], "--lr-g 0.0: a learning rate is a finite number above 0"),
    (["gan", "train", "--seed", "99999999999999999999"], "a seed is a whole number from 0 to 2,147,483,647"),
    (["gan", "train", "--seed", "-1"], "--seed -1: a seed is a whole number"),
    (["gan", "train", "--max-steps", "0"], "--max-steps 0: must be a positive number of steps"),
    (["gan", "train", "--conditional", "--pack", "2"], "--pack with --conditional"),
    (["gan", "evaluate", "--run", "{tmp}"], "config.json: not found"),
    (["gan", "collapse-demo", "--out", "{tmp}/d", "--datasets", "cifar"], "needs a dataset with known modes"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_clear_error(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    out = tmp_path / "out"
    if argv[1] == "train":
        argv += ["--out", str(out), "--no-progress"]
    elif argv[1] == "sample":
        argv += ["--out", str(tmp_path / "x.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()  # nothing written, not even an empty run folder


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["gan", "train", "--out", str(blocker / "run"), "--no-progress"]) == 2
    assert "cannot write there" in capsys.readouterr().err
    assert main(["gan", "train", "--out", str(blocker), "--no-progress"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_resume_takes_the_first_command_again_but_not_a_change(tmp_path, capsys):
    run = tmp_path / "run"
    first = ["gan", "train", "--preset", "tf-dcgan", "--dataset", "digits", "--batch-size", "32", "--seed", "1",
             "--max-steps", "2", "--precision", "fp32", "--no-progress", "--out", str(run)]
    assert main(first) == 0
    # the first command again, with --resume and a longer --max-steps: every other flag equals the saved one
    assert main(first[:-5] + ["--max-steps", "4", "--resume"] + first[-3:]) == 0
    assert "step 4" in capsys.readouterr().out
    assert main(["gan", "train", "--resume", "--out", str(run), "--batch-size", "16", "--max-steps", "5"]) == 2
    assert "--batch-size 16 differs from the run's 32" in capsys.readouterr().err
    assert main(["gan", "train", "--resume", "--out", str(run), "--preset", "dcgan", "--max-steps", "5"]) == 2
    assert "differs from the run's" in capsys.readouterr().err


def test_corrupt_config_names_the_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{\n "arch": "mlp",\n oops\n}')
    assert main(["gan", "sample", "--run", str(tmp_path), "--out", str(tmp_path / "g.png")]) == 2
    assert "config.json: line 3" in capsys.readouterr().err


def test_a_new_length_on_resume_replaces_the_old_rule_and_nothing_to_do_says_so(tmp_path, capsys):
    """The README's resume pattern (--epochs on a run made with --max-steps) trains; a finished run says so."""
    import json

    run = tmp_path / "run"
    assert main(["gan", "train", "--arch", "mlp", "--width", "8", "--batch-size", "512", "--max-steps", "2",
                 "--precision", "fp32", "--no-progress", "--out", str(run)]) == 0
    assert main(["gan", "train", "--resume", "--out", str(run), "--epochs", "2", "--no-progress"]) == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 2 * (1797 // 512)  # two epochs of the digits, not the saved --max-steps 2
    capsys.readouterr()
    assert main(["gan", "train", "--resume", "--out", str(run), "--no-progress"]) == 0
    assert "nothing to do: the run is at step 6, and --epochs 2 ends it at step 6" in capsys.readouterr().out
    assert (run / "interpolation.png").is_file() and "interpolation.png" in (run / "report.html").read_text()


def test_dry_run_shows_the_run_that_would_happen(tmp_path, capsys):
    import json

    from bertgan.train.runtime import has_fast_bf16, pick_device

    assert main(["gan", "train", "--out", str(tmp_path / "x"), "--dry-run"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["precision"] == ("bf16" if has_fast_bf16(pick_device("auto")) else "fp32")  # not "auto"
    assert plan["device"] == str(pick_device("auto")) and plan["steps"] == 20 * (1797 // 128)
    assert plan["image_size"] == 32 and plan["threads"] >= 1 and not (tmp_path / "x").exists()

"""One CLI grammar (docs/cli.md): walk every sub-command's parser and check that each shared flag has the same
name, type, choices and help everywhere it appears, that the old spellings are hidden aliases, and that `bertgan
--help` needs no torch."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from bertgan import cli
from bertgan.cli import build_parser, main
from bertgan.cli.gan import REJECTION_HELP


def _commands(parser=None, path=()):
    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path), parser
        return
    for name, sub in subs[0].choices.items():
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands())


def _flags(parser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings if a.help != argparse.SUPPRESS}


# flag → (type, choices, help: the exact text, or its start followed by a command's own detail)
SHARED = {
    "--device": (None, None, cli.DEVICE_HELP, "exact"),
    "--precision": (None, cli.PRECISIONS, cli.PRECISION_HELP, "exact"),
    "--seed": (int, None, cli.SEED_HELP, "exact"),
    "--no-progress": (None, None, cli.PROGRESS_HELP, "exact"),
    "--dry-run": (None, None, cli.DRY_RUN_HELP, "exact"),
    "--data-dir": (None, None, cli.DATA_DIR_HELP, "exact"),
    "--max-steps": (int, None, cli.MAX_STEPS_HELP, "start"),
    "--epochs": (int, None, "passes over the data", "start"),
    "-n": (int, None, "samples in all", "start"),
    "--per-text": (int, None, "images", "start"),
    "--rejection": (float, None, REJECTION_HELP, "start"),
}


INFERENCE = {"bert fill-mask", "bert embed", "bert similar", "bert predict classify", "bert predict tag",
             "bert predict qa"}


@pytest.mark.parametrize("flag", sorted(SHARED))
def test_a_shared_flag_means_the_same_everywhere(flag):
    typ, choices, text, how = SHARED[flag]
    uses = {name: _flags(p)[flag] for name, p in COMMANDS.items() if flag in _flags(p)}
    assert uses, flag
    for name, action in uses.items():
        where = f"bertgan {name} {flag}"
        if flag == "--precision" and action.default == "fp32":  # inference: fp32 unless asked, its own help
            assert action.help == cli.INFERENCE_PRECISION_HELP and tuple(action.choices) == choices, where
            assert name in INFERENCE, where
            continue
        assert (action.type or str) == (typ or str), where  # argparse: no type is a string
        assert (tuple(action.choices) if action.choices else None) == choices, where
        assert action.help and (action.help == text if how == "exact" else action.help.startswith(text)), \
            f"{where}: {action.help!r}"


def test_every_command_that_writes_or_trains_has_dry_run_and_progress():
    for name, p in COMMANDS.items():
        flags = _flags(p)
        if "--out" in flags or name in ("bert evaluate", "tokenizer encode", "tokenizer oov"):
            if name not in ("gan export",):
                assert "--dry-run" in flags, name
        trains = any(f in flags for f in ("--max-steps", "--epochs", "--mse-steps"))
        if trains or name in ("bert embed", "bert evaluate", "bert fill-mask", "gan sample", "gan text2image",
                              "gan evaluate"):
            assert "--no-progress" in flags, name
        if "--device" in flags and trains:
            assert "--seed" in flags, name


def test_old_spellings_are_hidden_aliases_with_a_notice(tmp_path, capsys):
    for name, p in COMMANDS.items():
        visible = _flags(p)
        assert "--steps" not in visible and "--bert" not in visible and "--samples" not in visible, name
    assert main(["gan", "collapse-demo", "--out", str(tmp_path / "x"), "--steps", "7", "--dry-run"]) == 0
    assert "--steps is now --max-steps" in capsys.readouterr().err
    assert main(["apps", "text2image", "--out", str(tmp_path / "t"), "--samples", "3", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "--samples is now --per-text" in captured.err and '"samples": 3' in captured.out


def test_help_and_version_import_no_torch():
    code = ("import sys\nfrom bertgan.cli import main\n"
            "for argv in (['--help'], ['--version']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip().splitlines()[-1] == "False"


def test_help_texts_name_the_texts_not_seed_numbers():
    for name, p in COMMANDS.items():
        text = p.format_help().lower()  # "Seed 000" at a sentence start too
        assert "seed 000" not in text and "seed 001" not in text and "%%" not in text and "``" not in text, name


def test_predict_examples_point_at_what_finetune_writes():
    for name, p in COMMANDS.items():
        if name.startswith("bert predict"):
            assert "/final" not in p.format_help() and "/best" in p.format_help(), name

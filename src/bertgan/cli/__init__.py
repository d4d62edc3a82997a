"""The ``bertgan`` command: one sub-command group per package, each a thin shell over library functions.

Bad input raises :class:`bertgan.errors.UsageError`; it is printed as one line and the exit status is 2. A
training run that went non-finite (NaN/inf loss or weights) stops with :class:`bertgan.errors.NonFiniteError`:
one line, exit status 3.
"""

from __future__ import annotations

import argparse
import sys

from bertgan import __version__
from bertgan.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: same one-line form, exit 2
        self.print_usage(sys.stderr)
        raise UsageError(message)


# ------------------------------------------------------------------------------------------------ one grammar
# The flags every command shares, spelled, typed and explained once (docs/cli.md; tests/test_cli_grammar.py walks
# every parser and checks each use against these).
DEVICE_HELP = "auto (default), cpu, cuda, cuda:N or mps"
PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_HELP = "auto (default): bf16 where the device has bf16 units, else fp32"
SEED_HELP = "random seed, a whole number 0…2147483647 (same seed, same run)"
PROGRESS_HELP = "no progress bar"
DRY_RUN_HELP = "check the arguments, print what would be done, write nothing"
MAX_STEPS_HELP = "optimiser steps to train"
FLAG_HELP = {"max_steps": MAX_STEPS_HELP, "epochs": "passes over the data", "batch_size": "samples per step",
             "lr": "learning rate", "warmup_steps": "steps of linear warm-up", "dropout": "dropout probability",
             "max_seq_length": "tokens per sequence", "eval_every": "steps between evaluations",
             "checkpoint_every": "steps between checkpoints", "grad_accum": "micro-batches per step",
             "mlm_prob": "share of tokens masked", "warmup_ratio": "share of the steps spent warming up"}
DATA_DIR_HELP = ("folder holding mnist/ and fashion-mnist/ (default: $BERTGAN_DATA, else downloaded once into "
                 "~/.cache/bertgan)")


def add_device(p) -> None:
    p.add_argument("--device", help=DEVICE_HELP)


def add_precision(p) -> None:
    p.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP)


INFERENCE_PRECISION_HELP = ("fp32 (default; the same scores as transformers), bf16 (autocast), or auto: bf16 where "
                            "the device has bf16 units — faster there, scores change in the second or third decimal")


def add_inference_precision(p) -> None:
    """--precision for inference: the same choices as training's, but fp32 unless asked (see the help)."""
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help=INFERENCE_PRECISION_HELP)


def add_seed(p, default: int | None = None) -> None:
    p.add_argument("--seed", type=int, default=default, help=SEED_HELP)


def add_progress(p) -> None:
    p.add_argument("--no-progress", action="store_true", help=PROGRESS_HELP)


def add_dry_run(p) -> None:
    p.add_argument("--dry-run", action="store_true", help=DRY_RUN_HELP)


class _Renamed(argparse.Action):
    """An old spelling of a flag, kept working (hidden from --help) with a one-line notice."""

    def __init__(self, option_strings, dest, new: str, **kw):
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"bertgan: note: {option_string} is now {self.new}; the old spelling still works for now",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_renamed(p, old: str, new: str, dest: str, **kw) -> None:
    """``old`` as a hidden alias of the flag ``new`` (same ``dest``)."""
    p.add_argument(old, action=_Renamed, new=new, dest=dest, help=argparse.SUPPRESS, **kw)


GROUPS = {
    "demo": "guided tour on embedded data (no download)",
    "tour": "the two texts' claims in order, each with the evidence it runs",
    "gan": "train, sample, evaluate and export GANs",
    "bert": "BERT: pretrain, evaluate, finetune, predict, fill-mask, embed",
    "tokenizer": "train and use WordPiece tokenizers",
    "apps": "the texts' GAN applications (text→image, augmentation, anomaly, …)",
    "studio": "a local web page to see and play with every concept (needs the studio extra)",
}
"""The command groups, one module each (bertgan/cli/NAME.py), with the line `bertgan --help` shows."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` the one group a command line names (the others as bare entries): a
    group's flags import its library (torch), which `bertgan --help` and `--version` need not wait for."""
    import importlib

    parser = _Parser(prog="bertgan", description="BERT and GAN, end to end — library and command line.")
    parser.add_argument("--version", action="version", version=f"bertgan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, summary in GROUPS.items():
        if only is None or only == name:
            importlib.import_module(f"bertgan.cli.{name}").register(sub)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    named = next((a for a in argv if not a.startswith("-")), "")
    parser = build_parser(named if named in GROUPS else "")
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except UsageError as e:  # NonFiniteError too: exit status 3
        print(f"bertgan: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("bertgan: interrupted", file=sys.stderr)
        return 130

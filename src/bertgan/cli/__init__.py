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


GROUPS = {
    "demo": "guided tour on embedded data (no download)",
    "gan": "train, sample, evaluate and export GANs",
    "bert": "BERT: pretrain, evaluate, finetune, predict, fill-mask, embed",
    "tokenizer": "train and use WordPiece tokenizers",
    "apps": "the texts' GAN applications (text→image, augmentation, anomaly, …)",
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

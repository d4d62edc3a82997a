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


def build_parser() -> argparse.ArgumentParser:
    from bertgan.cli import apps, bert, demo, gan, tokenizer

    parser = _Parser(prog="bertgan", description="BERT and GAN, end to end — library and command line.")
    parser.add_argument("--version", action="version", version=f"bertgan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo.register(sub)
    gan.register(sub)
    bert.register(sub)
    tokenizer.register(sub)
    apps.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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

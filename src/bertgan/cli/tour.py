"""``bertgan tour``: the seeds' claims in the seeds' order, each with the smallest evidence bertgan can run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bertgan.errors import UsageError

_HELP = """\
Walk through the two texts' claims — WordPiece and OOV, the three embeddings, MLM's 80/10/10, NSP, the three
fine-tuning recipes; G(z), D's 0.5 threshold, the minimax game, its saturation and instability, mode collapse and
the applications — quoting each sentence, running its evidence on the shipped models (ko-mini, the MNIST G) or the
embedded digits, and printing the figure and the picture it drew. With --data the claims that need real data
(NSMC, UD Korean, Fashion-MNIST, kowiki-test) run too; without it they say what they need.

examples:
  bertgan tour --list
  bertgan tour wordpiece mlm-masking
  bertgan tour --data ../shared/data --out runs/tour

Writes OUT/tour.json and OUT/claims.md (the table docs/claims.md is generated from), plus the pictures."""


def register(sub) -> None:
    from bertgan.cli import GROUPS, add_device, add_dry_run, add_seed

    p = sub.add_parser("tour", help=GROUPS["tour"], description=_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="run only these claims (default: all, in order)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--out", default="bertgan-tour", help="folder for tour.json, claims.md and the pictures "
                   "(default bertgan-tour)")
    p.add_argument("--data", metavar="DIR", default=os.environ.get("BERTGAN_DATA"),
                   help="folder holding the real data sets the larger claims read — kowiki/, nsmc-raw-derived/, "
                        "ud-korean-gsd/, fashion-mnist/ (docs/data.md; default: $BERTGAN_DATA); without it those "
                        "claims say what they need")
    p.add_argument("--markdown", metavar="FILE", help="write the claims table here instead of OUT/claims.md")
    add_seed(p, 0)
    add_device(p)
    add_dry_run(p)
    p.set_defaults(func=cmd_tour)


def cmd_tour(args) -> int:
    from bertgan.io import ensure_writable_dir
    from bertgan.tour import CLAIMS, run_tour, select
    from bertgan.train.runtime import pick_device

    if args.list:
        for c in CLAIMS:
            print(f"{c.name:15s} {c.seed:12s} {c.says}")
        return 0
    claims = select(args.claims)
    if args.data and not Path(args.data).is_dir():
        raise UsageError(f"--data {args.data}: no such folder")
    if args.dry_run:
        print(f"would run {len(claims)} claim(s) ({', '.join(c.name for c in claims)}) into {args.out}/")
        return 0
    ensure_writable_dir(args.out, "--out")
    run_tour(args.out, [c.name for c in claims], data_dir=args.data, device=str(pick_device(args.device)),
             seed=args.seed, markdown_path=args.markdown)
    return 0

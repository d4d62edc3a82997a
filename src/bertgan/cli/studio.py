"""``bertgan studio``: a local web page showing the two texts' concepts live (needs the ``studio`` extra)."""

from __future__ import annotations

import argparse
import sys

from bertgan.errors import UsageError

_HELP = """\
Serve a local page with one tab per concept of the two texts: WordPiece, fill-mask, attention, the fine-tuned
tasks, the GAN (samples, latent walk, D's 0.5 threshold, class histogram), text → image and a live training
monitor. Needs the studio extra: pip install -e ".[studio]".

examples:
  bertgan studio                              # packaged models and shipped generators only
  bertgan studio --runs runs                  # also every run folder under runs/
  bertgan studio --runs runs --port 8000

The page binds 127.0.0.1 (this machine only) unless --host says otherwise, reads only the packaged models and
what lies under --runs, writes only into a temporary folder, and fetches nothing from the internet."""


def register(sub) -> None:
    from bertgan.cli import GROUPS, add_device, add_dry_run

    p = sub.add_parser("studio", help=GROUPS["studio"], description=_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", metavar="DIR", help="folder whose run folders (up to three levels down) the page may "
                   "show: fine-tuned BERTs, GAN and text2image runs, training metrics")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only). Any other exposes the page, and "
                        "what --runs holds, to the network: a warning is printed")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    add_device(p)
    add_dry_run(p)
    p.set_defaults(func=cmd_studio)


def cmd_studio(args) -> int:
    from bertgan import studio

    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: give a port between 1 and 65535")
    from bertgan.train.runtime import pick_device

    device = str(pick_device(args.device or "auto"))
    page = studio.Studio(args.runs, device)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: --host {args.host} serves the studio to other machines: anyone who can reach "
              f"port {args.port} sees the models and the runs under --runs. Use 127.0.0.1 to keep it local.",
              file=sys.stderr)
    if args.dry_run:
        print(f"would serve http://{args.host}:{args.port} on {device}: "
              f"{len(page.bert_models())} BERT models, {len(page.generators())} generators, "
              f"{len(page.monitored_runs())} runs with metrics under {page.runs or '(no --runs)'}")
        return 0
    print(f"bertgan studio on http://{args.host}:{args.port}  (Ctrl-C stops it)")
    studio.launch(page, host=args.host, port=args.port)
    return 0

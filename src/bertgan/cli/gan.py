"""``bertgan gan …``: train a GAN, draw samples from a trained one."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from bertgan.errors import UsageError

_TRAIN_HELP = """\
Train G(z; θ) and D(x; η) by alternating updates of the minimax game (seed 001).

examples:
  bertgan gan train --out runs/digits                                   # embedded 8×8 digits, no download
  bertgan gan train --preset tf-dcgan --dataset mnist --data-dir ../shared/data --epochs 5 --out runs/mnist
  bertgan gan train --resume --out runs/mnist --epochs 10               # continue (also after Ctrl-C)

Settings resolve as: defaults < --preset < the flags you give. --dry-run prints the result.
The run folder gets config.json, checkpoint.safetensors, metrics.jsonl, samples/, samples.png, real.png,
curves.png and report.html."""


def register(sub) -> None:
    from bertgan.cli import _Parser
    from bertgan.gan.config import ARCHS, PRECISIONS, PRESETS, PRIORS
    from bertgan.gan.losses import LOSSES

    gan = sub.add_parser("gan", help="train and sample GANs", description="Generative adversarial networks.")
    gsub = gan.add_subparsers(dest="gan_command", metavar="COMMAND", parser_class=_Parser)
    gan.set_defaults(func=lambda a: (gan.print_help(), 2)[1])

    t = gsub.add_parser("train", help="train a GAN", description=_TRAIN_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--out", required=True, help="run folder to create (or to continue with --resume)")
    t.add_argument("--dataset", help="digits (default, embedded), mnist, fashion-mnist, or folder:PATH")
    t.add_argument("--data-dir", help="folder holding mnist/ and fashion-mnist/ IDX .gz files "
                                      "(default: $BERTGAN_DATA, else download into ~/.cache/bertgan)")
    t.add_argument("--preset", choices=None, metavar="{" + ",".join(PRESETS) + "}",
                   help="a published recipe: architecture and hyper-parameters")
    t.add_argument("--arch", metavar="{" + ",".join(ARCHS) + "}", help="architecture (default dcgan)")
    t.add_argument("--loss", metavar="{" + ",".join(LOSSES) + "}",
                   help="minimax: V(D,G) exactly; nonsaturating (default): G ascends log D(G(z))")
    t.add_argument("--prior", metavar="{" + ",".join(PRIORS) + "}", help="z ~ N(0, I) (default) or U(-1, 1)")
    t.add_argument("--latent-dim", type=int, help="d, the size of z (default 100)")
    t.add_argument("--width", type=int, help="channel / hidden-unit multiplier (default 64)")
    t.add_argument("--image-size", type=int, help="pixels per side (default: the dataset's, if the arch allows)")
    t.add_argument("--channels", type=int, help="1 (grayscale) or 3 (RGB); default: the dataset's")
    t.add_argument("--d-steps", type=int, help="D updates per G update, k (default 1)")
    t.add_argument("--epochs", type=int, help="passes over the data")
    t.add_argument("--max-steps", type=int, help="stop after this many D updates (overrides --epochs)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr-g", type=float, help="G's Adam learning rate")
    t.add_argument("--lr-d", type=float, help="D's Adam learning rate")
    t.add_argument("--seed", type=int, help="random seed (default 0): same seed, same run")
    t.add_argument("--precision", metavar="{" + ",".join(PRECISIONS) + "}",
                   help="auto (default): bf16 where the device has bf16 units, else fp32")
    t.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    t.add_argument("--log-every", type=int, help="steps between metrics.jsonl rows (default 10)")
    t.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 500; also each epoch)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    t.set_defaults(func=cmd_train)

    s = gsub.add_parser("sample", help="draw samples from a trained G",
                        description="Draw samples from the G of a run folder into a PNG grid.")
    s.add_argument("--run", required=True, help="run folder written by 'bertgan gan train'")
    s.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("--out", required=True, help="PNG file to write")
    s.add_argument("--seed", type=int, default=0, help="seed for z (default 0)")
    s.add_argument("--interpolate", action="store_true",
                   help="rows of 10 images walking from one z to another (n // 10 rows)")
    s.add_argument("--device", default="auto")
    s.add_argument("--dry-run", action="store_true", help="print what would be drawn and exit")
    s.set_defaults(func=cmd_sample)


_OVERRIDES = ("dataset", "data_dir", "arch", "loss", "prior", "latent_dim", "width", "image_size", "channels",
              "d_steps", "epochs", "max_steps", "batch_size", "lr_g", "lr_d", "seed", "precision", "device",
              "log_every", "checkpoint_every")
_RESUMABLE = {"epochs", "max_steps", "device", "log_every", "checkpoint_every", "data_dir"}


def cmd_train(args) -> int:
    from bertgan.gan.config import resolve, validate
    from bertgan.gan.trainer import load_run_config, train

    given = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None}
    if args.resume:
        changed = sorted(set(given) - _RESUMABLE)
        if changed or args.preset:
            bad = ", ".join("--" + k.replace("_", "-") for k in changed + (["preset"] if args.preset else []))
            raise UsageError(f"--resume continues the run as configured in {Path(args.out) / 'config.json'}; "
                             f"{bad} cannot change mid-run (only --epochs, --max-steps, --device, --data-dir, "
                             "--log-every, --checkpoint-every can)")
        cfg = dataclasses.replace(load_run_config(args.out), **given)
        validate(cfg)
    else:
        cfg = resolve(args.preset, **given)
    if args.dry_run:
        print(json.dumps(dataclasses.asdict(cfg), indent=2))
        return 0
    result = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    m = result.metrics
    if m:
        print(f"step {result.step} (epoch {result.epoch:.2f}): loss_D {m['loss_d']:.3f}  loss_G {m['loss_g']:.3f}  "
              f"D(x) {m['d_real']:.2f}  D(G(z)) {m['d_fake']:.2f}  {m['img_per_s']:.0f} img/s")
    print(f"samples: {result.samples}\nreport:  {result.report}")
    return 130 if result.interrupted else 0


def cmd_sample(args) -> int:
    from bertgan.gan.trainer import generate, load_generator, load_run_config
    from bertgan.io import ensure_writable_dir
    from bertgan.report.plots import save_grid
    from bertgan.train.runtime import pick_device

    if args.n <= 0:
        raise UsageError(f"-n {args.n}: must be a positive number of samples")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {out}: must be a .png file")
    cfg = load_run_config(args.run)
    if args.dry_run:
        what = "interpolation rows" if args.interpolate else "samples"
        print(f"would draw {args.n} {what} (seed {args.seed}) from {cfg.arch} G of {args.run} into {out}")
        return 0
    ensure_writable_dir(out.parent if str(out.parent) else ".", "--out")
    device = pick_device(args.device)
    G, cfg = load_generator(args.run, device)
    images, nrow = generate(G, cfg, args.n, args.seed, device, interpolate=args.interpolate)
    print(save_grid(out, images, nrow))
    return 0

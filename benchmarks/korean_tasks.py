"""Korean downstream tasks: a pre-trained BERT against the alternatives, each fine-tuned the same way.

    python benchmarks/korean_tasks.py --data-dir ../shared/data --out runs/ko-tasks
    python benchmarks/korean_tasks.py --models ko-mini,scratch --tasks nsmc --out runs/ko-tasks   # a subset
    python benchmarks/korean_tasks.py --lr 2e-4 --out runs/ko-tasks-lr2e-4   # another learning rate, for all
    python benchmarks/korean_tasks.py --lr 2e-4 --epochs 20 --tasks pos --out runs/ko-tasks-pos20   # longer
    python benchmarks/korean_tasks.py --select --lr 3e-4 --tasks nsmc --out runs/ko-sel-3e-4   # choose settings

Tasks (data in ../shared/data; splits made here, deterministically, into OUT/data):
  nsmc  NSMC-derived sentiment, 30,000 train / 10,000 test reviews — accuracy
  ner   KLUE NER dev (5,000 sentences) split 4,000 / 1,000 by sentence (seed 0) — entity F1 (word level, conlleval)
  nli   KLUE NLI dev (3,000 pairs) split 2,400 / 600 by premise (800 / 200 premises, seed 0) — accuracy
  pos   UD Korean-GSD, dev → train, test → test — UPOS token accuracy
Models: ko-mini (the packaged Korean BERT), minilm (the packaged English all-MiniLM-L6-v2), scratch (ko-mini's
size and vocabulary, random weights): the same fine-tuning settings and steps for all. NSMC also gets TF-IDF
(word 1–2-grams and character 1–3-grams) + logistic regression (scikit-learn).

Each figure is the test metric after the last epoch (no model selection on the test split). Settings (--lr,
--epochs) are chosen with --select, which never reads the test split: each task's training split is cut 4/5 : 1/5
(seed 0; NLI by premise) and the held-out fifth stands in for the test file. Results go to OUT/results.json and a
markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

TASKS = {
    # task: (finetune task, epochs, max_seq_length, lr, extra FinetuneConfig fields)
    "nsmc": ("classify", 2, 64, 5e-5, {"text_col": "document", "label_col": "label"}),
    "ner": ("tag", 5, 128, 5e-5, {"tag_format": "klue"}),
    "nli": ("classify", 5, 128, 5e-5, {"text_col": "premise", "text_pair_col": "hypothesis",
                                       "label_col": "gold_label"}),
    "pos": ("tag", 5, 128, 5e-5, {"tag_format": "conllu"}),
}
MODELS = ("ko-mini", "minilm", "scratch")


def make_splits(data: Path, out: Path, select: bool = False) -> dict[str, tuple[Path, Path]]:
    """The train / test file of every task, written into ``out`` (the shared files are only read). ``select``: the
    train / held-out files for choosing settings instead, cut from each training split alone (see select_splits)."""
    out.mkdir(parents=True, exist_ok=True)
    splits = {"nsmc": (data / "nsmc-raw-derived" / "ratings_train_30k.txt",
                       data / "nsmc-raw-derived" / "ratings_test_10k.txt"),
              "pos": (data / "ud-korean-gsd" / "ko_gsd-ud-dev.conllu",
                      data / "ud-korean-gsd" / "ko_gsd-ud-test.conllu")}
    header, sentences = sentence_blocks((data / "klue" / "klue-ner-v1.1_dev.tsv").read_text(encoding="utf-8"))
    for name, part in zip(("ner-train.tsv", "ner-test.tsv"), four_fifths(sentences)):  # 4,000 / 1,000
        (out / name).write_text("\n\n".join(header + part) + "\n", encoding="utf-8")
    splits["ner"] = (out / "ner-train.tsv", out / "ner-test.tsv")
    # KLUE NLI writes three hypotheses for every premise, one per label, so the split is by premise: split by pair,
    # most test premises sit in training with the *other* two labels, and a model that memorises premises scores
    # below chance (docs/models/ko-mini.md has the figures).
    pairs = json.loads((data / "klue" / "klue-nli-v1.1_dev.json").read_text(encoding="utf-8"))
    train_pairs, test_pairs = premise_split(pairs)
    random.Random(0).shuffle(train_pairs)
    for name, part in (("nli-train.jsonl", train_pairs), ("nli-test.jsonl", test_pairs)):
        (out / name).write_text(jsonl(part), encoding="utf-8")
    splits["nli"] = (out / "nli-train.jsonl", out / "nli-test.jsonl")
    return select_splits(splits, out) if select else splits


def sentence_blocks(text: str) -> tuple[list[str], list[str]]:
    """KLUE NER and CoNLL-U: sentences separated by blank lines (KLUE NER's first blocks are '##' header lines,
    kept apart so that every split file starts with them)."""
    blocks = [b for b in text.strip("\n").split("\n\n") if b.strip()]
    header = [b for b in blocks if all(line.startswith("##") for line in b.splitlines())]
    return header, [b for b in blocks if b not in header]


def four_fifths(items: list) -> tuple[list, list]:
    """``items`` shuffled (seed 0) and cut 4/5 : 1/5."""
    items = list(items)
    random.Random(0).shuffle(items)
    k = len(items) * 4 // 5
    return items[:k], items[k:]


def premise_split(pairs: list[dict]) -> tuple[list[dict], list[dict]]:
    """4/5 : 1/5 of the premises (seed 0) with all their pairs."""
    held_out = set(four_fifths(sorted({p["premise"] for p in pairs}))[1])
    return [p for p in pairs if p["premise"] not in held_out], [p for p in pairs if p["premise"] in held_out]


def jsonl(pairs: list[dict]) -> str:
    return "".join(json.dumps({k: p[k] for k in ("premise", "hypothesis", "gold_label")}, ensure_ascii=False) + "\n"
                   for p in pairs)


def select_splits(splits: dict[str, tuple[Path, Path]], out: Path) -> dict[str, tuple[Path, Path]]:
    """Each task's training file cut 4/5 : 1/5 (seed 0) into ``out/select-*``; the test files are never read.
    The records cut are TSV rows (NSMC, under its header), JSON lines (NLI, by premise, as the test split is) and
    blank-line-separated sentences (NER and UPOS, after any header blocks of '##' lines)."""
    cut = {}
    for task, (train, _test) in splits.items():
        text = train.read_text(encoding="utf-8")
        if task == "nsmc":
            # split("\n"), not splitlines(): a review may hold U+2028 or U+0085, which are not row ends in a TSV
            header, *rows = (line + "\n" for line in text.rstrip("\n").split("\n"))
            parts = tuple("".join([header, *part]) for part in four_fifths(rows))
        elif task == "nli":
            pairs = [json.loads(line) for line in text.rstrip("\n").split("\n")]
            parts = tuple(jsonl(part) for part in premise_split(pairs))
        else:
            header, sentences = sentence_blocks(text)
            parts = tuple("\n\n".join(header + part) + "\n" for part in four_fifths(sentences))
        files = tuple(out / f"select-{name}-{train.name}" for name in ("train", "heldout"))
        for f, part in zip(files, parts):
            f.write_text(part, encoding="utf-8")
        cut[task] = files
    return cut


def scratch_model(like: str, out: Path) -> Path:
    """``like``'s config and tokenizer with freshly initialised weights (seed 0)."""
    import torch

    from bertgan.bert.config import BertConfig
    from bertgan.bert.hub import model_path, save_pretrained
    from bertgan.bert.model import BertForPreTraining

    src = model_path(like)
    if not (out / "model.safetensors").is_file():
        torch.manual_seed(0)
        save_pretrained(BertForPreTraining(BertConfig.from_json_file(src / "config.json")), out)
        for f in src.iterdir():
            if f.name not in ("config.json", "model.safetensors") and f.suffix in (".txt", ".json"):
                shutil.copy(f, out / f.name)
    return out


def tfidf_nsmc(train: Path, test: Path) -> dict:
    import csv

    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    def read(p):
        with open(p, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        return [r["document"] or "" for r in rows], [int(r["label"]) for r in rows]

    (xa, ya), (xb, yb) = read(train), read(test)
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    fa = hstack([words.fit_transform(xa), chars.fit_transform(xa)]).tocsr()
    fb = hstack([words.transform(xb), chars.transform(xb)]).tocsr()
    clf = LogisticRegression(C=4.0, max_iter=2000).fit(fa, ya)
    return {"accuracy": float((clf.predict(fb) == yb).mean())}


def run(task: str, model: str, splits, out: Path, seed: int, progress: bool, lr: float | None = None,
        epochs: int | None = None, max_seq_length: int | None = None) -> dict:
    from bertgan.bert.config import FinetuneConfig
    from bertgan.bert.finetune import finetune

    kind, task_epochs, seq, task_lr, extra = TASKS[task]
    lr, epochs, seq = lr or task_lr, epochs or task_epochs, max_seq_length or seq
    train, test = splits[task]
    folder = out / f"{task}-{model}"
    metrics_file = folder / "metrics.jsonl"
    t0 = time.perf_counter()
    if not metrics_file.is_file() or not any("eval_" in line for line in metrics_file.read_text().splitlines()):
        shutil.rmtree(folder, ignore_errors=True)
        source = str(scratch_model("ko-mini", out / "scratch-model")) if model == "scratch" else model
        cfg = FinetuneConfig(task=kind, model=source, train=str(train), dev=str(test), epochs=epochs,
                             max_seq_length=seq, lr=lr, batch_size=32, seed=seed, precision="fp32", **extra)
        finetune(cfg, folder, progress=progress)
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    last = [r for r in rows if any(k.startswith("eval_") for k in r)][-1]
    return {k[len("eval_"):]: v for k, v in last.items() if k.startswith("eval_")} | {
        "step": last["step"], "lr": lr, "epochs": epochs, "max_seq_length": seq,
        "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--out", required=True)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=None,
                   help="fine-tuning learning rate for every task and model (default: each task's in TASKS); "
                        "use a new --out per value, as finished runs are reused")
    p.add_argument("--epochs", type=int, default=None,
                   help="fine-tuning epochs for every task and model (default: each task's in TASKS); a new --out "
                        "per value, as for --lr")
    p.add_argument("--max-seq-length", type=int, default=None,
                   help="pieces per example for every task (default: each task's in TASKS); a new --out per value")
    p.add_argument("--select", action="store_true",
                   help="choose settings without the test split: train on 4/5 of each training split and report "
                        "the held-out fifth (a new --out, as for --lr)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args()
    if a.epochs is not None and a.epochs < 1:
        p.error(f"--epochs {a.epochs}: must be at least 1")
    out = Path(a.out)
    splits = make_splits(Path(a.data_dir), out / "data", select=a.select)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for task in a.tasks.split(","):
        if task == "nsmc" and "tfidf" not in results.get("nsmc", {}):
            results.setdefault("nsmc", {})["tfidf"] = tfidf_nsmc(*splits["nsmc"])
        for model in a.models.split(","):
            results.setdefault(task, {})[model] = run(task, model, splits, out, a.seed, not a.no_progress, a.lr,
                                                    a.epochs, a.max_seq_length)
            results_path.write_text(json.dumps(results, indent=2))
    main_metric = {"nsmc": "accuracy", "ner": "f1", "nli": "accuracy", "pos": "token_accuracy"}
    print("| task | " + " | ".join(MODELS) + " | TF-IDF + LR |\n|---|" + "---|" * (len(MODELS) + 1))
    for task, by_model in results.items():
        cells = [f"{100 * by_model[m][main_metric[task]]:.1f}" if m in by_model else "—" for m in MODELS]
        tfidf = f"{100 * by_model['tfidf']['accuracy']:.1f}" if "tfidf" in by_model else ""
        print(f"| {task} ({main_metric[task]}) | " + " | ".join(cells) + f" | {tfidf} |")


if __name__ == "__main__":
    main()

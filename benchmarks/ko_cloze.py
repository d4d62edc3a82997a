"""A Korean cloze test: top-5 accuracy of a masked LM on 100 everyday sentences, and the BERT text's own sentence.

    python benchmarks/ko_cloze.py --model ko-mini
    python benchmarks/ko_cloze.py --model ko-mini --model runs/ko/bert-ko-mini/final --json runs/ko/cloze.json

tests/data/ko-cloze.tsv holds one sentence per line with one [MASK] where an eojeol's head word was (the particle
stays, as in the BERT text's '나는 [MASK]에 가서 …') and the answers a Korean reader accepts there ('|'-separated).
A sentence counts as right when any accepted answer is among the model's top 5 words, decoded as whole words of up to
3 pieces (fill-mask --whole-word 3: the joint probability of the pieces, ranked over 1-, 2- and 3-piece words), and
under the plain one-piece decoding (the top 5 pieces) — both are reported. Then the top 10 of each mask of
'나는 [MASK]에 가서 사과와 [MASK]를 샀다'.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

CLOZE = Path(__file__).resolve().parent.parent / "tests" / "data" / "ko-cloze.tsv"
SEED_SENTENCE = "나는 [MASK]에 가서 사과와 [MASK]를 샀다"


def read_cloze(path: Path = CLOZE) -> list[tuple[str, set[str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(r["sentence"], set(r["answers"].split("|"))) for r in rows]


def cloze(model: str, k: int = 5, pieces: int = 3) -> dict:
    from bertgan.bert.hub import model_path
    from bertgan.bert.pipelines import FillMaskPipeline

    folder = Path(model) if Path(model).is_dir() else model_path(model)
    fill = FillMaskPipeline(folder)
    items = read_cloze()
    texts = [s for s, _ in items]
    words = fill(texts, top_k=k, whole_word=pieces)
    single = fill(texts, top_k=k)
    hit_w = [bool({p["word"] for p in w[0]} & ok) for w, (_, ok) in zip(words, items)]
    hit_1 = [bool({p["token"].removeprefix("##") for p in s[0]} & ok) for s, (_, ok) in zip(single, items)]
    seed = fill([SEED_SENTENCE], top_k=10, whole_word=pieces)[0]
    return {"model": model, "sentences": len(items), f"top{k}_whole_word": sum(hit_w) / len(items),
            f"top{k}_one_piece": sum(hit_1) / len(items),
            "seed_sentence_top10": [[f"{p['word']} {p['score']:.3f}" for p in m] for m in seed],
            "examples": [{"sentence": s, "top": [p["word"] for p in w[0]], "right": h}
                         for (s, _), w, h in list(zip(items, words, hit_w))[:10]]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="a packaged name or a model folder (repeatable)")
    p.add_argument("--json", help="write the results here too")
    a = p.parse_args()
    results = [cloze(m) for m in a.model]
    for r in results:
        print(f"{r['model']}: top-5 {100 * r['top5_whole_word']:.0f}% (whole words of ≤ 3 pieces), "
              f"{100 * r['top5_one_piece']:.0f}% (one piece) of {r['sentences']} sentences")
        for i, m in enumerate(r["seed_sentence_top10"]):
            print(f"  {SEED_SENTENCE} — [MASK] {i + 1}: " + ", ".join(m))
    if a.json:
        Path(a.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

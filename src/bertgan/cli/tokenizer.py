"""``bertgan tokenizer …``: train a WordPiece vocabulary, encode text with one, measure its OOV rate (the BERT text)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bertgan.errors import UsageError

_TRAIN_HELP = """\
Learn a WordPiece vocabulary (the BERT text: "Token Embedding은 ... Word Piece 단위로") with the HF tokenizers trainer.

examples:
  bertgan tokenizer train --corpus ../shared/data/konlpy-corpus docs.txt --vocab-size 5000 --out tok/ko
  bertgan tokenizer train --corpus ../shared/data/wikitext-2/valid.txt --vocab-size 3000 --cased --out tok/en

Text is lowercased unless --cased; accents are kept unless --strip-accents (stripping decomposes Hangul into
jamo). The folder gets vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json, which
transformers.BertTokenizerFast.from_pretrained loads, and word_vocab.txt (the word-level vocabulary of the same
size, for 'bertgan tokenizer oov'). A folder given to --corpus means all the .txt files under it."""

_OOV_HELP = """\
The BERT text's claim measured: the share of the words of a held-out text that become [UNK] with the WordPiece
vocabulary, and with a word-level vocabulary of the same size built from the same corpus.

examples:
  bertgan tokenizer oov --tokenizer tok/ko --text heldout.txt
  bertgan tokenizer oov --tokenizer ../shared/data/all-MiniLM-L6-v2-tokenizer --text a.txt --corpus b.txt"""


def register(sub) -> None:
    from bertgan.bert.tokenizer import TRUNCATIONS
    from bertgan.cli import GROUPS, _Parser, add_dry_run

    tok = sub.add_parser("tokenizer", help=GROUPS["tokenizer"],
                         description="BERT's WordPiece tokenizer: train, encode, measure OOV.")
    tsub = tok.add_subparsers(dest="tokenizer_command", metavar="COMMAND", parser_class=_Parser)
    tok.set_defaults(func=lambda a: (tok.print_help(), 2)[1])

    t = tsub.add_parser("train", help="learn a WordPiece vocabulary from text files", description=_TRAIN_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--corpus", nargs="+", required=True, metavar="FILE",
                   help="UTF-8 text files (or folders of .txt files)")
    t.add_argument("--vocab-size", type=int, required=True, help="entries, special tokens included (BERT: 30,000)")
    t.add_argument("--cased", action="store_true", help="keep upper case (default: lowercase)")
    t.add_argument("--strip-accents", action="store_true",
                   help="remove accents (NFD; breaks Hangul into jamo, so not for Korean)")
    t.add_argument("--min-frequency", type=int, default=2, help="pairs seen fewer times are never merged (default 2)")
    t.add_argument("--limit-alphabet", type=int, metavar="N", help="keep only the N most frequent characters (a "
                   "word holding another becomes [UNK]); default: every character. A large-alphabet corpus such as "
                   "Korean Wikipedia (~17,000 characters) needs it")
    t.add_argument("--encoding-errors", choices=("strict", "replace"), default="strict",
                   help="strict (default): a byte that is not UTF-8 stops with its file, line and byte offset; "
                        "replace: read it as U+FFFD and go on")
    t.add_argument("--out", required=True, help="folder to write the tokenizer into")
    t.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out, replacing its tokenizer files (refused otherwise)")
    add_dry_run(t)
    t.set_defaults(func=cmd_train)

    e = tsub.add_parser("encode", help="show the tokens and ids of a text (or a text pair)",
                        description="Encode TEXT as BERT input: [CLS] TEXT [SEP] (PAIR [SEP]).")
    e.add_argument("--tokenizer", required=True, metavar="DIR", help=TOKENIZER_HELP)
    e.add_argument("text", metavar="TEXT")
    e.add_argument("--pair", metavar="TEXT", help="second segment (token_type_id 1)")
    e.add_argument("--max-length", type=int, help="cut to this many tokens, special tokens included")
    e.add_argument("--truncation", default="longest_first", choices=TRUNCATIONS,
                   help="which text to cut when over --max-length (default longest_first)")
    e.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_dry_run(e)
    e.set_defaults(func=cmd_encode)

    o = tsub.add_parser("oov", help="[UNK] rate of WordPiece vs a word-level vocabulary of the same size",
                        description=_OOV_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    o.add_argument("--tokenizer", required=True, metavar="DIR", help=TOKENIZER_HELP)
    o.add_argument("--text", required=True, metavar="FILE", help="held-out UTF-8 text")
    o.add_argument("--corpus", nargs="+", metavar="FILE",
                   help="build the word-level vocabulary from these files (default: DIR/word_vocab.txt)")
    add_dry_run(o)
    o.set_defaults(func=cmd_oov)


def cmd_train(args) -> int:
    from bertgan.bert.tokenizer import FILES, WORD_VOCAB, WordPieceTokenizer, check_corpus, check_vocab_size
    from bertgan.io import ensure_writable_dir

    check_vocab_size(args.vocab_size)
    if args.min_frequency < 1:
        raise UsageError(f"--min-frequency {args.min_frequency}: must be ≥ 1")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise UsageError(f"--out {out}: the folder is not empty (a tokenizer or model may live there); choose a new "
                         "folder, or pass --overwrite to replace its tokenizer files")
    paths = check_corpus(args.corpus, "--corpus", encoding_errors=args.encoding_errors)
    settings = (f"vocab size {args.vocab_size}, lowercase {'off' if args.cased else 'on'}, strip accents "
                f"{'on' if args.strip_accents else 'off'}, min frequency {args.min_frequency}"
                + (f", alphabet ≤ {args.limit_alphabet} characters" if args.limit_alphabet else ""))
    if args.dry_run:
        size = sum(p.stat().st_size for p in paths)
        print(f"would train WordPiece on {len(paths)} file(s), {size:,} bytes ({settings})")
        for p in paths:
            print(f"  {p}")
        print(f"and write {', '.join(FILES + (WORD_VOCAB,))} into {out}")
        return 0
    created = not out.exists()
    ensure_writable_dir(out, "--out")  # fail before the work, not after it
    try:
        tok = WordPieceTokenizer.train(paths, args.vocab_size, lowercase=not args.cased,
                                       strip_accents=args.strip_accents, min_frequency=args.min_frequency,
                                       limit_alphabet=args.limit_alphabet,
                                       encoding_errors=args.encoding_errors)
    except BaseException:
        if created and not any(out.iterdir()):
            out.rmdir()  # leave nothing behind when training fails (e.g. --vocab-size too small)
        raise
    written = tok.save(out)
    print(f"trained WordPiece on {len(paths)} file(s): {tok.vocab_size} entries ({settings})")
    if tok.vocab_size < args.vocab_size:
        print(f"trained {tok.vocab_size:,} of {args.vocab_size:,} requested: the corpus has too few distinct pieces "
              f"seen at least {args.min_frequency} times; the word-level vocabulary has {tok.vocab_size:,} entries too")
    print(f"wrote {', '.join(p.name for p in written)} into {out}")
    return 0


TOKENIZER_HELP = "tokenizer folder (or any model folder), or a packaged model's name (bertgan bert list-models)"


def _tokenizer(name: str):
    """A tokenizer folder, or the folder of a packaged model named ``name``."""
    from pathlib import Path

    from bertgan.bert.hub import model_path
    from bertgan.bert.tokenizer import WordPieceTokenizer

    return WordPieceTokenizer.from_dir(name if Path(name).is_dir() else model_path(name, "--tokenizer"))


def cmd_encode(args) -> int:
    tok = _tokenizer(args.tokenizer)
    if args.dry_run:
        print(f"would encode 1 text{' pair' if args.pair else ''} with {args.tokenizer} ({tok.vocab_size} entries)")
        return 0
    enc = tok.encode(args.text, args.pair, max_length=args.max_length, truncation=args.truncation)
    if args.json:
        print(json.dumps({"tokens": enc.tokens, "ids": enc.ids, "token_type_ids": enc.token_type_ids,
                          "offsets": enc.offsets}, ensure_ascii=False))
        return 0
    texts = (args.text, args.pair)
    print(f"{'#':>4}  {'token':<16} {'id':>7}  type  offsets   text")
    for i, (t, tid, tt, (s, e), seq) in enumerate(zip(enc.tokens, enc.ids, enc.token_type_ids, enc.offsets,
                                                       enc.sequence_ids)):
        span = "" if seq is None else texts[seq][s:e]
        print(f"{i:>4}  {t:<16} {tid:>7}  {tt:>4}  {f'{s}:{e}':<8}  {span}")
    return 0


def cmd_oov(args) -> int:
    from bertgan.bert.tokenizer import build_word_vocab, measure_oov, read_lines

    tok = _tokenizer(args.tokenizer)
    lines = read_lines(args.text)
    if args.dry_run:
        print(f"would measure the [UNK] rate of {args.tokenizer} ({tok.vocab_size} entries) on {len(lines)} line(s)"
              f" of {args.text}")
        return 0
    word_vocab = None
    source = f"{Path(args.tokenizer) / 'word_vocab.txt'}"
    if args.corpus:
        word_vocab = build_word_vocab(args.corpus, tok.vocab_size, lowercase=tok.lowercase,
                                      strip_accents=tok.strip_accents,
                                      tokenize_chinese_chars=tok.tokenize_chinese_chars)
        source = "--corpus " + " ".join(args.corpus)
    r = measure_oov(tok, lines, word_vocab)
    print(f"held-out text {args.text}: {r.words:,} words")
    rows = [("WordPiece", r.vocab_size, r.wordpiece_unk, r.wordpiece_rate, args.tokenizer),
            ("word-level", r.word_vocab_size, r.word_level_unk, r.word_level_rate, source)]
    for name, size, unk, rate, src in rows:
        print(f"  {name:<10}  {size:>7,} entries  [UNK] {unk:>9,} words = {rate:6.2f}%   ({src})")
    print(f"  WordPiece cuts it into {r.pieces:,} pieces: {r.pieces / r.words:.2f} a word, "
          f"{r.pieces_per_eojeol:.2f} a whitespace-separated word (eojeol)")
    return 0

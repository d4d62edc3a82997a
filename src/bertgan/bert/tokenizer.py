"""BERT's WordPiece tokenizer (seed 000): train a vocabulary, load any BERT tokenizer folder, encode for the model.

Seed 000: "Token Embedding은 ... Word Piece 단위로" — BERT does not embed whole words but WordPiece units (Wu et al.
2016; Devlin et al. 2018 §3 use a 30,000-piece vocabulary). A word missing from the vocabulary is split into
pieces that are in it: "'감사합니다'라는 한 구절은 '감사-'와 '-합니다'라는 Word Piece로 나뉘어", which is how the
seed says WordPiece solves the out-of-vocabulary (OOV) problem. :func:`measure_oov` measures that claim.

Why it is built this way:

* The fast path is the Rust ``tokenizers`` library (the one HF ``transformers`` uses): its WordPiece *trainer*
  builds the vocabulary and its ``Tokenizer`` does normalisation, pre-tokenisation, WordPiece, special tokens,
  truncation, padding and character offsets. This module only configures it the way BERT's reference
  ``tokenization.py`` does, checks the user's input, and saves folders that ``transformers.BertTokenizerFast``
  loads to the same ids. ``transformers`` itself is never imported here.
* The normaliser is built with ``strip_accents`` always set explicitly. BERT's uncased recipe strips accents by
  NFD-decomposing the text and dropping combining marks; NFD also decomposes every precomposed Hangul syllable
  into conjoining jamo (감 → ᄀ ᅡ ᆷ), so a Korean vocabulary would be learnt over jamo and pieces such as '감사'
  could not exist. ``tokenizers``' ``BertNormalizer(lowercase=True, strip_accents=None)`` strips accents, so
  ``None`` is resolved here before it reaches the normaliser: when training, accents are kept unless asked for;
  when loading, ``tokenizer_config.json``'s value is used and ``null`` means what it means in BERT (= lowercase).
* A folder is loaded the way ``transformers``' ``BertTokenizer`` does (vocabulary from ``tokenizer.json`` if
  present, else ``vocab.txt``; options from ``tokenizer_config.json``), so both give the same ids.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from bertgan.data.text import corpus_files, raw_lines
from bertgan.errors import UsageError
from bertgan.io import read_json

# BERT's special tokens in the order of the original vocabulary ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102,
# [MASK] 103); a vocabulary trained here packs them first: [PAD] = 0, [UNK] = 1, [CLS] = 2, [SEP] = 3, [MASK] = 4.
SPECIAL_ROLES = ("pad", "unk", "cls", "sep", "mask")
DEFAULT_SPECIALS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
PREFIX = "##"  # BERT marks a piece that continues a word with '##' (seed: '-합니다' is written '##합니다')
MAX_CHARS_PER_WORD = 100  # BERT's tokenization.py: longer "words" become [UNK] whole
TRUNCATIONS = ("longest_first", "only_first", "only_second")
PADDINGS = ("longest", "max_length")
FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
WORD_VOCAB = "word_vocab.txt"


@dataclass
class Encoding:
    """One encoded text or text pair: lists of the same length, one entry per token."""

    ids: list[int]
    token_type_ids: list[int]  # segment A (with [CLS] and its [SEP]) = 0, segment B (with the last [SEP]) = 1
    attention_mask: list[int]  # 1 for real tokens, 0 for padding
    tokens: list[str]
    offsets: list[tuple[int, int]]  # character span in the text it came from (A or B); special tokens: (0, 0)
    special_tokens_mask: list[int]  # 1 for [CLS], [SEP], [PAD]
    word_ids: list[int | None]  # index of the pre-tokenised word within its own text; None for special tokens
    sequence_ids: list[int | None]  # 0 = first text, 1 = second text, None = special token

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class OOVReport:
    """How many words of a text each vocabulary cannot represent (see :func:`measure_oov`)."""

    words: int  # words of the text, as split by BERT's pre-tokeniser after normalisation
    wordpiece_unk: int  # words that WordPiece turns into [UNK]
    word_level_unk: int  # words missing from the word-level vocabulary of the same size
    vocab_size: int
    word_vocab_size: int
    pieces: int = 0  # WordPiece tokens of the text (a word that becomes [UNK] counts one)
    eojeols: int = 0  # whitespace-separated words (for Korean, eojeols) of the text

    @property
    def pieces_per_eojeol(self) -> float:
        """How finely WordPiece cuts: tokens per whitespace-separated word (a Korean eojeol)."""
        return self.pieces / self.eojeols if self.eojeols else 0.0

    @property
    def wordpiece_rate(self) -> float:
        return 100.0 * self.wordpiece_unk / self.words if self.words else 0.0

    @property
    def word_level_rate(self) -> float:
        return 100.0 * self.word_level_unk / self.words if self.words else 0.0


def _normalizer(lowercase: bool, strip_accents: bool, chinese_chars: bool = True):
    # strip_accents is a bool here, never None: None would let BertNormalizer strip (NFD) whenever lowercase is on.
    return normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=chinese_chars,
                                      strip_accents=bool(strip_accents), lowercase=lowercase)


class WordPieceTokenizer:
    """BERT's tokenizer: BasicTokenizer-equivalent normalisation and splitting, then greedy longest-match WordPiece.

    Build one with :meth:`train` or :meth:`from_dir`; the constructor takes a vocabulary (token → id).
    """

    def __init__(self, vocab: dict[str, int], *, lowercase: bool = True, strip_accents: bool = False,
                 tokenize_chinese_chars: bool = True, special_tokens: dict[str, str] | None = None,
                 max_input_chars_per_word: int = MAX_CHARS_PER_WORD, word_vocab: Sequence[str] | None = None):
        specials = {**DEFAULT_SPECIALS, **(special_tokens or {})}
        missing = [specials[r] for r in SPECIAL_ROLES if specials[r] not in vocab]
        if missing:
            raise UsageError(f"the vocabulary lacks the special token(s) {', '.join(missing)}; BERT needs "
                             f"{', '.join(specials[r] for r in SPECIAL_ROLES)} in vocab.txt")
        self.lowercase = bool(lowercase)
        self.strip_accents = bool(strip_accents)
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.special_tokens = {r: specials[r] for r in SPECIAL_ROLES}
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.word_vocab = list(word_vocab) if word_vocab is not None else None

        tok = Tokenizer(models.WordPiece(vocab, unk_token=specials["unk"], continuing_subword_prefix=PREFIX,
                                         max_input_chars_per_word=self.max_input_chars_per_word))
        tok.normalizer = _normalizer(self.lowercase, self.strip_accents, self.tokenize_chinese_chars)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix=PREFIX)
        self._set_specials(tok)
        self._tok = tok
        self._lock = threading.Lock()  # truncation/padding are settings of the shared Rust object

    def _set_specials(self, tok: Tokenizer) -> None:
        # Special tokens are matched in the raw text before normalisation ("[MASK]" stays one token, as in HF),
        # and BERT's input format (Devlin et al. §3, Fig. 2) is [CLS] A [SEP] (B [SEP]) with segments 0 and 1.
        tok.add_special_tokens([AddedToken(self.special_tokens[r], normalized=False, special=True)
                                for r in SPECIAL_ROLES])
        cls, sep = self.special_tokens["cls"], self.special_tokens["sep"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))])

    # ------------------------------------------------------------------ building
    @classmethod
    def train(cls, files: str | Path | Iterable[str | Path], vocab_size: int, lowercase: bool = True,
              strip_accents: bool = False, min_frequency: int = 2, encoding_errors: str = "strict",
              limit_alphabet: int | None = None) -> WordPieceTokenizer:
        """Learn a WordPiece vocabulary of ``vocab_size`` entries (special tokens included) from UTF-8 text files.

        Folders are read recursively (``*.txt``). Also learns the word-level vocabulary of the same size (the most
        frequent normalised words) that :func:`measure_oov` compares against. ``encoding_errors='replace'`` reads
        bytes that are not UTF-8 as U+FFFD instead of stopping.
        """
        check_vocab_size(vocab_size)
        if not isinstance(min_frequency, int) or min_frequency < 1:
            raise UsageError(f"--min-frequency {min_frequency}: must be a whole number ≥ 1")
        if limit_alphabet is not None and (not isinstance(limit_alphabet, int) or limit_alphabet < 1):
            raise UsageError(f"--limit-alphabet {limit_alphabet}: must be a whole number ≥ 1")
        paths = check_corpus(files, encoding_errors=encoding_errors)
        specials = [DEFAULT_SPECIALS[r] for r in SPECIAL_ROLES]
        tok = Tokenizer(models.WordPiece(unk_token=DEFAULT_SPECIALS["unk"], continuing_subword_prefix=PREFIX,
                                         max_input_chars_per_word=MAX_CHARS_PER_WORD))
        tok.normalizer = _normalizer(lowercase, strip_accents)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        # The HF WordPiece trainer is its BPE trainer with the '##' prefix (tokenizers' wordpiece/trainer.rs):
        # the special tokens, every character alone and as '##c', then the most frequent adjacent pair is merged
        # until vocab_size. Google's WordPiece picks merges by likelihood instead; its trainer was never released,
        # and inference (greedy longest match) is the same either way. Ids are renumbered afterwards.
        # limit_alphabet keeps only the most frequent characters: Korean Wikipedia has ~17,000 distinct characters
        # (rare Hanja and symbols), which would otherwise fill the vocabulary twice over (each also as '##c'); a
        # word holding a dropped character becomes [UNK], which 'tokenizer oov' measures.
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                            special_tokens=specials, continuing_subword_prefix=PREFIX,
                                            **({"limit_alphabet": limit_alphabet} if limit_alphabet else {}))
        _train(tok, paths, trainer, encoding_errors)
        got = tok.get_vocab_size()
        if got > vocab_size:
            # The trainer never drops characters: the alphabet (each character and its '##' form) is a floor.
            raise UsageError(f"--vocab-size {vocab_size} is too small for this corpus: its characters alone (each "
                             f"also as a '##' continuation) plus the special tokens need {got} entries; use "
                             f"--vocab-size {got} or more (more leaves room for multi-character pieces), or keep "
                             f"only the commonest characters with --limit-alphabet")
        vocab = _canonical_ids(tok.get_vocab())
        # The word-level vocabulary gets as many entries as WordPiece really has (a small corpus can leave it short
        # of vocab_size), so 'tokenizer oov' compares vocabularies of one size.
        word_vocab = _word_vocab(paths, got, lowercase, strip_accents, True, encoding_errors)
        return cls(vocab, lowercase=lowercase, strip_accents=strip_accents, word_vocab=word_vocab)

    @classmethod
    def from_dir(cls, path: str | Path) -> WordPieceTokenizer:
        """Load a BERT tokenizer folder (``vocab.txt`` and/or ``tokenizer.json``, ``tokenizer_config.json``).

        Mirrors ``transformers.BertTokenizer``: the vocabulary comes from ``tokenizer.json`` when there is one,
        else ``vocab.txt``; ``do_lower_case`` / ``strip_accents`` / ``tokenize_chinese_chars`` come from
        ``tokenizer_config.json`` (when the config lacks them, from ``tokenizer.json``'s BertNormalizer, else
        BERT's defaults: lowercase, and strip accents exactly when lowercasing).
        """
        path = Path(path)
        if not path.is_dir():
            raise UsageError(f"--tokenizer {path}: no such folder; give a folder holding vocab.txt and/or "
                             "tokenizer.json (e.g. one written by 'bertgan tokenizer train')")
        config = read_json(path / "tokenizer_config.json")
        special_map = read_json(path / "special_tokens_map.json")
        tj = read_json(path / "tokenizer.json")
        if tj is not None:
            model = tj.get("model") or {}
            if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
                raise UsageError(f"{path / 'tokenizer.json'}: model is {model.get('type')!r}, not a WordPiece "
                                 "vocabulary; this is not a BERT tokenizer")
            vocab = {str(k): int(v) for k, v in model["vocab"].items()}
            max_chars = int(model.get("max_input_chars_per_word") or MAX_CHARS_PER_WORD)
            norm = tj.get("normalizer") or {}
            norm = norm if norm.get("type") == "BertNormalizer" else {}
        elif (path / "vocab.txt").is_file():
            vocab = _read_vocab_txt(path / "vocab.txt")
            max_chars, norm = MAX_CHARS_PER_WORD, {}
        else:
            raise UsageError(f"--tokenizer {path}: holds neither vocab.txt nor tokenizer.json; point it at a BERT "
                             "tokenizer folder or make one with 'bertgan tokenizer train'")
        if not vocab:
            raise UsageError(f"{path}: the vocabulary is empty")
        config = config or {}
        lowercase = _option(config, "do_lower_case", norm.get("lowercase"), True)
        strip = _option(config, "strip_accents", norm.get("strip_accents"), None)
        chinese = _option(config, "tokenize_chinese_chars", norm.get("handle_chinese_chars"), True)
        specials = {}
        for source in (config, special_map or {}):
            for role in SPECIAL_ROLES:
                value = source.get(f"{role}_token")
                value = value.get("content") if isinstance(value, dict) else value
                if isinstance(value, str):
                    specials[role] = value
        word_vocab = None
        if (path / WORD_VOCAB).is_file():
            word_vocab = _read_lines(path / WORD_VOCAB)
        # BERT (and transformers) read strip_accents=None as "strip when lowercasing"; resolved here, explicitly.
        return cls(vocab, lowercase=bool(lowercase), strip_accents=bool(lowercase if strip is None else strip),
                   tokenize_chinese_chars=bool(chinese), special_tokens=specials,
                   max_input_chars_per_word=max_chars, word_vocab=word_vocab)

    def save(self, path: str | Path) -> list[Path]:
        """Write vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json (and word_vocab.txt).

        Each file is written atomically; ``transformers.BertTokenizerFast.from_pretrained(path)`` loads the folder.
        """
        from bertgan.io import ensure_writable_dir, write_json, write_text

        path = ensure_writable_dir(path, "--out")
        inv = self._id_to_token_list()
        st = self.special_tokens
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": self.lowercase,
                  "strip_accents": self.strip_accents, "tokenize_chinese_chars": self.tokenize_chinese_chars,
                  "do_basic_tokenize": True, "model_max_length": 512,
                  **{f"{r}_token": st[r] for r in SPECIAL_ROLES}}
        write_text(path / "vocab.txt", "".join(t + "\n" for t in inv))
        write_text(path / "tokenizer.json", self._tok.to_str(pretty=True))
        write_json(path / "tokenizer_config.json", config)
        write_json(path / "special_tokens_map.json", {f"{r}_token": st[r] for r in SPECIAL_ROLES})
        written = [path / f for f in FILES]
        if self.word_vocab is not None:
            write_text(path / WORD_VOCAB, "".join(w + "\n" for w in self.word_vocab))
            written.append(path / WORD_VOCAB)
        return written

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self._tok.get_vocab(with_added_tokens=True)

    def _special_id(self, role: str) -> int:
        return self._tok.token_to_id(self.special_tokens[role])

    @property
    def pad_token_id(self) -> int:
        return self._special_id("pad")

    @property
    def unk_token_id(self) -> int:
        return self._special_id("unk")

    @property
    def cls_token_id(self) -> int:
        return self._special_id("cls")

    @property
    def sep_token_id(self) -> int:
        return self._special_id("sep")

    @property
    def mask_token_id(self) -> int:
        return self._special_id("mask")

    @property
    def all_special_ids(self) -> list[int]:
        return [self._special_id(r) for r in SPECIAL_ROLES]

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        """Token → id; a token not in the vocabulary gives [UNK]'s id (as in BERT)."""
        unk = self.unk_token_id
        one = lambda t: (lambda i: unk if i is None else i)(self._tok.token_to_id(t))
        return one(tokens) if isinstance(tokens, str) else [one(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | list[str]:
        def one(i):
            t = self._tok.id_to_token(int(i))
            if t is None:
                raise UsageError(f"token id {i}: not in the vocabulary (ids run from 0 to {self.vocab_size - 1})")
            return t

        return one(ids) if isinstance(ids, int) else [one(i) for i in ids]

    def _id_to_token_list(self) -> list[str]:
        vocab = self.get_vocab()
        inv = [None] * (max(vocab.values()) + 1)
        for t, i in vocab.items():
            inv[i] = t
        if any(t is None for t in inv):
            raise UsageError("the vocabulary's ids have gaps; vocab.txt needs one token for every id")
        return inv

    # ------------------------------------------------------------------ encoding
    def _configure(self, max_length: int | None, truncation: str | None, pair: bool,
                   padding: bool | str = False) -> None:
        tok = self._tok
        if max_length is not None:
            n_special = 3 if pair else 2
            if not isinstance(max_length, int) or max_length <= n_special:
                raise UsageError(f"max_length {max_length}: must be more than the {n_special} special tokens "
                                 f"of a {'pair' if pair else 'single text'} (BERT used up to 512)")
        if truncation is not None and truncation not in TRUNCATIONS:
            raise UsageError(f"truncation {truncation!r}: use one of {', '.join(TRUNCATIONS)}, or None")
        if truncation == "only_second" and not pair and max_length is not None:
            raise UsageError("truncation='only_second' needs a second text (pair=...); use 'longest_first'")
        if max_length is not None and truncation is not None:
            tok.enable_truncation(max_length, strategy=truncation)
        else:
            tok.no_truncation()
        if padding in (False, None):
            tok.no_padding()
        else:
            if padding is True:
                padding = "longest"
            if padding not in PADDINGS:
                raise UsageError(f"padding {padding!r}: use True / 'longest', 'max_length' or False")
            if padding == "max_length" and max_length is None:
                raise UsageError("padding='max_length' needs max_length")
            tok.enable_padding(pad_id=self.pad_token_id, pad_type_id=0, pad_token=self.special_tokens["pad"],
                               length=max_length if padding == "max_length" else None)

    def _run(self, fn):
        try:
            return fn()
        except Exception as e:  # the Rust side raises plain Exception
            msg = str(e)
            if "Truncation error" in msg:
                raise UsageError(f"cannot truncate to max_length: {msg.split(': ', 1)[-1]} (the first text alone is "
                                 "too long for 'only_second'; raise max_length or use 'longest_first')") from e
            raise

    @staticmethod
    def _convert(e) -> Encoding:
        return Encoding(ids=list(e.ids), token_type_ids=list(e.type_ids), attention_mask=list(e.attention_mask),
                        tokens=list(e.tokens), offsets=[tuple(o) for o in e.offsets],
                        special_tokens_mask=list(e.special_tokens_mask), word_ids=list(e.word_ids),
                        sequence_ids=list(e.sequence_ids))

    def encode(self, text: str, pair: str | None = None, max_length: int | None = None,
               truncation: str | None = "longest_first") -> Encoding:
        """[CLS] text [SEP] (pair [SEP]), cut to ``max_length`` tokens by ``truncation`` (None: never cut)."""
        _check_text(text, "text")
        if pair is not None:
            _check_text(pair, "pair")
        with self._lock:
            self._configure(max_length, truncation, pair is not None)
            return self._convert(self._run(lambda: self._tok.encode(text, pair)))

    def encode_batch(self, texts: Sequence[str], pairs: Sequence[str] | None = None, max_length: int | None = None,
                     truncation: str | None = "longest_first", padding: bool | str = True,
                     return_tensors: str | None = None) -> dict:
        """Encode many texts (or pairs) at once, in parallel in Rust.

        Returns ``input_ids``, ``token_type_ids``, ``attention_mask``, ``special_tokens_mask`` and
        ``offset_mapping``: lists of lists, or with ``return_tensors='pt'`` int64 tensors (which needs padding).
        ``padding``: True / 'longest' (to the longest in the batch), 'max_length', or False.
        """
        if isinstance(texts, str):
            raise UsageError("encode_batch takes a list of texts; use encode() for one text")
        texts = list(texts)
        for i, t in enumerate(texts):
            _check_text(t, f"texts[{i}]")
        if pairs is not None:
            pairs = list(pairs)
            if len(pairs) != len(texts):
                raise UsageError(f"pairs has {len(pairs)} texts but texts has {len(texts)}; give one pair per text")
            for i, t in enumerate(pairs):
                _check_text(t, f"pairs[{i}]")
        if return_tensors not in (None, "pt"):
            raise UsageError(f"return_tensors {return_tensors!r}: use None (lists) or 'pt' (torch tensors)")
        inputs = list(zip(texts, pairs)) if pairs is not None else texts
        with self._lock:
            self._configure(max_length, truncation, pairs is not None, padding)
            try:
                encs = self._run(lambda: self._tok.encode_batch(inputs))
            finally:
                self._tok.no_padding()
        out = {"input_ids": [e.ids for e in encs], "token_type_ids": [e.type_ids for e in encs],
               "attention_mask": [e.attention_mask for e in encs],
               "special_tokens_mask": [e.special_tokens_mask for e in encs],
               "offset_mapping": [[tuple(o) for o in e.offsets] for e in encs]}
        if return_tensors == "pt":
            if len({len(ids) for ids in out["input_ids"]}) > 1:
                raise UsageError("return_tensors='pt' needs sequences of one length; use padding=True")
            import torch  # only here: the tokenizer itself does not need torch

            out = {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}
        return out

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of ``text``, without special tokens."""
        _check_text(text, "text")
        with self._lock:
            self._configure(None, None, False)
            return list(self._tok.encode(text, add_special_tokens=False).tokens)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Ids → text: '##' pieces are glued to the piece before them, words are joined by spaces."""
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise UsageError(f"token id {bad[0]}: not in the vocabulary (ids run from 0 to {self.vocab_size - 1})")
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)

    # ------------------------------------------------------------------ words, for the OOV measurement
    def words(self, text: str) -> list[str]:
        """``text`` normalised and split the way BERT's BasicTokenizer does (whitespace and punctuation)."""
        norm = self._tok.normalizer.normalize_str(text)
        return [w for w, _ in self._tok.pre_tokenizer.pre_tokenize_str(norm)]

    def __repr__(self) -> str:
        return (f"WordPieceTokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase}, "
                f"strip_accents={self.strip_accents})")


# ---------------------------------------------------------------------- corpus and OOV helpers
def _train(tok: Tokenizer, paths: list[Path], trainer, encoding_errors: str) -> None:
    if encoding_errors == "strict" and not any(p.name.endswith(".gz") for p in paths):
        tok.train([str(p) for p in paths], trainer)
    else:  # the Rust file reader takes neither gzip nor bad bytes: feed it decoded lines (U+FFFD for bad bytes)
        def batches():
            batch = []
            for p in paths:
                for raw in raw_lines(p):
                    batch.append(raw.decode("utf-8", errors="replace"))
                    if len(batch) == 1000:
                        yield batch
                        batch = []
            yield batch
        tok.train_from_iterator(batches(), trainer)


MAX_VOCAB = 1_000_000
"""The largest --vocab-size accepted: multilingual BERT has ~120,000 entries; a million is far past any use, and
the embedding table of a much larger one would not fit in memory."""


def check_vocab_size(vocab_size) -> None:
    if not isinstance(vocab_size, int) or not len(SPECIAL_ROLES) < vocab_size <= MAX_VOCAB:
        raise UsageError(f"--vocab-size {vocab_size}: must be more than the {len(SPECIAL_ROLES)} special tokens and at "
                         f"most {MAX_VOCAB:,} (BERT used 30,000; a few thousand suits a small corpus)")


def check_corpus(files: str | Path | Iterable[str | Path], flag: str = "--corpus",
                 encoding_errors: str = "strict") -> list[Path]:
    """The corpus files (folders expanded to their ``.txt``/``.jsonl`` files, plain or ``.gz``), each checked to
    be UTF-8; not all empty. ``flag`` names the option in error messages."""
    paths = corpus_files(files, flag)
    if encoding_errors not in ("strict", "replace"):
        raise UsageError(f"--encoding-errors {encoding_errors}: use strict or replace")
    if not any(_check_utf8(p, encoding_errors) for p in paths):
        shown = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        raise UsageError(f"{flag} {shown}: empty (no line with text in it); pass files with text in them")
    return paths


def _check_utf8(path: Path, encoding_errors: str = "strict") -> int:
    """Count the non-blank lines of ``path``; raise naming the line, column and byte offset of the first non-UTF-8
    byte (unless encoding_errors='replace')."""
    nonblank, offset = 0, 0
    try:
        for lineno, raw in enumerate(raw_lines(path), 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                if encoding_errors == "replace":
                    line = raw.decode("utf-8", errors="replace")
                else:
                    col = len(raw[:e.start].decode("utf-8", errors="replace")) + 1
                    raise UsageError(
                        f"{path} line {lineno}, column {col} (byte offset {offset + e.start}): byte "
                        f"0x{raw[e.start]:02x} is not UTF-8; convert the file, e.g. iconv -f cp949 -t utf-8 "
                        f"{path} > {path}.utf8, or pass --encoding-errors replace") from None
            offset += len(raw)
            nonblank += bool(line.strip())
    except OSError as e:
        raise UsageError(f"{path}: cannot read it ({e.strerror})") from e
    return nonblank


def read_lines(path: str | Path, flag: str = "--text") -> list[str]:
    """A UTF-8 text file's lines (checked like a corpus)."""
    paths = check_corpus([path], flag)
    return [raw.decode("utf-8").rstrip("\r\n") for p in paths for raw in raw_lines(p)]


def build_word_vocab(files: str | Path | Iterable[str | Path], size: int, lowercase: bool = True,
                     strip_accents: bool = False, tokenize_chinese_chars: bool = True,
                     encoding_errors: str = "strict") -> list[str]:
    """The word-level vocabulary of ``size`` entries: BERT's special tokens, then the most frequent words of the
    corpus after the same normalisation and pre-tokenisation as WordPiece (HF's WordLevel trainer counts them)."""
    return _word_vocab(check_corpus(files, encoding_errors=encoding_errors), size, lowercase, strip_accents,
                       tokenize_chinese_chars, encoding_errors)


def _word_vocab(paths: list[Path], size: int, lowercase: bool, strip_accents: bool, tokenize_chinese_chars: bool,
                encoding_errors: str) -> list[str]:
    tok = Tokenizer(models.WordLevel(unk_token=DEFAULT_SPECIALS["unk"]))
    tok.normalizer = _normalizer(lowercase, strip_accents, tokenize_chinese_chars)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordLevelTrainer(vocab_size=size, min_frequency=1, show_progress=False,
                                        special_tokens=[DEFAULT_SPECIALS[r] for r in SPECIAL_ROLES])
    _train(tok, paths, trainer, encoding_errors)
    vocab = tok.get_vocab()
    return sorted(vocab, key=vocab.__getitem__)


def measure_oov(tokenizer: WordPieceTokenizer, lines: Iterable[str],
                word_vocab: Iterable[str] | None = None) -> OOVReport:
    """Seed 000's claim, measured: the share of the words of ``lines`` that each vocabulary maps to [UNK].

    Words are what BERT's pre-tokeniser makes of the normalised text. A word is [UNK] for WordPiece when it
    cannot be spelt with the vocabulary's pieces; for the word-level vocabulary (default: the tokenizer's own
    ``word_vocab``, the same size, from the same corpus) when it is not in it.
    """
    if word_vocab is None:
        word_vocab = tokenizer.word_vocab
    if word_vocab is None:
        raise UsageError("no word-level vocabulary to compare with: this tokenizer folder has no word_vocab.txt "
                         "(only 'bertgan tokenizer train' writes one); pass --corpus FILE to build it")
    word_vocab = list(word_vocab)
    known = set(word_vocab)
    counts: Counter[str] = Counter()
    eojeols = 0
    for line in lines:
        counts.update(tokenizer.words(line))
        eojeols += len(line.split())
    total = sum(counts.values())
    if not total:
        raise UsageError("--text: the held-out text has no words; pass a file with text in it")
    model = tokenizer._tok.model
    wp = pieces = 0
    for w, n in counts.items():
        toks = model.tokenize(w)
        pieces += n * len(toks)
        wp += n * any(t.value == tokenizer.special_tokens["unk"] for t in toks)
    wl = sum(n for w, n in counts.items() if w not in known)
    return OOVReport(words=total, wordpiece_unk=wp, word_level_unk=wl, vocab_size=tokenizer.vocab_size,
                     word_vocab_size=len(word_vocab), pieces=pieces, eojeols=eojeols)


def _canonical_ids(vocab: dict[str, int]) -> dict[str, int]:
    """Renumber a trained vocabulary so that the same corpus always gives the same ids.

    The HF trainer's id order follows hash-map iteration and ties in the pair score, so it changes from run to
    run although the set of pieces does not. WordPiece only asks whether a piece is in the vocabulary (greedy
    longest match), so ids can be renumbered freely: special tokens first (BERT's order), then the characters,
    then the characters as '##' continuations, then the longer pieces, each group in code-point order.
    """
    specials = [DEFAULT_SPECIALS[r] for r in SPECIAL_ROLES]
    rest = [t for t in vocab if t not in specials]

    def key(t: str):
        cont = t.startswith(PREFIX)
        body = t[len(PREFIX):] if cont else t
        return (len(body) > 1, cont, body)

    return {t: i for i, t in enumerate(specials + sorted(rest, key=key))}


# ---------------------------------------------------------------------- small readers
def _check_text(text, name: str) -> None:
    if not isinstance(text, str):
        raise UsageError(f"{name}: expected a string, got {type(text).__name__}")


def _option(config: dict, key: str, fallback, default):
    if key in config:
        return config[key]
    return default if fallback is None else fallback


def _read_lines(path: Path) -> list[str]:
    # As transformers' load_vocab: text-mode lines (universal newlines), only the newline removed; not
    # str.splitlines, which would also split inside tokens at U+2028, U+0085 and the like.
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
        return lines[:-1] if lines and lines[-1] == "" else lines
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 (byte {e.start}); a vocabulary file must be UTF-8") from e


def _read_vocab_txt(path: Path) -> dict[str, int]:
    return {tok: i for i, tok in enumerate(_read_lines(path))}

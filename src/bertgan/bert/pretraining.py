"""Pre-training data: next-sentence pairs and the masked-LM corruption of seed 000 (the corpus pipeline and the
training loop come with the pre-training issue).

Seed 000 on NSP: "[SEP] 토큰으로 구분된 두 개의 문장을 준 후, 두 문장이 이어지는 문장인지를 맞추도록 학습" —
two segments, and the model says whether B really follows A.

Seed 000: "신경망에 입력되는 텍스트의 15%를 임의로 정해 Masking한 후, 이를 예측" and, because [MASK] never appears in
fine-tuning, "임의로 선택된 15%의 토큰 중 80%만 실제로 [MASK]로 변경하고, 나머지 10%는 임의의 단어로 변경, 남은 10%는
동일하게 둔다" (Devlin et al. 2018, §3.1 and Appendix C.2).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import torch


def word_starts(tokens: list[str], offsets: list[tuple[int, int]], text_of: list[str | None],
                special: list[int]) -> list[bool]:
    """Where a new word begins, for whole-word masking: a token starts a word unless it is a '##' continuation
    piece or follows the previous token with no whitespace in between in the same text (so for Korean a word is a
    whitespace-separated eojeol: '샀다.' is one word although BERT splits off the '.'). ``text_of[i]`` is the text
    token i came from (A or B of a pair), None for special tokens."""
    starts = []
    for i in range(len(tokens)):
        if special[i] or i == 0 or special[i - 1] or text_of[i] is not text_of[i - 1]:
            starts.append(True)
        else:  # '##' pieces and attached punctuation have no whitespace before them: same word
            gap = text_of[i][offsets[i - 1][1]:offsets[i][0]]
            starts.append(any(ch.isspace() for ch in gap))
    return starts


def mask_tokens(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, *, mask_token_id: int, vocab_size: int,
                mlm_probability: float = 0.15, generator: torch.Generator | None = None,
                word_starts: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids (N, L), special_tokens_mask (N, L): 1 at [CLS]/[SEP]/[PAD]) → (corrupted ids, labels).

    As google-research/bert's create_pretraining_data.py: each sequence gets exactly max(1, round(n · p)) of its n
    real tokens chosen (never a special token); each chosen token becomes [MASK] with probability 0.8, a uniformly
    random vocabulary token with probability 0.1, and stays as it is otherwise. labels hold the original id at the
    chosen positions and −100 (ignored by the loss) everywhere else. Called afresh each time a sequence is used,
    this is RoBERTa's dynamic masking.

    With ``word_starts`` (N, L), True where a word begins (see :func:`word_starts`): whole-word masking — whole
    words are drawn in random order and taken while they fit in the sequence's count, as google-research/bert
    does, so a word's pieces are always chosen together; each chosen token still gets its own 80/10/10 draw.
    """
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    n, length = input_ids.shape
    device = input_ids.device
    eligible = ~special_tokens_mask.bool()
    count = eligible.sum(1)  # (N,)
    k = (count.float() * mlm_probability).round().clamp(min=1).long().minimum(count)  # tokens to choose per row
    if word_starts is None:
        # A uniformly random subset of size k among the eligible positions: rank random scores, keep the k smallest.
        scores = torch.rand(n, length, generator=generator, device=device).masked_fill(~eligible, 2.0)
        order = scores.argsort(dim=1)
        rank = torch.empty_like(order).scatter_(1, order, torch.arange(length, device=device).expand(n, length))
        chosen = (rank < k[:, None]) & eligible  # (N, L)
    else:
        chosen = _choose_whole_words(eligible, word_starts.bool() | ~eligible, k, generator)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    r = torch.rand(n, length, generator=generator, device=device)
    corrupted = input_ids.clone()
    corrupted[chosen & (r < 0.8)] = mask_token_id
    to_random = chosen & (r >= 0.8) & (r < 0.9)
    corrupted[to_random] = torch.randint(vocab_size, (int(to_random.sum()),), generator=generator, device=device)
    return corrupted, labels


def _choose_whole_words(eligible: torch.Tensor, starts: torch.Tensor, k: torch.Tensor,
                        generator: torch.Generator | None) -> torch.Tensor:
    chosen = torch.zeros_like(eligible)
    word = starts.long().cumsum(1)  # (N, L): word index of every token
    for row in range(eligible.shape[0]):
        ids = word[row][eligible[row]]
        positions = eligible[row].nonzero().flatten()
        groups = torch.unique_consecutive(ids)
        sizes = torch.stack([(ids == g).sum() for g in groups]) if len(groups) else ids
        order = torch.randperm(len(groups), generator=generator)
        total, take = 0, []
        for j in order.tolist():  # google: add whole words while they fit in num_to_predict
            if total >= k[row]:
                break
            if total + int(sizes[j]) > k[row]:
                continue
            total += int(sizes[j])
            take.append(groups[j])
        if take:
            chosen[row, positions[torch.isin(ids, torch.stack(take))]] = True
    return chosen


@dataclass
class PairInstance:
    tokens_a: list[int]
    tokens_b: list[int]
    is_random_next: bool  # NSP label 1 (NotNext) when True, 0 (IsNext) when False — transformers' convention


def nsp_instances(documents: list[list[list[int]]], max_seq_length: int, short_seq_prob: float = 0.1,
                  rng: random.Random | None = None) -> list[PairInstance]:
    """Sentence pairs from tokenised documents (a document is a list of sentences, a sentence a list of ids): every
    document's :func:`document_instances`, in order, drawing from one ``rng``."""
    rng = rng or random.Random(0)
    documents = [[s for s in doc if s] for doc in documents]
    documents = [d for d in documents if d]
    if len(documents) < 2:
        raise ValueError("next-sentence pairs need at least two non-empty documents (NotNext takes B from another)")
    out: list[PairInstance] = []
    for d, doc in enumerate(documents):
        out.extend(document_instances(doc, functools.partial(_other, documents, d, rng), max_seq_length,
                                      short_seq_prob, rng))
    return out


def _other(documents: list, d: int, rng: random.Random):
    other = d
    while other == d:
        other = rng.randrange(len(documents))
    return documents[other]


def document_instances(doc: list[list[int]], random_document, max_seq_length: int, short_seq_prob: float,
                       rng: random.Random, nsp: bool = True) -> list[PairInstance]:
    """The pairs of one document, as google-research/bert's create_instances_from_document: sentences are packed
    into a chunk toward max_seq_length − 3 (room for [CLS] A [SEP] B [SEP]; with probability short_seq_prob toward a
    shorter random target, so the model also sees short inputs); A is the chunk's first 1..n−1 sentences; B is the
    rest of the chunk (IsNext) or, half of the time and always for a one-sentence chunk, text from
    ``random_document()`` — another document, as a list of sentences (NotNext, and the unused sentences go back
    into the pool); the longer of A and B is cut one token at a time from a random end until the pair fits.

    With ``nsp=False`` (RoBERTa's FULL-SENTENCES without NSP) a chunk is one segment A toward max_seq_length − 2
    and B is empty; no other document is needed."""
    doc = [s for s in doc if s]
    max_tokens = max_seq_length - (3 if nsp else 2)
    if max_tokens < 2:
        raise ValueError(f"max_seq_length {max_seq_length} leaves no room for two segments")
    out: list[PairInstance] = []
    target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
    chunk: list[list[int]] = []
    length, i = 0, 0
    while i < len(doc):
        chunk.append(doc[i])
        length += len(doc[i])
        if i == len(doc) - 1 or length >= target:
            if not nsp:
                a = [t for s in chunk for t in s][:max_tokens]
                out.append(PairInstance(a, [], False))
            else:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a = [t for s in chunk[:a_end] for t in s]
                if len(chunk) == 1 or rng.random() < 0.5:
                    random_next = True
                    b: list[int] = []
                    other_doc = [s for s in random_document() if s]
                    for s in other_doc[rng.randrange(len(other_doc)):]:
                        b.extend(s)
                        if len(b) >= target - len(a):
                            break
                    i -= len(chunk) - a_end  # the sentences not used as A are used again
                else:
                    random_next = False
                    b = [t for s in chunk[a_end:] for t in s]
                _truncate_pair(a, b, max_tokens, rng)
                out.append(PairInstance(a, b, random_next))
            chunk, length = [], 0
            target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
        i += 1
    return out


def _truncate_pair(a: list[int], b: list[int], max_tokens: int, rng: random.Random) -> None:
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        # From the front or the back at random: google's note — "to add more randomness and avoid biases".
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()

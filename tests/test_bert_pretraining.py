"""MLM corruption: the seed's ratios measured over a large sample (15% ± 0.5; 80/10/10 ± 1)."""

import pytest
import torch

from bertgan.bert.pretraining import mask_tokens

V, MASK = 30522, 103


def _batch(n=4000, length=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, V, (n, length), generator=g)
    lengths = torch.randint(8, length + 1, (n,), generator=g)
    pos = torch.arange(length).expand(n, length)
    special = pos >= lengths[:, None]  # padding
    special[:, 0] = True  # [CLS]
    special[torch.arange(n), lengths - 1] = True  # [SEP]
    return ids, special


def test_seed_ratios_over_a_large_sample():
    ids, special = _batch()
    out, labels = mask_tokens(ids, special, mask_token_id=MASK, vocab_size=V,
                              generator=torch.Generator().manual_seed(1))
    chosen = labels != -100
    real = ~special
    assert abs(chosen.sum().item() / real.sum().item() - 0.15) < 0.005  # 15% ± 0.5
    c = chosen.sum().item()
    as_mask = (out[chosen] == MASK).sum().item() / c
    unchanged = (out[chosen] == ids[chosen]).sum().item() / c
    replaced = 1 - as_mask - unchanged
    assert abs(as_mask - 0.8) < 0.01 and abs(replaced - 0.1) < 0.01 and abs(unchanged - 0.1) < 0.01
    assert not (chosen & special).any()  # never [CLS], [SEP] or [PAD]
    assert torch.equal(out[~chosen], ids[~chosen])  # nothing else changes
    assert torch.equal(labels[chosen], ids[chosen])  # labels are the originals


def test_exact_count_per_sequence_like_google_bert():
    ids, special = _batch(n=50)
    _, labels = mask_tokens(ids, special, mask_token_id=MASK, vocab_size=V)
    n_real = (~special).sum(1).float()
    expected = (n_real * 0.15).round().clamp(min=1)
    assert torch.equal((labels != -100).sum(1).float(), expected)


def test_dynamic_masking_and_seeding():
    ids, special = _batch(n=20)
    a = mask_tokens(ids, special, mask_token_id=MASK, vocab_size=V, generator=torch.Generator().manual_seed(3))
    b = mask_tokens(ids, special, mask_token_id=MASK, vocab_size=V, generator=torch.Generator().manual_seed(3))
    c = mask_tokens(ids, special, mask_token_id=MASK, vocab_size=V, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # same seed, same mask
    assert not torch.equal(a[1], c[1])  # a fresh draw masks other positions


def test_bad_probability():
    ids, special = _batch(n=2)
    with pytest.raises(ValueError):
        mask_tokens(ids, special, mask_token_id=MASK, vocab_size=V, mlm_probability=1.5)


def _encode_words(tok, text):
    from bertgan.bert.pretraining import word_starts

    e = tok.encode(text)
    text_of = [None if sp else text for sp in e.special_tokens_mask]
    return e, word_starts(e.tokens, e.offsets, text_of, e.special_tokens_mask)


def test_word_starts_for_korean_eojeol_and_wordpiece(shared_file):
    from bertgan.bert.tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer.from_dir(shared_file("all-MiniLM-L6-v2-tokenizer"))
    e, starts = _encode_words(tok, "unaffable words, really.")
    words = []
    for t, s in zip(e.tokens, starts):
        if s:
            words.append([])
        words[-1].append(t)
    # pieces and attached punctuation stay with their word
    assert words == [["[CLS]"], ["una", "##ffa", "##ble"], ["words", ","], ["really", "."], ["[SEP]"]]
    e, starts = _encode_words(tok, "나는 슈퍼에 가서 사과와 바나나를 샀다.")
    assert sum(starts) == 6 + 2  # six eojeol (whitespace-separated words) plus [CLS] and [SEP]


def test_whole_word_masking_keeps_words_together(shared_file):
    from bertgan.bert.tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer.from_dir(shared_file("all-MiniLM-L6-v2-tokenizer"))
    text = " ".join(["unaffable hyperparameterization supercalifragilistic, tokenization."] * 6)
    e, starts = _encode_words(tok, text)
    ids = torch.tensor([e.ids] * 300)
    special = torch.tensor([e.special_tokens_mask] * 300).bool()
    ws = torch.tensor([starts] * 300)
    _, labels = mask_tokens(ids, special, mask_token_id=MASK, vocab_size=V, word_starts=ws,
                            generator=torch.Generator().manual_seed(0))
    chosen = labels != -100
    word = ws.long().cumsum(1)
    for row in range(0, 300, 7):
        for w in word[row][chosen[row]].unique():
            members = (word[row] == w) & ~special[row]
            assert chosen[row][members].all()  # every piece of a chosen word is chosen
    frac = chosen.sum().item() / (~special).sum().item()
    assert 0.10 < frac <= 0.15  # words are taken while they fit: never more than 15%


def _documents(n_docs=200, seed=0):
    """Token id = doc · 100000 + sentence · 100 + position: every token says where it came from."""
    import random

    r = random.Random(seed)
    return [[[d * 100000 + s * 100 + p for p in range(r.randint(5, 30))] for s in range(r.randint(2, 20))]
            for d in range(n_docs)]


def test_nsp_pairs_half_random_and_from_the_right_documents():
    import random

    from bertgan.bert.pretraining import nsp_instances

    docs = _documents()
    inst = nsp_instances(docs, max_seq_length=128, short_seq_prob=0.1, rng=random.Random(1))
    assert len(inst) > 500
    frac = sum(x.is_random_next for x in inst) / len(inst)
    assert 0.45 < frac < 0.62  # 50% by coin, plus the one-sentence chunks that must take a random B
    for x in inst:
        assert x.tokens_a and x.tokens_b and len(x.tokens_a) + len(x.tokens_b) <= 125
        doc_a = {t // 100000 for t in x.tokens_a}
        doc_b = {t // 100000 for t in x.tokens_b}
        assert len(doc_a) == 1
        if x.is_random_next:
            assert doc_a.isdisjoint(doc_b)  # NotNext: B from another document
        else:
            assert doc_b == doc_a  # IsNext: B continues A in the same document
            last_a = max(t // 100 % 1000 for t in x.tokens_a)
            first_b = min(t // 100 % 1000 for t in x.tokens_b)
            assert first_b > last_a  # and comes after it
    short = sum(len(x.tokens_a) + len(x.tokens_b) < 60 for x in inst) / len(inst)
    assert short > 0.05  # short_seq_prob produces shorter sequences too


def test_nsp_is_seeded_and_needs_two_documents():
    import random

    from bertgan.bert.pretraining import nsp_instances

    docs = _documents(20)
    a = nsp_instances(docs, 64, rng=random.Random(5))
    b = nsp_instances(docs, 64, rng=random.Random(5))
    assert a == b
    with pytest.raises(ValueError, match="two non-empty documents"):
        nsp_instances(docs[:1], 64)

"""Pre-training data: the masked-LM corruption of seed 000 (NSP pairs and the corpus pipeline come with the
pre-training issue).

Seed 000: "신경망에 입력되는 텍스트의 15%를 임의로 정해 Masking한 후, 이를 예측" and, because [MASK] never appears in
fine-tuning, "임의로 선택된 15%의 토큰 중 80%만 실제로 [MASK]로 변경하고, 나머지 10%는 임의의 단어로 변경, 남은 10%는
동일하게 둔다" (Devlin et al. 2018, §3.1 and Appendix C.2).
"""

from __future__ import annotations

import torch


def mask_tokens(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, *, mask_token_id: int, vocab_size: int,
                mlm_probability: float = 0.15, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids (N, L), special_tokens_mask (N, L): 1 at [CLS]/[SEP]/[PAD]) → (corrupted ids, labels).

    As google-research/bert's create_pretraining_data.py: each sequence gets exactly max(1, round(n · p)) of its n
    real tokens chosen (never a special token); each chosen token becomes [MASK] with probability 0.8, a uniformly
    random vocabulary token with probability 0.1, and stays as it is otherwise. labels hold the original id at the
    chosen positions and −100 (ignored by the loss) everywhere else. Called afresh each time a sequence is used,
    this is RoBERTa's dynamic masking.
    """
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    n, length = input_ids.shape
    device = input_ids.device
    eligible = ~special_tokens_mask.bool()
    count = eligible.sum(1)  # (N,)
    k = (count.float() * mlm_probability).round().clamp(min=1).long().minimum(count)  # tokens to choose per row
    # A uniformly random subset of size k among the eligible positions: rank random scores, keep the k smallest.
    scores = torch.rand(n, length, generator=generator, device=device).masked_fill(~eligible, 2.0)
    order = scores.argsort(dim=1)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(length, device=device).expand(n, length))
    chosen = (rank < k[:, None]) & eligible  # (N, L)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    r = torch.rand(n, length, generator=generator, device=device)
    corrupted = input_ids.clone()
    corrupted[chosen & (r < 0.8)] = mask_token_id
    to_random = chosen & (r >= 0.8) & (r < 0.9)
    corrupted[to_random] = torch.randint(vocab_size, (int(to_random.sum()),), generator=generator, device=device)
    return corrupted, labels

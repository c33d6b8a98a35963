"""Turn corpus lines into training windows: packed causal-LM streams and BERT-style MLM batches."""
from __future__ import annotations

import numpy as np
import torch


def encode_lines(tokenizer, lines: list[str], add_special_tokens: bool = False) -> list[list[int]]:
    return tokenizer(lines, add_special_tokens=add_special_tokens)["input_ids"]


def causal_stream(encoded: list[list[int]], eos_id: int) -> np.ndarray:
    """All lines joined into one id stream, each followed by end-of-text."""
    out = []
    for ids in encoded:
        out.extend(ids)
        out.append(eos_id)
    return np.asarray(out, dtype=np.int64)


def causal_windows(stream: np.ndarray, seq_len: int) -> torch.Tensor:
    """[n_windows, seq_len] non-overlapping windows (the tail that does not fill one is dropped)."""
    n = len(stream) // seq_len
    return torch.from_numpy(stream[: n * seq_len].reshape(n, seq_len).copy())


def bert_sequences(encoded: list[list[int]], seq_len: int, cls_id: int, sep_id: int, pad_id: int) -> torch.Tensor:
    """Pack documents as `[CLS] a [SEP] b [SEP] ...` up to seq_len, padding the rest.  [n, seq_len]

    A document longer than one sequence is cut into consecutive pieces of seq_len - 2 tokens
    (each its own segment), so no text is dropped and every position up to seq_len is used.
    """
    seqs, cur = [], [cls_id]
    pieces = (doc[i: i + seq_len - 2] for doc in encoded for i in range(0, len(doc), seq_len - 2))
    for ids in pieces:
        if len(cur) + len(ids) + 1 > seq_len:
            seqs.append(cur + [pad_id] * (seq_len - len(cur)))
            cur = [cls_id]
        cur += ids + [sep_id]
    if len(cur) > 1:
        seqs.append(cur + [pad_id] * (seq_len - len(cur)))
    return torch.tensor(seqs, dtype=torch.long)


def mask_for_mlm(ids: torch.Tensor, special_ids: list[int], mask_id: int, vocab_size: int,
                 generator: torch.Generator, rate: float = 0.15, replace_only: bool = False):
    """BERT's masking: choose `rate` of the ordinary tokens; 80% -> [MASK], 10% random, 10% kept.

    With replace_only=True every chosen token becomes [MASK] (how we evaluate).
    Returns (inputs, labels) where labels is -100 except at the chosen positions.
    """
    ordinary = ~torch.isin(ids, torch.tensor(special_ids))
    chosen = (torch.rand(ids.shape, generator=generator) < rate) & ordinary
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    inputs = ids.clone()
    if replace_only:
        inputs[chosen] = mask_id
        return inputs, labels
    roll = torch.rand(ids.shape, generator=generator)
    inputs[chosen & (roll < 0.8)] = mask_id
    rand_pos = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[rand_pos] = torch.randint(len(special_ids), vocab_size, (int(rand_pos.sum()),), generator=generator)
    return inputs, labels

"""The quality bar of the bundled models, recomputed by the tests in seconds.

- causal LMs: held-out perplexity vs. a unigram model fitted on the training tokens (add-one
  smoothing), scored on exactly the same held-out target tokens;
- masked LM: top-5 accuracy on held-out tokens replaced by [MASK] (15%, seeded).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from explorer.zoo.data import bert_sequences, causal_stream, causal_windows, encode_lines, mask_for_mlm


@torch.no_grad()
def causal_perplexity(model, windows: torch.Tensor, batch: int = 16) -> float:
    """exp(mean next-token NLL) over every target position of every window."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        ids = windows[i: i + batch]
        logits = model(input_ids=ids).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                                reduction="sum")
        total += nll.item()
        count += ids[:, 1:].numel()
    return math.exp(total / count)


def unigram_perplexity(train_stream: np.ndarray, windows: torch.Tensor, vocab_size: int) -> float:
    """Perplexity of an add-one unigram model on the same targets `causal_perplexity` scores."""
    counts = np.bincount(train_stream, minlength=vocab_size).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    targets = windows[:, 1:].reshape(-1).numpy()
    return float(math.exp(-logp[targets].mean()))


@torch.no_grad()
def mlm_top_k_accuracy(model, sequences: torch.Tensor, special_ids: list[int], mask_id: int, pad_id: int,
                       k: int = 5, seed: int = 0, batch: int = 32) -> float:
    model.eval()
    g = torch.Generator().manual_seed(seed)
    hits, count = 0, 0
    for i in range(0, len(sequences), batch):
        ids = sequences[i: i + batch]
        inputs, labels = mask_for_mlm(ids, special_ids, mask_id, model.config.vocab_size, g, replace_only=True)
        logits = model(input_ids=inputs, attention_mask=(ids != pad_id).long()).logits
        sel = labels != -100
        top = logits[sel].topk(k, dim=-1).indices
        hits += (top == labels[sel].unsqueeze(-1)).any(-1).sum().item()
        count += int(sel.sum())
    return hits / max(count, 1)


def causal_eval_windows(tokenizer, lines: list[str], seq_len: int) -> torch.Tensor:
    return causal_windows(causal_stream(encode_lines(tokenizer, lines), tokenizer.eos_token_id), seq_len)


def mlm_eval_sequences(tokenizer, lines: list[str], seq_len: int) -> torch.Tensor:
    return bert_sequences(encode_lines(tokenizer, lines), seq_len, tokenizer.cls_token_id,
                          tokenizer.sep_token_id, tokenizer.pad_token_id)

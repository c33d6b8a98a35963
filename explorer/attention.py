"""Forward pass -> attention tensors + per-head statistics.

Shapes follow TransformerLens' naming: attention patterns are [layer, head, query, key].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.text import Encoded, encode


@dataclass
class AttentionResult:
    model_id: str
    tokens: list[str]          # the tokenizer's pieces, special tokens included
    ids: list[int]
    attn: np.ndarray           # float16 [layer, head, query, key]; every row sums to 1
    truncated: bool
    total_tokens: int
    causal: bool               # decoder (masked future) vs encoder

    @property
    def n_layers(self) -> int:
        return self.attn.shape[0]

    @property
    def n_heads(self) -> int:
        return self.attn.shape[1]

    @property
    def notice(self) -> str | None:
        return Encoded(self.ids, self.tokens, self.truncated, self.total_tokens).notice


@torch.no_grad()
def run_attention(lm, text: str, max_tokens: int) -> AttentionResult:
    """One eager forward pass with output_attentions; returns every layer's and head's pattern."""
    model, tok = lm.model, lm.tokenizer
    causal = lm.spec.family != "encoder"
    enc = encode(tok, text, min(max_tokens, lm.max_length))
    ids = torch.tensor([enc.ids])
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)
    if not out.attentions:
        raise RuntimeError("the model returned no attention weights (is it loaded with eager attention?)")
    attn = torch.stack(out.attentions, dim=0)[:, 0]          # [layer, head, query, key]
    return AttentionResult(lm.spec.id, enc.tokens, enc.ids, attn.float().numpy().astype(np.float16),
                           enc.truncated, enc.total, causal)


# ------------------------------------------------------------------ head statistics
# Each takes a pattern A[..., query, key] (rows sum to 1) and returns one number per head.

def entropy(a: np.ndarray) -> np.ndarray:
    """Mean over queries of the row entropy in bits; uniform attention over T keys gives log2 T."""
    a = a.astype(np.float64)
    return -(np.where(a > 0, a * np.log2(np.where(a > 0, a, 1)), 0.0)).sum(-1).mean(-1)


def previous_token_score(a: np.ndarray) -> np.ndarray:
    """Mean attention from each query (after the first) to the token just before it."""
    a = a.astype(np.float64)
    t = a.shape[-1]
    if t < 2:
        return np.zeros(a.shape[:-2])
    return np.diagonal(a, offset=-1, axis1=-2, axis2=-1).mean(-1)


def self_score(a: np.ndarray) -> np.ndarray:
    """Mean attention of each token to itself (the diagonal)."""
    return np.diagonal(a.astype(np.float64), axis1=-2, axis2=-1).mean(-1)


def sink_score(a: np.ndarray, key_index: int | list[int] = 0) -> np.ndarray:
    """Mean share of attention sent to the given key position(s), e.g. the first token or [CLS]/[SEP]."""
    idx = [key_index] if isinstance(key_index, int) else list(key_index)
    return a.astype(np.float64)[..., idx].sum(-1).mean(-1)

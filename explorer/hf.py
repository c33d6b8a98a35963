"""Every place the explorer reaches into transformers' internals, in one module.

The rest of the engine asks this adapter, never the library's object layout: where a model keeps
its blocks, its query/key projections, its routers, its final norm and rotary module; how a
`DynamicCache` stores its layers; what a router returns; which sub-word scheme a tokenizer uses.
`tests/unit/test_hf_adapter.py` pins each of these against the installed transformers with the
bundled models, so a library upgrade that moves one of them fails there, by name, instead of
showing a blank or wrong figure.

Pinned for transformers 5 (see requirements.txt).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from explorer.errors import NotSupported


# ------------------------------------------------------------------ config facts
def head_dim(config) -> int:
    """A model's per-head size: config.head_dim, else hidden_size / num_attention_heads (GPT-2 maps its
    n_embd / n_head onto those names)."""
    return int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)


# ------------------------------------------------------------------ blocks and their parts
def blocks(model) -> list:
    """The transformer blocks in order: Llama/Mistral/Mixtral `model.layers`, GPT-2 `transformer.h`,
    BERT `encoder.layer` (with or without a task head around the base model)."""
    base = getattr(model, "base_model", model)
    for path in ("layers", "h", "encoder.layer"):
        obj = base
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if len(obj):
            return list(obj)
    raise NotSupported(f"{type(model).__name__} has no transformer blocks this explorer can read (layers / h / encoder.layer).")


@dataclass
class QKSite:
    """Where one block's queries and keys can be read. `fused`: one module emits q, k and v side by side
    (GPT-2's c_attn), split into thirds."""
    q: Any
    k: Any | None
    fused: bool = False


def qk_sites(model) -> list[QKSite]:
    """Per block, the modules whose outputs are the queries and keys before any rotary step.

    Llama family: `self_attn.q_proj` / `k_proj`, or `q_norm` / `k_norm` where the model normalises per
    head (Qwen3, OLMo-2: the normalised vectors are what gets rotated). BERT: `attention.self.query` /
    `key`. GPT-2: `attn.c_attn` (fused q, k, v).
    """
    sites = []
    for b in blocks(model):
        if hasattr(b, "self_attn"):
            a = b.self_attn
            sites.append(QKSite(getattr(a, "q_norm", None) or a.q_proj, getattr(a, "k_norm", None) or a.k_proj))
        elif hasattr(b, "attention") and hasattr(getattr(b.attention, "self", None), "query"):
            sites.append(QKSite(b.attention.self.query, b.attention.self.key))
        elif hasattr(b, "attn") and hasattr(b.attn, "c_attn"):
            sites.append(QKSite(b.attn.c_attn, None, fused=True))
        else:
            raise NotSupported(f"{type(b).__name__} has no query/key projections this explorer can read.")
    return sites


def self_attention(model, layer: int = 0):
    """The attention module of a Llama-style block (`self_attn`): holds `scaling`, `head_dim`."""
    b = blocks(model)[layer]
    if not hasattr(b, "self_attn"):
        raise NotSupported("This model has no Llama-style decoder layers (model.layers[i].self_attn), so its rotary queries and keys cannot be read; choose a Llama-family model.")
    return b.self_attn


def softmax_scale(model, head_dim: int) -> float:
    """The factor scores are multiplied by before the softmax (`self_attn.scaling`, else 1/sqrt(d))."""
    try:
        return float(getattr(self_attention(model), "scaling", head_dim ** -0.5))
    except ValueError:
        return head_dim ** -0.5


# model types whose blocks are exactly "stream + attn(norm(stream)), then + mlp(norm(stream))", with an
# unscaled token embedding (+ GPT-2's learned positions): the residual stream is the sum of the sub-layer
# outputs. Gemma scales its embeddings and adds post-norms, so it is not listed.
PRE_NORM_SUM = ("gpt2", "llama", "mistral", "qwen2", "qwen3", "smollm3", "mixtral")


def embeddings(model) -> tuple[Any, Any | None]:
    """(token embedding module, learned position embedding module or None): GPT-2 `wte`/`wpe`,
    Llama family `embed_tokens` (no position table: RoPE acts inside attention)."""
    base = getattr(model, "base_model", model)
    tok = getattr(base, "wte", None) or getattr(base, "embed_tokens", None)
    if tok is None:
        raise ValueError(f"{type(model).__name__}: no token embedding found (wte / embed_tokens)")
    return tok, getattr(base, "wpe", None)


def sublayers(model) -> list[tuple[Any, Any]]:
    """Per block, (attention module, MLP module): the two modules whose outputs are added to the residual
    stream in a pre-norm decoder (GPT-2 `attn`/`mlp`, Llama family `self_attn`/`mlp`). The attention
    module returns (output, weights); the MLP returns its output."""
    if getattr(model.config, "model_type", "") not in PRE_NORM_SUM:
        raise ValueError("this view follows GPT-2 and Llama-style decoders (stream + attention + MLP), "
                         f"not {getattr(model.config, 'model_type', type(model).__name__)!r}")
    out = []
    for b in blocks(model):
        attn = getattr(b, "self_attn", None) or getattr(b, "attn", None)
        mlp = getattr(b, "mlp", None) or getattr(b, "block_sparse_moe", None)
        if attn is None or mlp is None:
            raise ValueError(f"{type(b).__name__}: no attention / MLP sub-layers found")
        out.append((attn, mlp))
    return out


def moe_blocks(model) -> list:
    """The sparse MoE block of every decoder layer (Mixtral: `mlp` with `.gate` and `.experts`)."""
    out = []
    for b in blocks(model):
        block = getattr(b, "mlp", None) or getattr(b, "block_sparse_moe", None)
        if block is None or not hasattr(block, "gate"):
            raise NotSupported("This model has no routed mixture-of-experts block in its layers (a Mixtral-style mlp.gate); choose a Mixtral-family model.")
        out.append(block)
    return out


def router_choice(output) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(weights [tokens, k], experts [tokens, k]) from a router's forward output.

    transformers 5's Mixtral router returns (logits, top-k weights, top-k indices); an older router
    returns the logits only, and then the choice must be recomputed (None).
    """
    if isinstance(output, tuple) and len(output) == 3:
        return output[1], output[2]
    return None


def rotary_module(model):
    """The model's rotary embedding module (`model.rotary_emb`, holds `inv_freq`), or None."""
    return getattr(getattr(model, "base_model", model), "rotary_emb", None)


def learned_positions(model) -> torch.Tensor:
    """GPT-2's learned absolute position table `wpe.weight` [n_positions, n_embd]."""
    wpe = getattr(getattr(model, "base_model", model), "wpe", None)
    if wpe is None:
        raise NotSupported("This model has no learned position embeddings (transformer.wpe); choose a GPT-2-family model.")
    return wpe.weight


def final_norm(model):
    """The model's own last normalisation before the unembedding (GPT-2: ln_f; Llama: model.norm)."""
    base = getattr(model, "base_model", model)
    for name in ("ln_f", "norm", "final_layer_norm"):
        m = getattr(base, name, None)
        if m is not None:
            return m
    raise NotSupported(f"{type(model).__name__} has no final norm this explorer can find.")


# ------------------------------------------------------------------ the KV cache
def new_cache(config):
    """An empty `DynamicCache` laid out for this config (sliding-window layers where the config has them)."""
    from transformers import DynamicCache
    return DynamicCache(config=config)


def cache_argument(cache) -> dict:
    """The keyword a forward pass takes its KV cache by (transformers 5.24: `cache=`; `past_key_values=` is
    deprecated)."""
    return {"cache": cache}


def output_cache(output):
    """The KV cache a forward pass returns (transformers 5.24: `output.cache`)."""
    return output.cache


def cache_layers(cache) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
    """(keys, values) of every layer: [batch, kv_heads, tokens, head_dim] each (transformers 5: `cache.layers`)."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def cache_length(cache) -> int:
    return int(cache.get_seq_length())


def crop_cache(cache, length: int) -> None:
    """Keep the first `length` positions."""
    extra = cache_length(cache) - length
    if extra > 0:
        cache.crop(-extra)


# ------------------------------------------------------------------ sliding windows
SLIDING_WINDOW_TYPES = ("mistral", "mixtral")   # every layer takes `config.sliding_window`


def has_sliding_window(config) -> bool:
    """Does the architecture take a `sliding_window` from its config for every layer (Mistral, Mixtral)?"""
    return getattr(config, "model_type", "") in SLIDING_WINDOW_TYPES


def with_sliding_window(config, window: int):
    """A copy of the config with `sliding_window` set (the shared model's own config is never touched);
    `new_cache` of it makes sliding-window cache layers (`DynamicSlidingWindowLayer`)."""
    import copy
    cfg = copy.deepcopy(config)
    cfg.sliding_window = int(window)
    return cfg


def sliding_window_mask(config, n_tokens: int, window: int, dtype) -> torch.Tensor:
    """The 4-D additive mask [1, 1, T, T] transformers builds for a config with `sliding_window = window`
    (`create_sliding_window_causal_mask`, eager: 0 where seen, the dtype's min where hidden). A 4-D mask
    passed to a model is used as it is."""
    from transformers.masking_utils import create_sliding_window_causal_mask
    return create_sliding_window_causal_mask(
        config=with_sliding_window(config, window), inputs_embeds=torch.zeros(1, n_tokens, 1, dtype=dtype),
        attention_mask=torch.ones(1, n_tokens, dtype=torch.long), cache=None,
        position_ids=torch.arange(n_tokens)[None])


# ------------------------------------------------------------------ tokenizers
def subword_scheme(tokenizer) -> str:
    """'wordpiece' when continuation pieces carry '##' (BERT), else 'bpe' (words start with 'Ġ')."""
    model = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    name = type(model).__name__ if model is not None else type(tokenizer).__name__
    return "wordpiece" if "WordPiece" in name or "Bert" in name else "bpe"

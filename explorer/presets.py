"""Architecture facts of real models, copied from their published config.json files.

Used by the KV-cache page (cache sizes, fit checks), the MoE page (total vs active parameters) and the
Train & adapt page (tokens per parameter, what each fine-tuning strategy trains).
Every derived number (parameters, bytes) is computed from these fields by `param_count` and the
pages' own formulas, never typed in.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchConfig:
    name: str
    source: str                       # where the fields come from (the model's config.json)
    n_layers: int                     # num_hidden_layers / n_layer
    hidden: int                       # hidden_size / n_embd
    n_heads: int                      # num_attention_heads (query heads)
    n_kv_heads: int                   # num_key_value_heads (== n_heads: MHA, 1: MQA)
    head_dim: int
    intermediate: int                 # MLP width (per expert for MoE)
    vocab: int
    max_positions: int
    mlp: str = "gated"                # "gated" (SwiGLU/GeGLU: 3 matrices) | "plain" (2 matrices, GPT-2/Falcon)
    n_experts: int = 1                # num_local_experts
    experts_per_token: int = 1        # num_experts_per_tok
    sliding_window: int | None = None
    tied_embeddings: bool = False
    learned_positions: bool = False   # GPT-2's wpe table
    biases: bool = False              # GPT-2 has biases in every linear layer
    norms_per_layer: int = 2
    norm_params: int = 1              # 1 for RMSNorm (weight), 2 for LayerNorm (weight and bias)
    fused_qkv: bool = False           # GPT-2: q, k and v are one matrix (c_attn), which LoRA adapts as one
    token_types: int = 0              # BERT: type_vocab_size rows of token_type_embeddings (segment A/B)
    embedding_norm: bool = False      # BERT: a LayerNorm right after the embeddings (post-LN: no final norm)
    final_norm: bool = True           # a norm after the last block (pre-LN models)
    mlm_head: bool = False            # BERT's masked-LM head: dense H x H, LayerNorm, and an output bias

    @property
    def attention_kind(self) -> str:
        if self.n_kv_heads == self.n_heads:
            return "MHA"
        return "MQA" if self.n_kv_heads == 1 else "GQA"


def param_groups(c: ArchConfig) -> dict[str, int]:
    """Parameters per part of the model, from the config alone.

    {"embeddings": token (+ position, token type, embedding norm) tables,
     "layer": one block, all experts, "layer_active": one block as one token uses it,
     "final_norm": the norm after the last block, "head": what the output head adds (0 when tied)}.

    Attention: q and o are hidden x (n_heads*head_dim); k and v are hidden x (n_kv_heads*head_dim).
    MLP per expert: 3 matrices when gated, 2 when plain. MoE adds a router (hidden x n_experts);
    a token uses only `experts_per_token` of the experts, which is the whole point of MoE.
    """
    q = c.n_heads * c.head_dim
    kv = c.n_kv_heads * c.head_dim
    attn = c.hidden * q * 2 + c.hidden * kv * 2
    mlp_one = (3 if c.mlp == "gated" else 2) * c.hidden * c.intermediate
    if c.biases:
        attn += q + 2 * kv + c.hidden
        mlp_one += c.intermediate + c.hidden
    router = c.hidden * c.n_experts if c.n_experts > 1 else 0
    norms = c.norms_per_layer * c.norm_params * c.hidden
    embed = c.vocab * c.hidden + c.token_types * c.hidden
    if c.learned_positions:
        embed += c.max_positions * c.hidden
    if c.embedding_norm:
        embed += c.norm_params * c.hidden
    head = 0 if c.tied_embeddings else c.vocab * c.hidden
    if c.mlm_head:   # transform (dense + bias, LayerNorm) and the output bias; the output matrix is tied
        head += c.hidden * c.hidden + c.hidden + c.norm_params * c.hidden + c.vocab
    return {"embeddings": embed,
            "layer": attn + c.n_experts * mlp_one + router + norms,
            "layer_active": attn + c.experts_per_token * mlp_one + router + norms,
            "final_norm": c.norm_params * c.hidden if c.final_norm else 0,
            "head": head}


def param_count(c: ArchConfig) -> tuple[int, int]:
    """(total, active per token) parameters, from the config alone (the sum of `param_groups`)."""
    g = param_groups(c)
    rest = g["embeddings"] + g["final_norm"] + g["head"]
    return c.n_layers * g["layer"] + rest, c.n_layers * g["layer_active"] + rest


def from_hf_config(name: str, cfg, source: str = "") -> ArchConfig:
    """An ArchConfig from a transformers config (GPT-2, Llama/Mistral, Mixtral or BERT).

    Raises ValueError for a model type or a layout (e.g. attention biases on some projections only)
    that these fields cannot describe.
    """
    get = cfg.get if isinstance(cfg, dict) else (lambda k, d=None: getattr(cfg, k, d))
    kind = get("model_type")
    tied = bool(get("tie_word_embeddings", True))
    if kind == "gpt2":
        h = get("n_embd")
        return ArchConfig(name, source, get("n_layer"), h, get("n_head"), get("n_head"), h // get("n_head"),
                          get("n_inner") or 4 * h, get("vocab_size"), get("n_positions"), mlp="plain",
                          tied_embeddings=tied, learned_positions=True, biases=True, norm_params=2, fused_qkv=True)
    if kind in ("llama", "mistral", "mixtral"):
        if get("attention_bias", False) or get("mlp_bias", False):
            raise ValueError(f"{name}: biases on the projections are not described by ArchConfig")
        h, heads = get("hidden_size"), get("num_attention_heads")
        return ArchConfig(name, source, get("num_hidden_layers"), h, heads, get("num_key_value_heads") or heads,
                          get("head_dim") or h // heads, get("intermediate_size"), get("vocab_size"),
                          get("max_position_embeddings"), tied_embeddings=tied,
                          n_experts=get("num_local_experts", 1) or 1, experts_per_token=get("num_experts_per_tok", 1) or 1,
                          sliding_window=get("sliding_window"))
    if kind == "bert":
        h, heads = get("hidden_size"), get("num_attention_heads")
        return ArchConfig(name, source, get("num_hidden_layers"), h, heads, heads, h // heads,
                          get("intermediate_size"), get("vocab_size"), get("max_position_embeddings"), mlp="plain",
                          tied_embeddings=tied, learned_positions=True, biases=True, norm_params=2,
                          token_types=get("type_vocab_size", 2), embedding_norm=True, final_norm=False, mlm_head=True)
    raise ValueError(f"{name}: model type {kind!r} is not described by ArchConfig")


HF = "https://huggingface.co/{}/blob/main/config.json"

PRESETS: dict[str, ArchConfig] = {c.name: c for c in [
    ArchConfig("GPT-2", HF.format("openai-community/gpt2"), 12, 768, 12, 12, 64, 3072, 50257, 1024,
               mlp="plain", tied_embeddings=True, learned_positions=True, biases=True, norm_params=2, fused_qkv=True),
    ArchConfig("Llama-2-7B", HF.format("meta-llama/Llama-2-7b-hf"), 32, 4096, 32, 32, 128, 11008, 32000, 4096),
    ArchConfig("Llama-3-8B", HF.format("meta-llama/Meta-Llama-3-8B"), 32, 4096, 32, 8, 128, 14336, 128256, 8192),
    ArchConfig("Llama-3-70B", HF.format("meta-llama/Meta-Llama-3-70B"), 80, 8192, 64, 8, 128, 28672, 128256, 8192),
    ArchConfig("Mistral-7B", HF.format("mistralai/Mistral-7B-v0.1"), 32, 4096, 32, 8, 128, 14336, 32000, 32768,
               sliding_window=4096),
    ArchConfig("Mixtral-8x7B", HF.format("mistralai/Mixtral-8x7B-v0.1"), 32, 4096, 32, 8, 128, 14336, 32000, 32768,
               n_experts=8, experts_per_token=2),
    # Falcon-7B: multi_query=true (one K/V head), parallel attention + MLP with a single LayerNorm per block
    ArchConfig("Falcon-7B", HF.format("tiiuae/falcon-7b"), 32, 4544, 71, 1, 64, 4 * 4544, 65024, 2048,
               mlp="plain", tied_embeddings=True, norms_per_layer=1, norm_params=2),
    ArchConfig("Gemma-2B", HF.format("google/gemma-2b"), 18, 2048, 8, 1, 256, 16384, 256000, 8192,
               tied_embeddings=True),
]}

# Published sizes, for the tests that check param_count against the model cards.
PUBLISHED_PARAMS = {"GPT-2": 124e6, "Llama-2-7B": 6.74e9, "Llama-3-8B": 8.03e9, "Llama-3-70B": 70.6e9,
                    "Mistral-7B": 7.24e9, "Mixtral-8x7B": 46.7e9, "Falcon-7B": 6.92e9, "Gemma-2B": 2.51e9}
PUBLISHED_ACTIVE = {"Mixtral-8x7B": 12.9e9}

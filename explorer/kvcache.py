"""KV-cache sizes: the formula, MHA vs GQA vs MQA, GPU fit checks, and the real cache of a model.

A decoder keeps, for every layer and every earlier position, one key and one value vector per
KEY/VALUE head. Query heads do not add to the cache; only `num_key_value_heads` does:

    cache bytes = 2 (K and V) x layers x kv_heads x head_dim x cached_tokens x batch x bytes per element
    cached_tokens = min(seq_len, sliding_window)

MHA: kv_heads = n_heads. GQA: kv_heads = a divisor of n_heads (query head h reads KV head
h // (n_heads / kv_heads), as transformers' `repeat_kv` expands them). MQA: kv_heads = 1.

Sizes are computed in bits (integers), so int4's half byte stays exact: the factor 2 for K and V
makes every cache size a whole number of bytes.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from explorer import hf, runtime
from explorer.presets import ArchConfig, param_count

GIB = 2 ** 30
KINDS = ("MHA", "GQA", "MQA")
# bits per element of the cache (and of the weights in the fit check)
DTYPE_BITS = {"fp32": 32, "bf16": 16, "fp16": 16, "fp8": 8, "int4": 4}
DTYPE_LABELS = {"fp32": "fp32 (4 bytes)", "bf16": "bf16 (2 bytes)", "fp16": "fp16 (2 bytes)",
                "fp8": "fp8 (1 byte)", "int4": "int4 (½ byte)"}
# GPU memory sizes in GB as sold (V100/T4 16, RTX 4090 24, A100 40/80, H100 80, H200 141); the fit
# check reads them as GiB, which is what nvidia-smi reports for most of these cards (A100 80GB: 81920 MiB)
GPU_GB = (16, 24, 40, 80, 141)
MAX_SEQ_LEN = 2 ** 20            # the page's log-scale axis ends at 1M tokens


@dataclass(frozen=True)
class KVShape:
    """What the cache size depends on in a model's architecture."""
    n_layers: int                    # num_hidden_layers / n_layer
    n_heads: int                     # num_attention_heads (query heads)
    n_kv_heads: int                  # num_key_value_heads
    head_dim: int
    sliding_window: int | None = None

    def __post_init__(self):
        if min(self.n_layers, self.n_heads, self.n_kv_heads, self.head_dim) < 1:
            raise ValueError("layers, heads and head_dim must be positive")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"{self.n_heads} query heads cannot be split evenly over {self.n_kv_heads} KV heads")

    @property
    def kind(self) -> str:
        return kind_of(self.n_heads, self.n_kv_heads)

    @property
    def group_size(self) -> int:
        """Query heads per KV head (n_rep in transformers' repeat_kv)."""
        return self.n_heads // self.n_kv_heads

    def with_kv_heads(self, n_kv_heads: int) -> "KVShape":
        return replace(self, n_kv_heads=n_kv_heads)

    def variants(self) -> dict[str, "KVShape"]:
        """The same model as MHA, GQA (this shape's KV heads) and MQA."""
        return {"MHA": self.with_kv_heads(self.n_heads), "GQA": self, "MQA": self.with_kv_heads(1)}


def kind_of(n_heads: int, n_kv_heads: int) -> str:
    if n_kv_heads == n_heads:
        return "MHA"
    return "MQA" if n_kv_heads == 1 else "GQA"


def valid_kv_heads(n_heads: int) -> list[int]:
    """KV-head counts that split n_heads query heads into equal groups: the divisors of n_heads."""
    return [d for d in range(1, n_heads + 1) if n_heads % d == 0]


def kv_head_of(q_head: int, n_heads: int, n_kv_heads: int) -> int:
    """The KV head a query head reads (transformers' repeat_kv repeats each KV head n_rep times in a row)."""
    return q_head // (n_heads // n_kv_heads)


def cached_tokens(seq_len, sliding_window: int | None = None):
    """Tokens whose K and V are kept: all of them, or the last `sliding_window` (works on arrays)."""
    return seq_len if sliding_window is None else np.minimum(seq_len, sliding_window)


def cache_bits(shape: KVShape, seq_len, batch: int = 1, bits: int = 16):
    """2 x layers x kv_heads x head_dim x cached_tokens x batch x bits. seq_len: int or int64 array."""
    per_token = 2 * shape.n_layers * shape.n_kv_heads * shape.head_dim
    tokens = cached_tokens(seq_len, shape.sliding_window)
    if isinstance(tokens, np.ndarray):
        return per_token * tokens.astype(np.int64) * batch * bits
    return per_token * int(tokens) * batch * bits


def cache_bytes(shape: KVShape, seq_len, batch: int = 1, bits: int = 16):
    """Bytes of the whole KV cache (always whole: see the module docstring). int or int64 array."""
    b = cache_bits(shape, seq_len, batch, bits)
    return b // 8


def bytes_per_token(shape: KVShape, bits: int = 16) -> float:
    """Cache bytes one more token costs (per sequence), before any sliding window is full."""
    return 2 * shape.n_layers * shape.n_kv_heads * shape.head_dim * bits / 8


@dataclass(frozen=True)
class SizeRow:
    kind: str            # "MHA" | "GQA" | "MQA"
    n_kv_heads: int
    bytes: int
    ratio: float         # bytes / MHA bytes

    @property
    def gib(self) -> float:
        return self.bytes / GIB


def compare(shape: KVShape, seq_len: int, batch: int, bits: int) -> list[SizeRow]:
    """Cache sizes of the same model as MHA, GQA and MQA, with the ratio to MHA."""
    sizes = {k: (s.n_kv_heads, cache_bytes(s, seq_len, batch, bits)) for k, s in shape.variants().items()}
    mha = sizes["MHA"][1]
    return [SizeRow(k, kv, b, b / mha) for k, (kv, b) in sizes.items()]


def log_lengths(hi: int = MAX_SEQ_LEN, per_octave: int = 4, extra: tuple[int, ...] = ()) -> np.ndarray:
    """Sequence lengths 1..hi evenly spaced on a log axis (plus `extra`, e.g. the window edge). int64."""
    n = int(round(math.log2(hi) * per_octave)) + 1
    xs = np.unique(np.round(np.logspace(0, math.log2(hi), n, base=2)).astype(np.int64))
    return np.unique(np.concatenate([xs, np.asarray([e for e in extra if 1 <= e <= hi], dtype=np.int64)]))


def growth(shape: KVShape, lengths: np.ndarray, batch: int, bits: int) -> dict[str, np.ndarray]:
    """Cache bytes over sequence lengths for MHA, GQA and MQA -> {kind: int64 [len(lengths)]}."""
    return {k: cache_bytes(s, lengths, batch, bits) for k, s in shape.variants().items()}


def format_bytes(n: float) -> str:
    """Binary units, two decimals: 34359738368 -> '32.00 GiB'."""
    for unit, size in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:g} B"


# ------------------------------------------------------------------ real model configs
def shape_of(arch: ArchConfig) -> KVShape:
    return KVShape(arch.n_layers, arch.n_heads, arch.n_kv_heads, arch.head_dim, arch.sliding_window)


def arch_with(arch: ArchConfig, shape: KVShape) -> ArchConfig:
    """The preset with the page's attention settings (hidden size, MLP and vocabulary stay the preset's)."""
    return replace(arch, n_layers=shape.n_layers, n_heads=shape.n_heads, n_kv_heads=shape.n_kv_heads,
                   head_dim=shape.head_dim, sliding_window=shape.sliding_window)


def shape_from_config(config) -> KVShape:
    """KVShape of a transformers config (GPT-2's n_layer/n_head/n_embd or Llama-style names)."""
    n_layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    n_heads = getattr(config, "num_attention_heads", None) or config.n_head
    n_kv = getattr(config, "num_key_value_heads", None) or n_heads
    if getattr(config, "model_type", "") == "falcon":
        # Falcon-7B says multi_query=true (one K/V head); only its new_decoder_architecture uses num_kv_heads
        n_kv = config.num_kv_heads if config.new_decoder_architecture else (1 if config.multi_query else n_heads)
    hidden = getattr(config, "hidden_size", None) or config.n_embd
    head_dim = getattr(config, "head_dim", None) or hidden // n_heads
    return KVShape(int(n_layers), int(n_heads), int(n_kv), int(head_dim),
                   getattr(config, "sliding_window", None) or None)


# ------------------------------------------------------------------ will it fit on a GPU?
def weight_bytes(arch: ArchConfig, bits: int) -> int:
    """Bytes of all weights (total parameters, every expert of an MoE) at `bits` per parameter."""
    return -(-param_count(arch)[0] * bits // 8)


@dataclass(frozen=True)
class Fit:
    kind: str
    capacity: int                 # usable bytes
    weights: int                  # bytes
    cache: int                    # bytes at the page's seq_len and batch
    max_seq_len: int | None       # longest context at this batch (None: unlimited, the window caps the cache)
    max_batch: int                # largest batch at this seq_len (0: not even one sequence)

    @property
    def fits(self) -> bool:
        return self.weights + self.cache <= self.capacity

    @property
    def free(self) -> int:
        return self.capacity - self.weights


def fit_rows(fits: list[Fit], labels: dict[str, str], seq_len: int, batch: int, trained: int) -> list[dict]:
    """The fit check as a table: one row per attention kind (labels: kind -> its name on the page); trained: the
    model's context length (a longer fitting context is flagged)."""
    def longest(f: Fit) -> str:
        if f.max_seq_len is None:
            return "any (the window caps the cache)"
        if f.max_seq_len == 0:
            return "none"
        return f"{f.max_seq_len:,}" + (" (> trained context)" if f.max_seq_len > trained else "")

    return [{"attention": labels[f.kind], "weights": format_bytes(f.weights), "KV cache": format_bytes(f.cache),
             "fits?": "✅ yes" if f.fits else "❌ no", f"longest context at batch {batch}": longest(f),
             f"largest batch at {seq_len:,} tokens": f"{f.max_batch:,}"} for f in fits]


def preset_values(arch: ArchConfig) -> dict:
    """A preset's attention shape under the page's control names (window 0: none)."""
    return {"layers": arch.n_layers, "heads": arch.n_heads, "kv": arch.n_kv_heads, "hd": arch.head_dim,
            "window": arch.sliding_window or 0}


def max_seq_len(shape: KVShape, free: int, batch: int, bits: int) -> int | None:
    """Longest context whose cache fits in `free` bytes at this batch; 0 if not one token fits.

    None when the sliding window caps the cache below `free` (any length fits).
    """
    if free < 0:
        return 0
    per_token_bits = 2 * shape.n_layers * shape.n_kv_heads * shape.head_dim * batch * bits
    longest = (free * 8) // per_token_bits
    if shape.sliding_window is not None and longest >= shape.sliding_window:
        return None
    return int(longest)


def max_batch(shape: KVShape, free: int, seq_len: int, bits: int) -> int:
    """Largest batch whose cache at seq_len fits in `free` bytes (0 if not one sequence fits)."""
    if free < 0:
        return 0
    return int(free // cache_bytes(shape, seq_len, 1, bits))


def capacity_bytes(gpu_gb: float, usable: float = 1.0) -> int:
    """Usable bytes of a GPU sold as `gpu_gb` GB (read as GiB), times the usable fraction."""
    return int(gpu_gb * GIB * usable)


def fit_check(arch: ArchConfig, shape: KVShape, seq_len: int, batch: int, cache_bits: int, weight_bits: int,
              capacity: int) -> list[Fit]:
    """Weights + cache vs a GPU, for MHA, GQA and MQA versions of the same model."""
    out = []
    for kind, s in shape.variants().items():
        w = weight_bytes(arch_with(arch, s), weight_bits)
        free = capacity - w
        out.append(Fit(kind, capacity, w, cache_bytes(s, seq_len, batch, cache_bits),
                       max_seq_len(s, free, batch, cache_bits), max_batch(s, free, seq_len, cache_bits)))
    return out


# ------------------------------------------------------------------ measured: a real DynamicCache
@dataclass
class Measurement:
    """The real cache of a model, read after every decoding step (batch rows decode in parallel)."""
    model_id: str
    shape: KVShape                  # from the model's config
    batch: int
    lengths: np.ndarray             # int64 [steps]: tokens in the cache after each step
    measured: np.ndarray            # int64 [steps]: sum over layers of K and V tensor bytes
    element_size: int               # bytes per element of the cached tensors (float32: 4)
    dtype: str
    key_shape: tuple[int, ...]      # layer 0's keys after the last step: [batch, kv_heads, tokens, head_dim]
    value_shape: tuple[int, ...]
    attention_shape: tuple[int, ...]  # the last step's attention: [batch, n_heads, 1, tokens] (KV heads repeated)
    n_cache_layers: int
    seconds: float                  # wall time of the decoding loop

    @property
    def formula(self) -> np.ndarray:
        """The formula's bytes at the measured lengths, with the cache's own element size.

        A sliding-window layer of transformers' DynamicCache keeps window - 1 tokens between steps and
        appends the new token inside the step, so attention reads `window` keys but the cache at rest
        holds window - 1: the formula is evaluated with that stored length.
        """
        s = self.shape
        if s.sliding_window is not None:
            s = replace(s, sliding_window=s.sliding_window - 1)
        return cache_bytes(s, self.lengths, self.batch, 8 * self.element_size)


def layer_bytes(cache) -> int:
    """Bytes held by a DynamicCache: every layer's key and value tensors."""
    return sum(t.numel() * t.element_size() for pair in hf.cache_layers(cache) for t in pair if t is not None)


def layer_shapes(cache) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(key shape, value shape) of every layer of a DynamicCache: [batch, kv_heads, tokens, head_dim] each."""
    return [(tuple(k.shape), tuple(v.shape)) for k, v in hf.cache_layers(cache)]


def stacked_shape(cache) -> tuple[int, ...]:
    """Shape of all cached keys and values stacked: (layers, 2 for K and V, batch, kv_heads, tokens, head_dim).

    The lessons write the cache this way; every layer holds the same shape in a plain (non-sliding) cache.
    """
    pairs = layer_shapes(cache)
    shapes = {s for pair in pairs for s in pair}
    if len(shapes) != 1:
        raise ValueError(f"layers cache different shapes: {sorted(shapes)}")
    return (len(pairs), 2) + shapes.pop()


def measure(lm, n_tokens: int, batch: int = 1, start_id: int | None = None) -> Measurement:
    """Greedy-decode n_tokens, one token per forward pass, reading the DynamicCache after every step.

    Token 1 is the start id (bos, else 0); each next input is the argmax of the last logits. The batch
    rows decode in parallel (the one place a batch > 1 is run), so this loop feeds the model directly.
    """
    import torch

    model = lm.model
    config = model.config
    shape = shape_from_config(config)
    if start_id is None:
        start_id = config.bos_token_id if config.bos_token_id is not None else 0
    ids = torch.full((batch, 1), int(start_id), dtype=torch.long)
    cache = hf.new_cache(config)
    lengths, measured = [], []
    attn_shape: tuple[int, ...] = ()
    with torch.no_grad(), runtime.GATE.slot():     # one request in the forward-pass queue, like forward()
        t0 = time.perf_counter()
        for step in range(n_tokens):
            last = step == n_tokens - 1
            out = model(input_ids=ids, **hf.cache_argument(cache), use_cache=True, output_attentions=last,
                        position_ids=torch.full((batch, 1), step, dtype=torch.long))
            cache = hf.output_cache(out)
            lengths.append(hf.cache_length(cache))
            measured.append(layer_bytes(cache))
            if last and out.attentions:
                attn_shape = tuple(out.attentions[0].shape)
            ids = out.logits[:, -1:].argmax(-1)
    seconds = time.perf_counter() - t0
    layers = hf.cache_layers(cache)
    k0, v0 = layers[0]
    return Measurement(lm.spec.id, shape, batch, np.asarray(lengths, dtype=np.int64),
                       np.asarray(measured, dtype=np.int64), k0.element_size(), str(k0.dtype).replace("torch.", ""),
                       tuple(k0.shape), tuple(v0.shape), attn_shape, len(layers), seconds)

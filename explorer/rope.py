"""Rotary position embeddings (RoPE, Su et al. 2021, "RoFormer"): the math, context extension,
and the capture of a real model's queries and keys before and after the rotary step.

RoPE splits a head's vector of size d into d/2 pairs and rotates pair i of a token at position m
by the angle m * theta_i, with theta_i = base^(-2i/d). Because rotations compose,
(R_m q) . (R_n k) = q . (R_{n-m} k): the score depends on the positions only through m - n.

Pairing conventions (the same math after a fixed permutation of the dimensions):
  "interleaved"  pair i = dims (2i, 2i+1)        the RoFormer paper, GPT-J, Meta's llama repo
  "half"         pair i = dims (i, i + d/2)      Hugging Face Llama/Mistral (`rotate_half`)

Everything here is numpy (float64 for the math) or torch for the capture; no Streamlit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from explorer import hf
from explorer.errors import NotSupported

PAIRINGS = ("half", "interleaved")

# --------------------------------------------------------------------------- the 2-D lesson
LESSON_Q = (1.0, 0.2)
LESSON_K = (0.3, 0.9)
LESSON_THETA = 0.4
LESSON_CASES = ((4, 2), (14, 12), (14, 2))   # (m, n): two with the same gap, one with another gap


def rotate2d(v, angle) -> np.ndarray:
    """Rotate 2-D vector(s) v [..., 2] counter-clockwise by angle (radians, broadcast over [...])."""
    v = np.asarray(v, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def score2d(q, k, m, n, theta: float) -> float | np.ndarray:
    """(R(m theta) q) . (R(n theta) k): the attention score of query q at position m and key k at n."""
    return np.sum(rotate2d(q, np.asarray(m) * theta) * rotate2d(k, np.asarray(n) * theta), axis=-1)


def score2d_by_gap(q, k, gaps, theta: float) -> np.ndarray:
    """Score as a function of the gap m - n alone: |q||k| cos(angle(q) - angle(k) + (m - n) theta)."""
    q, k = np.asarray(q, float), np.asarray(k, float)
    phi = math.atan2(q[1], q[0]) - math.atan2(k[1], k[0])
    return np.linalg.norm(q) * np.linalg.norm(k) * np.cos(phi + np.asarray(gaps, float) * theta)


# --------------------------------------------------------------------------- full RoPE
def inv_freq(dim: int, base: float = 10000.0) -> np.ndarray:
    """theta_i = base^(-2i/dim) for i = 0 .. dim/2 - 1  -> [dim/2]; fast pairs first, slow pairs last."""
    if dim < 2 or dim % 2:
        raise ValueError("the rotary dimension must be even and at least 2")
    return base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)


def wavelengths(freqs: np.ndarray) -> np.ndarray:
    """Tokens for one full turn of each pair: 2 pi / theta_i  -> [dim/2]."""
    return 2 * np.pi / np.asarray(freqs, dtype=np.float64)


def angles(positions, freqs) -> np.ndarray:
    """Rotation angle m * theta_i  -> [position, pair]."""
    return np.outer(np.asarray(positions, dtype=np.float64), np.asarray(freqs, dtype=np.float64))


def pair_dims(dim: int, pairing: str = "half") -> np.ndarray:
    """Which two dimensions form each pair -> int [dim/2, 2] (first, second)."""
    i = np.arange(dim // 2)
    if pairing == "half":
        return np.stack([i, i + dim // 2], axis=1)
    if pairing == "interleaved":
        return np.stack([2 * i, 2 * i + 1], axis=1)
    raise ValueError(f"pairing must be one of {PAIRINGS}")


def rotate(x, positions, freqs, pairing: str = "half", scale: float = 1.0, ang=None) -> np.ndarray:
    """Apply RoPE to x [..., position, dim]: pair i of the token at position m turns by m * theta_i.

    freqs: [n_pairs]; when 2 * n_pairs < dim (partial rotary), only the first 2 * n_pairs dims turn.
    scale: multiplies cos and sin (YaRN's attention temperature; 1 otherwise).
    ang: precomputed angles [position, pair] (to mirror a model's float32 arithmetic exactly).
    """
    x = np.asarray(x, dtype=np.float64)
    freqs = np.asarray(freqs, dtype=np.float64)
    rot = 2 * len(freqs)
    if rot > x.shape[-1]:
        raise ValueError(f"{len(freqs)} frequencies need {rot} dims; the vectors have {x.shape[-1]}")
    a = angles(positions, freqs) if ang is None else np.asarray(ang, dtype=np.float64)   # [T, pairs]
    c, s = np.cos(a) * scale, np.sin(a) * scale
    dims = pair_dims(rot, pairing)
    out = x.copy()
    x1, x2 = x[..., dims[:, 0]], x[..., dims[:, 1]]
    out[..., dims[:, 0]] = x1 * c - x2 * s
    out[..., dims[:, 1]] = x1 * s + x2 * c
    return out


def score_matrix(q, k, positions, freqs, pairing: str = "half") -> np.ndarray:
    """S[m, n] = (R_m q) . (R_n k) for one fixed q and k [dim] placed at every position -> [T, T]."""
    positions = np.asarray(positions)
    qs = rotate(np.broadcast_to(q, (len(positions), len(q))), positions, freqs, pairing)
    ks = rotate(np.broadcast_to(k, (len(positions), len(k))), positions, freqs, pairing)
    return qs @ ks.T


def diagonal_spread(S: np.ndarray) -> float:
    """Largest (max - min) along any diagonal of S: 0 when S[m, n] depends only on m - n."""
    T = S.shape[0]
    return float(max(np.ptp(np.diagonal(S, offset=o)) for o in range(-T + 1, T)))


def expected_score(distances, freqs, attention_factor: float = 1.0) -> np.ndarray:
    """Normalised score of q = k = all-ones at distance m - n: mean_i cos((m - n) theta_i) * factor^2.

    With all-ones vectors every pair contributes |q_i||k_i| cos(angle difference) = 2 cos((m - n) theta_i),
    so the full score is d * this value; at distance 0 it is 1 (times YaRN's temperature factor^2,
    which multiplies both q and k). It is also the expected score of random q = k whose pairs have
    equal energy. Returns [len(distances)].
    """
    a = angles(distances, freqs)
    return np.cos(a).mean(axis=1) * attention_factor ** 2


def roformer_bound(distances, freqs) -> np.ndarray:
    """RoFormer's long-term decay curve (section 3.4.3): (1 / (d/2)) * sum_j |S_j|, S_j = sum_{i<j} e^{i (m-n) theta_i}.

    The paper bounds |q . R k| by (max_i |h_{i+1} - h_i|) * sum_j |S_j|, and plots this relative
    upper bound against the distance; it shrinks as the distance grows. Returns [len(distances)].
    """
    a = angles(distances, freqs)
    partial = np.cumsum(np.exp(1j * a), axis=1)   # S_1 .. S_{d/2}
    return np.abs(partial).mean(axis=1)


# --------------------------------------------------------------------------- context extension
@dataclass
class ScaledRope:
    """One way to stretch a RoPE model's context: its per-pair frequencies and attention factor."""
    method: str                     # "original" | "linear" | "ntk" | "yarn"
    label: str
    inv_freq: np.ndarray            # [dim/2]
    attention_factor: float = 1.0   # multiplies cos and sin, so scores scale by its square
    detail: dict = field(default_factory=dict)


METHODS = ("original", "linear", "ntk", "yarn")
METHOD_LABELS = {"original": "original (no change)", "linear": "linear interpolation (PI)",
                 "ntk": "NTK-aware base scaling", "yarn": "YaRN"}


def linear_interpolation(dim: int, base: float, factor: float) -> ScaledRope:
    """Position interpolation (Chen et al. 2023): squeeze positions by `factor` -> theta_i / factor for every pair."""
    return ScaledRope("linear", METHOD_LABELS["linear"], inv_freq(dim, base) / factor, 1.0, {"factor": factor})


def ntk_base(dim: int, base: float, factor: float) -> float:
    """NTK-aware scaling (bloc97, 2023): new base = base * factor^(d / (d - 2)).

    The exponent is chosen so that the slowest pair (i = d/2 - 1) is interpolated by exactly
    `factor`, while the fastest pair (i = 0) keeps its frequency.
    """
    return base * factor ** (dim / (dim - 2))


def ntk_aware(dim: int, base: float, factor: float) -> ScaledRope:
    new_base = ntk_base(dim, base, factor)
    return ScaledRope("ntk", METHOD_LABELS["ntk"], inv_freq(dim, new_base), 1.0, {"factor": factor, "base": new_base})


def yarn_mscale(factor: float) -> float:
    """YaRN's attention temperature as a multiplier on q and k: sqrt(1/t) = 0.1 ln(s) + 1 (1 for s <= 1)."""
    return 1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0


def yarn_correction_dim(n_rotations: float, dim: int, base: float, original_max: int) -> float:
    """The (fractional) pair index whose wavelength fits `n_rotations` times into the original context.

    From L / lambda_i = n with lambda_i = 2 pi base^(2i/d):  i = d ln(L / (2 pi n)) / (2 ln base).
    """
    return dim * math.log(original_max / (n_rotations * 2 * math.pi)) / (2 * math.log(base))


def yarn(dim: int, base: float, factor: float, original_max: int, beta_fast: float = 32.0,
         beta_slow: float = 1.0, truncate: bool = True) -> ScaledRope:
    """YaRN (Peng et al. 2023), "NTK-by-parts" frequencies plus an attention temperature.

    r_i = L / lambda_i counts how many turns pair i makes within the original context L.
    Pairs with r_i > beta_fast (fast, short wavelengths) are left alone (extrapolation);
    pairs with r_i < beta_slow (never completed a turn in training) are interpolated (theta_i / s);
    in between a linear ramp over the pair index blends the two (as in the reference code and
    transformers: the ramp runs from the index where r = beta_fast to the index where r = beta_slow,
    floored/ceiled when `truncate`).
    """
    theta = inv_freq(dim, base)
    low = yarn_correction_dim(beta_fast, dim, base, original_max)
    high = yarn_correction_dim(beta_slow, dim, base, original_max)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001   # the reference code's guard against a zero-width ramp
    ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    keep = 1.0 - ramp   # share of the original (extrapolated) frequency
    freqs = theta / factor * (1.0 - keep) + theta * keep
    return ScaledRope("yarn", METHOD_LABELS["yarn"], freqs, yarn_mscale(factor),
                      {"factor": factor, "low": low, "high": high, "keep": keep,
                       "turns_in_context": original_max / wavelengths(theta),
                       "beta_fast": beta_fast, "beta_slow": beta_slow})


def extension_methods(dim: int, base: float, factor: float, original_max: int) -> dict[str, ScaledRope]:
    """Every method side by side for stretching `original_max` by `factor`."""
    return {"original": ScaledRope("original", METHOD_LABELS["original"], inv_freq(dim, base)),
            "linear": linear_interpolation(dim, base, factor),
            "ntk": ntk_aware(dim, base, factor),
            "yarn": yarn(dim, base, factor, original_max)}


# --------------------------------------------------------------------------- a real model
@dataclass
class RopeSettings:
    """How a model rotates: per-pair frequencies (ours, from its config), pairing and factors."""
    inv_freq: np.ndarray          # [rotary_dim / 2], float64
    head_dim: int
    rope_type: str
    rope_theta: float
    attention_scaling: float      # multiplies cos and sin (YaRN); 1 for plain RoPE
    pairing: str = "half"         # Hugging Face Llama/Mistral use rotate_half
    source: str = "explorer.rope" # "explorer.rope" (our formulas) or "model buffer" (types we do not re-derive)
    inv_freq_f32: np.ndarray | None = None   # the same frequencies rounded as the model computes them in float32


def inv_freq_float32(dim: int, base: float, factor: float = 1.0) -> np.ndarray:
    """theta_i computed step by step in float32, as transformers does: 1 / base^(arange(0, d, 2) / d) [/ factor].

    Each float32 step rounds; the result can differ from float64 theta_i by a few ulp, which at
    position 500 moves an angle by ~1e-5 rad. numpy's float32 arithmetic gives the same bits as torch's.
    """
    f32 = np.float32
    out = f32(1.0) / (f32(base) ** (np.arange(0, dim, 2).astype(f32) / f32(dim)))
    return (out / f32(factor)).astype(f32) if factor != 1.0 else out.astype(f32)


def settings_from_config(config, model=None) -> RopeSettings:
    """Our frequencies for a Hugging Face config (transformers 5 `rope_parameters`)."""
    params = dict(getattr(config, "rope_parameters", None) or {})
    if not params and hasattr(config, "rope_theta"):
        params = {"rope_type": "default", "rope_theta": config.rope_theta}
    rope_type = params.get("rope_type", "default")
    theta = float(params.get("rope_theta", 10000.0))
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    dim = int(head_dim * params.get("partial_rotary_factor", 1.0))
    factor = params.get("factor")
    if rope_type in ("default", "dynamic"):   # dynamic NTK changes nothing until the text exceeds the context
        return RopeSettings(inv_freq(dim, theta), head_dim, rope_type, theta, 1.0,
                            inv_freq_f32=inv_freq_float32(dim, theta))
    if rope_type == "linear":
        return RopeSettings(linear_interpolation(dim, theta, factor).inv_freq, head_dim, rope_type, theta, 1.0,
                            inv_freq_f32=inv_freq_float32(dim, theta, factor))
    if rope_type == "yarn":
        orig = params.get("original_max_position_embeddings") or config.max_position_embeddings
        if factor is None:
            factor = config.max_position_embeddings / orig
        y = yarn(dim, theta, factor, orig, params.get("beta_fast") or 32, params.get("beta_slow") or 1,
                 params.get("truncate", True))
        scale = params.get("attention_factor")
        if scale is None:
            mscale, mscale_all = params.get("mscale"), params.get("mscale_all_dim")
            if mscale and mscale_all:
                scale = (0.1 * mscale * math.log(factor) + 1) / (0.1 * mscale_all * math.log(factor) + 1) \
                    if factor > 1 else 1.0
            else:
                scale = y.attention_factor
        return RopeSettings(y.inv_freq, head_dim, rope_type, theta, float(scale))
    # llama3, longrope, ...: we show them with the model's own buffer rather than re-deriving each variant
    rotary = hf.rotary_module(model) if model is not None else None
    if rotary is None:
        raise NotSupported(f"This model's rope_type '{str(rope_type)[:40]}' is not supported here.")
    return RopeSettings(rotary.inv_freq.double().numpy(), head_dim, rope_type, theta,
                        float(getattr(rotary, "attention_scaling", 1.0)), source="model buffer")


@dataclass
class RopeCapture:
    """One forward pass of a RoPE model, every layer: q and k before the rotary step, and the model's own outputs.

    q_pre [layer, head, position, head_dim]      query after q_proj (and q_norm if the model has one)
    k_pre [layer, kv_head, position, head_dim]   key after k_proj (and k_norm)
    k_model [layer, kv_head, position, head_dim] the model's own rotated keys, read from its KV cache
    attn [layer, head, query, key]               the model's own attention probabilities
    All float32; positions [T] are 0 .. T-1.
    """
    model_id: str
    tokens: list[str]
    q_pre: np.ndarray
    k_pre: np.ndarray
    k_model: np.ndarray | None      # None once checked (see explorer.ui.rope: only the errors are kept)
    attn: np.ndarray | None
    settings: RopeSettings
    softmax_scale: float
    truncated: bool
    total_tokens: int

    @property
    def positions(self) -> np.ndarray:
        return np.arange(self.q_pre.shape[2])

    @property
    def n_layers(self) -> int:
        return self.q_pre.shape[0]

    @property
    def n_heads(self) -> int:
        return self.q_pre.shape[1]

    @property
    def n_kv_heads(self) -> int:
        return self.k_pre.shape[1]

    def kv_head_of(self, head: int) -> int:
        """GQA: query head h reads key/value head h // (n_head / n_kv_head) (`repeat_kv`)."""
        return head // (self.n_heads // self.n_kv_heads)


def capture(lm, text: str, max_tokens: int) -> RopeCapture:
    """One forward pass: q and k before the rotary step (`blocks.*.attn.hook_q` / `hook_k`), the keys the
    KV cache stores after it (`hook_k_cached`) and the attention probabilities (`hook_pattern`).

    The rotated keys and the probabilities are the model's own post-rotary results, independent of our math.
    """
    from explorer.forward import encode, forward

    model = lm.model
    hf.self_attention(model)                  # a Llama-style model, or a clear error
    settings = settings_from_config(model.config, model)
    run = forward(lm, encode(lm, text, max_tokens),
                  hooks=("blocks.*.attn.hook_q", "blocks.*.attn.hook_k", "blocks.*.attn.hook_k_cached",
                         "blocks.*.attn.hook_pattern"))
    q_pre = run.stack("blocks.*.attn.hook_q").transpose(1, 2).numpy()      # [layer, head, pos, d_head]
    k_pre = run.stack("blocks.*.attn.hook_k").transpose(1, 2).numpy()      # [layer, kv_head, pos, d_head]
    k_model = run.stack("blocks.*.attn.hook_k_cached").numpy()
    attn = run.stack("blocks.*.attn.hook_pattern").float().numpy()
    return RopeCapture(lm.spec.id, run.tokens, q_pre, k_pre, k_model, attn, settings,
                       hf.softmax_scale(model, settings.head_dim), run.enc.truncated, run.enc.total_tokens)


def model_angles(settings: RopeSettings, positions) -> np.ndarray:
    """Angles as the model computes them: float32 frequencies times float32 positions, in float32.

    Hugging Face computes cos/sin from float32 angles; at position 500 a float32 angle is off by
    ~3e-5 rad from the exact one, so to reproduce the model to 1e-5 we round the same way. -> [T, pairs]
    """
    f32 = settings.inv_freq_f32 if settings.inv_freq_f32 is not None else settings.inv_freq
    f32 = np.asarray(f32, dtype=np.float32)
    return (np.asarray(positions, dtype=np.float32)[:, None] * f32[None, :]).astype(np.float32)


@dataclass
class RopeCheck:
    """Our rotation applied to the captured pre-rotary q and k, compared with the model's own outputs."""
    q_rot: np.ndarray | None     # [layer, head, position, head_dim] float32
    k_rot: np.ndarray | None     # [layer, kv_head, position, head_dim] float32
    k_error: float               # max |ours - model's cached keys|
    attn_error: float            # max |softmax(ours q k^T * scale, causal) - model's attention|
    k_error_other_pairing: float # the same with the other pairing convention: shows it matters

    def numbers(self) -> list[tuple[str, str, str]]:
        """(label, value, what it measures) of the three comparisons, as the page shows them."""
        return [("Our k vs the model's k", f"{self.k_error:.1e}",
                 "max |our rotation of the captured pre-rotary keys − the keys in the model's KV cache|"),
                ("Our attention vs the model's", f"{self.attn_error:.1e}",
                 "max |softmax(our q·kᵀ·scale, causal) − the model's attention probabilities|, all layers"),
                ("k error, interleaved pairs", f"{self.k_error_other_pairing:.2f}",
                 "the same comparison with the paper's (2i, 2i+1) pairing instead of rotate_half's (i, i + d/2)")]


def reproduce(cap: RopeCapture, pairing: str | None = None) -> RopeCheck:
    s = cap.settings
    pairing = pairing or s.pairing
    ang = model_angles(s, cap.positions)
    q_rot = rotate(cap.q_pre, cap.positions, s.inv_freq, pairing, s.attention_scaling, ang)
    k_rot = rotate(cap.k_pre, cap.positions, s.inv_freq, pairing, s.attention_scaling, ang)
    other = "interleaved" if pairing == "half" else "half"
    k_other = rotate(cap.k_pre, cap.positions, s.inv_freq, other, s.attention_scaling, ang)
    probs = attention_from(q_rot, k_rot, cap.softmax_scale)
    return RopeCheck(q_rot.astype(np.float32), k_rot.astype(np.float32),
                     float(np.abs(k_rot - cap.k_model).max()), float(np.abs(probs - cap.attn).max()),
                     float(np.abs(k_other - cap.k_model).max()))


def rotated(cap: RopeCapture, x: np.ndarray) -> np.ndarray:
    """Our rotation of captured pre-rotary vectors x [..., position, head_dim] (e.g. one head) -> float32."""
    s = cap.settings
    return rotate(x, cap.positions, s.inv_freq, s.pairing, s.attention_scaling,
                  model_angles(s, cap.positions)).astype(np.float32)


def attention_from(q: np.ndarray, k: np.ndarray, scale: float) -> np.ndarray:
    """Causal softmax attention from q [..., head, T, d] and k [..., kv_head, T, d] (GQA-repeated)."""
    rep = q.shape[-3] // k.shape[-3]
    k = np.repeat(k, rep, axis=-3)
    s = np.einsum("...htd,...hsd->...hts", q, k) * scale
    T = q.shape[-2]
    s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


def pair_track(x: np.ndarray, pair: int, pairing: str = "half") -> np.ndarray:
    """The 2-D coordinates of one pair at every position: x [position, dim] -> [position, 2]."""
    dims = pair_dims(x.shape[-1], pairing)[pair]
    return np.stack([x[..., dims[0]], x[..., dims[1]]], axis=-1)


# --------------------------------------------------------------------------- contrast: learned positions
def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of rows: [n, d] -> [n, n]."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return v @ v.T


def diagonal_stats(C: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of C[m, m + g] over m, for gaps g = 1 .. max_gap -> ([G], [G], [G]).

    A matrix that depends only on the gap has zero spread along each diagonal.
    """
    gaps = np.arange(1, min(max_gap, C.shape[0] - 1) + 1)
    diags = [np.diagonal(C, offset=int(g)).astype(np.float64) for g in gaps]
    return gaps, np.array([d.mean() for d in diags]), np.array([d.std() for d in diags])


def rope_cosines(dim: int, n_positions: int, base: float = 10000.0, seed: int = 0) -> np.ndarray:
    """RoPE's analogue of a position-similarity matrix: cosine of one random vector placed at m and at n.

    cos(R_m x, R_n x) = (R_m x . R_n x) / |x|^2, computed by rotating (not from a formula in m - n). -> [n, n]
    """
    x = np.random.default_rng(seed).normal(size=dim)
    return score_matrix(x, x, np.arange(n_positions), inv_freq(dim, base)) / float(x @ x)


def learned_positions(model) -> np.ndarray:
    """GPT-2's learned absolute position embeddings wpe -> [n_positions, n_embd] float32."""
    return hf.learned_positions(model).detach().float().numpy()


def trained_positions(model_id: str) -> int | None:
    """Longest sequence a model saw in training (its window), when shorter than its table (the registry's fact)."""
    from explorer.models import registry
    spec = registry.get(model_id)
    return spec.trained_length if spec else None


def log_binned_mean(values: np.ndarray, n_bins: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """Average a curve over distances 1..D-1 in geometrically growing windows -> (window centres, means).

    values [D] is indexed by distance. Short distances keep single-token windows (exact values);
    far ones are averaged over wide windows, where the fast pairs only add oscillation around the trend.
    """
    D = len(values)
    edges = np.unique(np.geomspace(1, D, n_bins + 1).astype(int))
    v = np.asarray(values, dtype=np.float64)
    sums = np.add.reduceat(v[: edges[-1]], edges[:-1])
    counts = np.diff(edges)
    centres = np.sqrt(edges[:-1] * np.maximum(edges[1:] - 1, edges[:-1]))
    return centres, sums[: len(counts)] / counts


# --------------------------------------------------------------------------- what the page shows, computed here
def turned_angles(pre: dict[int, np.ndarray], post: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """How far the rotary step turned each pair at each position: angle(after) − angle(before), unwrapped so a
    pair that goes round several times keeps counting. pre/post: {pair: [position, 2]} -> {pair: [position]}."""
    out = {}
    for p in pre:
        a = np.arctan2(post[p][:, 1], post[p][:, 0]) - np.arctan2(pre[p][:, 1], pre[p][:, 0])
        out[p] = np.unwrap(a)
    return out


def default_pairs(n_pairs: int) -> list[int]:
    """The pairs a real model's view starts with: the two fastest, one in between, the slowest."""
    return sorted({0, 1, min(4, n_pairs - 1), n_pairs - 1})


def head_dim_of(config) -> int:
    """A model's per-head size (config.head_dim, else hidden_size / num_attention_heads; GPT-2 maps its names)."""
    return hf.head_dim(config)


@dataclass
class PositionContrast:
    """A learned position table next to RoPE, on the positions both can be compared on."""
    idx: np.ndarray               # int [shown]: positions drawn in the heatmap (every `stride`-th)
    C: np.ndarray                 # [shown, shown]: learned cosines at those positions
    stride: int
    clip: float                   # colour range ±clip: the 99th percentile of |off-diagonal| (at least 0.05)
    n: int                        # positions compared (the trained ones, when the table is longer)
    head_dim: int                 # RoPE's vector size: the learned model's own head size
    learned_spread: float         # largest max − min along a diagonal, learned table
    rope_spread: float            # the same for RoPE
    gaps: np.ndarray              # int [G]
    learned_mean: np.ndarray      # [G] mean and std of the cosine at each gap
    learned_std: np.ndarray
    rope_mean: np.ndarray
    rope_std: np.ndarray

    def numbers(self, name: str) -> list[tuple[str, str, str]]:
        """(label, value, what it measures) of both diagonal spreads; `name`: the learned model's (escaped here)."""
        from explorer.text import md
        return [("Diagonal spread, learned table", f"{self.learned_spread:.2f}",
                 f"{md(name)}: largest (max − min) cosine along any diagonal of the first {self.n} positions"),
                (f"Diagonal spread, RoPE (d = {self.head_dim})", f"{self.rope_spread:.0e}",
                 "the same measure for one random vector rotated to every position (d: the learned model's own head "
                 "size)")]

    def by_gap(self) -> dict[str, np.ndarray]:
        """The numbers behind the similarity-by-gap figure: per gap, the mean and spread of learned and RoPE
        cosines."""
        return {"gap": self.gaps, "learned_mean": self.learned_mean, "learned_std": self.learned_std,
                "rope_mean": self.rope_mean, "rope_std": self.rope_std}


def position_contrast(C_full: np.ndarray, npos: int, trained: int | None, head_dim: int,
                      max_points: int = 256, max_gap: int = 128) -> PositionContrast:
    """Compare a learned table's position cosines C_full [n_table, n_table] with RoPE's (one random vector).

    npos: positions the learner chose to see; trained: positions the model was trained on (compare like with
    like: beyond them a bundled model's table keeps its random start). The heatmap keeps at most max_points
    positions so the browser stays light.
    """
    stride = max(1, int(np.ceil(npos / max_points)))
    idx = np.arange(0, npos, stride)
    C = C_full[np.ix_(idx, idx)]
    off = C[~np.eye(len(C), dtype=bool)]
    clip = float(min(1.0, max(0.05, np.percentile(np.abs(off), 99)))) if off.size else 1.0
    n = min(npos, trained or npos)
    learned = C_full[:n, :n].astype(np.float64)
    R = rope_cosines(head_dim, n)
    gaps, mean_l, std_l = diagonal_stats(learned, min(n - 1, max_gap))
    _, mean_r, std_r = diagonal_stats(R, min(n - 1, max_gap))
    return PositionContrast(idx, C, stride, clip, n, head_dim, diagonal_spread(learned), diagonal_spread(R),
                            gaps, mean_l, std_l, mean_r, std_r)


def decay_by_base(dim: int, base: int, reach: int, measure: str = "ones") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """How far-away keys score, for the chosen base next to 10,000 and 500,000 -> (distances 0..reach,
    {"base 10,000": curve}); measure "ones": expected_score, "bound": RoFormer's roformer_bound."""
    dist = np.arange(0, reach + 1)
    fn = expected_score if measure == "ones" else roformer_bound
    return dist, {f"base {b:,}": fn(dist, inv_freq(dim, float(b))) for b in sorted({10000, 500000, int(base)})}


def lesson_cards(q, k, theta: float) -> tuple[list[tuple[int, int, float]], dict[int, list[tuple[int, int, float]]]]:
    """The 2-D lesson's cases scored at theta -> ([(m, n, score)], {gap: cases with that gap}, in lesson order)."""
    marks = [(a, b, float(score2d(q, k, a, b, theta))) for a, b in LESSON_CASES]
    by_gap: dict[int, list[tuple[int, int, float]]] = {}
    for a, b, s in marks:
        by_gap.setdefault(a - b, []).append((a, b, s))
    return marks, by_gap


def extension_decay(methods: dict[str, ScaledRope], target: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each method's normalised score out to `target` tokens, log-binned -> (distances, {label: mean score})."""
    dist = np.arange(0, target + 1)
    curves, centre = {}, None
    for s in methods.values():
        centre, curves[s.label] = log_binned_mean(expected_score(dist, s.inv_freq, s.attention_factor))
    return centre, curves


@dataclass
class PairView:
    """One head's q (or k) pairs before and after the rotary step, as the real-model section draws them."""
    pre: dict[int, np.ndarray]        # {pair: [position, 2]} before rotation
    post: dict[int, np.ndarray]       # ... after
    thetas: dict[int, float]          # the pair's angle per position
    turned: dict[int, np.ndarray]     # {pair: [position]} angle turned, unwrapped
    dims: np.ndarray                  # [pairs, 2]: the dimensions of each pair

    def table(self, labels: list[str]) -> dict[str, list | np.ndarray]:
        """The numbers behind the pair tracks: tokens, then each pair's coordinates before and after the rotation."""
        return {"tokens": labels,
                **{f"pair{p}_dims{tuple(int(x) for x in self.dims[p])}_before": v for p, v in self.pre.items()},
                **{f"pair{p}_after": v for p, v in self.post.items()}}

    def dims_note(self, pairing: str) -> str:
        """Which dimensions each shown pair turns: "Pairs: 0 = dims (0, 32), … — convention `half`: …"."""
        n_pairs = len(self.dims)
        return ("Pairs: " + ", ".join(f"{p} = dims ({self.dims[p][0]}, {self.dims[p][1]})" for p in self.pre) +
                f"  — convention `{pairing}`: pair i = (i, i + {n_pairs}).")


def pair_view(cap: RopeCapture, layer: int, head: int, which: str, pairs: list[int]) -> PairView:
    """Rotate the captured pre-rotary q (which="q", query head `head`) or k (its key head) of one layer."""
    s = cap.settings
    x = cap.q_pre[layer, head] if which == "q" else cap.k_pre[layer, cap.kv_head_of(head)]   # [position, head_dim]
    after = rotated(cap, x)
    pre = {p: pair_track(x, p, s.pairing) for p in pairs}
    post = {p: pair_track(after, p, s.pairing) for p in pairs}
    return PairView(pre, post, {p: float(s.inv_freq[p]) for p in pairs}, turned_angles(pre, post),
                    pair_dims(2 * len(s.inv_freq), s.pairing))


def model_facts(cap: RopeCapture, head: int, name: str) -> str:
    """The captured model's shape and rotary settings in one markdown line (its name, rope_type and the source of
    its frequencies escaped: they come from a model folder)."""
    from explorer.text import md
    s = cap.settings
    return (f"**{md(name)}**: {cap.n_layers} layers, {cap.n_heads} query heads sharing {cap.n_kv_heads} key/value "
            f"heads (query head {head} reads key head {cap.kv_head_of(head)}), head_dim {s.head_dim}, rope_theta "
            f"{s.rope_theta:,.0f}, rope_type {md(s.rope_type)}, frequencies from {md(s.source)}.")


# --------------------------------------------------------------------------- the 2-D lesson, as the page shows it
@dataclass
class Lesson2D:
    """The 2-D lesson at one (m, n, θ): the score there, the lesson's cases, and the score against the gap."""
    q: tuple[float, float]
    k: tuple[float, float]
    m: int
    n: int
    theta: float
    score: float                                    # (R(mθ) q) · (R(nθ) k)
    marks: list[tuple[int, int, float]]             # the lesson's cases (m, n, score)
    by_gap: dict[int, list[tuple[int, int, float]]] # the same cases grouped by gap, in lesson order
    gaps: np.ndarray                                # int [81]: -40 .. 40
    gap_scores: np.ndarray                          # [81]: the score at each whole gap
    smooth: np.ndarray                              # [641]: gaps -40 .. 40 in steps of 1/8, for the curve
    smooth_scores: np.ndarray

    def score_at(self, m: int, n: int) -> float:
        return float(score2d(self.q, self.k, m, n, self.theta))

    def cards(self) -> list[tuple[str, str]]:
        """(label, value) of the first two gaps among the lesson's cases: equal gaps, equal scores."""
        return [(" and ".join(f"({a}, {b})" for a, b, _ in cases) + f": gap {gap}", f"{cases[0][2]:.6f}")
                for gap, cases in list(self.by_gap.items())[:2]]

    def rows(self) -> list[dict]:
        """The lesson's cases as table rows: m, n, the gap and the score (6 decimals)."""
        return [{"m": a, "n": b, "gap m − n": a - b, "score": f"{s:.6f}"} for a, b, s in self.marks]

    def numbers(self) -> dict:
        """The numbers behind the circle: q and k, the positions, θ, both rotated vectors and the score."""
        return {"q": list(self.q), "k": list(self.k), "m": self.m, "n": self.n, "theta": self.theta,
                "q_rotated": rotate2d(self.q, self.m * self.theta),
                "k_rotated": rotate2d(self.k, self.n * self.theta), "score": self.score}


def lesson_2d(m: int, n: int, theta: float, q=LESSON_Q, k=LESSON_K) -> Lesson2D:
    """The lesson's q and k at positions m and n, turned θ radians per position."""
    marks, by_gap = lesson_cards(q, k, theta)
    gaps, smooth = np.arange(-40, 41), np.linspace(-40, 40, 641)
    return Lesson2D(q, k, m, n, theta, float(score2d(q, k, m, n, theta)), marks, by_gap, gaps,
                    score2d_by_gap(q, k, gaps, theta), smooth, score2d_by_gap(q, k, smooth, theta))


# --------------------------------------------------------------------------- full RoPE, as the page shows it
def rotation_values(freqs: np.ndarray, positions: np.ndarray, what: str) -> np.ndarray:
    """What the rotation heatmap colours -> [pair, position]: cos(m·θᵢ) (what="cos") or the angle mod 2π."""
    ang = angles(positions, freqs).T
    return np.cos(ang) if what == "cos" else np.mod(ang, 2 * np.pi)


def speed_note(freqs: np.ndarray) -> str:
    """The fastest and the slowest pair: radians per token and tokens per turn."""
    wl = wavelengths(freqs)
    return (f"Pair 0: θ = {freqs[0]:.3g} rad/token, one turn every {wl[0]:.2f} tokens.  "
            f"Pair {len(freqs) - 1}: θ = {freqs[-1]:.3g}, one turn every {wl[-1]:,.0f} tokens.")


def random_score_matrix(freqs: np.ndarray, n_positions: int, seed: int, max_positions: int = 64
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Random q and k (normal, seeded) at every pair of the first positions (at most max_positions)
    -> (S [T, T], q [d], k [d], the largest spread along a diagonal of S)."""
    rng = np.random.default_rng(int(seed))
    d = 2 * len(freqs)
    q, k = rng.normal(size=d), rng.normal(size=d)
    S = score_matrix(q, k, np.arange(min(n_positions, max_positions)), freqs)
    return S, q, k, diagonal_spread(S)


class DecayMeasure(NamedTuple):
    """One way decay_by_base measures how far-away keys score, as the page names, plots and explains it."""
    name: str
    y_title: str
    explanation: str


DECAY_MEASURES = {
    "ones": DecayMeasure(
        "score of q = k = all-ones (normalised)", "mean over pairs of cos((m−n)·θᵢ)",
        "For q = k = all-ones, each pair contributes 2·cos((m − n)·θᵢ); dividing by d gives 1 at distance 0. As the "
        "distance grows the pairs fall out of step and the sum shrinks — slower with a larger base, which is why "
        "long-context models raise it (Llama 3 uses 500,000)."),
    "bound": DecayMeasure(
        "RoFormer's relative upper bound", "(1/(d/2)) Σⱼ |Σ_{i<j} e^{i(m−n)θᵢ}|",
        "RoFormer (§3.4.3) bounds |q·R k| by max|h_{i+1}−h_i| times this sum of partial-sum lengths, and plots it "
        "against distance to show that RoPE's scores decay with distance.")}


# --------------------------------------------------------------------------- context extension, as the page shows it
@dataclass
class Extension:
    """Stretching a context trained on `orig` tokens to `target`: every method's frequencies, the shown ones first
    compared with the original."""
    orig: int
    target: int
    methods: dict[str, ScaledRope]        # every method, "original" included
    shown: dict[str, ScaledRope]          # "original" and the chosen methods, in that order

    @property
    def factor(self) -> float:
        return self.target / self.orig

    @property
    def pairs(self) -> np.ndarray:
        return np.arange(len(self.methods["original"].inv_freq))

    def ratios(self) -> dict[str, np.ndarray]:
        """How much each shown method slows each pair: θᵢ′ / θᵢ, by method label."""
        return {s.label: s.inv_freq / self.methods["original"].inv_freq for s in self.shown.values()}

    def wavelengths(self) -> dict[str, np.ndarray]:
        """Tokens per turn of each pair, by method label."""
        return {s.label: wavelengths(s.inv_freq) for s in self.shown.values()}

    def ratio_ticks(self) -> dict[float, str]:
        """Ticks of the slow-down axis at 1, 1/2, 1/4, ... down to 1/s."""
        return {2.0 ** -j: "1" if j == 0 else f"1/{2 ** j}" for j in range(int(np.log2(self.factor)) + 1)}

    def ramp(self) -> tuple[float, float] | None:
        """YaRN's ramp between its low and high pair, when YaRN is shown."""
        y = self.methods["yarn"]
        return (y.detail["low"], y.detail["high"]) if "yarn" in self.shown else None

    def note(self) -> str:
        """The scale factor, NTK's new base and YaRN's ramp and temperature in one markdown line."""
        y = self.methods["yarn"]
        return (f"Scale factor s = {self.target:,} / {self.orig:,} = **{self.factor:g}**. NTK-aware base: "
                f"{self.methods['ntk'].detail['base']:,.0f}. YaRN ramp between pairs {y.detail['low']} and "
                f"{y.detail['high']}, attention factor {y.attention_factor:.4f} "
                f"(scores × {y.attention_factor ** 2:.4f}).")


def extension(dim: int, base: float, orig: int, target: int, chosen: list[str]) -> Extension:
    """Every method stretching `orig` trained tokens to `target` for a head of size dim; `chosen` are shown."""
    methods = extension_methods(dim, float(base), target / orig, orig)
    return Extension(orig, target, methods, {"original": methods["original"], **{k: methods[k] for k in chosen}})


def untrained_note(trained: int) -> str:
    """A table longer than the windows the model was trained on: what its rows beyond them hold."""
    return (f"This bundled model was trained on windows of {trained} tokens: positions beyond {trained - 1} (right of "
            "/ below the dashed lines) never received a gradient and keep their random start.")


def table_note(n_table: int, bundled: bool) -> str:
    """What the similarity-by-gap figure shows, and where a learned table ends (markdown)."""
    return ("Along a diagonal (a fixed gap m − n) a learned table gives different similarities at different absolute "
            "positions — the band. RoPE's similarity is one number per gap. A learned table also stops at its "
            f"length: this one has no vector for position {n_table}."
            + (" The tiny bundled model trained only briefly, so its table shows little structure; real GPT-2's is "
               "smooth and banded." if bundled else ""))

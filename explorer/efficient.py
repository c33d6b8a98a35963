"""Efficient attention: sliding-window masks, and FlashAttention's tiled online softmax with its memory traffic.

Sliding window (Mistral, Gemma). Query q sees key k when k <= q (causal) and q - k < window: itself
and the window - 1 tokens before it. This is transformers' own definition
(`masking_utils.sliding_window_overlay`: kv_idx > q_idx - sliding_window), which Mistral-style
configs switch on with `sliding_window`. Stacked layers pass information further: after L layers a
token can draw on L x (window - 1) + 1 positions (Mistral-7B: 32 layers x 4,096 -> about 131K).

FlashAttention (Dao et al., 2022; the loop order of FlashAttention-2). Standard attention writes
the whole T x T score matrix S to the GPU's main memory (HBM), reads it back for the softmax, writes
the probabilities P, and reads them again to multiply by V. The tiled version never stores S or P:
for each tile of queries it streams the key/value tiles through fast on-chip memory (SRAM) and keeps
per row only a running maximum m and a running sum l of exponentials (the online softmax):

    m_new = max(m, rowmax(S_ij))
    l_new = exp(m - m_new) * l + rowsum(exp(S_ij - m_new))
    O_new = exp(m - m_new) * O + exp(S_ij - m_new) @ V_j            and at the end O / l

which is exactly softmax(S) @ V, up to float rounding.

Shapes: q, k, v are [T, d] (one head); masks and patterns [query, key]. Traffic is counted in
elements of the four T x d tensors and the T x T matrices (`Traffic`), times bytes per element.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from explorer import hf, runtime
from explorer import kvcache as kv
from explorer.families import causal_mask, mass_outside

MISTRAL_WINDOW = 4096        # Mistral-7B v0.1's config.json: "sliding_window": 4096
MAX_MODEL_TOKENS = 128       # the real-model section decodes the text token by token: keep it short


# ------------------------------------------------------------------ masks
def window_label(window: int | None) -> str:
    """A window for the page: 4096 -> "4,096"; 0 or None (no window) -> "none"."""
    return f"{window:,}" if window else "none"


def grid_table(cells: dict[str, np.ndarray], rows: str = "query", cols: str = "key") -> dict[str, np.ndarray]:
    """Matrices of one shape [R, C] as the columns of one long table (the numbers behind a figure, CSV-ready):
    the row index, the column index, then each matrix flattened row by row (booleans as 0/1, spaces in its name
    as underscores)."""
    n_rows, n_cols = np.shape(next(iter(cells.values())))
    table = {rows: np.repeat(np.arange(n_rows), n_cols), cols: np.tile(np.arange(n_cols), n_rows)}
    for name, m in cells.items():
        flat = np.asarray(m).reshape(-1)
        table[name.replace(" ", "_")] = flat.astype(int) if flat.dtype == bool else flat
    return table


def window_mask(n_tokens: int, window: int | None) -> np.ndarray:
    """bool [query, key]: the decoder's causal mask (explorer.families), and at most `window` keys per
    query, itself included. None: causal only."""
    allowed = causal_mask(n_tokens).astype(bool)
    if window is not None:
        if window < 1:
            raise ValueError("a sliding window holds at least one token")
        q = np.arange(n_tokens)[:, None]
        allowed &= q - np.arange(n_tokens)[None, :] < window
    return allowed


def visible_keys(n_tokens: int, window: int | None) -> np.ndarray:
    """int64 [query]: how many keys each query sees, min(q + 1, window)."""
    seen = np.arange(1, n_tokens + 1, dtype=np.int64)
    return seen if window is None else np.minimum(seen, window)


def attended_pairs(n_tokens: int, window: int | None) -> int:
    """Query-key pairs that get a score (the mask's True cells), in closed form.

    Causal: T(T+1)/2. With a window w < T: w(w+1)/2 for the first w queries, then w for each of the rest.
    """
    t = n_tokens
    if window is None or window >= t:
        return t * (t + 1) // 2
    return window * (window + 1) // 2 + (t - window) * window


def pooled_mask(n_tokens: int, window: int | None, cells: int) -> np.ndarray:
    """float64 [cells, cells]: the share of allowed pairs in each block of a long mask (e.g. 16K x 16K).

    Counts per row the overlap of its visible interval [q - w + 1, q] with each block of keys, so the
    T x T mask is never built. Blocks are ceil(T / cells) tokens wide (the last may be narrower).
    """
    size = -(-n_tokens // cells)
    n_blocks = -(-n_tokens // size)
    starts = np.arange(n_blocks, dtype=np.int64) * size
    ends = np.minimum(starts + size, n_tokens)              # exclusive
    q = np.arange(n_tokens, dtype=np.int64)
    lo = q - (window - 1 if window is not None else n_tokens)
    lo = np.maximum(lo, 0)
    hi = q + 1                                              # exclusive
    overlap = np.clip(np.minimum(hi[:, None], ends[None, :]) - np.maximum(lo[:, None], starts[None, :]), 0, None)
    rows = np.add.reduceat(overlap, starts, axis=0)          # [block of queries, block of keys]
    area = np.outer(ends - starts, ends - starts)
    return rows / area


def receptive_field(n_tokens: int, window: int | None, n_layers: int, token: int) -> np.ndarray:
    """bool [layer + 1, position]: the inputs that can reach `token`'s hidden state after each layer.

    Row 0 is the token alone; row l = positions p with a path through l attention layers, each step
    following the window mask backwards (boolean matrix powers of the mask).
    """
    if not 0 <= token < n_tokens:
        raise ValueError(f"token {token} is outside 0..{n_tokens - 1}")
    m = window_mask(n_tokens, window)
    reach = np.zeros((n_layers + 1, n_tokens), dtype=bool)
    reach[0, token] = True
    for layer in range(1, n_layers + 1):
        reach[layer] = m[reach[layer - 1]].any(0)
    return reach


def reach_span(window: int | None, n_layers: int, position: int | None = None) -> int | None:
    """Positions one token can draw on after n_layers: n_layers x (window - 1) + 1 (capped by its position).

    None for full causal attention without a position (unbounded: everything before it).
    """
    if window is None:
        return None if position is None else position + 1
    span = n_layers * (window - 1) + 1
    return span if position is None else min(span, position + 1)


def reach_note(window: int, n_layers: int, token: int) -> str:
    """The receptive field in one markdown sentence, with Mistral-7B's for comparison."""
    mistral = reach_span(MISTRAL_WINDOW, 32)
    return (f"After **{n_layers}** layers with a window of **{window}**, token {token} draws on up to "
            f"{n_layers} × ({window} − 1) + 1 = **{reach_span(window, n_layers):,}** positions (here "
            f"{reach_span(window, n_layers, token):,} of the {token + 1} up to it). Mistral-7B: 32 layers × 4,095 + 1 "
            f"= **{mistral:,}** tokens, though each layer looks at 4,096.")


# ------------------------------------------------------------------ memory traffic
@dataclass
class Traffic:
    """Elements moved between main memory (HBM) and the compute units, by tensor."""
    reads: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)

    def read(self, name: str, n: int) -> None:
        self.reads[name] = self.reads.get(name, 0) + int(n)

    def write(self, name: str, n: int) -> None:
        self.writes[name] = self.writes.get(name, 0) + int(n)

    @property
    def elements(self) -> int:
        return sum(self.reads.values()) + sum(self.writes.values())

    def bytes(self, bytes_per_element: float) -> float:
        return self.elements * bytes_per_element


def tile_schedule(n_tokens: int, block_q: int, block_k: int, causal: bool, window: int | None = None
                  ) -> list[tuple[int, list[int]]]:
    """[(query tile, [key tiles it visits])] in FlashAttention-2's order: outer loop over query tiles.

    A key tile is skipped when the mask hides all of it from the query tile: entirely in the future
    (causal) or entirely before the window of the tile's first query.
    """
    if block_q < 1 or block_k < 1:
        raise ValueError("tiles hold at least one row")
    out = []
    n_q, n_k = -(-n_tokens // block_q), -(-n_tokens // block_k)
    for i in range(n_q):
        q0, q1 = i * block_q, min((i + 1) * block_q, n_tokens) - 1      # first and last query
        keys = []
        for j in range(n_k):
            k0, k1 = j * block_k, min((j + 1) * block_k, n_tokens) - 1
            if (causal or window is not None) and k0 > q1:
                continue                                  # the whole tile is in the future
            if window is not None and k1 <= q0 - window:
                continue                                  # the whole tile is out of every query's window
            keys.append(j)
        out.append((i, keys))
    return out


def n_tile_steps(n_tokens: int, block_q: int, block_k: int, causal: bool, window: int | None = None) -> int:
    """How many (query tile, key tile) steps the tiled loop takes: the tiles the mask does not skip."""
    return sum(len(keys) for _, keys in tile_schedule(n_tokens, block_q, block_k, causal, window))


def _tile_rows(n_tokens: int, block: int, i: int) -> int:
    return min((i + 1) * block, n_tokens) - i * block


def tiled_traffic(n_tokens: int, head_dim: int, block_q: int, block_k: int, causal: bool,
                  window: int | None = None) -> Traffic:
    """What the tiled loop moves, from its schedule alone: each Q tile read once, each visited K and V
    tile read once per query tile, each O tile written once. No T x T matrix leaves the chip.

    Without a mask this is (2 + 2 x ceil(T / B_q)) x T x d elements.
    """
    t = Traffic()
    for i, keys in tile_schedule(n_tokens, block_q, block_k, causal, window):
        rows = _tile_rows(n_tokens, block_q, i)
        width = sum(_tile_rows(n_tokens, block_k, j) for j in keys)
        t.read("Q", rows * head_dim)
        t.read("K", width * head_dim)
        t.read("V", width * head_dim)
        t.write("O", rows * head_dim)
    return t


def tiled_traffic_elements(n_tokens: int, head_dim: int, block_q: int, block_k: int, causal: bool) -> int:
    """Closed form of tiled_traffic's total (no window), cheap for T = 128K and above.

    Without causal: (2 + 2 n_q) T d with n_q = ceil(T / B_q). Causal: query tile i reads the key tiles
    up to its last query, so K and V cost 2 d x sum_i min(T, ceil((i + 1) B_q / B_k) B_k).
    """
    n_q = -(-n_tokens // block_q)
    if not causal:
        return (2 + 2 * n_q) * n_tokens * head_dim
    i = np.arange(n_q, dtype=np.int64)
    last_q = np.minimum((i + 1) * block_q, n_tokens) - 1
    width = np.minimum((last_q // block_k + 1) * block_k, n_tokens)
    return int(2 * n_tokens * head_dim + 2 * head_dim * width.sum())


def standard_traffic(n_tokens: int, head_dim: int) -> Traffic:
    """Standard attention (FlashAttention paper, Algorithm 0): S = QK^T written, read back, P written,
    read back with V, O written. 4 T d + 4 T^2 elements; a causal mask does not shrink the matrices."""
    t = Traffic()
    td, tt = n_tokens * head_dim, n_tokens * n_tokens
    t.read("Q", td)
    t.read("K", td)
    t.write("S", tt)
    t.read("S", tt)
    t.write("P", tt)
    t.read("P", tt)
    t.read("V", td)
    t.write("O", td)
    return t


def standard_traffic_elements(n_tokens, head_dim):
    """4 T d + 4 T^2 (works on int64 arrays of lengths)."""
    t = np.asarray(n_tokens, dtype=np.int64)
    return 4 * t * head_dim + 4 * t * t


def traffic_curves(lengths, head_dim: int, block_q: int, block_k: int, causal: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elements moved at each sequence length -> (lengths, standard attention, tiled), int64 arrays."""
    lengths = np.asarray(lengths, dtype=np.int64)
    tiled = [tiled_traffic_elements(int(t), head_dim, block_q, block_k, causal) for t in lengths]
    return lengths, standard_traffic_elements(lengths, head_dim), np.array(tiled, dtype=np.int64)


def sram_elements(head_dim: int, block_q: int, block_k: int) -> int:
    """What one step keeps on chip: a Q tile, a K and a V tile, the S tile, the O accumulator, m and l."""
    return 2 * block_q * head_dim + 2 * block_k * head_dim + block_q * block_k + 2 * block_q


def traffic_note(n_tokens: int, head_dim: int, block_q: int, block_k: int, causal: bool, bytes_per: float,
                 counted_tokens: int, counted: int) -> str:
    """Both traffic formulas in one markdown paragraph, with what the tiled code counted itself at
    `counted_tokens` (`counted` elements) beside what the closed form says there."""
    kv_part = "K and V: 2·d·Σ over query tiles of the keys up to its last query" if causal else \
        f"K and V: 2·⌈T/B_q⌉·T·d = 2·{-(-n_tokens // block_q):,}·T·d"
    formula = tiled_traffic_elements(counted_tokens, head_dim, block_q, block_k, causal)
    on_chip = kv.format_bytes(sram_elements(head_dim, block_q, block_k) * bytes_per)
    return (f"**Standard**: 4·T·d + 4·T² elements (S and P each written and read once). **Tiled**: Q and O "
            f"2·T·d, {kv_part}. On chip per step: {on_chip}. The tiled code itself counted **{counted:,}** elements "
            f"at T = {counted_tokens:,} — the formula says {formula:,}.")


# ------------------------------------------------------------------ attention, standard and tiled
def _scale(head_dim: int, scale: float | None) -> float:
    return 1.0 / math.sqrt(head_dim) if scale is None else scale


def standard_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False,
                       window: int | None = None, scale: float | None = None
                       ) -> tuple[np.ndarray, np.ndarray, Traffic]:
    """softmax(Q K^T / sqrt(d) + mask) V with every intermediate written out, as Algorithm 0 does.

    Returns (O float32 [T, d], P float32 [query, key], the traffic it caused).
    """
    q, k, v = (np.asarray(x, dtype=np.float32) for x in (q, k, v))
    n, d = q.shape
    traffic = Traffic()
    traffic.read("Q", q.size)
    traffic.read("K", k.size)
    s = (q @ k.T) * np.float32(_scale(d, scale))
    if causal or window is not None:
        s = np.where(window_mask(n, window), s, -np.inf).astype(np.float32)
    traffic.write("S", s.size)
    traffic.read("S", s.size)
    e = np.exp(s - s.max(1, keepdims=True))
    p = (e / e.sum(1, keepdims=True)).astype(np.float32)
    traffic.write("P", p.size)
    traffic.read("P", p.size)
    traffic.read("V", v.size)
    o = p @ v
    traffic.write("O", o.size)
    return o, p, traffic


@dataclass
class TileStep:
    """One (query tile, key tile) step of the tiled loop; the tracked row's statistics after it."""
    q_tile: int
    k_tile: int
    row_in_tile: bool            # does this step touch the tracked row?
    m: float                     # running max of the tracked row (-inf before its first visible key)
    l: float                     # running sum of exp(score - m) of the tracked row
    out: np.ndarray              # float32 [d]: the tracked row's output so far, O / l (zeros before any key)
    tile_max: float              # this tile's max score in the tracked row (-inf: none visible / not its tile)


@dataclass
class TiledResult:
    out: np.ndarray              # float32 [T, d]
    m: np.ndarray                # float32 [T]: final running max per row
    l: np.ndarray                # float32 [T]: final running sum per row
    steps: list[TileStep]        # in loop order
    schedule: list[tuple[int, list[int]]]
    traffic: Traffic
    block_q: int
    block_k: int
    row: int                     # the tracked row

    @property
    def skipped(self) -> int:
        """Key tiles the mask let the loop skip."""
        n_k = -(-self.out.shape[0] // self.block_k)
        return sum(n_k - len(keys) for _, keys in self.schedule)

    def row_trace(self, done: int) -> dict[str, list]:
        """The tracked row's running max m and sum l after each of the first `done` steps that touched it
        -> {"row_step": 1, 2, ..., "m": [...], "l": [...]}."""
        mine = [s for s in self.steps[:done] if s.row_in_tile]
        return {"row_step": list(range(1, len(mine) + 1)), "m": [s.m for s in mine], "l": [s.l for s in mine]}

    def row_labels(self) -> list[str]:
        """A label for every step that touches the tracked row: "step 3: key tile 1 (keys 4–7)"."""
        n, bk = len(self.out), self.block_k
        return [f"step {k + 1}: key tile {s.k_tile} (keys {s.k_tile * bk}–{min((s.k_tile + 1) * bk, n) - 1})"
                for k, s in enumerate(self.steps) if s.row_in_tile]

    def step_name(self, done: int) -> str:
        """What the last of the first `done` steps computed: "query tile 0 × key tile 1"."""
        if not done:
            return "nothing computed yet"
        return f"query tile {self.steps[done - 1].q_tile} × key tile {self.steps[done - 1].k_tile}"


def tiled_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, block_q: int, block_k: int,
                    causal: bool = False, window: int | None = None, scale: float | None = None,
                    row: int = 0) -> TiledResult:
    """FlashAttention-2's forward loop in numpy float32, counting its own memory traffic.

    Only tiles go in and out of "main memory": Q_i once per query tile, K_j and V_j once per visited
    (i, j), O_i once. S and P exist one tile at a time. `row`: the query whose m, l and output are
    recorded after every step (for the animation).
    """
    q, k, v = (np.asarray(x, dtype=np.float32) for x in (q, k, v))
    n, d = q.shape
    if not 0 <= row < n:
        raise ValueError(f"row {row} is outside 0..{n - 1}")
    sc = np.float32(_scale(d, scale))
    schedule = tile_schedule(n, block_q, block_k, causal, window)
    masked = causal or window is not None
    traffic = Traffic()
    out = np.zeros((n, d), dtype=np.float32)
    m_all = np.full(n, -np.inf, dtype=np.float32)
    l_all = np.zeros(n, dtype=np.float32)
    steps: list[TileStep] = []
    track_m, track_l, track_o = -np.inf, 0.0, np.zeros(d, dtype=np.float32)
    for i, keys in schedule:
        r0, r1 = i * block_q, min((i + 1) * block_q, n)
        qi = q[r0:r1]
        traffic.read("Q", qi.size)
        m = np.full(r1 - r0, -np.inf, dtype=np.float32)
        l = np.zeros(r1 - r0, dtype=np.float32)
        acc = np.zeros((r1 - r0, d), dtype=np.float32)
        for j in keys:
            c0, c1 = j * block_k, min((j + 1) * block_k, n)
            kj, vj = k[c0:c1], v[c0:c1]
            traffic.read("K", kj.size)
            traffic.read("V", vj.size)
            s = (qi @ kj.T) * sc                                   # [rows, cols], on chip only
            if masked:
                qpos = np.arange(r0, r1)[:, None]
                kpos = np.arange(c0, c1)[None, :]
                ok = kpos <= qpos
                if window is not None:
                    ok &= qpos - kpos < window
                s = np.where(ok, s, -np.inf).astype(np.float32)
            tile_max = s.max(1)
            m_new = np.maximum(m, tile_max)
            shift = np.where(np.isfinite(m_new), m_new, 0).astype(np.float32)   # rows with nothing seen yet
            p = np.exp(s - shift[:, None])
            alpha = np.exp(m - shift)                              # rescales what was summed under the old max
            l = alpha * l + p.sum(1)
            acc = alpha[:, None] * acc + p @ vj
            m = m_new
            inside = r0 <= row < r1
            if inside:
                r = row - r0
                track_m, track_l = float(m[r]), float(l[r])
                track_o = (acc[r] / l[r]) if l[r] > 0 else np.zeros(d, dtype=np.float32)
            steps.append(TileStep(i, j, inside, track_m, track_l, np.array(track_o, dtype=np.float32),
                                  float(tile_max[row - r0]) if inside else -np.inf))
        out[r0:r1] = acc / l[:, None]
        traffic.write("O", (r1 - r0) * d)
        m_all[r0:r1], l_all[r0:r1] = m, l
    return TiledResult(out, m_all, l_all, steps, schedule, traffic, block_q, block_k, row)


def random_qkv(n_tokens: int, head_dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random float32 q, k, v [T, d] (standard normal), the same for the same seed."""
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((n_tokens, head_dim)).astype(np.float32) for _ in range(3))


def row_softmax_stats(q: np.ndarray, k: np.ndarray, row: int, causal: bool = False, window: int | None = None,
                      scale: float | None = None) -> tuple[float, float]:
    """The true max and sum of exp(score - max) of one row, computed in one go (what m and l end at)."""
    n, d = q.shape
    s = (np.asarray(q[row], dtype=np.float32) @ np.asarray(k, dtype=np.float32).T) * np.float32(_scale(d, scale))
    if causal or window is not None:
        s = s[window_mask(n, window)[row]]
    mx = float(s.max())
    return mx, float(np.exp(s - mx).sum())


# ------------------------------------------------------------------ a real model with a window
@dataclass
class WindowRun:
    """The learner's text through a real decoder, with full causal attention and with a sliding window."""
    model_id: str
    tokens: list[str]
    ids: list[int]
    window: int
    mechanism: str                 # "config": transformers' sliding-window mask from the config; "mask": explicit mask
    attn_full: np.ndarray          # float16 [layer, head, query, key]
    attn_window: np.ndarray        # float16 [layer, head, query, key]
    probs_full: np.ndarray         # float32 [position, vocab top-k]: next-token probabilities, top TOP_K by the full run
    top_ids_full: np.ndarray       # int64 [position, TOP_K]
    probs_window: np.ndarray       # float32 [position, TOP_K]
    top_ids_window: np.ndarray     # int64 [position, TOP_K]
    top_tokens_full: list[list[str]]
    top_tokens_window: list[list[str]]
    outside_max: float             # largest share of any attention row outside the window (exactly 0)
    logit_diff: np.ndarray         # float32 [position]: max |logits_window - logits_full|
    argmax_changed: np.ndarray     # bool [position]: the most likely next token differs
    cache: object                  # kvcache.Measurement of the windowed decode (sliding-window DynamicCache)
    decode_diff: float             # max |decode logits - windowed forward logits| over all positions
    truncated: bool
    total_tokens: int
    seconds: float

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    def next_token_table(self, position: int) -> dict[str, np.ndarray | list[str]]:
        """The top next tokens after `position` with and without the window, and their probabilities."""
        return {"full_token": self.top_tokens_full[position], "full_p": self.probs_full[position],
                "window_token": self.top_tokens_window[position], "window_p": self.probs_window[position]}

    def how_it_ran(self) -> str:
        """The three runs behind the numbers, in markdown (the explanation under the figures)."""
        return (f"The text runs three times: with the plain causal mask, with the window, and once more one token at "
                f"a time through a transformers `DynamicCache` whose layers keep only the last window − 1 = "
                f"{self.window - 1} keys and values (`DynamicSlidingWindowLayer`; the newest token makes "
                f"{self.window}). That decode predicts the same as the windowed run (largest logit difference "
                f"{self.decode_diff:.1e}), and its bytes are the KV-cache formula with the window as the cap. Tokens "
                "further back get a weight of exactly 0: the mask adds the most negative float before the softmax, "
                "whose exponential underflows to 0.")


TOP_K = 8
MECHANISMS = {         # how run_window imposes the window (WindowRun.mechanism), for the page
    "config": "transformers' own sliding-window mask (`create_sliding_window_causal_mask`, from the config's "
              "`sliding_window`)",
    "mask": "an explicit mask passed to the model (Llama has no `sliding_window` setting)"}


def full_cache_bytes(config, n_tokens, element_size: int):
    """What a full KV cache (no window) of the model with `config` holds after n_tokens (an int or an array of
    them), batch 1, at element_size bytes per number: the KV-cache formula."""
    return kv.cache_bytes(kv.shape_from_config(config), n_tokens, 1, 8 * element_size)


def model_mask(model, n_tokens: int, window: int | None):
    """The 4-D additive mask [1, 1, T, T] the eager attention adds to its scores (0 or the dtype's min).

    Mistral-style configs: transformers' own sliding-window mask, built from a copy of the config with
    the window, exactly as the model builds it internally (explorer.hf). Other decoders (Llama): an
    explicit mask from `window_mask`. Returns (mask, mechanism: "config" or "mask").
    """
    import torch
    if window is not None and hf.has_sliding_window(model.config):
        return hf.sliding_window_mask(model.config, n_tokens, window, model.dtype), "config"
    allowed = torch.from_numpy(window_mask(n_tokens, window))
    mask = torch.where(allowed, torch.zeros((), dtype=model.dtype), torch.finfo(model.dtype).min)
    return mask[None, None], "mask"


def window_forward(lm, enc, window: int | None):
    """One eager forward pass (explorer.forward) with attentions under the window; None: the model's own
    causal mask, untouched.

    enc: an Encoded text or a list of ids. -> forward.Run (run.output has logits and attentions).
    """
    from explorer.forward import forward
    if window is None:
        return forward(lm, enc, attentions=True)
    n = len(enc.ids) if hasattr(enc, "ids") else len(enc)
    mask, _ = model_mask(lm.model, n, window)
    return forward(lm, enc, attentions=True, attention_mask=mask)


def windowed_decode(lm, ids: list[int], window: int):
    """Feed the text one token per step through a DynamicCache whose layers keep only the window.

    The cache comes from transformers (`DynamicSlidingWindowLayer`, made from a config copy with
    `sliding_window`, explorer.hf); its bytes are read after every step with kvcache's own counter.
    Returns (kvcache.Measurement, logits float32 [T, vocab]).
    """
    import torch

    from explorer.forward import forward
    cfg = hf.with_sliding_window(lm.model.config, window)
    cache = hf.new_cache(cfg)
    lengths, measured, logits = [], [], []
    t0 = time.perf_counter()
    for pos, tok in enumerate(ids):
        run = forward(lm, [tok], cache=cache, position_ids=torch.tensor([[pos]]))
        cache = run.cache
        lengths.append(hf.cache_length(cache))
        measured.append(kv.layer_bytes(cache))
        logits.append(run.output.logits[0, -1].float())
    seconds = time.perf_counter() - t0
    layers = hf.cache_layers(cache)
    k0, v0 = layers[0]
    m = kv.Measurement(lm.spec.id, kv.shape_from_config(cfg), 1, np.asarray(lengths, dtype=np.int64),
                       np.asarray(measured, dtype=np.int64), k0.element_size(), str(k0.dtype).replace("torch.", ""),
                       tuple(k0.shape), tuple(v0.shape), (), len(layers), seconds)
    return m, torch.stack(logits).numpy()


def _top(probs, k: int):
    import torch
    vals, idx = torch.topk(probs, k, dim=-1)
    return vals.numpy().astype(np.float32), idx.numpy().astype(np.int64)


@runtime.queued   # one place in the forward-pass queue for its two passes and the token-by-token decode
def run_window(lm, text: str, window: int, max_tokens: int = MAX_MODEL_TOKENS) -> WindowRun:
    """The text through `lm` twice (full causal, then with the window), and once more token by token
    through a sliding-window KV cache. Raises ValueError for an encoder (no causal mask to window)."""
    import torch

    from explorer.forward import encode
    from explorer.text import display_token
    if lm.spec.family == "encoder":
        raise ValueError("a sliding window is a decoder's mask; choose a decoder")
    if window < 1:
        raise ValueError("a sliding window holds at least one token")
    tok = lm.tokenizer
    enc = encode(lm, text, max_tokens)
    t0 = time.perf_counter()
    full = window_forward(lm, enc, None).output
    win = window_forward(lm, enc, window).output
    _, mechanism = model_mask(lm.model, len(enc.ids), window)
    attn_full = torch.stack(full.attentions)[:, 0].float().numpy()
    attn_win = torch.stack(win.attentions)[:, 0].float().numpy()
    outside_max = mass_outside(attn_win, window_mask(len(enc.ids), window))
    lf, lw = full.logits[0].float(), win.logits[0].float()
    pf, pw = torch.softmax(lf, -1), torch.softmax(lw, -1)
    k = min(TOP_K, pf.shape[-1])
    vf, idf = _top(pf, k)
    vw, idw = _top(pw, k)
    cache, dec_logits = windowed_decode(lm, enc.ids, window)
    names = lambda ids: [[display_token(t) for t in tok.convert_ids_to_tokens(row.tolist())] for row in ids]  # noqa: E731
    return WindowRun(
        lm.spec.id, [display_token(t) for t in enc.tokens], enc.ids, window, mechanism,
        attn_full.astype(np.float16), attn_win.astype(np.float16), vf, idf, vw, idw, names(idf), names(idw),
        outside_max, (lw - lf).abs().max(-1).values.numpy().astype(np.float32),
        (lw.argmax(-1) != lf.argmax(-1)).numpy(), cache, float(np.abs(dec_logits - lw.numpy()).max()),
        enc.truncated, enc.total_tokens, time.perf_counter() - t0)


# ------------------------------------------------------------------ what each section's figure shows (the page's text)
EXPLAINED = {
    "mask": "Row = the token that looks (query), column = the token looked at (key). A decoder's causal mask hides the "
            "future (above the diagonal). A sliding window also hides the far past: each token sees itself and the "
            "window − 1 tokens before it — transformers' rule `kv_idx > q_idx - sliding_window`. The work and the KV "
            "cache then grow with the window, not with the whole text.",
    "reach": "Information hops one window per layer: layer 1 mixes each token with its window, layer 2 mixes those "
             "mixtures, and so on, like the receptive field of stacked convolutions. The window bounds the cost per "
             "layer, the depth multiplies the reach.",
    "tiles": "FlashAttention never writes the score matrix to memory. For each tile of queries it streams the key and "
             "value tiles through fast on-chip memory, keeping per row a running max m and a running sum l of "
             "exp(score − m). When a tile raises the max, everything summed so far is rescaled by exp(m_old − m_new), "
             "so at the end O / l is exactly softmax(S)·V — up to float32 rounding (about 1e-7 here).",
    "traffic": "Standard attention is limited by memory, not arithmetic: the T × T scores and probabilities go to the "
               "GPU's main memory and back. The tiled loop reads K and V once per query tile instead, so the saving "
               "is about 2·B_q/d (twice that with a causal mask, which lets it skip the future tiles); the real prize "
               "at long context is that the T × T matrix never exists in memory at all."}

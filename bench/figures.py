"""Benchmark: no rerun grows faster than the tokens shown. Every page's per-token figures, built at
1,024 and at 256 tokens, side by side in one run.

    python bench/figures.py [--rounds 3] [--small 256] [--large 1024]

A figure's cost on a rerun is what explorer.ui.figures.show does before Streamlit sends it: the chart
builder, the text sanitizer, the app's styling, and plotly's JSON (what st.plotly_chart ships).
Data are synthetic and seeded, with the shapes the pages pass. Rounds are interleaved (small, large,
small, ...) so that the shared machine's load hits both sizes alike; the median is kept.

    time at 1,024 tokens / time at 256 tokens  -> must be <= 5 for every figure (4 = linear)

(The generation timeline used to add one layout shape per token: 8.6 s at 250 tokens, 142 s at 1,000.)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import plotly.io as pio  # noqa: E402

from explorer.charts import attention as CA  # noqa: E402
from explorer.charts import efficient as CE  # noqa: E402
from explorer.charts import generation as CG  # noqa: E402
from explorer.charts import moe as CM  # noqa: E402
from explorer.charts import pipeline as CP  # noqa: E402
from explorer.charts import rope as CR  # noqa: E402
from explorer.charts import theme  # noqa: E402

theme.SHARING = False     # every round builds its figures: the cost of a first request (not the shared store's)

LIMIT = 5.0
L, H, E, K = 12, 12, 8, 2          # GPT-2-size layers and heads; Mixtral-size experts, top-2


def _words(T: int, rng) -> list[str]:
    vocab = ["the", "Ġcat", "Ġsat", "Ġon", "Ġmat", "<b>", "Ġrefund", "##ing", "ö", "猫", "Ġ🙂"]
    return [vocab[i] for i in rng.integers(0, len(vocab), T)]


def _rows(T: int, rng, lead=()) -> np.ndarray:
    """Attention rows [..., T, T]: causal, each row sums to 1."""
    a = rng.random((*lead, T, T), dtype=np.float32) * np.tril(np.ones((T, T), np.float32))
    return a / a.sum(-1, keepdims=True)


def figures(T: int) -> dict:
    """{page: figure name: a function that builds it}, for T tokens."""
    rng = np.random.default_rng(T)
    words = _words(T, rng)
    one = _rows(T, rng)
    heads = _rows(T, rng, (H,))
    model = np.broadcast_to(heads.astype(np.float16), (L, H, T, T))    # the page holds float16 patterns
    thumbs = CA.pool(model, 32)          # pooled once per text and options (explorer.ui.attention.thumbnails)
    probs = rng.dirichlet(np.ones(E), T).astype(np.float32)                       # [token, expert]
    chosen = np.argsort(-probs, -1)[:, :K]
    weights = np.take_along_axis(probs, chosen, -1)
    top1 = rng.integers(0, E, (T, 4))
    ch_l = rng.integers(0, E, (4, T, K))
    w_l = rng.random((4, T, K)).astype(np.float32)
    transitions = rng.integers(0, T // 4 + 1, (3, E, E))
    experts = [f"E{e}" for e in range(E)]
    pre = {p: rng.normal(size=(T, 2)) for p in (0, 8)}
    angles = {p: np.arange(T) * 0.1 * (p + 1) for p in (0, 8)}
    stride = max(1, int(np.ceil(T / 256)))                                        # as the RoPE page pools
    idx = np.arange(0, T, stride)
    C = np.corrcoef(rng.normal(size=(len(idx), 16)))
    gen_vals = rng.random(T)
    window = T // 4
    band = np.tril(np.ones((T, T), bool)) & ~np.tril(np.ones((T, T), bool), -window)
    windowed = one * band
    windowed /= windowed.sum(-1, keepdims=True)
    reach = np.zeros((5, T), bool)
    for layer in range(5):
        reach[layer, max(0, T // 2 - layer * window):T // 2 + 1] = True
    return {
        "attention": {
            "one head (heatmap)": lambda: CA.heatmap(one, words),
            "layer grid": lambda: CA.head_grid(heads, words, [f"head {h}" for h in range(H)]),
            "model thumbnails": lambda: CA.model_thumbnails(thumbs, rng.random((L, H)), "entropy", thumb=32),
            "token focus": lambda: CA.token_focus(heads, words, T // 2),
        },
        "generation": {
            "timeline": lambda: CG.timeline(words[:8], words[8:], gen_vals[8:], "probability", T // 2),
            "newest token's attention": lambda: CG.attention_row(heads[None, :, -1].repeat(L, 0), words, None),
        },
        "rope": {
            "rotation per pair": lambda: CR.rotation_heatmap(np.cos(np.outer(np.arange(32), np.arange(T))),
                                                             np.arange(T), "cos"),
            "pair tracks": lambda: CR.pair_tracks(pre, pre, words, {0: 1.0, 8: 0.01}, "query", T // 2),
            "turned angle": lambda: CR.turned_angle(np.arange(T), angles, {0: 0.1, 8: 0.9}),
            "position cosine": lambda: CR.cosine_heatmap(C, idx),
        },
        "pipeline": {
            "token strip": lambda: CP.token_strip(words, list(range(T)), selected=T // 2),
            "append query row": lambda: CP.query_row(heads[None, :, -1].repeat(L, 0), words),
        },
        "efficient": {
            "receptive field": lambda: CE.receptive_field(reach, T // 2, window),
            "attention pair": lambda: CE.attention_pair(one, windowed, words, window),
        },
        "moe": {
            "router heatmap": lambda: CM.router_heatmap(probs, chosen, weights, words, experts),
            "path grid": lambda: CM.path_grid(top1, ch_l, w_l, words, experts, highlight=3),
            "path sankey": lambda: CM.path_sankey(top1, transitions, experts, highlight=3),
        },
    }


def rerun_cost(build) -> float:
    """Seconds for one figure as a rerun pays it: build, sanitize, style, JSON for the browser."""
    from explorer.ui.figures import spec
    t = time.perf_counter()
    fig = build()
    pio.to_json(spec(fig), validate=False)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small", type=int, default=256)
    ap.add_argument("--large", type=int, default=1024)
    args = ap.parse_args()
    small, large = figures(args.small), figures(args.large)
    rerun_cost(small["generation"]["timeline"])                    # warm plotly's validators and templates
    times: dict[tuple[str, str], dict[int, list[float]]] = {}
    for _ in range(args.rounds):
        for page, figs in small.items():
            for name in figs:
                cell = times.setdefault((page, name), {args.small: [], args.large: []})
                cell[args.small].append(rerun_cost(small[page][name]))
                cell[args.large].append(rerun_cost(large[page][name]))
    print(f"{'page':<11} {'figure':<26} {args.small:>8} tok {args.large:>8} tok   ratio (<= {LIMIT:g}; linear = "
          f"{args.large / args.small:g})")
    worst = 0.0
    for (page, name), cell in times.items():
        a, b = statistics.median(cell[args.small]), statistics.median(cell[args.large])
        ratio = b / a
        worst = max(worst, ratio)
        print(f"{page:<11} {name:<26} {a * 1e3:8.1f} ms {b * 1e3:8.1f} ms   {ratio:5.2f}"
              + ("" if ratio <= LIMIT else "   FAIL: grows faster than the tokens"))
    print(f"worst ratio {worst:.2f} (limit {LIMIT:g}): {'ok' if worst <= LIMIT else 'FAIL'}")
    # not a rerun: what a new text or new view options cost once (cached), for scale
    for T in (args.small, args.large):
        model = np.broadcast_to(_rows(T, np.random.default_rng(0), (H,)).astype(np.float16), (L, H, T, T))
        t = time.perf_counter()
        CA.pool(model, 32)
        print(f"once per text: pooling {L}x{H} patterns of {T} tokens for the thumbnails {time.perf_counter() - t:.2f} s")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())

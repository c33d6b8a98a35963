"""Efficient attention: sliding windows (Mistral, Gemma) and FlashAttention's tiling, shown exactly."""
import streamlit as st

from explorer import efficient as E
from explorer import kvcache as kv
from explorer.charts import efficient as charts
from explorer.text import md
from explorer.ui import efficient as cached
from explorer.ui import nav
from explorer.ui.errors import guard, guarded
from explorer.ui.figures import show
from explorer.ui.linked import Linked
from explorer.ui.page import Page
from explorer.ui.presenter import explain
from explorer.ui.stat import stat

page = Page("⚡ Efficient attention: windows and tiles", prefix="eff_")
url = page.url
ctl = Linked(url)           # each control registered in the link and drawn in one call

SECTIONS = {"mask": "① Window mask", "reach": "② Receptive field", "model": "③ Real model",
            "tiles": "④ Tiling", "traffic": "⑤ Memory traffic"}
LENGTHS = list(range(2, 33)) + [64, 128, 1024, 4096, 16384, 32768]
WINDOWS = [0] + list(range(1, 33)) + [64, 128, 1024, 2048, E.MISTRAL_WINDOW, 8192]   # 0: no window
LESSON = {"len": 8, "win": 3}
MISTRAL = {"len": 16384, "win": E.MISTRAL_WINDOW}
TEXT = ("I asked for a refund for my order last week. The shipping label came, but the refund has not "
        "arrived, so I am asking again about my refund")
TILE_SIZES = [1, 2, 4, 8, 16]
TRAFFIC_LENGTHS = [2 ** i for i in range(8, 18)]          # 256 .. 128K
TRAFFIC_TILES = [16, 32, 64, 128, 256]


def controls(*widths):
    """A row of controls; presenter mode tucks them away so that the figure fits the projector (explorer/ui/page.py)."""
    with page.controls("Settings"):
        return st.columns(list(widths), vertical_alignment="bottom")


# ============================================================================ ① the mask
def section_mask():
    c = controls(3, 3, 2)
    n = ctl.select_slider(c[0], "Sequence length", "len", LESSON["len"], LENGTHS, format_func=lambda t: f"{t:,}")
    w = ctl.select_slider(c[1], "Sliding window", "win", LESSON["win"], WINDOWS, format_func=E.window_label)
    with c[2].container(horizontal=True, gap="small"):
        st.button("Lesson", on_click=cached.apply_preset, args=(url, LESSON),
                  help="The lesson's picture: 8 tokens, full vs window 3")
        st.button("Mistral", on_click=cached.apply_preset, args=(url, MISTRAL),
                  help="Mistral-7B's window of 4,096 over 16,384 tokens")
    window = w or None
    full, win = E.attended_pairs(n, None), E.attended_pairs(n, window)
    fig_col, numbers = page.main().columns([3, 1])      # the page's main figure (explorer/ui/page.py)
    with fig_col:
        if n <= 64:
            masks = {"full causal": E.window_mask(n, None),
                     f"sliding window {E.window_label(w)}": E.window_mask(n, window)}
            show(charts.mask_panels(masks), "sliding window mask", height=440, data=E.grid_table(masks))
        else:
            share = E.pooled_mask(n, window, 128)
            show(charts.pooled_panel(share, n, window), "sliding window mask long", height=480,
                 data={"block_share_seen": share.tolist()})
    numbers.metric("Pairs scored, full causal", f"{full:,}", help="T(T+1)/2", border=True)
    stat(numbers, f"Pairs scored, window {E.window_label(w)}", f"{win:,}", f"{win / full:.1%} of full")
    numbers.metric("Keys cached per layer", f"{int(kv.cached_tokens(n, window)):,} of {n:,}", border=True)
    explain(E.EXPLAINED["mask"])


# ============================================================================ ② the receptive field
def section_reach():
    url.choice("rlen", 24, LENGTHS[:31] + [64])
    n = st.session_state[url.key("rlen")]
    url.int("rwin", 4, lo=1, hi=64)
    url.int("tok", n - 1, lo=0, hi=n - 1)
    stage = page.main()                                  # the figure first, its controls under it
    c = controls(2, 2, 2, 2)
    n = c[0].select_slider("Sequence length", LENGTHS[:31] + [64], key=url.key("rlen"))
    for name, hi in (("rwin", n), ("tok", n - 1)):       # a shorter sequence: the window and the token follow it
        st.session_state[url.key(name)] = min(st.session_state[url.key(name)], hi)
    w = c[1].slider("Sliding window", 1, n, key=url.key("rwin")) if n > 1 else 1
    layers = ctl.slider(c[2], "Layers", "layers", 4, 1, 12)
    token = c[3].slider("Token", 0, n - 1, key=url.key("tok")) if n > 1 else 0
    reach = E.receptive_field(n, w, layers, token)
    with stage:
        show(charts.receptive_field(reach, token, w), "sliding window receptive field", height=160 + 34 * layers,
             data=E.grid_table({"reaches": reach}, rows="layer", cols="position"))
    st.markdown(E.reach_note(w, layers, token))
    explain(E.EXPLAINED["reach"])


# ============================================================================ ③ a real model with the window
def section_model():
    lm = page.model("rope-decoder")
    stage = page.main()                                  # the two attention maps first, text and window under them
    c = controls(5, 1.4, 1, 1)
    with c[0]:
        text = page.text_input(TEXT, height=68, max_chars=2000,
                               prompt="Type a sentence above to run the model with and without the window.")
    window = ctl.number(c[1], "Sliding window", "mwin", 4, 1, E.MAX_MODEL_TOKENS,
                        help="Each token sees itself and the window − 1 tokens before it.")
    if lm is None or text.empty:
        return
    with guard("the model with a sliding window"):
        r = cached.window_run(lm, text.text, int(window))
        n_layers, n_heads = r.attn_full.shape[:2]
        url.int("layer", n_layers - 1, lo=0, hi=n_layers - 1)
        url.int("head", 0, lo=0, hi=n_heads - 1)
        layer = c[2].selectbox("Layer", list(range(n_layers)), key=url.key("layer"))
        head = c[3].selectbox("Head", list(range(n_heads)), key=url.key("head"))
        model_view(lm, r, layer, head, stage)


def model_view(lm, r: E.WindowRun, layer: int, head: int, stage):
    n, c = r.n_tokens, r.cache
    if r.truncated:
        st.info(f"Using the first {n} of {r.total_tokens} tokens (the model runs once per token for the cache).",
                icon="✂️")
    a_full, a_win = r.attn_full[layer, head].astype("float32"), r.attn_window[layer, head].astype("float32")
    with stage:
        fig = charts.attention_pair(a_full, a_win, r.tokens, r.window)
        show(fig, f"window attention layer {layer} head {head}", height=fig.layout.height,
             data=E.grid_table({"full": a_full, "windowed": a_win}))
    st.caption(f"**{md(lm.spec.display_name)}**, {n} tokens, window {r.window}, layer {layer}, head {head}: "
               f"imposed by {E.MECHANISMS[r.mechanism]}. The orange staircase is the window's left edge.")
    m = st.columns(3)
    stat(m[0], "Attention outside the window", f"{r.outside_max:g}",
         "exactly zero" if r.outside_max == 0 else "not zero",
         help="largest share of any attention row (every layer, head and query) on keys outside the window")
    stat(m[1], "Top prediction changed at", f"{int(r.argmax_changed.sum())} / {n}", "positions",
         help="positions where the most likely next token with the window differs from the one without it")
    stat(m[2], "KV cache after the text", kv.format_bytes(int(c.measured[-1])),
         f"full cache: {kv.format_bytes(int(E.full_cache_bytes(lm.model.config, n, c.element_size)))}")
    url.int("pos", n - 1, lo=0, hi=n - 1)
    pos = st.slider("Next token after position", 0, n - 1, key=url.key("pos")) if n > 1 else 0
    st.caption(f"Position {pos} is {md(r.tokens[pos])}: largest logit change there {float(r.logit_diff[pos]):.3g}.")
    show(charts.next_token_pair(r.top_tokens_full[pos], r.probs_full[pos], r.top_tokens_window[pos],
                                r.probs_window[pos], r.window), "window next token", height=360,
         data=r.next_token_table(pos))
    full = E.full_cache_bytes(lm.model.config, c.lengths, c.element_size)
    show(charts.cache_lines(c.lengths, c.measured, c.formula, full, r.window), "window kv cache", height=380,
         data={"tokens": c.lengths, "measured": c.measured, "formula": c.formula, "full_formula": full})
    st.page_link(nav.page("kv-cache").path, icon="🧮", query_params={"view": "growth", "preset": "Mistral-7B"},
                 label="KV-cache page: the same formula for real model sizes, window included")
    explain(r.how_it_ran())


# ============================================================================ ④ FlashAttention's tiles
def section_tiles():
    stage = page.main()                     # the animation (figure, then its transport) first, the settings under it
    c = controls(2, 1.3, 1.3, 1.3, 1.2, 1.4, 1)
    n = ctl.select_slider(c[0], "Tokens T", "tlen", 16, [8, 12, 16, 24, 32])
    bq = ctl.select(c[1], "Query tile", "bq", 4, TILE_SIZES)
    bk = ctl.select(c[2], "Key tile", "bk", 4, TILE_SIZES)
    d = ctl.select(c[3], "Head dim d", "hd", 8, [4, 8, 16, 64])
    causal = ctl.toggle(c[4], "Causal", "causal", True)
    w = ctl.number(c[5], "Window (0: none)", "twin", 0, 0, 32)
    seed = ctl.number(c[6], "Seed", "seed", 0, 0, 999)
    window = int(w) or None
    causal = causal or window is not None
    n_steps = E.n_tile_steps(n, bq, bk, causal, window)
    cached.setup(url, n, n_steps)

    @st.fragment(run_every=cached.interval())
    @guarded("the tiling animation")
    def player():
        """The animation: each tick re-draws only this fragment (controls, figure, result)."""
        cached.advance()
        view = st.container()                              # the figure above its transport row
        done, row = cached.transport(n_steps, n)
        tiles_view(cached.tiling(n, d, bq, bk, causal, window, row, seed), n_steps, done, view)
    with stage:
        player()


def tiles_view(t: cached.Tiling, n_steps: int, done: int, slot):
    """The tiling figure into `slot` (above the transport row), its numbers under the transport."""
    r = t.result
    trace, now = r.row_trace(done), r.step_name(done)
    fig = charts.tiling(t.scores, t.allowed, r.schedule, done, r.block_q, r.block_k, r.row, trace["m"], trace["l"],
                        t.true_m, t.true_l, r.row_labels(), title=f"FlashAttention, step {done} of {n_steps}: {now}")
    with slot:
        show(fig, "flashattention tiles", height=440, key="eff_tiles_fig", data=trace)
    st.caption(f"Step {done} of {n_steps}: {now}. {r.skipped} tile(s) skipped by the mask (dotted); the dashed "
               f"line is row {r.row}, whose running max and sum are on the right.")
    url.sync()                                        # a fragment rerun moves the step: keep the link current
    if done == n_steps:                               # the loop has finished: its result against the references
        for col, (label, value) in zip(st.columns(3), t.checks()):
            col.metric(label, value, border=True)
    explain(E.EXPLAINED["tiles"])


# ============================================================================ ⑤ memory traffic
def section_traffic():
    stage = page.main()                                  # the chart and its numbers first, the settings under them
    c = controls(3, 1, 1, 1, 1.6, 1)
    n = ctl.select_slider(c[0], "Sequence length T", "xlen", 131072, TRAFFIC_LENGTHS, format_func=lambda t: f"{t:,}")
    d = ctl.select(c[1], "Head dim d", "xhd", 128, [64, 128, 256])
    bq = ctl.select(c[2], "Query tile", "xbq", 128, TRAFFIC_TILES)
    bk = ctl.select(c[3], "Key tile", "xbk", 64, TRAFFIC_TILES)
    dtype = ctl.select(c[4], "Element type", "xdtype", "bf16", ["fp32", "bf16"],
                       format_func=lambda t: f"{t} ({kv.DTYPE_BITS[t] // 8} B)")
    causal = ctl.toggle(c[5], "Causal", "xcausal", True)
    per = kv.DTYPE_BITS[dtype] / 8
    lengths, std, tiled = E.traffic_curves(TRAFFIC_LENGTHS, d, bq, bk, causal)
    at, count_t = TRAFFIC_LENGTHS.index(n), 2048
    counted = cached.counted_traffic(count_t, d, bq, bk, causal)
    fig_col, numbers = stage.columns([3, 1])
    with fig_col:
        show(charts.traffic(lengths, std, tiled, n, per, (count_t, counted.bytes(per))), "attention memory traffic",
             height=440, data={"tokens": lengths, "standard_bytes": std * per, "tiled_bytes": tiled * per})
    stat(numbers, "Standard attention", kv.format_bytes(std[at] * per), f"T = {n:,}", help="4·T·d + 4·T² elements")
    stat(numbers, "Tiled (FlashAttention)", kv.format_bytes(tiled[at] * per),
         f"{std[at] / tiled[at]:.1f}× less traffic")
    stat(numbers, "The T × T score matrix alone", kv.format_bytes(n * n * per), "tiled: never stored")
    st.markdown(E.traffic_note(n, d, bq, bk, causal, per, count_t, counted.elements))
    explain(E.EXPLAINED["traffic"])


# ============================================================================ the page
view = page.sections(SECTIONS)
{"mask": section_mask, "reach": section_reach, "model": section_model, "tiles": section_tiles,
 "traffic": section_traffic}[view]()
page.finish()

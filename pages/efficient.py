"""Efficient attention: sliding windows (Mistral, Gemma) and FlashAttention's tiling, shown exactly."""
import numpy as np
import streamlit as st

from explorer import efficient as E
from explorer import kvcache as kv
from explorer.charts import efficient as charts
from explorer.text import md
from explorer.ui import efficient as cached
from explorer.ui import nav
from explorer.ui.errors import callback, guard, guarded
from explorer.ui.figures import show
from explorer.ui.page import Page
from explorer.ui.presenter import explain

page = Page("⚡ Efficient attention: windows and tiles", prefix="eff_")
url = page.url

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


def controls():
    """Presenter mode tucks the controls away so that the figure fits the projector's screen (explorer/ui/page.py)."""
    return page.controls("Settings")


def win_label(w: int) -> str:
    return f"{w:,}" if w else "none"


def controls_row(*widths):
    return st.columns(list(widths), vertical_alignment="bottom")


@callback("the preset")
def apply(values: dict, names: dict):
    for k, v in values.items():
        st.session_state[url.key(names[k])] = v


# ============================================================================ ① the mask
def section_mask():
    url.choice("len", LESSON["len"], LENGTHS)
    url.choice("win", LESSON["win"], WINDOWS)
    with controls():
        c = controls_row(3, 3, 2)
        n = c[0].select_slider("Sequence length", LENGTHS, key=url.key("len"), format_func=lambda t: f"{t:,}")
        w = c[1].select_slider("Sliding window", WINDOWS, key=url.key("win"), format_func=win_label)
        with c[2].container(horizontal=True, gap="small"):
            st.button("Lesson", on_click=apply, args=(LESSON, {"len": "len", "win": "win"}),
                      help="The lesson's picture: 8 tokens, full vs window 3")
            st.button("Mistral", on_click=apply, args=(MISTRAL, {"len": "len", "win": "win"}),
                      help="Mistral-7B's window of 4,096 over 16,384 tokens")
    window = w or None
    full, win = E.attended_pairs(n, None), E.attended_pairs(n, window)
    fig_col, numbers = page.main().columns([3, 1])      # the page's main figure (explorer/ui/page.py)
    with fig_col:
        if n <= 64:
            masks = {"full causal": E.window_mask(n, None), f"sliding window {win_label(w)}": E.window_mask(n, window)}
            show(charts.mask_panels(masks), "sliding window mask", height=440,
                 data={"query": np.repeat(np.arange(n), n), "key": np.tile(np.arange(n), n),
                       **{k.replace(" ", "_"): v.reshape(-1).astype(int) for k, v in masks.items()}})
        else:
            share = E.pooled_mask(n, window, 128)
            size = -(-n // 128)
            show(charts.pooled_panel(share, n, window, f"window {win_label(w)} over {n:,} tokens (blocks of "
                                     f"{size:,} × {size:,} pairs)"),
                 "sliding window mask long", height=480, data={"block_share_seen": share.tolist()})
    numbers.metric("Pairs scored, full causal", f"{full:,}", help="T(T+1)/2", border=True)
    numbers.metric(f"Pairs scored, window {win_label(w)}", f"{win:,}", f"{win / full:.1%} of full",
                   delta_color="off", delta_arrow="off", border=True)
    numbers.metric("Keys cached per layer", f"{int(kv.cached_tokens(n, window)):,} of {n:,}", border=True)
    explain("Row = the token that looks (query), column = the token looked at (key). A decoder's causal mask hides "
            "the future (above the diagonal). A sliding window also hides the far past: each token sees itself and "
            "the window − 1 tokens before it — transformers' rule `kv_idx > q_idx - sliding_window`. The work "
            "and the KV cache then grow with the window, not with the whole text.")


# ============================================================================ ② the receptive field
def section_reach():
    url.choice("rlen", 24, LENGTHS[:31] + [64])
    n = st.session_state[url.key("rlen")]
    url.int("rwin", 4, lo=1, hi=64)
    url.int("layers", 4, lo=1, hi=12)
    url.int("tok", n - 1, lo=0, hi=n - 1)
    stage = page.main()                                  # the figure first, its controls under it
    with controls():
        c = controls_row(2, 2, 2, 2)
        n = c[0].select_slider("Sequence length", LENGTHS[:31] + [64], key=url.key("rlen"))
        if st.session_state[url.key("rwin")] > n:
            st.session_state[url.key("rwin")] = n
        if st.session_state[url.key("tok")] > n - 1:
            st.session_state[url.key("tok")] = n - 1
        w = c[1].slider("Sliding window", 1, n, key=url.key("rwin")) if n > 1 else 1
        layers = c[2].slider("Layers", 1, 12, key=url.key("layers"))
        token = c[3].slider("Token", 0, n - 1, key=url.key("tok")) if n > 1 else 0
    reach = E.receptive_field(n, w, layers, token)
    with stage:
        show(charts.receptive_field(reach, token, w), "sliding window receptive field", height=160 + 34 * layers,
             data={"layer": np.repeat(np.arange(layers + 1), n), "position": np.tile(np.arange(n), layers + 1),
                   "reaches": reach.reshape(-1).astype(int)})
    span = E.reach_span(w, layers)
    mistral = E.reach_span(E.MISTRAL_WINDOW, 32)
    st.markdown(f"After **{layers}** layers with a window of **{w}**, token {token} draws on up to "
                f"{layers} × ({w} − 1) + 1 = **{span:,}** positions (here {E.reach_span(w, layers, token):,} of the "
                f"{token + 1} up to it). Mistral-7B: 32 layers × 4,095 + 1 = **{mistral:,}** tokens, though each layer looks at 4,096.")
    explain("Information hops one window per layer: layer 1 mixes each token with its window, layer 2 mixes those "
            "mixtures, and so on, like the receptive field of stacked convolutions. The window bounds the cost per "
            "layer, the depth multiplies the reach.")


# ============================================================================ ③ a real model with the window
def section_model():
    lm = page.model("rope-decoder")
    url.int("mwin", 4, lo=1, hi=E.MAX_MODEL_TOKENS)
    stage = page.main()                                  # the two attention maps first, text and window under them
    top = controls()
    c = top.columns([5, 1.4, 1, 1], vertical_alignment="bottom")
    with c[0]:
        text = page.text_input(TEXT, height=68, max_chars=2000,
                               prompt="Type a sentence above to run the model with and without the window.")
    window = c[1].number_input("Sliding window", 1, E.MAX_MODEL_TOKENS, key=url.key("mwin"),
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
    n = r.n_tokens
    if r.truncated:
        st.info(f"Using the first {n} of {r.total_tokens} tokens (the model runs once per token for the cache).",
                icon="✂️")
    a_full, a_win = r.attn_full[layer, head].astype(np.float32), r.attn_window[layer, head].astype(np.float32)
    with stage:
        fig = charts.attention_pair(a_full, a_win, r.tokens, r.window)
        show(fig, f"window attention layer {layer} head {head}", height=fig.layout.height, data={"query": np.repeat(np.arange(n), n), "key": np.tile(np.arange(n), n),
                               "full": a_full.reshape(-1), "windowed": a_win.reshape(-1)})
    how = ("transformers' own sliding-window mask (`create_sliding_window_causal_mask`, from the config's "
           "`sliding_window`)" if r.mechanism == "config" else
           "an explicit mask passed to the model (Llama has no `sliding_window` setting)")
    st.caption(f"**{md(lm.spec.display_name)}**, {n} tokens, window {r.window}, layer {layer}, head {head}: "
               f"imposed by {how}. The orange staircase is the window's left edge.")
    m = st.columns(3)
    m[0].metric("Attention outside the window", f"{r.outside_max:g}", "exactly zero" if r.outside_max == 0 else
                "not zero", delta_color="off", delta_arrow="off", border=True,
                help="largest share of any attention row (every layer, head and query) on keys outside the window")
    m[1].metric("Top prediction changed at", f"{int(r.argmax_changed.sum())} / {n}", "positions",
                delta_color="off", delta_arrow="off", border=True,
                help="positions where the most likely next token with the window differs from the one without it")
    full_now = int(kv.cache_bytes(kv.shape_from_config(lm.model.config), n, 1, 8 * r.cache.element_size))
    m[2].metric("KV cache after the text", kv.format_bytes(int(r.cache.measured[-1])),
                f"full cache: {kv.format_bytes(full_now)}", delta_color="off", delta_arrow="off", border=True)
    url.int("pos", n - 1, lo=0, hi=n - 1)
    pos = st.slider("Next token after position", 0, n - 1, key=url.key("pos")) if n > 1 else 0
    st.caption(f"Position {pos} is {md(r.tokens[pos])}: largest logit change there "
               f"{float(r.logit_diff[pos]):.3g}.")
    show(charts.next_token_pair(r.top_tokens_full[pos], r.probs_full[pos], r.top_tokens_window[pos],
                                r.probs_window[pos], r.window), "window next token", height=360,
         data={"full_token": r.top_tokens_full[pos], "full_p": r.probs_full[pos],
               "window_token": r.top_tokens_window[pos], "window_p": r.probs_window[pos]})
    c = r.cache
    full = kv.cache_bytes(kv.shape_from_config(lm.model.config), c.lengths, 1, 8 * c.element_size)
    show(charts.cache_lines(c.lengths, c.measured, c.formula, full, r.window), "window kv cache", height=380,
         data={"tokens": c.lengths, "measured": c.measured, "formula": c.formula, "full_formula": full})
    st.page_link(nav.page("kv-cache").path, label="KV-cache page: the same formula for real model sizes, window included",
                 icon="🧮", query_params={"view": "growth", "preset": "Mistral-7B"})
    explain(f"The text runs three times: with the plain causal mask, with the window, and once more one token at a "
            f"time through a transformers `DynamicCache` whose layers keep only the last window − 1 = {r.window - 1} "
            f"keys and values (`DynamicSlidingWindowLayer`; the newest token makes {r.window}). That decode predicts "
            f"the same as the windowed run (largest logit difference {r.decode_diff:.1e}), and its bytes are the "
            "KV-cache formula with the window as the cap. Tokens further back get a weight of exactly 0: the mask adds "
            "the most negative float before the softmax, whose exponential underflows to 0.")


# ============================================================================ ④ FlashAttention's tiles
def section_tiles():
    url.choice("tlen", 16, [8, 12, 16, 24, 32])
    url.choice("bq", 4, TILE_SIZES)
    url.choice("bk", 4, TILE_SIZES)
    url.choice("hd", 8, [4, 8, 16, 64])
    url.flag("causal", True)
    url.int("twin", 0, lo=0, hi=32)
    url.int("seed", 0, lo=0, hi=999)
    stage = page.main()                     # the animation (figure, then its transport) first, the settings under it
    with controls():
        c = controls_row(2, 1.3, 1.3, 1.3, 1.2, 1.4, 1)
        n = c[0].select_slider("Tokens T", [8, 12, 16, 24, 32], key=url.key("tlen"))
        bq = c[1].selectbox("Query tile", TILE_SIZES, key=url.key("bq"))
        bk = c[2].selectbox("Key tile", TILE_SIZES, key=url.key("bk"))
        d = c[3].selectbox("Head dim d", [4, 8, 16, 64], key=url.key("hd"))
        causal = c[4].toggle("Causal", key=url.key("causal"))
        w = c[5].number_input("Window (0: none)", 0, 32, key=url.key("twin"))
        seed = c[6].number_input("Seed", 0, 999, key=url.key("seed"))
    window = int(w) or None
    causal = causal or window is not None
    n_steps = sum(len(keys) for _, keys in E.tile_schedule(n, bq, bk, causal, window))
    st.session_state["eff_n_steps"] = n_steps
    url.int("row", n - 1, lo=0, hi=n - 1)
    url.float("speed", 2.0, lo=0.5, hi=8.0)
    url.int("tile", n_steps, lo=0, hi=n_steps)

    @st.fragment(run_every=1.0 / st.session_state[url.key("speed")] if cached.playing() else None)
    @guarded("the tiling animation")
    def player():
        """The animation: each tick re-draws only this fragment (controls, figure, result)."""
        if st.session_state.pop(RESTART, False):
            st.rerun(scope="app")                          # Play, Pause or a new speed: reset the timer
        step_key = url.key("tile")
        if cached.playing():
            if st.session_state[step_key] >= n_steps:
                cached.set_playing(False)
                st.rerun(scope="app")                      # stops the timer and shows Play again
            elif cached.tick_due(1.0 / st.session_state[url.key("speed")]):
                st.session_state[step_key] += 1
        view = st.container()                              # the figure above its transport row
        c = controls_row(1.5, 1.5, 1.5, 3.5, 2.4, 2.4)
        c[0].button("⏸ Pause" if cached.playing() else "▶ Play", key="eff_btn_play", type="primary", on_click=play)
        c[1].button("◂ Back", key="eff_btn_back", on_click=step_by, args=(-1,), disabled=cached.playing(),
                    help="One step back")
        c[2].button("Step ▸", key="eff_btn_step", on_click=step_by, args=(1,), disabled=cached.playing(),
                    help="One step: the next (query tile, key tile) pair")
        done = c[3].slider("Step", 0, n_steps, key=step_key, disabled=cached.playing())
        row = c[4].slider("Tracked row (query)", 0, n - 1, key=url.key("row")) if n > 1 else 0
        c[5].slider("Speed (steps/s)", 0.5, 8.0, step=0.5, key=url.key("speed"), on_change=restart)
        tiles_view(cached.tiling(n, d, bq, bk, causal, window, row, seed), n_steps, done, view)
    with stage:
        player()


RESTART = "eff_restart"


@callback("the animation's timer")
def restart():
    st.session_state[RESTART] = True


@callback("play / pause")
def play():
    step_key = url.key("tile")
    if not cached.playing() and st.session_state.get(step_key, 0) >= st.session_state.get("eff_n_steps", 0):
        st.session_state[step_key] = 0                  # Play at the end starts again
    cached.set_playing(not cached.playing())
    restart()


@callback("the step")
def step_by(by: int):
    st.session_state[url.key("tile")] = int(np.clip(st.session_state[url.key("tile")] + by, 0,
                                                    st.session_state["eff_n_steps"]))


def tiles_view(t: cached.Tiling, n_steps: int, done: int, slot):
    """The tiling figure into `slot` (above the transport row), its numbers under the transport."""
    r = t.result
    mine = [(k, s) for k, s in enumerate(r.steps[:done]) if s.row_in_tile]
    labels = [f"step {k + 1}: key tile {s.k_tile} (keys {s.k_tile * r.block_k}–"
              f"{min((s.k_tile + 1) * r.block_k, len(r.out)) - 1})" for k, s in enumerate(r.steps) if s.row_in_tile]
    now = f"query tile {r.steps[done - 1].q_tile} × key tile {r.steps[done - 1].k_tile}" if done else \
        "nothing computed yet"
    fig = charts.tiling(t.scores, t.allowed, r.schedule, done, r.block_q, r.block_k, r.row,
                        [s.m for _, s in mine], [s.l for _, s in mine], t.true_m, t.true_l, labels,
                        title=f"FlashAttention, step {done} of {n_steps}: {now}")
    with slot:
        show(fig, "flashattention tiles", height=440, key="eff_tiles_fig",
             data={"row_step": list(range(1, len(mine) + 1)), "m": [s.m for _, s in mine],
                   "l": [s.l for _, s in mine]})
    st.caption(f"Step {done} of {n_steps}: {now}. {r.skipped} tile(s) skipped by the mask (dotted); the dashed "
               f"line is row {r.row}, whose running max and sum are on the right.")
    url.sync()                                        # a fragment rerun moves the step: keep the link current
    if done == n_steps:
        m = st.columns(3)
        m[0].metric("max |tiled − standard|", f"{t.error:.1e}", border=True)
        m[1].metric("max |tiled − torch SDPA|", f"{t.error_sdpa:.1e}", border=True)
        m[2].metric("Elements moved: tiled vs standard", f"{r.traffic.elements:,} vs {t.standard_traffic.elements:,}",
                    border=True)
    explain("FlashAttention never writes the score matrix to memory. For each tile of queries it streams the key "
            "and value tiles through fast on-chip memory, keeping per row a running max m and a running sum l of "
            "exp(score − m). When a tile raises the max, everything summed so far is rescaled by exp(m_old − m_new), "
            "so at the end O / l is exactly softmax(S)·V — up to float32 rounding (about 1e-7 here).")


# ============================================================================ ⑤ memory traffic
def section_traffic():
    url.choice("xlen", 131072, TRAFFIC_LENGTHS)
    url.choice("xhd", 128, [64, 128, 256])
    url.choice("xbq", 128, TRAFFIC_TILES)
    url.choice("xbk", 64, TRAFFIC_TILES)
    url.choice("xdtype", "bf16", ["fp32", "bf16"])
    url.flag("xcausal", True)
    stage = page.main()                                  # the chart and its numbers first, the settings under them
    with controls():
        c = controls_row(3, 1, 1, 1, 1.6, 1)
        n = c[0].select_slider("Sequence length T", TRAFFIC_LENGTHS, key=url.key("xlen"),
                               format_func=lambda t: f"{t:,}")
        d = c[1].selectbox("Head dim d", [64, 128, 256], key=url.key("xhd"))
        bq = c[2].selectbox("Query tile", TRAFFIC_TILES, key=url.key("xbq"))
        bk = c[3].selectbox("Key tile", TRAFFIC_TILES, key=url.key("xbk"))
        dtype = c[4].selectbox("Element type", ["fp32", "bf16"], key=url.key("xdtype"), format_func=lambda t: f"{t} ({kv.DTYPE_BITS[t] // 8} B)")
        causal = c[5].toggle("Causal", key=url.key("xcausal"))
    per = kv.DTYPE_BITS[dtype] / 8
    lengths, std, tiled = E.traffic_curves(TRAFFIC_LENGTHS, d, bq, bk, causal)
    at = TRAFFIC_LENGTHS.index(n)
    count_t = 2048
    counted = cached.counted_traffic(count_t, d, bq, bk, causal)
    fig_col, numbers = stage.columns([3, 1])
    with fig_col:
        show(charts.traffic(lengths, std, tiled, n, per, (count_t, counted.bytes(per))), "attention memory traffic",
             height=440, data={"tokens": lengths, "standard_bytes": std * per, "tiled_bytes": tiled * per})
    numbers.metric("Standard attention", kv.format_bytes(std[at] * per), f"T = {n:,}", delta_color="off",
                   delta_arrow="off", border=True, help="4·T·d + 4·T² elements")
    numbers.metric("Tiled (FlashAttention)", kv.format_bytes(tiled[at] * per),
                   f"{std[at] / tiled[at]:.1f}× less traffic", delta_color="off", delta_arrow="off", border=True)
    numbers.metric("The T × T score matrix alone", kv.format_bytes(n * n * per), "tiled: never stored",
                   delta_color="off", delta_arrow="off", border=True)
    formula_k = "K and V: 2·d·Σ over query tiles of the keys up to its last query" if causal else \
        f"K and V: 2·⌈T/B_q⌉·T·d = 2·{-(-n // bq):,}·T·d"
    st.markdown(f"**Standard**: 4·T·d + 4·T² elements (S and P each written and read once). **Tiled**: Q and O "
                f"2·T·d, {formula_k}. On chip per step: {kv.format_bytes(E.sram_elements(d, bq, bk) * per)}. The "
                f"tiled code itself counted **{counted.elements:,}** elements at T = {count_t:,} — the formula says "
                f"{E.tiled_traffic_elements(count_t, d, bq, bk, causal):,}.")
    explain("Standard attention is limited by memory, not arithmetic: the T × T scores and probabilities go to the "
            "GPU's main memory and back. The tiled loop reads K and V once per query tile instead, so the saving is "
            "about 2·B_q/d (twice that with a causal mask, which lets it skip the future tiles); the real prize at "
            "long context is that the T × T matrix never exists in memory at all.")


# ============================================================================ the page
view = page.sections(SECTIONS)
{"mask": section_mask, "reach": section_reach, "model": section_model, "tiles": section_tiles,
 "traffic": section_traffic}[view]()
page.finish()

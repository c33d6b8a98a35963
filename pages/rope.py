"""RoPE: rotary position embeddings, from a 2-D rotation to a real model's queries and keys."""
import numpy as np
import streamlit as st

from explorer import rope
from explorer.charts import rope as charts
from explorer.text import display_token
from explorer.ui import rope as cached
from explorer.ui.errors import guard
from explorer.ui.figures import show
from explorer.ui.linked import Linked
from explorer.ui.page import Page
from explorer.ui.presenter import explain

page = Page("🌀 RoPE: rotary position embeddings", prefix="rope_")
url = page.url
ctl = Linked(url)           # each control registered in the link and drawn in one call
view = page.sections({"2d": "① 2-D example", "full": "② Full RoPE", "extend": "③ Longer context",
                      "model": "④ A real model", "gpt2": "⑤ GPT-2 contrast"})

# ============================================================================ ① the 2-D example
if view == "2d":
    st.subheader("Rotate q and k by their positions; the score sees only the gap")
    # Layout (explorer/ui/page.py): the circle, the lesson's numbers and the score curve first; sliders under them
    stage, controls = page.layout("Positions and θ")
    c1, c2, c3 = controls.columns(3)
    m = ctl.slider(c1, "Query position m", "m", 4, 0, 40)
    n = ctl.slider(c2, "Key position n", "n", 2, 0, 40)
    theta = ctl.slider(c3, "θ (radians per position)", "theta", rope.LESSON_THETA, 0.0, 3.14, step=0.01)
    v = rope.lesson_2d(m, n, theta)
    with stage:
        left, right = st.columns([1, 1])
        with left:
            show(charts.lesson_circle(v.q, v.k, m, n, theta, rope.rotate2d, v.score_at), "rope 2d rotation",
                 height=520, data=v.numbers())
        with right:
            # the lesson's numbers side by side: equal gaps give equal scores, another gap another score
            for col, (label, value) in zip(st.columns(2), v.cards()):
                col.metric(label, value, border=True)
            st.metric(f"score at (m, n) = ({m}, {n}), gap {m - n}", f"{v.score:.6f}")
            show(charts.score_vs_gap(v.smooth, v.smooth_scores, v.marks, (m, n, v.score), whole=(v.gaps, v.gap_scores)),
                 "rope score vs gap", height=380, data={"gap": v.gaps, "score": v.gap_scores})
    explain("RoPE does not add a position vector. It **turns** the query of the token at position *m* by the angle "
            "m·θ and the key at position *n* by n·θ. Turning both by the same extra angle leaves their dot product "
            "unchanged, so the score depends only on m − n.")
    st.markdown(f"**The lesson's numbers**, with q = {list(v.q)}, k = {list(v.k)} and θ = {theta:g}:")
    st.table(v.rows(), border="horizontal", hide_index=True, width="content")
    explain("Press **▶ shift both positions** under the circle: both arrows keep turning, the angle between "
            "them stays, and the score in the title never changes. Move one slider alone and it does.")

# ============================================================================ ② full RoPE
elif view == "full":
    st.subheader("d/2 pairs, each turning at its own speed θᵢ = base^(−2i/d)")
    stage, controls = page.layout("Head size, base, positions")   # the figure first, its controls under it
    c1, c2, c3, c4 = controls.columns(4)
    d = ctl.select(c1, "Head size d", "d", 64, [8, 16, 32, 64, 128])
    base = ctl.select(c2, "Base", "base", 10000, [100, 10000, 500000], format_func=lambda b: f"{b:,}")
    npos = ctl.slider(c3, "Positions", "npos", 256, 16, 1024, step=16)
    what = ctl.radio(c4, "Colour", "show", "cos", ["cos", "angle"], horizontal=True,
                     format_func={"cos": "cos(m·θᵢ)", "angle": "angle mod 2π"}.get)
    freqs, positions = rope.inv_freq(d, float(base)), np.arange(npos)
    with stage:
        show(charts.rotation_heatmap(rope.rotation_values(freqs, positions, what), positions, what),
             "rope rotation per pair", height=460,
             data={"theta_i": freqs, "wavelength_tokens": rope.wavelengths(freqs)})
        st.caption(rope.speed_note(freqs))
    explain("A head of size d is split into d/2 pairs of dimensions. Pair 0 turns one radian per token; the last "
            "pair turns base^(−(d−2)/d) radians per token — thousands of tokens for a single turn. Fast pairs "
            "resolve nearby positions, slow pairs far ones.")

    st.subheader("Only the gap matters: random q and k at every pair of positions")
    seed = ctl.number(st.columns([1, 3])[0], "Random seed for q and k", "seed", 0, 0, 9999)
    S, qv, kv, spread = rope.random_score_matrix(freqs, npos, seed)
    left, right = st.columns([3, 2])
    with left:
        show(charts.score_matrix(S, spread), "rope score matrix", height=520,
             data={"score": S, "q": qv, "k": kv, "largest_diagonal_spread": spread})
    with right:
        st.metric("Largest spread along any diagonal (float64)", f"{spread:.1e}")
        st.metric("Spread of the whole matrix", f"{np.ptp(S):.3f}")
        explain("Every cell (m, n) is (R_m q)·(R_n k) computed from scratch. Cells with the same m − n lie on one "
                "diagonal, and they agree to rounding error: the rotation turned absolute positions into a "
                "purely relative score.")

    st.subheader("Long-range decay: how much a far-away key can still score")
    c1, c2, c3 = st.columns([2, 1, 1])
    measure = ctl.radio(c1, "Measure", "measure", "ones", list(rope.DECAY_MEASURES), horizontal=True,
                        format_func=lambda k_: rope.DECAY_MEASURES[k_].name)
    reach = ctl.select(c2, "Distances up to", "reach", 4096, [512, 4096, 32768], format_func=lambda r: f"{r:,}")
    logx = ctl.toggle(c3, "Log distance axis", "logx", True)
    dist, curves = rope.decay_by_base(d, int(base), reach, measure)
    explain(rope.DECAY_MEASURES[measure].explanation)
    cut = 1 if logx else 0                              # a log axis has no distance 0
    fig = charts.decay_curves(dist[cut:], {k_: v[cut:] for k_, v in curves.items()}, f"Decay with distance, d = {d}",
                              rope.DECAY_MEASURES[measure].y_title, log_x=logx)
    show(fig, "rope long range decay", height=440, data={"distance": dist, **curves})

# ============================================================================ ③ longer context
elif view == "extend":
    st.subheader("Stretching a trained context: interpolation, NTK-aware, YaRN")
    stage, controls = page.layout("Context, head size, base, methods")
    TARGETS, METHODS = [8192, 16384, 32768, 65536, 131072], ["linear", "ntk", "yarn"]
    c1, c2, c3, c4, c5 = controls.columns([1, 1, 1, 1, 3])
    orig = ctl.select(c1, "Trained context L", "orig", 4096, [2048, 4096, 8192], format_func=lambda v: f"{v:,}")
    target = ctl.select(c2, "Target context", "target", 32768, [t for t in TARGETS if t > orig],
                        format_func=lambda v: f"{v:,}")
    d = ctl.select(c3, "Head size d", "xd", 128, [64, 128])
    base = ctl.select(c4, "Base", "xbase", 10000, [10000, 500000], format_func=lambda b: f"{b:,}")
    chosen = ctl.multiselect(c5, "Methods", "methods", METHODS, METHODS, format_func=rope.METHOD_LABELS.get)
    x = rope.extension(d, base, orig, target, chosen)
    colors = [charts.METHOD_COLORS[k_] for k_ in x.shown]
    left, right = stage.columns(2)
    with left:
        fig = charts.per_pair(x.pairs, x.ratios(), "How much each pair is slowed: θᵢ′ / θᵢ", "θᵢ′ / θᵢ", log_y=True,
                              hlines={"1/s": 1 / x.factor}, colors=colors, y_ticks=x.ratio_ticks(), vband=x.ramp())
        show(fig, "rope frequency ratio per pair", height=460,
             data={"pair": x.pairs, **{k_: v.inv_freq for k_, v in x.shown.items()}})
    with right:
        wl = x.wavelengths()
        fig = charts.per_pair(x.pairs, wl, "Wavelength of each pair (tokens per turn)", "tokens per full turn",
                              log_y=True, hlines={f"trained L = {orig:,}": orig, f"target {target:,}": target},
                              colors=colors)
        show(fig, "rope wavelength per pair", height=460, data={"pair": x.pairs, **wl})
    stage.markdown(x.note())
    explain("A model trained on L tokens has never seen the angles that positions beyond L produce on its slow "
            "pairs. **Linear interpolation** squeezes positions (θᵢ/s for every pair). **NTK-aware** scaling raises "
            "the base so fast pairs keep their speed and the slowest pair is squeezed by s. **YaRN** leaves pairs "
            "that turn more than β_fast = 32 times within L alone, interpolates those that turn less than "
            "β_slow = 1 time, ramps in between, and sharpens attention with a temperature (q and k × (0.1·ln s + 1)).")

    centre, curves = rope.extension_decay(x.shown, target)
    fig = charts.decay_curves(centre, curves, f"Score vs distance out to {target:,}", "normalised score",
                              trained=orig, log_x=True, colors=colors, dash={x.methods["original"].label: "dot"})
    show(fig, "rope context extension decay", height=460, data={"distance": centre, **curves})
    explain("The dotted original curve beyond the shaded trained range is what an unmodified model would face: "
            "angle combinations it never saw. Interpolation replays the trained curve, stretched s times; NTK and "
            "YaRN keep the short-range shape (the fast pairs) and stretch only the slow part. YaRN's curve starts "
            "above the others because of its temperature. Far distances are averaged over windows that grow with the "
            "distance (the fast pairs only add wiggles there).")

# ============================================================================ ④ a real model
elif view == "model":
    st.subheader("A real model: q and k before and after the rotary step")
    stage, controls = page.layout("Text, layer, head, pairs")
    with stage:
        lm = page.model("rope-decoder")
    with controls:
        text = page.text_input("The cat sat on the mat because it was tired, and then the cat slept on the mat all "
                               "day long.", prompt="Type a sentence above to see its queries and keys rotate.")
    if lm is not None and not text.empty:
        with guard("the model's queries and keys"):
            cap, check = cached.capture(lm, text.text, 64)
            s, T = cap.settings, cap.q_pre.shape[2]
            n_pairs = len(s.inv_freq)
            if len(url.multi("pairs", rope.default_pairs(n_pairs), list(range(n_pairs)))) > 4:
                url.set("pairs", st.session_state[url.key("pairs")][:4])   # a hand-edited link may ask for more
            with controls:
                page.note(f"Using the first {T} of {cap.total_tokens} tokens." if cap.truncated else None)
                c1, c2, c3, c4, c5 = st.columns([1, 1, 0.8, 2, 1.4])
                layer = ctl.slider(c1, "Layer", "layer", 0, 0, cap.n_layers - 1)
                head = ctl.slider(c2, "Query head", "head", 0, 0, cap.n_heads - 1)
                which = ctl.radio(c3, "Show", "which", "q", ["q", "k"], format_func={"q": "query", "k": "key"}.get)
                chosen_pairs = c4.multiselect("Dimension pairs (up to 4)", list(range(n_pairs)), key=url.key("pairs"),
                                              max_selections=4)
                focus = ctl.slider(c5, "Follow the token at position", "tok", T - 1, 0, T - 1)
            name = "query" if which == "q" else "key"
            with stage:
                if not chosen_pairs:
                    st.info("Pick at least one dimension pair to draw.", icon="👆")
                else:
                    labels = [display_token(t) for t in cap.tokens]
                    pv = rope.pair_view(cap, layer, head, which, chosen_pairs)
                    show(charts.pair_tracks(pv.pre, pv.post, labels, pv.thetas, name, focus),
                         f"rope {name} pairs layer {layer} head {head}", height=380 * -(-len(chosen_pairs) // 2),
                         data=pv.table(labels))
                    st.caption(pv.dims_note(s.pairing))
            st.markdown(rope.model_facts(cap, head, lm.spec.display_name))
            for col, (label, value, tip) in zip(st.columns(3), check.numbers()):
                col.metric(label, value, help=tip)
            explain("Forward hooks on q_proj and k_proj capture the vectors **before** rotation; our "
                    "`explorer/rope.py` turns them. The model's own rotated keys (from its KV cache) and its "
                    "attention probabilities are read independently and match to float32 rounding. Hugging Face "
                    "Llama pairs dimension i with i + d/2 (`rotate_half`); the RoFormer paper pairs 2i with 2i+1 — "
                    "the same math on permuted dimensions, but mixing the conventions gives the large error on the "
                    "right.")
            if chosen_pairs:
                show(charts.turned_angle(cap.positions, pv.turned, pv.thetas), "rope angle turned per position",
                     height=400, data={"position": cap.positions, **{f"pair{p}": v for p, v in pv.turned.items()}})

# ============================================================================ ⑤ GPT-2 contrast
elif view == "gpt2":
    st.subheader("GPT-2 learns absolute positions instead")
    stage, controls = page.layout("Positions")
    with stage:
        lm = page.model("decoder")
    if lm is not None:
        with guard("GPT-2's position embeddings"):
            C_full = cached.position_cosines(lm)
            n_table = C_full.shape[0]
            trained = rope.trained_positions(lm.spec.id)
            npos = ctl.slider(controls, "Positions", "gpos", min(n_table, 512), 16, n_table, step=16)
            pc = rope.position_contrast(C_full, npos, trained, rope.head_dim_of(lm.model.config))
            left, right = stage.columns([3, 2])
            with left:
                show(charts.cosine_heatmap(pc.C, pc.idx, trained if trained and trained < npos else None, pc.clip),
                     f"gpt2 position cosine {lm.spec.id}", height=560, data={"positions": pc.idx, "cosine": pc.C})
            with right:
                for label, value, tip in pc.numbers(lm.spec.display_name):
                    st.metric(label, value, help=tip)
                if trained and trained < n_table:
                    st.info(rope.untrained_note(trained), icon="📦")
            explain("GPT-2 adds a learned vector wpe[m] to the token at position m. Nothing forces the similarity of "
                    "positions m and n to depend only on m − n; training makes neighbours similar, roughly.")
            fig = charts.similarity_by_gap(pc.gaps, {
                f"learned ({lm.spec.display_name})": (pc.learned_mean, pc.learned_std),
                f"RoPE, one random vector (d = {pc.head_dim})": (pc.rope_mean, pc.rope_std)})
            show(fig, f"position similarity by gap {lm.spec.id}", height=400, data=pc.by_gap())
            explain(rope.table_note(n_table, lm.spec.bundled))
            if pc.stride > 1:
                st.caption(f"Showing one position in {pc.stride} (the downloaded numbers use the same stride).")

page.finish()

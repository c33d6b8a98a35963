"""RoPE: rotary position embeddings, from a 2-D rotation to a real model's queries and keys."""
import numpy as np
import streamlit as st

from explorer import rope
from explorer.charts import rope as charts
from explorer.text import display_token, md
from explorer.ui import rope as cached
from explorer.ui.errors import guard
from explorer.ui.figures import show
from explorer.ui.page import Page
from explorer.ui.presenter import explain

page = Page("🌀 RoPE: rotary position embeddings", prefix="rope_")
url = page.url
view = page.sections({"2d": "① 2-D example", "full": "② Full RoPE", "extend": "③ Longer context",
                      "model": "④ A real model", "gpt2": "⑤ GPT-2 contrast"})

# ============================================================================ ① the 2-D example
if view == "2d":
    st.subheader("Rotate q and k by their positions; the score sees only the gap")
    # Layout (explorer/ui/page.py): the circle, the lesson's numbers and the score curve first; sliders under them
    stage, controls = page.layout("Positions and θ")
    url.int("m", 4, lo=0, hi=40)
    url.int("n", 2, lo=0, hi=40)
    url.float("theta", rope.LESSON_THETA, lo=0.0, hi=3.14)
    with controls:
        c1, c2, c3 = st.columns(3)
        m = c1.slider("Query position m", 0, 40, key=url.key("m"))
        n = c2.slider("Key position n", 0, 40, key=url.key("n"))
        theta = c3.slider("θ (radians per position)", 0.0, 3.14, step=0.01, key=url.key("theta"))
    q, k = rope.LESSON_Q, rope.LESSON_K
    score = float(rope.score2d(q, k, m, n, theta))
    marks, by_gap = rope.lesson_cards(q, k, theta)

    with stage:
        left, right = st.columns([1, 1])
        with left:
            fig = charts.lesson_circle(q, k, m, n, theta, rope.rotate2d,
                                       lambda a, b: float(rope.score2d(q, k, a, b, theta)))
            show(fig, "rope 2d rotation", height=520,
                 data={"q": list(q), "k": list(k), "m": m, "n": n, "theta": theta,
                       "q_rotated": rope.rotate2d(q, m * theta), "k_rotated": rope.rotate2d(k, n * theta),
                       "score": score})
        with right:
            # the lesson's numbers side by side: equal gaps give equal scores, another gap another score
            cards = st.columns(2)
            for col, (gap, cases) in zip(cards, list(by_gap.items())[:2]):
                col.metric(" and ".join(f"({a}, {b})" for a, b, _ in cases) + f": gap {gap}", f"{cases[0][2]:.6f}",
                           border=True)
            st.metric(f"score at (m, n) = ({m}, {n}), gap {m - n}", f"{score:.6f}")
            gaps = np.arange(-40, 41)
            smooth = np.linspace(-40, 40, 641)
            fig = charts.score_vs_gap(smooth, rope.score2d_by_gap(q, k, smooth, theta), marks, (m, n, score),
                                      whole=(gaps, rope.score2d_by_gap(q, k, gaps, theta)))
            show(fig, "rope score vs gap", height=380,
                 data={"gap": gaps, "score": rope.score2d_by_gap(q, k, gaps, theta)})
    explain("RoPE does not add a position vector. It **turns** the query of the token at position *m* by the angle "
            "m·θ and the key at position *n* by n·θ. Turning both by the same extra angle leaves their dot product "
            "unchanged, so the score depends only on m − n.")
    st.markdown(f"**The lesson's numbers**, with q = {list(q)}, k = {list(k)} and θ = {theta:g}:")
    st.table([{"m": a, "n": b, "gap m − n": a - b, "score": f"{s:.6f}"} for a, b, s in marks],
             border="horizontal", hide_index=True, width="content")
    explain("Press **▶ shift both positions** under the circle: both arrows keep turning, the angle between "
            "them stays, and the score in the title never changes. Move one slider alone and it does.")

# ============================================================================ ② full RoPE
elif view == "full":
    st.subheader("d/2 pairs, each turning at its own speed θᵢ = base^(−2i/d)")
    stage, controls = page.layout("Head size, base, positions")   # the figure first, its controls under it
    url.choice("d", 64, [8, 16, 32, 64, 128])
    url.choice("base", 10000, [100, 10000, 500000])
    url.int("npos", 256, lo=16, hi=1024)
    url.choice("show", "cos", ["cos", "angle"])
    with controls:
        c1, c2, c3, c4 = st.columns(4)
        d = c1.selectbox("Head size d", [8, 16, 32, 64, 128], key=url.key("d"))
        base = c2.selectbox("Base", [100, 10000, 500000], key=url.key("base"), format_func=lambda b: f"{b:,}")
        npos = c3.slider("Positions", 16, 1024, step=16, key=url.key("npos"))
        what = c4.radio("Colour", ["cos", "angle"], key=url.key("show"), horizontal=True,
                        format_func={"cos": "cos(m·θᵢ)", "angle": "angle mod 2π"}.get)
    freqs, positions = rope.inv_freq(d, float(base)), np.arange(npos)
    ang = rope.angles(positions, freqs).T                                   # [pair, position]
    wl = rope.wavelengths(freqs)
    with stage:
        show(charts.rotation_heatmap(np.cos(ang) if what == "cos" else np.mod(ang, 2 * np.pi), positions, what),
             "rope rotation per pair", height=460, data={"theta_i": freqs, "wavelength_tokens": wl})
        st.caption(f"Pair 0: θ = {freqs[0]:.3g} rad/token, one turn every {wl[0]:.2f} tokens.  "
                   f"Pair {d // 2 - 1}: θ = {freqs[-1]:.3g}, one turn every {wl[-1]:,.0f} tokens.")
    explain("A head of size d is split into d/2 pairs of dimensions. Pair 0 turns one radian per token; the last "
            "pair turns base^(−(d−2)/d) radians per token — thousands of tokens for a single turn. Fast pairs "
            "resolve nearby positions, slow pairs far ones.")

    st.subheader("Only the gap matters: random q and k at every pair of positions")
    url.int("seed", 0, lo=0, hi=9999)
    seed = st.columns([1, 3])[0].number_input("Random seed for q and k", 0, 9999, key=url.key("seed"))
    rng = np.random.default_rng(int(seed))
    qv, kv = rng.normal(size=d), rng.normal(size=d)
    sp = np.arange(min(npos, 64))
    S = rope.score_matrix(qv, kv, sp, freqs)
    spread = rope.diagonal_spread(S)
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
    url.choice("measure", "ones", ["ones", "bound"])
    url.choice("reach", 4096, [512, 4096, 32768])
    url.flag("logx", True)
    c1, c2, c3 = st.columns([2, 1, 1])
    measure = c1.radio("Measure", ["ones", "bound"], key=url.key("measure"), horizontal=True,
                       format_func={"ones": "score of q = k = all-ones (normalised)",
                                    "bound": "RoFormer's relative upper bound"}.get)
    reach = c2.selectbox("Distances up to", [512, 4096, 32768], key=url.key("reach"), format_func=lambda r: f"{r:,}")
    logx = c3.toggle("Log distance axis", key=url.key("logx"))
    dist, curves = rope.decay_by_base(d, int(base), reach, measure)
    if measure == "ones":
        y_title = "mean over pairs of cos((m−n)·θᵢ)"
        explain("For q = k = all-ones, each pair contributes 2·cos((m − n)·θᵢ); dividing by d gives 1 at distance "
                "0. As the distance grows the pairs fall out of step and the sum shrinks — slower with a larger "
                "base, which is why long-context models raise it (Llama 3 uses 500,000).")
    else:
        y_title = "(1/(d/2)) Σⱼ |Σ_{i<j} e^{i(m−n)θᵢ}|"
        explain("RoFormer (§3.4.3) bounds |q·R k| by max|h_{i+1}−h_i| times this sum of partial-sum lengths, and "
                "plots it against distance to show that RoPE's scores decay with distance.")
    x = dist if not logx else dist[1:]
    fig = charts.decay_curves(x, {k_: v if not logx else v[1:] for k_, v in curves.items()},
                              f"Decay with distance, d = {d}", y_title, log_x=logx)
    show(fig, "rope long range decay", height=440, data={"distance": dist, **curves})

# ============================================================================ ③ longer context
elif view == "extend":
    st.subheader("Stretching a trained context: interpolation, NTK-aware, YaRN")
    stage, controls = page.layout("Context, head size, base, methods")
    ORIGS, TARGETS, METHODS = [2048, 4096, 8192], [8192, 16384, 32768, 65536, 131072], ["linear", "ntk", "yarn"]
    url.choice("orig", 4096, ORIGS)
    url.choice("xd", 128, [64, 128])
    url.choice("xbase", 10000, [10000, 500000])
    url.multi("methods", METHODS, METHODS)
    with controls:
        c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1, 3])
        orig = c1.selectbox("Trained context L", ORIGS, key=url.key("orig"), format_func=lambda v: f"{v:,}")
        targets = [t for t in TARGETS if t > orig]
        url.choice("target", 32768, targets)
        target = c2.selectbox("Target context", targets, key=url.key("target"), format_func=lambda v: f"{v:,}")
        d = c3.selectbox("Head size d", [64, 128], key=url.key("xd"))
        base = c4.selectbox("Base", [10000, 500000], key=url.key("xbase"), format_func=lambda b: f"{b:,}")
        chosen_methods = c5.multiselect("Methods", METHODS, key=url.key("methods"), format_func=rope.METHOD_LABELS.get)
    factor = target / orig
    allm = rope.extension_methods(d, float(base), factor, orig)
    shown = {"original": allm["original"], **{k_: allm[k_] for k_ in chosen_methods}}
    y, pairs = allm["yarn"], np.arange(d // 2)
    colors = [charts.METHOD_COLORS[k_] for k_ in shown]
    left, right = stage.columns(2)
    with left:
        ratio = {s.label: s.inv_freq / allm["original"].inv_freq for s in shown.values()}
        fig = charts.per_pair(pairs, ratio, "How much each pair is slowed: θᵢ′ / θᵢ", "θᵢ′ / θᵢ", log_y=True,
                              hlines={"1/s": 1 / factor}, colors=colors,
                              y_ticks={2.0 ** -j: "1" if j == 0 else f"1/{2 ** j}"
                                       for j in range(int(np.log2(factor)) + 1)},
                              vband=(y.detail["low"], y.detail["high"]) if "yarn" in shown else None)
        show(fig, "rope frequency ratio per pair", height=460,
             data={"pair": pairs, **{k_: v.inv_freq for k_, v in shown.items()}})
    with right:
        wl = {s.label: rope.wavelengths(s.inv_freq) for s in shown.values()}
        fig = charts.per_pair(pairs, wl, "Wavelength of each pair (tokens per turn)", "tokens per full turn",
                              log_y=True, hlines={f"trained L = {orig:,}": orig, f"target {target:,}": target},
                              colors=colors)
        show(fig, "rope wavelength per pair", height=460, data={"pair": pairs, **wl})
    stage.markdown(f"Scale factor s = {target:,} / {orig:,} = **{factor:g}**. NTK-aware base: "
                   f"{allm['ntk'].detail['base']:,.0f}. YaRN ramp between pairs {y.detail['low']} and "
                   f"{y.detail['high']}, attention factor {y.attention_factor:.4f} "
                   f"(scores × {y.attention_factor ** 2:.4f}).")
    explain("A model trained on L tokens has never seen the angles that positions beyond L produce on its slow "
            "pairs. **Linear interpolation** squeezes positions (θᵢ/s for every pair). **NTK-aware** scaling raises "
            "the base so fast pairs keep their speed and the slowest pair is squeezed by s. **YaRN** leaves pairs "
            "that turn more than β_fast = 32 times within L alone, interpolates those that turn less than "
            "β_slow = 1 time, ramps in between, and sharpens attention with a temperature (q and k × (0.1·ln s + 1)).")

    centre, curves = rope.extension_decay(shown, target)
    fig = charts.decay_curves(centre, curves, f"Score vs distance out to {target:,}", "normalised score",
                              trained=orig, log_x=True, colors=colors, dash={allm["original"].label: "dot"})
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
            url.int("layer", 0, lo=0, hi=cap.n_layers - 1)
            url.int("head", 0, lo=0, hi=cap.n_heads - 1)
            url.choice("which", "q", ["q", "k"])
            url.int("tok", T - 1, lo=0, hi=T - 1)
            if len(url.multi("pairs", rope.default_pairs(n_pairs), list(range(n_pairs)))) > 4:
                url.set("pairs", st.session_state[url.key("pairs")][:4])   # a hand-edited link may ask for more
            with controls:
                if cap.truncated:
                    page.note(f"Using the first {T} of {cap.total_tokens} tokens.")
                c1, c2, c3, c4, c5 = st.columns([1, 1, 0.8, 2, 1.4])
                layer = c1.slider("Layer", 0, cap.n_layers - 1, key=url.key("layer")) if cap.n_layers > 1 else 0
                head = c2.slider("Query head", 0, cap.n_heads - 1, key=url.key("head")) if cap.n_heads > 1 else 0
                which = c3.radio("Show", ["q", "k"], key=url.key("which"), format_func={"q": "query", "k": "key"}.get)
                chosen_pairs = c4.multiselect("Dimension pairs (up to 4)", list(range(n_pairs)), key=url.key("pairs"),
                                              max_selections=4)
                focus = c5.slider("Follow the token at position", 0, T - 1, key=url.key("tok")) if T > 1 else 0
            name = "query" if which == "q" else "key"
            with stage:
                if not chosen_pairs:
                    st.info("Pick at least one dimension pair to draw.", icon="👆")
                else:
                    labels = [display_token(t) for t in cap.tokens]
                    pv = rope.pair_view(cap, layer, head, which, chosen_pairs)
                    show(charts.pair_tracks(pv.pre, pv.post, labels, pv.thetas, name, focus),
                         f"rope {name} pairs layer {layer} head {head}", height=380 * -(-len(chosen_pairs) // 2),
                         data={"tokens": labels, **{f"pair{p}_dims{tuple(int(x) for x in pv.dims[p])}_before": pv.pre[p]
                                                   for p in chosen_pairs},
                               **{f"pair{p}_after": pv.post[p] for p in chosen_pairs}})
                    st.caption("Pairs: " + ", ".join(f"{p} = dims ({pv.dims[p][0]}, {pv.dims[p][1]})"
                                                     for p in chosen_pairs) +
                               f"  — convention `{s.pairing}`: pair i = (i, i + {n_pairs}).")
            st.markdown(
                f"**{md(lm.spec.display_name)}**: {cap.n_layers} layers, {cap.n_heads} query heads sharing "
                f"{cap.n_kv_heads} key/value heads (query head {head} reads key head {cap.kv_head_of(head)}), "
                f"head_dim {s.head_dim}, rope_theta {s.rope_theta:,.0f}, rope_type {md(s.rope_type)}, frequencies "
                f"from {md(s.source)}.")
            m1, m2, m3 = st.columns(3)
            m1.metric("Our k vs the model's k", f"{check.k_error:.1e}",
                      help="max |our rotation of the captured pre-rotary keys − the keys in the model's KV cache|")
            m2.metric("Our attention vs the model's", f"{check.attn_error:.1e}",
                      help="max |softmax(our q·kᵀ·scale, causal) − the model's attention probabilities|, all layers")
            m3.metric("k error, interleaved pairs", f"{check.k_error_other_pairing:.2f}",
                      help="the same comparison with the paper's (2i, 2i+1) pairing instead of rotate_half's "
                           "(i, i + d/2)")
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
            url.int("gpos", min(n_table, 512), lo=16, hi=n_table)
            npos = controls.slider("Positions", 16, n_table, step=16, key=url.key("gpos"))
            pc = rope.position_contrast(C_full, npos, trained, rope.head_dim_of(lm.model.config))
            left, right = stage.columns([3, 2])
            with left:
                show(charts.cosine_heatmap(pc.C, pc.idx, trained if trained and trained < npos else None, pc.clip),
                     f"gpt2 position cosine {lm.spec.id}", height=560, data={"positions": pc.idx, "cosine": pc.C})
            with right:
                st.metric("Diagonal spread, learned table", f"{pc.learned_spread:.2f}",
                          help=f"{md(lm.spec.display_name)}: largest (max − min) cosine along any diagonal of the first "
                               f"{pc.n} positions")
                st.metric(f"Diagonal spread, RoPE (d = {pc.head_dim})", f"{pc.rope_spread:.0e}",
                          help="the same measure for one random vector rotated to every position (d: the "
                               "learned model's own head size)")
                if trained and trained < n_table:
                    st.info(f"This bundled model was trained on windows of {trained} tokens: positions beyond "
                            f"{trained - 1} (right of / below the dashed lines) never received a gradient and "
                            "keep their random start.", icon="📦")
            explain("GPT-2 adds a learned vector wpe[m] to the token at position m. Nothing forces the similarity of "
                    "positions m and n to depend only on m − n; training makes neighbours similar, roughly.")
            fig = charts.similarity_by_gap(pc.gaps, {
                f"learned ({lm.spec.display_name})": (pc.learned_mean, pc.learned_std),
                f"RoPE, one random vector (d = {pc.head_dim})": (pc.rope_mean, pc.rope_std)})
            show(fig, f"position similarity by gap {lm.spec.id}", height=400,
                 data={"gap": pc.gaps, "learned_mean": pc.learned_mean, "learned_std": pc.learned_std,
                       "rope_mean": pc.rope_mean, "rope_std": pc.rope_std})
            explain("Along a diagonal (a fixed gap m − n) a learned table gives different similarities at "
                    "different absolute positions — the band. RoPE's similarity is one number per gap. A learned "
                    f"table also stops at its length: this one has no vector for position {n_table}."
                    + (" The tiny bundled model trained only briefly, so its table shows little structure; real "
                       "GPT-2's is smooth and banded." if lm.spec.bundled else ""))
            if pc.stride > 1:
                st.caption(f"Showing one position in {pc.stride} (the downloaded numbers use the same stride).")

page.finish()

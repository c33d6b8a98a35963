"""Mixture of experts: a router sends each token to a few expert MLPs — a toy router, a real model, the sizes."""
import pandas as pd
import streamlit as st

from explorer import moe
from explorer.charts import moe as charts
from explorer.presets import PRESETS
from explorer.text import display_token
from explorer.ui import moe as cached
from explorer.ui.editor import url_table
from explorer.ui.errors import guard
from explorer.ui.figures import show, table
from explorer.ui.page import Page
from explorer.ui.presenter import explain

page = Page("🔀 Mixture of experts: which expert gets which token", prefix="moe_")
url = page.url
view = page.sections({"toy": "① A toy router", "model": "② A real model's routing", "size": "③ Dense vs sparse"})

# ============================================================================ ① the toy router
if view == "toy":
    st.subheader("A router scores every expert; each token goes to its top k")
    # Layout (explorer/ui/page.py): the routing picture first; the logits and settings under it
    stage, controls = page.layout("Router logits and top-k")
    LESSON = moe.format_logits(moe.TOY_LOGITS)
    logits = url.parsed("logits", LESSON, moe.parse_logits, max_chars=400, fallback="the lesson's")
    E = len(moe.TOY_EXPERTS)
    url.int("k", moe.TOY_K, lo=1, hi=E)
    url.choice("norm", "topk", ["topk", "all"])

    left, right = controls.columns([3, 2], vertical_alignment="bottom")
    with left:
        st.markdown("**Router logits** (click a number to change it)")
        url_table(url, "logits", pd.DataFrame(logits, index=list(moe.TOY_TOKENS), columns=list(moe.TOY_EXPERTS)),
                  lambda edits: moe.format_logits(moe.apply_edits(logits, edits["edited_rows"])),
                  what="your edit of the logits", width="stretch",
                  column_config={e: st.column_config.NumberColumn(e, min_value=-moe.MAX_ABS_LOGIT,
                                                                  max_value=moe.MAX_ABS_LOGIT, step=0.1, format="%.2f")
                                 for e in moe.TOY_EXPERTS})
    with right:
        k = st.slider("Experts per token (top-k)", 1, E, key=url.key("k"))
        norm = st.radio("Mixing weights", list(moe.NORMS), format_func=moe.NORMS.get, key=url.key("norm"))
        st.button("↺ The lesson's logits", key="moe_toy_reset", on_click=lambda: url.set("logits", LESSON),
                  disabled=st.session_state[url.key("logits")] == LESSON)

    r = moe.route(logits, k, renormalize=(norm == "topk"))
    left, right = stage.columns([1, 1])
    with left:
        fig = charts.toy_sankey(moe.TOY_TOKENS, moe.TOY_EXPERTS, r.chosen, r.weights)
        show(fig, "moe toy routing", height=340, data=moe.routing_table(r, moe.TOY_TOKENS, moe.TOY_EXPERTS))
    with right:
        # an HTML table (not a canvas grid): presenter mode's stylesheet sets its text to 19 px
        st.table(moe.routing_rows(r, moe.TOY_TOKENS, moe.TOY_EXPERTS), border="horizontal", hide_index=True)
        if norm == "all" and k < E:
            st.caption(moe.weights_note(r, moe.TOY_TOKENS))
    explain(moe.TOY_EXPLAINED)
    st.markdown(moe.TOPICS_NOTE)

# ============================================================================ ② a real model
elif view == "model":
    st.subheader("A real model's routers, layer by layer")
    MAX_TOKENS = 96
    stage, controls = page.layout("Text, layer and token")
    with stage:
        lm = page.model("moe-decoder")
    with controls:
        text = page.text_input("a river is a large natural stream of water flowing in a channel to the sea; "
                               "the river flooded the town after the heavy rain",
                               prompt="Type a sentence above to see which experts its tokens are sent to.")
    if lm is not None and not text.empty:
        with guard("the model's routing"):
            cap = cached.capture(lm, text.text, MAX_TOKENS)
            if cap.truncated:
                page.note(f"Using the first {cap.n_tokens} of {cap.total_tokens} tokens.")
            L, T, E, k = cap.n_layers, cap.n_tokens, cap.n_experts, cap.top_k
            experts = [f"E{e}" for e in range(E)]
            labels = [display_token(t) for t in cap.tokens]
            url.int("layer", 0, lo=0, hi=L - 1)
            url.int("tok", 0, lo=0, hi=T - 1)
            c1, c2 = controls.columns(2)
            layer = c1.slider("Layer", 0, L - 1, key=url.key("layer")) if L > 1 else 0
            tok = c2.slider("Follow the token at position", 0, T - 1, key=url.key("tok")) if T > 1 else 0
            probs = cap.probs[layer]
            with stage:
                st.markdown(f"##### Router probabilities in layer {layer}")
                fig = charts.router_heatmap(probs, cap.model_chosen[layer], cap.model_weights[layer], labels,
                                            experts, highlight=tok)
                show(fig, f"moe router probabilities layer {layer}",
                     data=moe.router_table(cap, layer, labels, experts))
            st.markdown(moe.model_line(cap, lm.spec.display_name, labels[tok], tok))
            explain(moe.router_explained(cap))

            st.markdown("##### Each token's experts through the layers")
            ps = moe.paths(cap.model_chosen, E)
            fig = charts.path_grid(ps.top1, cap.model_chosen, cap.model_weights, labels, experts, highlight=tok)
            show(fig, "moe expert paths",
                 data={"tokens": labels, **{f"layer{i}_first_choice": [experts[e] for e in ps.top1[:, i]]
                                            for i in range(L)}})
            if L > 1:
                fig = charts.path_sankey(ps.top1, ps.transitions, experts, highlight=tok,
                                         token_label=f"“{labels[tok]}”")
                show(fig, "moe first choice flow", data={"transitions_layer_from_to": ps.transitions})
                explain(moe.flow_explained(labels[tok]))

            st.markdown(f"##### Load balance and capacity in layer {layer}")
            url.float("cf", 1.0, lo=0.25, hi=4.0)
            url.choice("order", "position", list(moe.CAPACITY_ORDERS))
            c1, c2 = st.columns([1, 2])
            cf = c1.slider("Capacity factor", 0.25, 4.0, step=0.25, key=url.key("cf"))
            order = c2.radio("Who gets a slot first", list(moe.CAPACITY_ORDERS), format_func=moe.ORDER_LABELS.get,
                             key=url.key("order"), horizontal=True)
            slots = moe.capacity(cf, T, k, E)
            chosen, weights = cap.model_chosen[layer], cap.model_weights[layer]
            res = moe.apply_capacity(chosen, E, slots, order)
            counts = res.requested
            left, right = st.columns([3, 2])
            with left:
                fig = charts.load_bars(res.requested, res.accepted, experts, T * k / E, slots)
                show(fig, f"moe load layer {layer}",
                     data={"expert": experts, "routed": res.requested, "processed": res.accepted,
                           "dropped": res.requested - res.accepted})
            with right:
                st.metric("Assignments in this layer", f"{int(counts.sum())} = {T} tokens × {k}")
                st.metric(f"Capacity per expert ⌈{cf:g} × {T} × {k} / {E}⌉", f"{slots}")
                st.metric("Assignments dropped", f"{len(res.dropped)}",
                          help="Tokens whose expert is full skip that expert; with none left they pass through "
                               "the block's residual connection unchanged.")
            aux_all, aux_layer = cap.aux_loss(), cap.aux_loss_per_layer()[layer]
            m1, m2, m3 = st.columns(3)
            m1.metric("Aux loss, all layers (transformers)", f"{aux_all:.4f}",
                      help="load_balancing_loss_func: E · Σᵢ fᵢ·Pᵢ with fᵢ and Pᵢ pooled over every layer's tokens; "
                           f"the model's own aux_loss output was {cap.model_aux_loss:.4f}")
            m2.metric(f"Aux loss, layer {layer} alone", f"{aux_layer:.4f}")
            m3.metric("Perfectly even routing gives", f"{k}",
                      help=f"fᵢ = k/E and Pᵢ = 1/E for every expert: E · E · (k/E) · (1/E) = k")
            explain(moe.capacity_explained(cap, aux_all, order))
            if res.dropped:
                lost = moe.dropped_rows(res, chosen, weights, labels, experts)
                st.markdown(f"**Tokens that lost an expert** ({len(lost)} of {T})")
                table(pd.DataFrame(lost), width="content", height=min(400, 38 + 35 * len(lost)))
            else:
                st.caption(f"No token is dropped at capacity factor {cf:g}: the busiest expert got "
                           f"{int(counts.max())} assignments, capacity is {slots}.")

# ============================================================================ ③ dense vs sparse
elif view == "size":
    st.subheader("All experts must be in memory; each token uses only k of them")
    ALL = {**PRESETS, **moe.EXTRA_PRESETS}
    LESSON = "Mixtral-8x7B"

    def load_preset():
        a = ALL[st.session_state[url.key("preset")]]
        st.session_state[url.key("experts")] = a.n_experts
        st.session_state[url.key("topk")] = a.experts_per_token

    preset = url.choice("preset", LESSON, list(ALL))
    arch = ALL[preset]
    url.int("experts", arch.n_experts, lo=1, hi=128)
    url.int("topk", arch.experts_per_token, lo=1, hi=128)
    url.choice("dtype", "bf16", list(moe.DTYPE_BITS))
    stage, controls = page.layout("Model, experts, top-k, element type")
    c = controls.columns([2, 2, 2, 2], vertical_alignment="bottom")
    c[0].selectbox("Model preset (config.json values)", list(ALL), key=url.key("preset"), on_change=load_preset)
    n_experts = c[1].slider("Experts per layer", 1, 128, key=url.key("experts"))
    if st.session_state[url.key("topk")] > n_experts:
        url.set("topk", n_experts)
    k = c[2].slider("Experts per token (top-k)", 1, n_experts, key=url.key("topk")) if n_experts > 1 else 1
    dtype = c[3].segmented_control("Weights stored as", list(moe.DTYPE_BITS), key=url.key("dtype"), required=True)
    cfg = moe.with_experts(arch, n_experts, k)
    size = moe.moe_size(cfg)
    bpp = moe.DTYPE_BITS[dtype] / 8
    with stage:
        m = st.columns(4)
        m[0].metric("Total parameters", f"{size.total / 1e9:,.1f}B")
        m[1].metric(f"Active per token (top-{k})", f"{size.active / 1e9:,.1f}B",
                    f"{size.active / size.total:.0%} of total", delta_color="off", delta_arrow="off")
        m[2].metric(f"Memory for all weights ({dtype})", f"{size.total * bpp / 1e9:,.1f} GB")
        m[3].metric(f"… of which the expert pool", f"{size.experts_total * bpp / 1e9:,.1f} GB")
        left, right = st.columns([3, 2])
    with left:
        fig = charts.size_bars(size.shared, size.experts_active, size.idle, bpp, dtype)
        show(fig, "moe total vs active parameters", data=moe.size_table(size, dtype))
    with right:
        ns = moe.scaling_expert_counts(n_experts, k)
        sizes = [moe.moe_size(moe.with_experts(arch, n, k)) for n in ns]
        fig = charts.scaling_lines(ns, [s.total / 1e9 for s in sizes], [s.active / 1e9 for s in sizes], n_experts, k)
        show(fig, "moe parameters vs experts", data={"experts": ns, "total": [s.total for s in sizes],
                                                      "active": [s.active for s in sizes]})
    st.markdown(moe.config_line(preset, arch))
    if (n_experts, k) != (arch.n_experts, arch.experts_per_token):
        st.caption(f"Your sliders differ from {preset}'s config: {n_experts} experts, top-{k}.")
    if n_experts > 1:
        st.markdown(moe.dense_note(arch, size, n_experts))
    explain(moe.size_explained(arch, dtype))

page.finish()

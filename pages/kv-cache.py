"""KV cache: how the cache grows under MHA, GQA and MQA — computed from the formula and measured in real models."""
import numpy as np
import streamlit as st

from explorer import kvcache as kv
from explorer.charts import kvcache as charts
from explorer.presets import PRESETS, param_count
from explorer.text import md
from explorer.ui import kvcache as cached
from explorer.ui.errors import callback, guard
from explorer.ui.figures import show, table
from explorer.ui.page import Page
from explorer.ui.presenter import explain, presenting

page = Page("🧮 KV cache: MHA, GQA and MQA", prefix="kv_")
url = page.url

# ============================================================================ the model: a preset, then sliders
LESSON = {"preset": "Llama-3-8B", "seq": 8192, "batch": 8, "dtype": "bf16"}   # the lesson's example
SEQ_LENS = [2 ** i for i in range(0, 21)]                                        # 1 .. 1M, log scale
HEAD_DIMS = [16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 256]
WINDOWS = [0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]                     # 0: no sliding window


@callback("the preset")
def load_preset():
    """A new preset puts its config into the sliders (they stay movable)."""
    for name, value in kv.preset_values(PRESETS[st.session_state[url.key("preset")]]).items():
        st.session_state[url.key(name)] = value


@callback("the lesson example")
def load_lesson():
    st.session_state.update({url.key(k): v for k, v in LESSON.items()})
    load_preset()


preset_name = url.choice("preset", LESSON["preset"], list(PRESETS))
arch = PRESETS[preset_name]
pv = kv.preset_values(arch)        # defaults follow the preset, so `?preset=Mistral-7B` is a whole view
url.int("layers", pv["layers"], lo=1, hi=128)
url.int("heads", pv["heads"], lo=1, hi=128)
url.choice("hd", pv["hd"], HEAD_DIMS)
url.choice("window", pv["window"], WINDOWS)
url.choice("seq", LESSON["seq"], SEQ_LENS)
url.int("batch", LESSON["batch"], lo=1, hi=256)
url.choice("dtype", LESSON["dtype"], list(kv.DTYPE_BITS))

# Layout (explorer/ui/page.py): the three sizes (the lesson's headline) first, then the section and its figure, the
# controls under them (folded in presenter mode); the controls are read first, the slots filled after.
stage = page.main()
lesson = st.container()
controls = page.controls("Model and workload")
with controls:
    top = st.columns([2, 5])
    top[0].selectbox("Model preset (config.json values)", list(PRESETS), key=url.key("preset"), on_change=load_preset)
    top[0].button("↺ Lesson example", key="kv_lesson", on_click=load_lesson,
                  help="Llama-3-8B's shape, batch 8, 8,192 tokens, bf16")

    c = st.columns(4)
    n_layers = c[0].slider("Layers", 1, 128, key=url.key("layers"))
    n_heads = c[1].slider("Query heads", 1, 128, key=url.key("heads"))
    kv_options = kv.valid_kv_heads(n_heads)
    kv_key = url.key("kv")
    if kv_key in st.session_state and st.session_state[kv_key] not in kv_options:
        # more query heads than before: keep the largest group count that still divides them
        st.session_state[kv_key] = max(d for d in kv_options if d <= max(1, st.session_state[kv_key]))
    url.choice("kv", pv["kv"] if pv["kv"] in kv_options else kv_options[-1], kv_options)
    n_kv = c[2].select_slider("KV heads (GQA groups)", kv_options, key=kv_key,
                              help="Must divide the query heads. All of them = MHA, 1 = MQA, in between = GQA.")
    head_dim = c[3].select_slider("Head dim", HEAD_DIMS, key=url.key("hd"))
    c = st.columns([4, 1, 1.4, 1.2])
    seq_len = c[0].select_slider("Sequence length (log scale)", SEQ_LENS, key=url.key("seq"),
                                 format_func=lambda t: f"{t:,}")
    batch = c[1].number_input("Batch", 1, 256, key=url.key("batch"))
    dtype = c[2].selectbox("Element type", list(kv.DTYPE_BITS), key=url.key("dtype"), format_func=kv.DTYPE_LABELS.get)
    window = c[3].selectbox("Sliding window", WINDOWS, key=url.key("window"),
                            format_func=lambda w: f"{w:,}" if w else "none")
    bits = kv.DTYPE_BITS[dtype]
    shape = kv.KVShape(n_layers, n_heads, n_kv, head_dim, window or None)
    rows = kv.compare(shape, seq_len, batch, bits)

    # --- where the preset's numbers come from
    with top[1]:
        total, active = param_count(arch)
        st.markdown(f"**{preset_name}** ([config.json]({arch.source})): `num_hidden_layers` {arch.n_layers}, "
                    f"`num_attention_heads` {arch.n_heads}, `num_key_value_heads` {arch.n_kv_heads} "
                    f"({arch.attention_kind}), `head_dim` {arch.head_dim}, `sliding_window` "
                    f"{arch.sliding_window or 'none'}, context {arch.max_positions:,}, "
                    f"{total / 1e9:.2f} B parameters" + (f" ({active / 1e9:.1f} B active)" if active != total else ""))
    changed = [name for name, v in {"layers": n_layers, "heads": n_heads, "kv": n_kv, "hd": head_dim,
                                     "window": window}.items() if v != pv[name]]
    if changed:
        st.caption(f"Your sliders differ from {preset_name}'s config ({', '.join(changed)}).")

# ============================================================================ the answer: three sizes side by side
with stage:
    tokens = int(kv.cached_tokens(seq_len, shape.sliding_window))
    tok_text = f"{tokens:,} tokens" + (f" (window of {window:,} out of {seq_len:,})" if tokens < seq_len else "")
    st.markdown(f"**{preset_name + ' (changed)' if changed else preset_name}: cache = 2 (K and V) × {n_layers} layers × KV heads ({' / '.join(str(r.n_kv_heads) for r in rows)}) × "
                f"{head_dim} head dim × {tok_text} × "
                f"{batch} sequences × {bits / 8:g} bytes**")
    cols = st.columns(3)
    for col, r in zip(cols, rows):
        # the middle card is the sliders' own setting, which is MHA or MQA at the ends of the KV-heads slider
        name = r.kind if r.kind != "GQA" or shape.kind == "GQA" else f"Your setting ({shape.kind})"
        col.metric(f"{name} · {r.n_kv_heads} KV head{'s' if r.n_kv_heads > 1 else ''}", kv.format_bytes(r.bytes),
                   f"{r.ratio:.3f} × MHA", delta_color="off", delta_arrow="off", border=True,
                   help=f"{r.bytes:,} bytes")

with lesson:
    view = page.sections({"growth": "① Growth", "sharing": "② Sharing", "fit": "③ Will it fit?", "measured": "④ Measured"})
    mine = shape.kind if shape.kind == "GQA" else f"yours, {shape.kind}"   # the middle variant's name
    labels = {r.kind: f"{mine if r.kind == 'GQA' else r.kind} ({r.n_kv_heads} KV)" for r in rows}

    # ============================================================================ ① growth over tokens
    if view == "growth":
        lengths = kv.log_lengths(extra=tuple(x for x in (seq_len, window) if x))
        curves = kv.growth(shape, lengths, batch, bits)
        fig = charts.growth_curves(lengths, curves, labels, seq_len, {r.kind: r.bytes for r in rows},
                                   window=shape.sliding_window)
        show(fig, "kv cache growth", height=460,
             data={"tokens": lengths, **{f"{k}_bytes": v for k, v in curves.items()}})
        per_tok = {r.kind: kv.bytes_per_token(shape.variants()[r.kind], bits) * batch for r in rows}
        st.caption("Each new token adds " + ", ".join(f"{kv.format_bytes(v)} ({k})" for k, v in per_tok.items()) +
                   f" for the batch of {batch}.")
        explain("The cache grows by the same amount with every token: a straight line, which a log-log plot shows "
                "as parallel lines. Fewer KV heads shift the whole line down by the ratio; query heads never enter the "
                "formula. A sliding window (Mistral-7B: 4,096) keeps only the last tokens, so its line goes flat.")

    # ============================================================================ ② sharing picture
    elif view == "sharing":
        variants = {(mine if k == "GQA" else k): s.n_kv_heads for k, s in shape.variants().items()}
        fig = charts.sharing(n_heads, variants, kv.kv_head_of)
        show(fig, "kv head sharing", height=560,
             data={"query_head": list(range(n_heads)),
                   **{f"{k}_kv_head": [kv.kv_head_of(h, n_heads, n) for h in range(n_heads)] for k, n in variants.items()}})
        if max(variants.values()) > 16:
            st.caption("More than 16 KV heads: colours repeat; the lines show which head is which.")
        explain(f"Every query head still computes its own attention pattern; what GQA shares is the keys and values "
                f"it reads. With {n_kv} KV heads, query head h reads KV head h ÷ {n_heads // n_kv} "
                f"(transformers' `repeat_kv` copies each cached head {n_heads // n_kv}× before the matmul), so only the "
                "squares on top are stored in the cache.")

    # ============================================================================ ③ GPU fit check
    elif view == "fit":
        url.choice("gpu", 80, list(kv.GPU_GB))
        url.choice("wdtype", "bf16", list(kv.DTYPE_BITS))
        url.int("usable", 90, lo=50, hi=100)
        c = st.columns([3, 1.3, 1])
        gpu = c[0].segmented_control("GPU memory", list(kv.GPU_GB), key=url.key("gpu"), required=True,
                                     format_func=lambda g: f"{g} GB")
        wdtype = c[1].selectbox("Weights element type", list(kv.DTYPE_BITS), key=url.key("wdtype"),
                                format_func=kv.DTYPE_LABELS.get)
        usable = c[2].number_input("Usable %", 50, 100, key=url.key("usable"),
                                   help="Room left for activations and the runtime (vLLM's default "
                                        "gpu_memory_utilization is 90%).")
        capacity = kv.capacity_bytes(gpu, usable / 100)
        fits = kv.fit_check(arch, shape, seq_len, batch, bits, kv.DTYPE_BITS[wdtype], capacity)
        fig = charts.fit_bars([{"kind": f.kind, "label": labels[f.kind], "weights": f.weights, "cache": f.cache}
                               for f in fits], capacity, f"{gpu} GB × {usable}%")
        show(fig, "kv cache gpu fit", height=360,
             data={"kind": [f.kind for f in fits], "weights_bytes": [f.weights for f in fits],
                   "cache_bytes": [f.cache for f in fits], "capacity_bytes": [f.capacity for f in fits],
                   "max_seq_len": [f.max_seq_len if f.max_seq_len is not None else -1 for f in fits],
                   "max_batch": [f.max_batch for f in fits]})
        table(kv.fit_rows(fits, labels, seq_len, batch, arch.max_positions))
        explain(f"Weights: {preset_name}'s parameter count (computed from its config, with your attention sliders) × "
                f"{kv.DTYPE_BITS[wdtype] / 8:g} bytes. {gpu} GB is read as {gpu} GiB (what nvidia-smi shows for most "
                f"cards), of which {usable}% is usable. What is left after the weights holds the cache: longest context "
                f"= free ÷ (bytes per token × batch), largest batch = free ÷ (bytes of one sequence).")

    # ============================================================================ ④ measured in real models
    elif view == "measured":
        st.subheader("The real cache of the sidebar's GPT-2 and Llama, read after every decoding step")
        url.choice("ntok", 128, [16, 32, 64, 128, 256])
        url.choice("mbatch", 1, [1, 2, 4])
        c = st.columns([2, 1, 3])
        n_tokens = c[0].select_slider("Tokens to decode", [16, 32, 64, 128, 256], key=url.key("ntok"))
        m_batch = c[1].selectbox("Batch", [1, 2, 4], key=url.key("mbatch"))
        runs = []
        for family in ("decoder", "rope-decoder"):
            lm = page.model(family)
            if lm is None:
                continue
            with guard(f"the cache of {lm.spec.display_name}"):
                m = cached.measure(lm, min(n_tokens, lm.max_length), m_batch)
                runs.append({"label": lm.spec.display_name, "kind": m.shape.kind, "lengths": m.lengths,
                             "measured": m.measured, "formula": m.formula, "m": m})
        if runs:
            cols = st.columns(len(runs))
            for col, r in zip(cols, runs):
                m, diff = r["m"], int(np.abs(r["measured"] - r["formula"]).max())
                col.metric(f"{md(r['label'])}: cache after {int(m.lengths[-1])} tokens", f"{int(m.measured[-1]):,} bytes",
                           f"formula {int(r['formula'][-1]):,} · largest difference over all steps {diff} bytes",
                           delta_color="off", delta_arrow="off", border=True)
            show(charts.measured_vs_formula(runs), "kv cache measured vs formula", height=440,
                 data={"tokens": runs[0]["lengths"],
                       **{f"{r['label']} {what}": r[what] for r in runs for what in ("measured", "formula")
                          if len(r["lengths"]) == len(runs[0]["lengths"])}})
            table([{"model": r["label"],
                           "attention": f"{r['m'].shape.kind}: {r['m'].shape.n_heads} query / {r['m'].shape.n_kv_heads} "
                                        f"KV heads",
                           "cached keys per layer [batch, KV heads, tokens, head_dim]": str(list(r["m"].key_shape)),
                           "attention per layer [batch, heads, query, key]": str(list(r["m"].attention_shape))}
                          for r in runs],
                          hide_index=True, width="stretch")
            m = runs[-1]["m"]
            st.caption(f"Decoding took " + ", ".join(f"{r['m'].seconds:.2f} s ({r['label']})" for r in runs) +
                       " once; it is cached, so moving the sliders above does not re-run the models.")
            explain(f"Each step feeds one new token; the model appends its keys and values to a transformers "
                    f"`DynamicCache`, and we add up `numel × element_size` of every layer's key and value tensors. The "
                    f"models run in {m.dtype}, so the formula uses {m.element_size} bytes per element. "
                    f"{runs[-1]['label']} caches {m.shape.n_kv_heads} KV heads per layer, but its attention has "
                    f"{m.shape.n_heads}: eager attention repeats each cached head (`repeat_kv`) before the matmul, so the "
                    "sharing shows only in `past_key_values`, never in the attention tensor.")

page.finish()

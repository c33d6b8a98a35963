"""Attention: where every token looks, in a bidirectional encoder (BERT) and a causal decoder (GPT-2)."""
import numpy as np
import streamlit as st

from explorer import attention as A
from explorer import bertviz_view
from explorer.charts import attention as charts
from explorer import hf
from explorer.text import md
from explorer.ui import attention as cached
from explorer.ui.errors import guard
from explorer.ui.figures import show
from explorer.ui.page import Page
from explorer.ui.presenter import explain, presenting

page = Page("🔍 Attention", prefix="att_")
url = page.url

EXAMPLES = [
    "The animal didn't cross the street because it was too tired.",
    "The trophy would not fit in the brown suitcase because it was too big.",
    "She poured water from the pitcher into the cup until it was full.",
    "Unbelievably, the antidisestablishmentarian cat slept through the thunderstorm.",
    "The keys to the cabinet are on the table.",
]
MODELS = {"bert": "BERT (encoder)", "gpt2": "GPT-2 (decoder)", "both": "Both, side by side"}
FAMILY = {"bert": "encoder", "gpt2": "decoder"}
VIEWS = {"head": "One head", "layer": "A layer's heads", "model": "Whole model", "focus": "Token focus",
         "summary": "Head summary", "bertviz": "bertviz"}
HEADS = {"one": "one head", "mean": "mean of heads", "max": "max of heads"}
BERTVIZ = {"head": "head view", "model": "model view", "neuron": "neuron view"}
FIG_KEYS = {"summary": "att_click_summary_{}", "model": "att_click_model_{}"}

# ---------------------------------------------------------------- a click on a head summary / thumbnail opens that head
cached.open_clicked_head(url, FIG_KEYS)

# ---------------------------------------------------------------- the text and the models
url.text("text", EXAMPLES[0])
url.choice("model", "both", list(MODELS))
url.choice("view", "head", list(VIEWS))


def use_example():
    choice = st.session_state.get("att_example")
    if choice:
        st.session_state[url.key("text")] = choice
        st.session_state["att_example"] = None


# Layout (explorer/ui/page.py): a compact row of text and model above the figure; the view switch; the figure;
# options and sliders under it. Presenter mode: the figure right under the view switch, every control folded below.
top = st.container() if not presenting() else None
view = page.sections(VIEWS, footer=False)   # no label above it: the figure stays within the first screen
stage = page.main()
below = page.controls("Text, model, layer and options")
with top if top is not None else below:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    with left:
        text = page.text_input(EXAMPLES[0], height=None,
                               help="Any text; it is tokenized by each model's own tokenizer.",
                               prompt="✍️ Type a sentence above (or pick an example) to see where each token looks.")
    right.selectbox("…or pick an example", EXAMPLES, index=None, key="att_example", on_change=use_example,
                    placeholder="Examples")
    which = st.radio("Model", list(MODELS), format_func=MODELS.get, key=url.key("model"), horizontal=True,
                     help="Each model tokenizes the text its own way.")
if text.empty:
    page.stop()

shown = ["bert", "gpt2"] if which == "both" else [which]
with stage:       # a model's loading message or error where its figure will be
    loaded = {w: page.model(FAMILY[w]) for w in shown}
loaded = {w: lm for w, lm in loaded.items() if lm is not None}
if not loaded:
    page.stop()

# ---------------------------------------------------------------- options (all in the link)
max_len = max(lm.max_length for lm in loaded.values())
url.int("limit", 128, lo=2, hi=max_len)
url.flag("hide", False)
url.flag("renorm", True)
url.flag("merge", False)
url.choice("heads", "one", list(HEADS))
url.flag("rollout", False)
changed = any(st.session_state[url.key(n)] != d for n, d in
              (("hide", False), ("merge", False), ("heads", "one"), ("rollout", False), ("limit", 128)))
sliders = below.container()       # layer and head: the first controls under the figure
with below, st.expander("Options: special tokens, words, heads, rollout, token limit",
                        expanded=changed and not presenting()):
    o1, o2, o3, o4 = st.columns([1.2, 1.2, 1.3, 0.9])
    hide = o1.checkbox("Hide special tokens", key=url.key("hide"),
                       help="Drop the [CLS], [SEP] and <|endoftext|> rows and columns, like exBERT.")
    renorm = o1.checkbox("Renormalise rows", key=url.key("renorm"), disabled=not hide,
                         help="On: each row sums to 1 again. Off: raw weights, so you can see what went to the "
                              "hidden tokens.")
    merge = o2.checkbox("Merge pieces into words", key=url.key("merge"),
                        help="WordPiece '##' and byte-level BPE 'Ġ' pieces become whole words: attention to a "
                             "word is summed over its pieces, attention from a word is averaged.")
    roll = o2.checkbox("Attention rollout", key=url.key("rollout"),
                       help="Abnar & Zuidema (2020): follow attention through every layer up to this one, "
                            "each mixed half-and-half with the residual connection (0.5·A + 0.5·I).")
    heads_how = o3.radio("Heads", list(HEADS), format_func=HEADS.get, key=url.key("heads"),
                         help="One head, or all heads of the layer combined (mean keeps rows summing to 1; "
                              "max does not).")
    limit = o4.number_input("Token limit", min_value=2, max_value=max_len, step=16, key=url.key("limit"),
                            help=f"At most {max_len} (the model's maximum); longer text is cut.")

computed = {}
for w, lm in loaded.items():
    with stage, guard(f"{MODELS[w]}'s attention"):
        computed[w] = cached.compute(lm, text.text, limit)
if not computed:
    page.stop()

url.choice("stat", "entropy", list(A.STATS))
url.choice("bv", "head", list(BERTVIZ))
n_layers = min(c.result.n_layers for c in computed.values())
n_heads = min(c.result.n_heads for c in computed.values())
url.int("layer", 0, lo=0, hi=n_layers - 1)
url.int("head", 0, lo=0, hi=n_heads - 1)
# bertviz's model view shows every layer and head itself: the sliders would do nothing there
bv_model = view == "bertviz" and st.session_state[url.key("bv")] == "model"
if view in ("head", "layer", "focus", "bertviz") and not bv_model:
    c1, c2 = sliders.columns(2)
    layer = c1.slider("Layer", 0, n_layers - 1, key=url.key("layer")) if n_layers > 1 else 0
    # the head slider matters for one head, and for bertviz's neuron view (its other views show every head)
    one_head = (view == "head" and heads_how == "one" and not roll) or \
        (view == "bertviz" and st.session_state[url.key("bv")] == "neuron")
    head = (c2.slider("Head", 0, n_heads - 1, key=url.key("head"), disabled=not one_head)
            if n_heads > 1 else 0)
else:
    layer, head = st.session_state[url.key("layer")], st.session_state[url.key("head")]

for w, c in computed.items():
    if c.result.notice:
        stage.warning(f"{MODELS[w]}: {c.result.notice}", icon="✂️")


def prepared(c, a):
    r = c.result
    return A.prepare(a, r.tokens, r.special, hide, renorm, merge, r.scheme)


def draw_head(w, c):
    r, lm = c.result, loaded[w]
    if roll:
        a = c.rollout[layer]                                            # computed once with the forward pass
        what = f"rollout through layers 0–{layer}"
    elif heads_how != "one":
        a = A.combine_heads(r.attn[layer], heads_how)
        what = f"layer {layer}, {HEADS[heads_how]}"
    else:
        a = r.attn[layer, head]
        what = f"layer {layer}, head {head}"
    p = prepared(c, a)
    name = f"{w} attention {what}"
    fig = charts.heatmap(p.attn, p.labels, title=f"{lm.spec.display_name} · {what}",
                         colorbar_title="rollout" if roll else "weight")
    show(fig, name, height=fig.layout.height, key=f"att_fig_head_{w}",
         data=cached.long_table(p.attn, p.labels, p.labels))
    for note in p.notes:
        st.caption(cached.md(note))
    st.caption(A.mask_note(p.attn, r.causal))
    if roll:
        st.caption("Rollout: each layer's mean over heads is mixed with the residual stream (0.5·A + 0.5·I), rows "
                   "renormalised, and multiplied down through the layers — how much each output draws on each input token.")
    elif heads_how == "max":
        st.caption("Max over heads: each cell is the strongest head's weight, so rows no longer sum to 1.")


def draw_layer(w, c):
    r, lm = c.result, loaded[w]
    p = prepared(c, r.attn[layer])
    titles = [f"head {h}" for h in range(r.n_heads)]
    fig = charts.head_grid(p.attn, p.labels, titles, cols=charts.grid_columns(len(p.labels), len(computed) > 1))
    fig.update_layout(title=f"{lm.spec.display_name} · layer {layer}: every head")
    show(fig, f"{w} attention layer {layer} heads", height=fig.layout.height, key=f"att_fig_layer_{w}",
         data=cached.long_table(p.attn, p.labels, p.labels, lead={"head": list(range(r.n_heads))}))
    for note in p.notes:
        st.caption(cached.md(note))
    st.caption(A.mask_note(p.attn, r.causal))


def draw_model(w, c):
    r, lm = c.result, loaded[w]
    ent = c.stats["entropy"]
    thumb = 24 if r.n_layers * r.n_heads > 64 else 32
    pooled, n_shown, _ = cached.thumbnails(lm, c, text.text, limit, hide, renorm, merge, thumb)
    fig = charts.model_thumbnails(pooled, ent, "entropy (bits)", thumb=thumb, selected=(layer, head))
    fig.update_layout(title=f"{lm.spec.display_name} · {r.n_layers} layers × {r.n_heads} heads")
    s = pooled.shape[-1]
    show(fig, f"{w} attention whole model", height=fig.layout.height, key=FIG_KEYS["model"].format(w),
         on_select="rerun",
         data=cached.long_table(pooled, [str(i) for i in range(s)], [str(i) for i in range(s)],
                                lead={"layer": np.repeat(np.arange(r.n_layers), r.n_heads),
                                      "head": np.tile(np.arange(r.n_heads), r.n_layers)}))
    if n_shown > thumb:
        st.caption(f"Each thumbnail averages blocks of tokens down to {s}×{s} cells; click one to open that head.")
    else:
        st.caption("Click a thumbnail to open that head.")


def draw_focus(w, c):
    r, lm = c.result, loaded[w]
    p = prepared(c, r.attn[layer])
    n = len(p.labels)
    key = f"tok_{w}"
    url.int(key, min(1, n - 1), lo=0, hi=n - 1)
    tok = st.selectbox(f"Token ({md(lm.spec.display_name)})", list(range(n)), key=url.key(key),
                       format_func=lambda i: f"{i}: {p.labels[i]}")
    fig = charts.token_focus(p.attn, p.labels, tok)
    fig.update_layout(title=f"{lm.spec.display_name} · layer {layer}, all heads")
    show(fig, f"{w} attention focus layer {layer} token {tok}", height=fig.layout.height,
         key=f"att_fig_focus_{w}", data=A.focus_table(p.attn, p.labels, tok))
    for note in p.notes:
        st.caption(cached.md(note))
    if r.causal:
        st.caption(f"Causal: **{cached.md(p.labels[tok])}** can only look left (at itself and earlier tokens), "
                   "and only later tokens can look at it.")


def draw_summary(w, c):
    r, lm = c.result, loaded[w]
    stat = st.session_state[url.key("stat")]
    label, meaning = A.STATS[stat]
    values = c.stats[stat]
    if stat == "sep" and not any(r.special[1:]):
        st.caption(f"{md(lm.spec.display_name)} adds no \\[SEP\\] token to this text, so this share is 0 everywhere.")
    stats_named = {A.STATS[k][0]: v for k, v in c.stats.items()}
    fig = charts.head_summary(values, label, stats_named, selected=(layer, head))
    fig.update_layout(title=f"{lm.spec.display_name} · {label}")
    show(fig, f"{w} head summary {stat}", height=fig.layout.height, key=FIG_KEYS["summary"].format(w),
         on_select="rerun",
         data={"layer": np.repeat(np.arange(r.n_layers), r.n_heads),
               "head": np.tile(np.arange(r.n_heads), r.n_layers),
               **{k: np.round(v.reshape(-1), 6) for k, v in c.stats.items()}})
    best = np.unravel_index(np.argmax(values), values.shape)
    st.caption(f"{label[:1].upper() + label[1:]}: {meaning}. Highest here: layer {best[0]}, head {best[1]} "
               f"({values[best]:.3f}). Click a square to open that head.")


def draw_bertviz(w, c):
    r, lm = c.result, loaded[w]
    kind = st.session_state[url.key("bv")]
    cap = min(r.n_tokens, bertviz_view.token_cap(r.n_layers, r.n_heads, kind, hf.head_dim(lm.model.config)))
    if kind == "neuron" and lm.spec.family not in ("encoder", "decoder"):
        st.info("The neuron view reads queries and keys from BERT- and GPT-2-style models only.", icon="ℹ️")
        return
    # all tokens fit: reuse the page's own forward pass (same cache key) instead of running another
    bv, why = cached.bertviz_html(lm, text.text, kind, limit if cap >= r.n_tokens else cap,
                                  min(layer, r.n_layers - 1), min(head, r.n_heads - 1), presenting())
    cut = f"the first {cap} of {r.n_tokens} tokens" if cap < r.n_tokens else f"all {r.n_tokens} tokens"
    st.iframe(bv.html, height=bv.height, alt=f"bertviz {BERTVIZ[kind]} of {lm.spec.display_name}")
    if why:
        st.info(f"bertviz's JavaScript is not cached and could not be fetched ({why}); it will load from the CDN "
                "if this browser is online. The other views work offline.", icon="📴")
    st.caption(f"bertviz {BERTVIZ[kind]} of {md(lm.spec.display_name)}: {cut} ({bv.payload_bytes / 1e6:.1f} MB "
               "of HTML — bertviz sends every weight as text, so its input is capped).")
    st.download_button("HTML", lambda: bv.html, file_name=f"bertviz-{kind}-view-{w}.html", mime="text/html",
                       key=f"att_dl_bertviz_{w}", help="This view as one self-contained HTML file (works offline)")
    if kind == "neuron":
        st.caption("Queries and keys come from the loaded model through forward hooks (they reproduce its attention "
                   "exactly); bertviz's own neuron-view model classes load only its old pickle checkpoints.")


# ---------------------------------------------------------------- the chosen view, once per model
if view == "summary":
    stage.radio("Statistic", list(A.STATS), format_func=lambda s: A.STATS[s][0], key=url.key("stat"), horizontal=True)
if view == "bertviz":
    stage.radio("bertviz view", list(BERTVIZ), format_func=BERTVIZ.get, key=url.key("bv"), horizontal=True,
                label_visibility="collapsed")

DRAW = {"head": draw_head, "layer": draw_layer, "model": draw_model, "focus": draw_focus,
        "summary": draw_summary, "bertviz": draw_bertviz}
# side by side, except bertviz's model view: a grid of every layer and head needs the full width (in a half-width
# column it was cut to the first heads)
columns = stage.columns(len(computed)) if len(computed) > 1 and not bv_model else \
    [stage.container() for _ in computed]
for col, (w, c) in zip(columns, computed.items()):
    with col:
        with guard(f"{VIEWS[view][:1].lower() + VIEWS[view][1:]} of {MODELS[w]}"):
            DRAW[view](w, c)

explain("Each row is one **query** token deciding how much to read from every **key** token; its weights sum to 1. "
        "BERT (an encoder) lets every token see the whole sentence; GPT-2 (a decoder) masks the future, so "
        "its maps are lower-triangular. Heads specialise: some look at the previous token, some park their "
        "attention on the first token or [SEP] (a 'sink'), some spread evenly.")
page.finish()

"""Attention: where every token looks, in a bidirectional encoder (BERT) and a causal decoder (GPT-2)."""
import streamlit as st

from explorer import attention as A
from explorer.charts import attention as charts
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
HEADS, BERTVIZ = A.HEADS, A.BERTVIZ
FIG_KEYS = {"summary": "att_click_summary_{}", "model": "att_click_model_{}"}

# ---------------------------------------------------------------- a click on a head summary / thumbnail opens that head
cached.open_clicked_head(url, FIG_KEYS)

# ---------------------------------------------------------------- the text and the models
url.text("text", EXAMPLES[0])
url.choice("model", "both", list(MODELS))
url.choice("view", "head", list(VIEWS))


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
    right.selectbox("…or pick an example", EXAMPLES, index=None, key="att_example",
                    on_change=cached.use_example, args=(url, "att_example"),
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
    hide = o1.checkbox("Hide special tokens", key=url.key("hide"), help=A.OPTION_HELP["hide"])
    renorm = o1.checkbox("Renormalise rows", key=url.key("renorm"), disabled=not hide, help=A.OPTION_HELP["renorm"])
    merge = o2.checkbox("Merge pieces into words", key=url.key("merge"), help=A.OPTION_HELP["merge"])
    roll = o2.checkbox("Attention rollout", key=url.key("rollout"), help=A.OPTION_HELP["rollout"])
    heads_how = o3.radio("Heads", list(HEADS), format_func=HEADS.get, key=url.key("heads"),
                         help=A.OPTION_HELP["heads"])
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
bv_model = view == "bertviz" and st.session_state[url.key("bv")] == "model"
use_sliders, one_head = A.sliders_used(view, st.session_state[url.key("bv")], heads_how, roll)
if use_sliders:
    c1, c2 = sliders.columns(2)
    layer = c1.slider("Layer", 0, n_layers - 1, key=url.key("layer")) if n_layers > 1 else 0
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
    # the rollout was computed once with the forward pass
    a, what, note = A.head_pattern(r.attn, c.rollout, layer, head, heads_how, roll)
    p = prepared(c, a)
    name = f"{w} attention {what}"
    fig = charts.heatmap(p.attn, p.labels, title=f"{lm.spec.display_name} · {what}",
                         colorbar_title="rollout" if roll else "weight")
    show(fig, name, height=fig.layout.height, key=f"att_fig_head_{w}",
         data=cached.long_table(p.attn, p.labels, p.labels))
    cached.captions(p.notes, A.mask_note(p.attn, r.causal), note)


def draw_layer(w, c):
    r, lm = c.result, loaded[w]
    p = prepared(c, r.attn[layer])
    titles = [f"head {h}" for h in range(r.n_heads)]
    fig = charts.head_grid(p.attn, p.labels, titles, cols=charts.grid_columns(len(p.labels), len(computed) > 1))
    fig.update_layout(title=f"{lm.spec.display_name} · layer {layer}: every head")
    show(fig, f"{w} attention layer {layer} heads", height=fig.layout.height, key=f"att_fig_layer_{w}",
         data=cached.long_table(p.attn, p.labels, p.labels, lead={"head": list(range(r.n_heads))}))
    cached.captions(p.notes, A.mask_note(p.attn, r.causal))


def draw_model(w, c):
    r, lm = c.result, loaded[w]
    ent = c.stats["entropy"]
    thumb = A.thumb_size(r.n_layers, r.n_heads)
    pooled, n_shown, _ = cached.thumbnails(lm, c, text.text, limit, hide, renorm, merge, thumb)
    fig = charts.model_thumbnails(pooled, ent, "entropy (bits)", thumb=thumb, selected=(layer, head))
    fig.update_layout(title=f"{lm.spec.display_name} · {r.n_layers} layers × {r.n_heads} heads")
    show(fig, f"{w} attention whole model", height=fig.layout.height, key=FIG_KEYS["model"].format(w),
         on_select="rerun", data=A.thumbnails_table(pooled))
    st.caption(A.thumbnails_note(n_shown, pooled.shape[-1]))


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
    cached.captions(p.notes, A.focus_note(p.labels[tok]) if r.causal else None)


def draw_summary(w, c):
    r, lm = c.result, loaded[w]
    stat = st.session_state[url.key("stat")]
    label, values = A.STATS[stat][0], c.stats[stat]
    before, after = A.summary_notes(stat, values, r.special, lm.spec.display_name)
    cached.captions((), before)
    stats_named = {A.STATS[k][0]: v for k, v in c.stats.items()}
    fig = charts.head_summary(values, label, stats_named, selected=(layer, head))
    fig.update_layout(title=f"{lm.spec.display_name} · {label}")
    show(fig, f"{w} head summary {stat}", height=fig.layout.height, key=FIG_KEYS["summary"].format(w),
         on_select="rerun", data=A.summary_table(c.stats))
    st.caption(after)


def draw_bertviz(w, c):
    r, lm = c.result, loaded[w]
    kind = st.session_state[url.key("bv")]
    if kind == "neuron" and lm.spec.family not in ("encoder", "decoder"):
        st.info("The neuron view reads queries and keys from BERT- and GPT-2-style models only.", icon="ℹ️")
        return
    bv, why, cap = cached.bertviz_html(lm, r, text.text, kind, limit, layer, head, presenting())
    st.iframe(bv.html, height=bv.height, alt=f"bertviz {BERTVIZ[kind]} of {lm.spec.display_name}")
    if why:
        st.info(A.BERTVIZ_OFFLINE.format(why=why), icon="📴")
    st.caption(A.bertviz_caption(kind, lm.spec.display_name, cap, r.n_tokens, bv.payload_bytes))
    st.download_button("HTML", lambda: bv.html, file_name=f"bertviz-{kind}-view-{w}.html", mime="text/html",
                       key=f"att_dl_bertviz_{w}", help="This view as one self-contained HTML file (works offline)")
    if kind == "neuron":
        st.caption(A.BERTVIZ_NEURON)


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
    with col, guard(f"{VIEWS[view][:1].lower() + VIEWS[view][1:]} of {MODELS[w]}"):
        DRAW[view](w, c)

explain(A.EXPLAINED)
page.finish()

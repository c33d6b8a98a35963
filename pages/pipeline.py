"""Pipeline: follow one prompt through a decoder, from text to the next token — every number from one forward pass."""
import streamlit as st

from explorer import pipeline as P
from explorer.charts import generation as gen_charts
from explorer.charts import pipeline as charts
from explorer.text import display_token
from explorer.ui import models, nav
from explorer.ui import pipeline as cached
from explorer.ui.errors import callback, guard
from explorer.ui.figures import show, table
from explorer.ui.metrics import metric_row
from explorer.ui.page import Page
from explorer.ui.presenter import explain, presenting

page = Page("🛤️ Pipeline: text → next token", prefix="pipe_")
url = page.url

FAMILIES = {"decoder": "GPT-2 family", "rope-decoder": "Llama family"}
STAGES = {"tokens": "① Tokenize", "embed": "② Embed", "blocks": "③ Blocks", "output": "④ Output",
          "append": "⑤ Append", "shapes": "⑥ Shapes"}
KEYS = list(STAGES)
VIEW = url.key("view")

url.choice("model", "decoder", list(FAMILIES))
url.choice("view", KEYS[0], KEYS)      # registered early: the diagram above the stage control needs it


@callback("the next stage")
def go_to(delta: int):
    i = KEYS.index(st.session_state[VIEW]) + delta
    st.session_state[VIEW] = KEYS[max(0, min(len(KEYS) - 1, i))]


# ============================================================================ model and prompt
# Layout (explorer/ui/page.py): model and prompt in one compact row, then the path and the stage's figures (the
# page's main figure); presenter mode folds model and prompt under them.
fig_slot, controls = page.layout("Model and prompt", controls_first=True)
with controls:
    c1, c2 = st.columns([2, 5])
    family = c1.selectbox("Model", list(FAMILIES), key=url.key("model"),
                          format_func=lambda f: f"{FAMILIES[f]} · {models.label(models.chosen(f))}",
                          help="The model of each family is chosen in the sidebar.")
    with c2:
        prompt = page.text_input(P.LESSON_PROMPT, label="Prompt", height=None,
                                 prompt="Type a prompt above — for example *Where is my order?* — and follow it "
                                        "through the model.",
                                 help=f"At most {P.MAX_TOKENS} tokens are followed through the model.")
with fig_slot:
    lm = page.model(family)
if lm is None or prompt.empty:
    page.stop()

t = None
with fig_slot, guard("this prompt's trip through the model"):
    t = cached.trace(lm, prompt.text)
if t is None:
    page.stop()
if t.truncated:
    fig_slot.warning(f"Following the first {t.n_tokens} of {t.total_tokens} tokens.", icon="✂️")

# ============================================================================ the whole path, and where we are
stage = st.session_state[VIEW]
picked = display_token(lm.tokenizer.convert_ids_to_tokens(t.picked))
with fig_slot:
    show(charts.path_diagram(P.path_nodes(t), stage), "pipeline path", height=150)
    b1, b2, b3 = st.columns([1, 6, 1], vertical_alignment="center")
    b1.button("◂ Back", key="pipe_go_back", on_click=go_to, args=(-1,), disabled=stage == KEYS[0], width="stretch")
    with b2:
        page.sections(STAGES)
    b3.button("Next ▸", key="pipe_go_next", on_click=go_to, args=(1,), disabled=stage == KEYS[-1], type="primary",
              width="stretch")


def chosen_token() -> int:
    """The token the Embed and Blocks stages look at (the last one by default: it predicts the next token)."""
    url.int("tok", t.n_tokens - 1, lo=0, hi=t.n_tokens - 1)
    if t.n_tokens == 1:
        return 0
    return st.select_slider("Token", list(range(t.n_tokens)), key=url.key("tok"),
                            format_func=lambda i: f"{i}: {t.pieces[i]}")


# ============================================================================ ① tokens
def section_tokens():
    metric_row(P.token_metrics(prompt.text, t))
    found = P.splits(prompt.text, t.spans, t.pieces) if t.spans else []
    fig = charts.token_strip(t.pieces, t.ids, P.byte_parts(t), per_row=16 if presenting() else 14)
    show(fig, "pipeline tokens", data={"position": list(range(t.n_tokens)), "token": t.pieces, "id": t.ids},
         height=fig.layout.height / (1.25 if presenting() else 1))
    st.caption(P.roundtrip_note(lm.tokenizer, t, prompt.text))
    if found:
        rows = P.split_rows(found)
        table(rows, hide_index=True, width="stretch", height=min(38 + 35 * len(rows), 250))
    explain(P.tokens_explained(lm.spec.display_name, t))


# ============================================================================ ② embeddings
def section_embed():
    figure = st.container()          # the figure first, the token slider under it
    pos = chosen_token()
    rows = P.embedding_rows(t, pos)
    with figure:
        show(charts.embedding_strip(rows, pos, t.pieces[pos]),
             "pipeline embeddings", data={k: v for k, v in rows.items()}, height=150 + 45 * len(rows))
    st.code(P.embedding_code(rows), language=None)
    if t.learned_positions:
        explain(P.embedding_explained(t, pos))
    else:
        st.info(P.NO_POSITION_TABLE, icon="🌀")
        st.page_link(nav.page("rope").path, label="See the rotation on this prompt (RoPE page)", icon="🌀",
                     query_params={"view": "model", "text": prompt.text})


# ============================================================================ ③ blocks
def section_blocks():
    figure = st.container()          # the figure first, the token slider under it
    pos = chosen_token()
    ch = P.block_changes(t, pos)
    with figure:
        show(charts.block_changes(ch.attn_norm, ch.mlp_norm, ch.stream_norm, ch.attn_cos, ch.mlp_cos,
                                  f"token {pos} ({t.pieces[pos]})"),
             "pipeline block changes", height=430, data=P.block_table(t, ch))
    with guard("the logit lens"):
        ids, probs = cached.lens_at(lm, prompt.text, pos)
        labels = P.lens_labels(t.n_layers)
        words = [P.words(lm.tokenizer, row) for row in ids]
        fig = gen_charts.lens_table(labels, [f"#{r + 1}" for r in range(ids.shape[1])], words, probs)
        fig.update_layout(title=f"Top-{ids.shape[1]} next tokens read off after each block (logit lens)",
                          xaxis_title="rank", yaxis=dict(autorange="reversed"))
        show(fig, "pipeline logit lens", height=110 + 40 * len(labels),
             data={"after": labels, "top_tokens": words, "probabilities": probs})
    explain(P.BLOCKS_EXPLAINED)


# ============================================================================ ④ output
def section_output():
    url.float("temp", 1.0, lo=0.1, hi=2.0)
    url.int("k", 10, lo=2, hi=20)
    figure = st.container()          # the bars first, temperature and k under them
    c1, c2 = st.columns([3, 2])
    temp = c1.slider("Temperature", 0.1, 2.0, step=0.05, key=url.key("temp"),
                     help="Logits are divided by T before the softmax: T < 1 sharpens, T > 1 flattens.")
    k = c2.slider("Top-k bars", 2, 20, key=url.key("k"))
    nt = P.next_token(t.logits, temp, k)
    words = P.words(lm.tokenizer, nt.ids)
    fig = gen_charts.topk_bars(words, nt.probs, 0, t.vocab_size, nt.cum, None, None,
                               f"softmax(logits / {temp:g}): the {k} most likely next tokens")
    with figure:
        show(fig, "pipeline next token", height=380,
             data={"token": words, "id": nt.ids, "probability": nt.probs, "probability_t1": nt.probs_t1,
                   "cumulative": nt.cum})
    metric_row(P.output_metrics(t, nt, picked, temp))
    explain(P.output_explained(t, bool(getattr(lm.model.config, "tie_word_embeddings", False))))


# ============================================================================ ⑤ append and continue
def section_append():
    a = t.appended
    if a is None:
        st.info("The prompt already fills every position this model has: nothing can be appended.", icon="📏")
        return
    metric_row(P.append_metrics(t))
    keys = t.pieces + [a.piece]
    show(charts.query_row(a.attention, keys), "pipeline append query row", height=170 + 34 * t.n_layers,
         data={"attention_mean_of_heads": a.attention.mean(1), "keys": keys})
    st.markdown(P.next_line(P.words(lm.tokenizer, a.next_ids), a.next_probs))
    with st.expander("The cache, layer by layer"):
        table(P.cache_rows(t), hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    c1.page_link(nav.page("kv-cache").path, label="How the cache grows (KV-cache page)", icon="🧮",
                 query_params={"view": "measured"})
    c2.page_link(nav.page("generation").path, label="Keep writing from this prompt (Generation page)", icon="✍️",
                 query_params={"prompt": prompt.text, "model": family})
    explain(P.append_explained(t))


# ============================================================================ ⑥ the shape trace
def section_shapes():
    toy = cached.lesson_trace()
    rows = P.shape_rows(t, toy, f"{lm.spec.display_name}, this prompt")
    table(rows, hide_index=True, width="stretch", height=38 + 35 * len(rows))
    st.caption(P.shapes_caption(t))
    explain(P.SHAPES_EXPLAINED)


SECTIONS = {"tokens": section_tokens, "embed": section_embed, "blocks": section_blocks, "output": section_output,
            "append": section_append, "shapes": section_shapes}
with fig_slot, st.container(key="pipe_stage"), guard(f"the {STAGES[stage]} stage"):   # the stage's own figures
    SECTIONS[stage]()
page.finish()

"""Pipeline: follow one prompt through a decoder, from text to the next token — every number from one forward pass."""
import numpy as np
import streamlit as st

from explorer import pipeline as P
from explorer.charts import generation as gen_charts
from explorer.charts import pipeline as charts
from explorer.kvcache import format_bytes
from explorer.text import display_token, md
from explorer.ui import models, nav
from explorer.ui import pipeline as cached
from explorer.ui.errors import callback, guard
from explorer.ui.figures import show, table
from explorer.ui.page import Page
from explorer.ui.presenter import explain, presenting

page = Page("🛤️ Pipeline: text → next token", prefix="pipe_")
url = page.url

FAMILIES = {"decoder": "GPT-2 family", "rope-decoder": "Llama family"}
STAGES = {"tokens": "① Tokenize", "embed": "② Embed", "blocks": "③ Blocks", "output": "④ Output",
          "append": "⑤ Append", "shapes": "⑥ Shapes"}
KEYS = list(STAGES)
VIEW = url.key("view")
NEW_IDS = "new token's input ids"

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
    chars, n_bytes = len(prompt.text), len(prompt.text.encode("utf-8"))
    c = st.columns(4)
    c[0].metric("Characters", f"{chars:,}", border=True)
    c[1].metric("UTF-8 bytes", f"{n_bytes:,}", border=True)
    c[2].metric("Tokens", f"{t.n_tokens:,}", border=True)
    c[3].metric("Characters per token", f"{chars / t.n_tokens:.2f}", border=True)
    found = P.splits(prompt.text, t.spans, t.pieces) if t.spans else []
    fig = charts.token_strip(t.pieces, t.ids, P.byte_parts(t), per_row=16 if presenting() else 14)
    show(fig, "pipeline tokens", data={"position": list(range(t.n_tokens)), "token": t.pieces, "id": t.ids},
         height=fig.layout.height / (1.25 if presenting() else 1))
    back = lm.tokenizer.decode(t.ids, skip_special_tokens=True)
    same = back == prompt.text[:len(back)] if t.truncated else back == prompt.text
    st.caption(("✅ Decoding the ids gives back the text exactly." if same else
                "⚠️ Decoding the ids does not give back the text exactly (the tokenizer normalises it).")
               + " Green boxes hold only some bytes of one character.")
    if found:
        table([{"piece of text": s.text, "kind": s.kind, "tokens": " | ".join(s.tokens),
                "UTF-8 bytes": s.n_bytes} for s in found[:30]], hide_index=True, width="stretch",
              height=min(38 + 35 * len(found[:30]), 250))
    explain(f"{lm.spec.display_name} reads **tokens**, not characters: a byte-level BPE vocabulary of "
            f"{t.vocab_size:,} pieces. Common words are one token (␣ marks a leading space); rare words are split "
            "into pieces; a character with no piece of its own (an emoji, a CJK character) falls back to its UTF-8 "
            "bytes, one token each. The ids are row numbers in the embedding table — the next stage.")


# ============================================================================ ② embeddings
def section_embed():
    figure = st.container()          # the figure first, the token slider under it
    pos = chosen_token()
    tok_id = t.ids[pos]
    rows = {f"token embedding (row {tok_id})": t.tok_embed[pos]}
    if t.learned_positions:
        rows[f"position embedding (row {pos})"] = t.pos_embed[pos]
        rows["sum: block 1's input"] = t.tok_embed[pos] + t.pos_embed[pos]
    with figure:
        show(charts.embedding_strip(rows, pos, t.pieces[pos]),
             "pipeline embeddings", data={k: v for k, v in rows.items()}, height=150 + 45 * len(rows))
    st.code("\n".join(f"{k:<32} {P.vector_preview(v)}  |v| = {np.linalg.norm(v):.3f}" for k, v in rows.items()),
            language=None)
    if t.learned_positions:
        explain(f"The id {tok_id} picks row {tok_id} of the token table ({t.vocab_size:,} × {t.d_model}); the "
                f"position {pos} picks row {pos} of the learned position table. GPT-2 adds the two: that sum is the "
                "start of the residual stream, the vector every block reads from and writes back into.")
    else:
        st.info("This model has **no position table**: the token embedding alone enters block 1. Position enters "
                "inside every attention layer, where RoPE turns each query and key by an angle that grows with the "
                "position.", icon="🌀")
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
             "pipeline block changes", height=430,
             data={"block": list(range(1, t.n_layers + 1)), "attention_norm": ch.attn_norm, "mlp_norm": ch.mlp_norm,
                   "stream_norm_entering": ch.stream_norm[:-1], "attention_cosine": ch.attn_cos,
                   "mlp_cosine": ch.mlp_cos})
    with guard("the logit lens"):
        ids, probs = cached.lens_at(lm, prompt.text, pos)
        labels = P.lens_labels(t.n_layers)
        words = [[display_token(lm.tokenizer.convert_ids_to_tokens(int(i))) for i in row] for row in ids]
        fig = gen_charts.lens_table(labels, [f"#{r + 1}" for r in range(ids.shape[1])], words, probs)
        fig.update_layout(title=f"Top-{ids.shape[1]} next tokens read off after each block (logit lens)",
                          xaxis_title="rank", yaxis=dict(autorange="reversed"))
        show(fig, "pipeline logit lens", height=110 + 40 * len(labels),
             data={"after": labels, "top_tokens": words, "probabilities": probs})
    explain("The residual stream is a running sum: every attention and MLP sub-layer **adds** a vector to it. "
            "Bars: how long each addition is; line: how long the stream already is. Cosine near 0 means the "
            "sub-layer writes something new; negative means it erases part of what is there. The logit lens "
            "sends the stream after each block through the model's own final norm and unembedding (the same "
            "function as the Generation page): the bottom row is the model's real prediction.")


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
    last = P.stream(t)[-1, -1]
    words = [display_token(w) for w in lm.tokenizer.convert_ids_to_tokens(nt.ids.tolist())]
    fig = gen_charts.topk_bars(words, nt.probs, 0, t.vocab_size, nt.cum, None, None,
                               f"softmax(logits / {temp:g}): the {k} most likely next tokens")
    with figure:
        show(fig, "pipeline next token", height=380,
             data={"token": words, "id": nt.ids, "probability": nt.probs, "probability_t1": nt.probs_t1,
                   "cumulative": nt.cum})
    m = st.columns(3)
    m[0].metric("Final norm: length of the last state", f"{np.linalg.norm(last):.1f} → {np.linalg.norm(t.final_normed[-1]):.1f}",
                f"then {t.vocab_size:,} logits {t.shapes['last-position logits']}", delta_color="off",
                delta_arrow="off", border=True)
    m[1].metric("Probabilities sum to", f"{nt.total:.6f}", f"entropy {nt.entropy:.2f} bits", delta_color="off",
                delta_arrow="off", border=True)
    m[2].metric("Greedy pick", picked, f"p = {nt.probs[0]:.1%} at T = {temp:g}", delta_color="off",
                delta_arrow="off", border=True)
    tied = bool(getattr(lm.model.config, "tie_word_embeddings", False))
    explain("The final norm rescales the last token's stream; the unembedding "
            f"({'the token table again, transposed' if tied else 'a matrix of its own'}) turns its {t.d_model} "
            "numbers into one score per vocabulary entry; softmax turns the "
            "scores into probabilities that sum to 1. Temperature changes how peaked they are, never their order, "
            "so greedy decoding picks the same token at any T; sampling (Generation page) draws from the bars.")


# ============================================================================ ⑤ append and continue
def section_append():
    a = t.appended
    if a is None:
        st.info("The prompt already fills every position this model has: nothing can be appended.", icon="📏")
        return
    before, after = t.kv_shape, a.shapes["cached K/V after appending"]
    m = st.columns(3)
    m[0].metric("Appended", a.piece, f"position {a.position}, fed alone: ids {a.shapes[NEW_IDS]}",
                delta_color="off", delta_arrow="off", border=True)
    m[1].metric("Cached tokens", f"{before[4]} → {after[4]}", f"K/V {before} → {after}", delta_color="off",
                delta_arrow="off", border=True)
    m[2].metric("Cache after appending (measured)", format_bytes(a.cache_bytes),
                f"+{format_bytes(a.cache_bytes - t.cache_bytes)} for one token", delta_color="off", delta_arrow="off",
                border=True, help=f"{t.cache_bytes:,} bytes before ({t.cache_formula_bytes:,} by the formula), "
                                  f"{a.cache_bytes:,} after: numel × element size of every cached K and V tensor.")
    keys = t.pieces + [a.piece]
    show(charts.query_row(a.attention, keys), "pipeline append query row", height=170 + 34 * t.n_layers,
         data={"attention_mean_of_heads": a.attention.mean(1), "keys": keys})
    nxt = [display_token(w) for w in lm.tokenizer.convert_ids_to_tokens(a.next_ids.tolist())]
    st.markdown("**Then the model predicts again:** " + " · ".join(f"{md(w)} {p:.1%}" for w, p in zip(nxt, a.next_probs)))
    with st.expander("The cache, layer by layer"):
        table(P.cache_rows(t), hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    c1.page_link(nav.page("kv-cache").path, label="How the cache grows (KV-cache page)", icon="🧮",
                 query_params={"view": "measured"})
    c2.page_link(nav.page("generation").path, label="Keep writing from this prompt (Generation page)", icon="✍️",
                 query_params={"prompt": prompt.text, "model": family})
    explain(f"Decoding the next token does not run the prompt again. The new token goes in **alone**: each layer "
            f"computes one query row for it, plus its own key and value, and reads the keys and values of the "
            f"{a.position} earlier tokens from the cache ({t.n_kv_heads} KV heads × {t.head_dim} numbers per token and "
            f"layer, for K and for V). The cache grows by one token per step: that is how generation loops.")


# ============================================================================ ⑥ the shape trace
def section_shapes():
    toy = cached.lesson_trace()
    rows = P.shape_rows(t, toy, f"{lm.spec.display_name}, this prompt")
    table(rows, hide_index=True, width="stretch", height=38 + 35 * len(rows))
    st.caption(f"Batch 1, {t.n_tokens} tokens, hidden size {t.d_model}, {t.n_layers} blocks, {t.n_heads} query heads "
               f"and {t.n_kv_heads} KV heads of {t.head_dim}, vocabulary {t.vocab_size:,}. Every shape is read from "
               f"the tensors of this run (capture points: {', '.join(t.hooks[:3])}, …).")
    explain(f"The lessons follow {P.LESSON_PROMPT!r} as 5 tokens through a toy decoder with 4 blocks, hidden size 8, "
            "2 heads of 4 and a 6-token vocabulary; the right column runs exactly that toy (random weights: only the "
            "shapes matter) through the same code. Read the K/V shape as layers × (K, V) × batch × KV heads × tokens "
            "× head_dim.")


SECTIONS = {"tokens": section_tokens, "embed": section_embed, "blocks": section_blocks, "output": section_output,
            "append": section_append, "shapes": section_shapes}
with fig_slot, st.container(key="pipe_stage"), guard(f"the {STAGES[stage]} stage"):   # the stage's own figures
    SECTIONS[stage]()
page.finish()

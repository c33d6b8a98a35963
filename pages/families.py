"""Families: encoder-only, decoder-only and encoder-decoder — who sees whom, what each predicts, a live
encoder-decoder's cross-attention, and few-shot classification measured rather than assumed."""
import streamlit as st

from explorer import families as F
from explorer.charts import families as charts
from explorer.charts.generation import mask_candidates
from explorer.text import md
from explorer.ui import families as cached
from explorer.ui import models
from explorer.ui.errors import guard
from explorer.ui.figures import show
from explorer.ui.linked import Linked
from explorer.ui.page import Page
from explorer.ui.presenter import explain, presenting

page = Page("👪 Three families of transformers", prefix="fam_")
url = page.url
ctl = Linked(url)           # each control registered in the link and drawn in one call
view = page.sections({"masks": "① Who sees whom", "objectives": "② What each predicts",
                      "translator": "③ Encoder-decoder, live", "fewshot": "④ Few-shot, measured"})

FAMILY_OF = {"encoder": "encoder", "decoder": "decoder", "encoder-decoder": "seq2seq"}   # page -> registry family
FAMILY_LABELS = {"encoder": "Encoder (BERT) · the analyst", "decoder": "Decoder (GPT-2) · the author",
                 "encoder-decoder": "Encoder-decoder (T5) · the translator"}
PARTS = {"enc": "encoder self-attention", "dec": "decoder self-attention", "cross": "cross-attention"}
S2S_DEFAULT = "refund approved"
S2S_MAX_INPUT, S2S_MAX_NEW = 48, 48
K = 8                                   # candidates shown per prediction


def s2s_text(where=None) -> "F.Seq2SeqRun | None":
    """The encoder-decoder's input box (shared by sections ①, ② and ③) and its run."""
    lm = page.model("seq2seq")
    with where if where is not None else st.container():
        text = page.text_input(S2S_DEFAULT, name="s2s", label="Input to the encoder-decoder", height=None,
                               max_chars=400, prompt="Type a word or a short phrase for the encoder-decoder.")
    if lm is None or text.empty:
        return None
    run = cached.seq2seq(lm, text.text, S2S_MAX_INPUT, S2S_MAX_NEW)
    page.note(f"Input cut to its first {S2S_MAX_INPUT} tokens." if run.truncated else None)
    return run


# ============================================================================ ① masks
def section_masks():
    # Layout (explorer/ui/page.py): one compact row of controls, then the masks beside the attention (folded
    # under them in presenter mode)
    stage, controls = page.layout("Sentence, family, layer and head", controls_first=True)
    c_text, c_fam, c_layer, c_head = controls.columns([3, 2.2, 1.4, 1.4], vertical_alignment="bottom")
    fam = ctl.select(c_fam, "Family", "fam", "decoder", list(FAMILY_LABELS), format_func=FAMILY_LABELS.get)
    if fam == "encoder-decoder":
        part = ctl.radio(controls, "Attention", "part", "cross", list(PARTS), format_func=PARTS.get, horizontal=True)
        run = s2s_text(c_text)
        if run is None:
            return
        layer, head = cached.layer_head(url, run.n_layers, run.n_heads, (c_layer, c_head))
        panel, attn, rows, q_axis, k_axis = F.seq2seq_part(run, part)
    else:
        part = None
        lm = page.model(FAMILY_OF[fam])
        with c_text:
            text = page.text_input("refund approved", label="Your sentence", height=None, max_chars=2000,
                                   prompt="Type a sentence to see its masks and the model's attention.")
        if lm is None or text.empty:
            return
        r = cached.attention(lm, text.text, 40).result
        page.note(r.notice)
        layer, head = cached.layer_head(url, r.n_layers, r.n_heads, (c_layer, c_head))
        panel, attn, rows, q_axis, k_axis = F.attention_part(fam, r.tokens, r.attn)
    a = F.pick(attn, layer, head)
    title = f"{models.label(models.chosen(FAMILY_OF[fam]))}: layer {layer}, {F.head_name(head)}"
    fig = charts.mask_beside_attention(panel.mask, a, rows, panel.keys, f"Mask: {panel.name}", title, q_axis, k_axis)
    with stage:
        show(fig, f"families mask {fam} {part or ''}", data={"queries": list(rows), "keys": list(panel.keys),
                                                                "mask": panel.mask, "attention": a})
    outside = F.mass_outside(attn, panel.mask)
    st.caption(f"Largest share of any attention row outside the mask, over all layers and heads: **{outside:.4%}** "
               "— the learned weights live only where the mask allows. Change the model in the sidebar.")
    explain("Rows are the positions that look, columns the positions they look at. **Blue/1**: allowed. "
            "**Grey/0**: hidden — the score is set to −∞ before the softmax, so the weight is exactly 0. "
            "An encoder's mask is all ones: every token sees the whole sentence. A decoder's mask is the lower "
            "triangle: a token sees itself and what came before, never what comes after. An encoder-decoder has "
            "both, plus cross-attention: every output position sees every input token.")
    cached.lesson_example()


# ============================================================================ ② objectives
def section_objectives():
    # the three predictions side by side first (explorer/ui/page.py); the two text boxes in one row above them
    stage, controls = page.layout("Sentences", controls_first=True)
    c_text, c_s2s = controls.columns([3, 2])
    with c_text:
        text = page.text_input("he opened the [MASK] with a key", label="Sentence (put [MASK] where a word is missing)",
                               name="obj", height=None, max_chars=2000,
                               prompt="Type a sentence with [MASK] where a word is missing.")
    if presenting() and not text.empty:         # the text box is folded away: say what the models read
        stage.markdown(f"Sentence: **{md(text.text, 120)}**")
    c_enc, c_dec, c_s2s_out = stage.columns(3)
    if not text.empty:
        with c_enc:
            cached.objective(page, "encoder", text.text, K)
        with c_dec:
            cached.objective(page, "decoder", text.text, K)
    with c_s2s_out:
        objective_seq2seq(c_s2s)


def objective_seq2seq(input_col) -> None:
    st.markdown("**Encoder-decoder: input → output**, token by token")
    run = s2s_text(input_col)
    if run is None:
        return
    n = len(run.steps)
    step = min(ctl.slider(st, "Generated so far", "gen", n, 1, max(1, n)), n)
    s = run.steps[step - 1]
    io_line(run_text_input(), run.written(step))
    st.caption(f"Output after {step} of {n} step(s) ({'ended with `</s>`' if run.finished else 'length limit'}).")
    show(mask_candidates(s.tokens, s.probs, f"step {step}"), "families seq2seq step", height=260,
         data={"candidate": s.tokens, "probability": s.probs})
    cached.model_note("seq2seq")
    st.caption("The encoder reads the whole input at once; the decoder writes left to right, attending to its own "
               "earlier outputs (causal) and to the entire input (cross-attention).")


def io_line(source: str, output: str, verdict: str = "") -> None:
    """`input → output` in one line of markdown (both escaped: they are the learner's and the model's text)."""
    st.markdown(f"{md(' '.join(source.split()), 80)} → **{md(output, 120) if output.strip() else '∅'}**{verdict}")


def run_text_input() -> str:
    return st.session_state.get(url.key("s2s"), S2S_DEFAULT)


# ============================================================================ ③ encoder-decoder, live
def section_translator():
    stage, controls = page.layout("Input, layer and head", controls_first=True)
    c_text, c_layer, c_head = controls.columns([3, 1.5, 1.5], vertical_alignment="bottom")
    run = s2s_text(c_text)
    if run is None:
        return
    layer, head = cached.layer_head(url, run.n_layers, run.n_heads, (c_layer, c_head))
    with stage:
        io_line(run_text_input(), run.text, F.verdict_note(page.model("seq2seq").spec.id, run_text_input(), run.text))
    for col, h in zip(stage.columns(2), F.translator_heatmaps(run, layer, head)):   # encoder | cross-attention
        with col:
            show(charts.rect_heatmap(h.a, h.rows, h.cols, h.title, h.row_axis, h.col_axis), h.name, data=h.data)
    st.caption(f"{len(run.out_tokens)} output steps; each row of the cross-attention is one step's weights over "
               f"{len(run.src_tokens)} input tokens (every row sums to 1, layer {layer}).")
    cached.model_note("seq2seq")
    if (task := F.task_note(page.model("seq2seq").spec.id)) is not None:
        st.caption(task)
    explain("Left: the encoder reads the input with a bidirectional mask. Right: the decoder's cross-attention — row "
            "*t* is the step that predicts output token *t*, spread over the input tokens. In the bundled model, "
            "which spells words backwards, good heads trace the anti-diagonal: the first output letter looks at "
            "the last input letter, and so on. Cross-attention has no mask: every output step may look at the "
            "whole input.")


# ============================================================================ ④ few-shot
def section_fewshot():
    st.subheader("Few-shot: does the decoder learn from examples in its prompt?")
    lm = page.model("decoder")
    shots, test, set_text = cached.labelled_set(url)
    if lm is None:
        return
    report = None
    with guard("the few-shot evaluation"):
        try:
            report = cached.few_shot(lm, set_text)
        except F.PromptTooLong as e:       # inside guard: guard would show any error as a failure
            st.warning(str(e), icon="✂️")
    if report is not None:      # the accuracy per number of shots first (explorer/ui/page.py: the main figure)
        cached.few_shot_report(report, f"{models.label(lm.spec.id)}: accuracy on {len(test)} test messages",
                               page.main())
    cached.model_note("decoder")
    if lm.spec.bundled:
        st.caption("This is the bundled tiny GPT-2. Choose GPT-2 small in the sidebar to measure the real model "
                   "(a 548 MB download the first time).")
    one_message(lm, shots)
    st.markdown("**The labelled set** (edit, add or delete rows; *example* rows become the shots, in this order)")
    cached.set_editor(url, set_text)
    explain("The decoder is asked to continue `Label:` after the message; we compare the probability of each "
            "label's tokens there. Zero shots: only an instruction. k shots: k labelled examples before the message, "
            "in every possible order — small models are known to be sensitive to the order. A model that answers "
            "the same label whatever the message has learned nothing from the examples.")


def one_message(lm, shots: tuple[F.Example, ...]) -> None:
    st.markdown("**One message, label by label**")
    c1, c2 = st.columns([2, 3])
    with c1:
        msg = page.text_input("I was charged twice for one order.", name="msg", label="Message", height=None,
                              max_chars=F.MAX_MESSAGE_CHARS, prompt="Type a customer message to classify.")
        k = min(ctl.slider(st, "Examples before it (the first k of the set)", "k", min(len(shots), 3), 0, len(shots)),
                len(shots))
    if msg.empty:
        return
    try:
        scores = cached.classify(lm, msg.text, shots[:k])
    except F.PromptTooLong as e:
        st.warning(str(e), icon="✂️")
        return
    with c2:
        show(charts.label_probabilities(scores.labels, scores.probs,
                                        title=f"{k} shot(s): the decoder says {scores.predicted}"),
             "families label probabilities", height=320, data=scores.table())
    with st.expander("The prompt, exactly as the model reads it"):
        st.code(F.build_prompt(msg.text, shots[:k]) + " ▁", language=None, wrap_lines=True)
        st.caption(scores.note())


SECTIONS = {"masks": section_masks, "objectives": section_objectives, "translator": section_translator,
            "fewshot": section_fewshot}
with guard("this section"):
    SECTIONS[view]()
page.finish()

"""Families: encoder-only, decoder-only and encoder-decoder — who sees whom, what each predicts, a live
encoder-decoder's cross-attention, and few-shot classification measured rather than assumed."""
import pandas as pd
import streamlit as st

from explorer import families as F
from explorer.charts import families as charts
from explorer.charts.generation import mask_candidates
from explorer.generation import MASK_IN_TEXT
from explorer.text import encode, md
from explorer.ui import families as cached
from explorer.ui import models
from explorer.ui.errors import guard
from explorer.ui.figures import show, table
from explorer.ui.page import Page
from explorer.ui.presenter import explain, presenting

page = Page("👪 Three families of transformers", prefix="fam_")
url = page.url
view = page.sections({"masks": "① Who sees whom", "objectives": "② What each predicts",
                      "translator": "③ Encoder-decoder, live", "fewshot": "④ Few-shot, measured"})

FAMILY_OF = {"encoder": "encoder", "decoder": "decoder", "encoder-decoder": "seq2seq"}   # page -> registry family
FAMILY_LABELS = {"encoder": "Encoder (BERT) · the analyst", "decoder": "Decoder (GPT-2) · the author",
                 "encoder-decoder": "Encoder-decoder (T5) · the translator"}
PARTS = {"enc": "encoder self-attention", "dec": "decoder self-attention", "cross": "cross-attention"}
S2S_DEFAULT = "refund approved"
S2S_MAX_INPUT, S2S_MAX_NEW = 48, 48
K = 8                                   # candidates shown per prediction


def model_note(family: str) -> None:
    st.caption(f"Model: {md(models.label(models.chosen(family)), 80)} (change it in the sidebar)")


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
    url.choice("fam", "decoder", list(FAMILY_LABELS))
    # Layout (explorer/ui/page.py): one compact row of controls, then the masks beside the attention (folded
    # under them in presenter mode)
    stage, controls = page.layout("Sentence, family, layer and head", controls_first=True)
    c_text, c_fam, c_layer, c_head = controls.columns([3, 2.2, 1.4, 1.4], vertical_alignment="bottom")
    with c_fam:
        fam = st.selectbox("Family", list(FAMILY_LABELS), key=url.key("fam"), format_func=FAMILY_LABELS.get)
    if fam == "encoder-decoder":
        url.choice("part", "cross", list(PARTS))
        part = controls.radio("Attention", list(PARTS), key=url.key("part"), format_func=PARTS.get, horizontal=True)
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
        from explorer.text import display_token
        tokens = [display_token(t) for t in r.tokens]
        panel = F.family_masks(fam, tokens)[0]
        attn, rows = r.attn, panel.queries
        q_axis, k_axis = "query (looking)", "key (looked at)"
    a = F.pick(attn, layer, head)
    head_name = "mean of heads" if head is None else f"head {head}"
    fig = charts.mask_beside_attention(panel.mask, a, rows, panel.keys, f"Mask: {panel.name}",
                                       f"{models.label(models.chosen(FAMILY_OF[fam]))}: layer {layer}, {head_name}",
                                       q_axis, k_axis)
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
    lesson_example()


def lesson_example():
    toks = list(F.LESSON_TOKENS)
    causal, bidir = F.causal_mask(len(toks)), F.bidirectional_mask(len(toks))
    i = toks.index("approved")
    with st.expander("The lesson's example: `<bos> refund approved <eos>`", expanded=not presenting()):
        c1, c2 = st.columns([3, 2], vertical_alignment="center")
        with c1:
            show(charts.lesson_masks({"encoder (bidirectional)": bidir, "decoder (causal)": causal}, toks),
                 "families lesson masks", height=360,
                 data={"token": toks, "causal_row_approved": causal[i], "bidirectional_row_approved": bidir[i]})
        with c2:
            st.markdown(f"Row of **approved** — causal: `{causal[i].tolist()}`, bidirectional: "
                        f"`{bidir[i].tolist()}`. The future cell (approved → `<eos>`) is "
                        f"**{int(causal[i, toks.index('<eos>')])}** in the decoder: while it reads *approved*, "
                        "the decoder cannot see what follows.")


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
            objective_encoder(text.text)
        with c_dec:
            objective_decoder(text.text)
    with c_s2s_out:
        objective_seq2seq(c_s2s)


def objective_encoder(text: str) -> None:
    st.markdown("**Encoder: fill the blank** (both sides)")
    lm = page.model("encoder")
    if lm is None:
        return
    if MASK_IN_TEXT not in text:
        st.info("Put `[MASK]` in the sentence: the encoder predicts the hidden word from both sides.")
        return
    fm = cached.fill_mask(lm, text, K)
    if not fm.masks:
        st.info("The [MASK] was cut off with the end of the text; put it earlier.")
        return
    m = fm.masks[0]
    show(mask_candidates(m.candidates, m.probs, "the first [MASK]"), "families fill mask", height=320,
         data={"candidate": m.candidates, "probability": m.probs})
    model_note("encoder")
    st.caption("Why it cannot write left to right: it was trained to fill blanks with the whole sentence in view, "
               "never to continue a text whose end does not exist yet.")


def objective_decoder(text: str) -> None:
    st.markdown("**Decoder: the next token** (left side only)")
    lm = page.model("decoder")
    if lm is None:
        return
    left = text.split(MASK_IN_TEXT)[0].rstrip()
    if not left.strip():
        st.info("The decoder reads only what comes before `[MASK]`, and nothing does: put some words before it.")
        return
    enc = encode(lm.tokenizer, left, min(lm.max_length - 1, 512), add_special_tokens=False)
    page.note(enc.notice)
    tokens, probs = cached.next_token(lm, enc.ids)
    show(mask_candidates(tokens[:K], probs[:K], "next token (left side only)"), "families next token",
         height=320, data={"candidate": tokens[:K], "probability": probs[:K]})
    model_note("decoder")
    st.caption("Why it cannot look ahead: its mask hides every later token, so the words after [MASK] do not "
               "exist for it — compare its guesses with the encoder's.")


def objective_seq2seq(input_col) -> None:
    st.markdown("**Encoder-decoder: input → output**, token by token")
    run = s2s_text(input_col)
    if run is None:
        return
    n = len(run.steps)
    url.int("gen", n, lo=1, hi=max(1, n))
    step = st.slider("Generated so far", 1, max(2, n), key=url.key("gen"), disabled=n < 2) if n > 1 else 1
    step = min(step, n)
    s = run.steps[step - 1]
    io_line(run_text_input(), run.written(step))
    st.caption(f"Output after {step} of {n} step(s) ({'ended with `</s>`' if run.finished else 'length limit'}).")
    show(mask_candidates(s.tokens, s.probs, f"step {step}"), "families seq2seq step", height=260,
         data={"candidate": s.tokens, "probability": s.probs})
    model_note("seq2seq")
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
    expected = F.expected_output(page.model("seq2seq").spec.id, run_text_input())
    verdict = "" if expected is None else (" — ✓ spelled backwards correctly" if run.text == expected
                                           else f" — ✗ expected: {md(expected, 80)}")
    with stage:
        io_line(run_text_input(), run.text, verdict)
    head_name = "mean of heads" if head is None else f"head {head}"
    c1, c2 = stage.columns(2)
    with c1:
        enc = F.pick(run.encoder, layer, head)
        show(charts.rect_heatmap(enc, run.src_tokens, run.src_tokens, f"Encoder self-attention, layer {layer}, "
                                 f"{head_name}", "input token (looking)", "input token"),
             "families encoder self attention", data={"tokens": run.src_tokens, "attention": enc})
    with c2:
        cross = F.pick(run.cross, layer, head)
        show(charts.rect_heatmap(cross, run.out_tokens, run.src_tokens, f"Cross-attention, layer {layer}, "
                                 f"{head_name}", "output being predicted", "input token (encoder)"),
             "families cross attention", data={"outputs": run.out_tokens, "inputs": run.src_tokens,
                                               "attention": cross})
    st.caption(f"{len(run.out_tokens)} output steps; each row of the cross-attention is one step's weights over "
               f"{len(run.src_tokens)} input tokens (every row sums to 1, layer {layer}).")
    model_note("seq2seq")
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
    try:
        with guard("the few-shot evaluation"):
            report = cached.few_shot(lm, set_text)
    except F.PromptTooLong as e:
        st.warning(str(e), icon="✂️")
        report = None
    if report is not None:
        # the accuracy per number of shots first (explorer/ui/page.py), the verdict and the summary beside it
        c1, c2 = page.main().columns([3, 2])
        with c1:
            show(charts.few_shot_accuracy(*report.by_shots(), report.chance,
                                          f"{models.label(lm.spec.id)}: accuracy on {len(test)} test messages"),
                 "families few shot accuracy", data=report.table())
        with c2:
            verdict = report.verdict()
            above = verdict.startswith("Above")
            (st.success if above else st.warning)(verdict, icon="🎯" if above else "🎲")
            table(pd.DataFrame(report.summary()), hide_index=True, width="stretch")
            for k, total in report.sampled_orders.items():
                st.caption(f"{k} shots: {len(report.runs_for(k))} of the {total:,} orders, chosen at random (seeded).")
            st.caption(f"Guessing: {report.chance:.0%}. \"> guessing\": orders whose score a one-sided binomial "
                       f"test at 5% on {len(test)} messages puts above guessing.")
        with st.expander("Every order, message by message"):
            table(pd.DataFrame(report.per_order()), hide_index=True, width="stretch")
    model_note("decoder")
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
        url.int("k", min(len(shots), 3), lo=0, hi=len(shots))
        k = st.slider("Examples before it (the first k of the set)", 0, max(1, len(shots)), key=url.key("k"),
                      disabled=not shots) if shots else 0
        k = min(k, len(shots))
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
             "families label probabilities", height=320,
             data={"label": list(scores.labels), "probability_among_labels": scores.probs,
                   "log_probability": scores.logprobs, "first_token_probability": scores.first_token_probs,
                   "label_tokens": list(scores.n_label_tokens)})
    with st.expander("The prompt, exactly as the model reads it"):
        st.code(F.build_prompt(msg.text, shots[:k]) + " ▁", language=None, wrap_lines=True)
        st.caption("Each label is scored as the text that follows `Label:` (with its leading space); labels the "
                   "tokenizer splits into several tokens are scored by the product of their tokens' probabilities. "
                   "Next-token probability of each label's first token: " +
                   ", ".join(f"{lab} {p:.2%}" for lab, p in zip(scores.labels, scores.first_token_probs)) + ".")


SECTIONS = {"masks": section_masks, "objectives": section_objectives, "translator": section_translator,
            "fewshot": section_fewshot}
with guard("this section"):
    SECTIONS[view]()
page.finish()

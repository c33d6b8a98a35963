"""Generation: watch a decoder write, one token at a time, and see what it chose from."""
import numpy as np
import streamlit as st

from explorer import generation as G
from explorer.charts import generation as charts
from explorer.forward import encode
from explorer.text import md
from explorer.ui import generation as ui
from explorer.ui import models
from explorer.ui.errors import guard, guarded
from explorer.ui.figures import show
from explorer.ui.page import Page
from explorer.ui.player import cadence_note
from explorer.ui.presenter import explain, presenting

page = Page("✍️ Generation", prefix="gen_")
url = page.url

FAMILIES = {"decoder": "GPT-2 family", "rope-decoder": "Llama family", "encoder": "BERT (encoder)"}
EXAMPLES = {"decoder": "a small animal that", "rope-decoder": "a small animal that",
            "encoder": "the [MASK] arrived broken, so i want a [MASK]."}    # the lessons' support-ticket world

url.choice("model", "decoder", list(FAMILIES))
# Layout (explorer/ui/page.py): model and prompt in a compact block above the figure; the figure (the written text
# and the next-token bars, drawn on arrival); decoding settings under it. Presenter mode folds every control below.
top = st.container() if not presenting() else None
stage = page.main()
below = page.controls("Model, prompt and decoding")
family = (top or below).radio("Model", list(FAMILIES), key=url.key("model"), horizontal=True,
                  format_func=lambda f: f"{FAMILIES[f]} · {md(models.label(models.chosen(f)))}",
                  help="The model of each family is chosen in the sidebar.")
with stage:
    lm = page.model(family)
if lm is None:
    page.stop()

# ---------------------------------------------------------------- an encoder cannot write left to right
if family == "encoder":
    stage.info(G.ENCODER_NOTE, icon="↔️")
    url.int("k", 5, lo=1, hi=20)
    c1, c2 = (top or below).columns([4, 1])
    with c1:
        text = page.text_input(EXAMPLES["encoder"], name="mask", label="Text with [MASK]", height=None,
                               prompt="✍️ Write a sentence with at least one `[MASK]` in it.")
    k = c2.slider("Candidates", 1, 20, key=url.key("k"))
    if not text.empty and G.MASK_IN_TEXT not in text.text:
        st.info("✍️ Write a sentence with at least one `[MASK]` in it.")
    if text.empty or G.MASK_IN_TEXT not in text.text:
        page.stop()
    with stage, guard("the masked-word predictions"):
        filled = ui.fill_mask(lm, text.text, k)
        if filled.truncated:
            st.warning(f"Text cut to the model's {lm.max_length} tokens.", icon="✂️")
        ui.draw_masks(filled)
        explain(G.FILL_MASK_EXPLAINED)
    page.stop()

# ---------------------------------------------------------------- prompt and decoding settings (all in the link)
with top or below:
    prompt = page.text_input(EXAMPLES[family], name="prompt", label="Prompt", height=None,
                             prompt="✍️ Type the beginning of a sentence above; the model will continue it.")
url.choice("decode", "sample", ["sample", "greedy"])
url.float("temp", 1.0, lo=0.1, hi=2.0)
url.int("topk", 0, lo=0, hi=100)
url.float("topp", 0.9, lo=0.01, hi=1.0)
url.int("seed", 0, lo=0, hi=2**31 - 1)
url.int("max", 40, lo=1, hi=G.MAX_NEW_TOKENS)
url.int("eos", -1, lo=-1, hi=G.MAX_NEW_TOKENS)   # step from which end-of-text is suppressed; -1: the model may end
# under the figure; in presenter mode inside the folded controls (an expander cannot hold another)
with below, (st.container() if presenting() else st.expander("Decoding", expanded=True)):
    d1, d2, d3, d4 = st.columns([1.2, 2, 2, 1.3])
    mode = d1.radio("Decoding", ["sample", "greedy"], key=url.key("decode"),
                    format_func={"sample": "sample", "greedy": "greedy (argmax)"}.get)
    sampling_off = mode == "greedy"
    temperature = d2.slider("Temperature", 0.1, 2.0, step=0.05, key=url.key("temp"), disabled=sampling_off,
                            help=G.SAMPLING_HELP["temp"])
    top_k = d2.slider("Top-k (0 = off)", 0, 100, key=url.key("topk"), disabled=sampling_off,
                      help=G.SAMPLING_HELP["topk"])
    top_p = d3.slider("Top-p (1 = off)", 0.01, 1.0, step=0.01, key=url.key("topp"), disabled=sampling_off,
                      help=G.SAMPLING_HELP["topp"])
    seed = d3.number_input("Seed", 0, 2**31 - 1, step=1, key=url.key("seed"), disabled=sampling_off,
                           help=G.SAMPLING_HELP["seed"])
    max_new = d4.number_input("New tokens", 1, G.MAX_NEW_TOKENS, step=8, key=url.key("max"),
                              help=f"At most {G.MAX_NEW_TOKENS}, and never past the model's position limit.")

if prompt.empty:
    page.stop()

enc = encode(lm, prompt.text, lm.max_length - 1)
with top or below:
    page.note(enc.notice)
sampling = G.sampling_for(mode, temperature, top_k, top_p, seed)
eos_off = st.session_state[url.key("eos")]
run = ui.run_for(lm, enc.ids, sampling, int(max_new), eos_off if eos_off >= 0 else None)
if run.capped:
    (top or below).warning(G.cap_note(run, lm.spec.display_name, len(enc.ids)), icon="📏")

# view settings and the run's progress (the link restores both)
url.int("k", 10, lo=1, hi=G.TRACE_K)
url.choice("color", "probability", ["probability", "entropy"])
url.float("speed", 2.0, lo=0.5, hi=8.0)
url.int("n", 0, lo=0, hi=G.MAX_NEW_TOKENS)
url.int("view", 0, lo=0, hi=G.MAX_NEW_TOKENS)
url.int("head", 0, lo=0, hi=64)
player = ui.Decoding(url, lm, run)   # the page's state machine
with stage, guard("the replay of this link's tokens"):
    player.replay()

# ---------------------------------------------------------------- transport: play / pause / step / speed, one row
# (drawn by the whole page: Play, Pause and the end of a run rerun it, so their disabled states stay current)
p = stage.columns([1.3, 1.1, 1.1, 1, 4], vertical_alignment="bottom")
player.buttons(p[:4])
speed = p[4].slider("Speed (tokens per second)", 0.5, 8.0, step=0.5, key=url.key("speed"))
interval = 1.0 / speed


@st.fragment(run_every=interval if ui.playing() else None)
@guarded("the generated text")
def transport():
    with guard("the next token"):
        player.tick(interval)
    b = run.branch
    done = run.done()
    # the written text on the left, what the model chose from on the right: both on the first screen
    text_col, bars_col = st.columns(2) if b.steps else (st.container(), st.container())
    text_col.caption(G.progress_line(run))
    if ui.playing():     # honest cadence: what Play delivers, measured, when it falls behind what was asked
        behind = cadence_note(speed, ui.delivered())
        if behind:
            text_col.caption(behind)

    ended, suppressed = G.end_notes(run)
    if done == "end-of-text" and run.active == 0 and not b.steps[-1].forced:
        # the button under the note, not beside it: beside it, half a 1280-pixel screen cut its label to "Continu…"
        text_col.info(ended, icon="🏁")
        text_col.button("Continue past end-of-text", key="gen_continue", on_click=player.continue_past_end,
                  disabled=ui.playing(), help="Step again from here with end-of-text's probability set to 0 "
                                              "(the chart still shows how likely the model found ending).")
    elif run.eos_off_from is not None:
        text_col.caption(suppressed)
    if not b.steps:
        # on arrival: the prompt's next-token bars (the step Step ▸ will take), before anything is pressed
        with guard("the prompt's next token"):
            s = run.preview(lm)
            if s is not None:
                k = st.session_state[url.key("k")]
                ui.draw_topk(s, k, sampling, len(lm.tokenizer), "Next-token probabilities after the prompt")
                st.info("Press **Step ▸** for one token or **▶ Play** to watch the model write.", icon="✍️")
        return

    # ------------------------------------------------------------ timeline
    n = len(b.steps)
    view_key = url.key("view")
    shown = player.shown()
    color = st.session_state[url.key("color")]
    tl = G.timeline(run, color)
    s = b.steps[shown]
    with text_col:
        show(charts.timeline(tl.prompt, tl.pieces, tl.values, color, shown, width=45 if presenting() else 36,
                             vmax=tl.vmax), "generated text", data=tl.data, on_select="rerun", key=ui.TIMELINE_KEY)
        st.caption(tl.caption)
        st.markdown(G.step_line(run, s))
    k = st.session_state[url.key("k")]
    with bars_col:
        ui.draw_topk(s, k, sampling, len(lm.tokenizer))
    t1, t2, t3 = st.columns([3, 2, 1.6])
    if n > 1:
        t1.slider("Step shown (or click a token)", 1, n, key=view_key)
    t2.slider("Top-k shown in the chart", 1, G.TRACE_K, key=url.key("k"))
    t3.radio("Colour by", ["probability", "entropy"], key=url.key("color"), horizontal=True,
             help=G.SAMPLING_HELP["color"])
    with st.expander("Before and after temperature / top-k / top-p", expanded=not presenting()):
        series = G.before_after(s, sampling, k)
        show(charts.before_after(s.tokens[:k], series, G.chosen_in_top(s, k)), "before and after",
             data={"token": s.tokens[:k], **{name: v for name, v in series.items()}}, height=320)

    # ------------------------------------------------------------ branching
    alts = G.alternatives(run, s)
    b1, b2 = st.columns([3, 1])
    b1.selectbox(f"Continue step {s.step + 1} with another token", list(alts), key="gen_alt", format_func=alts.get)
    b2.button("🌿 Branch here", key="gen_branch", on_click=player.fork, args=(s.step,), disabled=ui.playing(),
              help="Keep this branch; start a new one that takes the chosen token at this step.")
    if len(run.branches) > 1:
        st.markdown("**Branches**")
        for i, br in enumerate(run.branches):
            r1, r2 = st.columns([6, 1])
            r1.caption(G.branch_label(run, i))
            r1.text(run.text(br.generated) or "…")
            r2.button("Show", key=f"gen_show_{i}", on_click=player.activate, args=(i,), disabled=i == run.active)

    # ------------------------------------------------------------ inside the model at that step
    st.subheader("Logit lens")
    with guard("the logit lens"):
        big = lm.n_params > 50_000_000
        if ui.playing() and big:
            st.caption("Pause to see the logit lens (it reads every layer through the unembedding).")
        else:
            lens = run.lens(lm, s.step, window=10)
            show(charts.lens_table(lens.layers, lens.inputs, lens.top_tokens, lens.top_probs), "logit lens",
                 data=lens.table(), height=110 + 44 * len(lens.layers))
            explain(G.LENS_EXPLAINED)
    st.subheader("Newest token's attention")
    with guard("the attention of the newest token"):
        n_heads = s.attention.shape[1]
        if st.session_state[url.key("head")] > n_heads:
            st.session_state[url.key("head")] = 0
        h = st.selectbox("Head", list(range(n_heads + 1)), key=url.key("head"),
                         format_func=lambda i: "mean of heads" if i == 0 else f"head {i}")
        keys = [run.piece(i) for i in b.ids[:s.position]]
        show(charts.attention_row(s.attention, keys, None if h == 0 else h - 1), "newest token attention",
             data={"attention": s.attention.astype(np.float32), "keys": keys}, height=110 + 30 * s.attention.shape[0])
        explain(G.attention_note(s, keys))
    url.sync()     # a fragment rerun changes the progress too: keep the link current


with stage:
    transport()
page.finish()

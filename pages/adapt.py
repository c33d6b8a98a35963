"""Train & adapt: tokens per parameter and compute, choosing a model, what fine-tuning trains, and a live fine-tune."""
import pandas as pd
import streamlit as st

from explorer import adapt
from explorer import scaling as sc
from explorer.charts import adapt as charts
from explorer.text import md
from explorer.ui import adapt as ui
from explorer.ui.errors import callback, guard, guarded
from explorer.ui.figures import show, table
from explorer.ui.page import Page
from explorer.ui.presenter import explain
from explorer.ui.state import notice

page = Page("🏋️ Train & adapt", prefix="ad_")
url = page.url
SECTIONS = {"scale": "① Scale", "choose": "② Choosing a model", "adapt": "③ What trains", "watch": "④ Fine-tune live"}
view = page.sections(SECTIONS)
RUNS = {r.key: r for r in sc.RUNS}
LABEL_POS = {"gpt-3": "top left", "gopher": "bottom right", "chinchilla": "top left", "llama-7b": "bottom right",
             "llama-2-7b": "top left", "llama-3-8b": "top left", "llama-3-70b": "top right", "gemma-2b": "bottom center"}


controls = page.controls     # presenter mode folds a section's controls into "⚙️ label" (explorer/ui/page.py)


# ============================================================================ ① tokens per parameter and compute
def section_scale():
    n_vals, d_vals = sc.slider_values("params"), sc.slider_values("tokens")

    @callback("the preset run")
    def load_run():
        r = RUNS[st.session_state[url.key("run")]]
        url.set("n", int(round(r.params)))
        url.set("d", int(round(r.tokens)))

    run = RUNS[url.choice("run", sc.LESSON[0].key, list(RUNS))]
    url.choice("n", int(round(run.params)), n_vals)
    url.choice("d", int(round(run.tokens)), d_vals)
    with controls("Parameters and tokens"):
        c = st.columns([2, 3, 3])
        c[0].selectbox("Preset run", list(RUNS), key=url.key("run"), format_func=lambda k: RUNS[k].name,
                       on_change=load_run)
        n = c[1].select_slider("Parameters N", n_vals, key=url.key("n"), format_func=sc.human)
        d = c[2].select_slider("Training tokens D", d_vals, key=url.key("d"), format_func=sc.human)
    mine = sc.Run("your sliders" if (n, d) != (int(round(run.params)), int(round(run.tokens))) else run.name,
                  n, d, "")
    opt_n, opt_d = sc.compute_optimal(mine.flops)
    stage = page.main()          # the headline numbers and the plane: the page's main figure
    cols = stage.columns(4)
    cols[0].metric("Tokens per parameter D / N", f"{mine.tokens_per_param:.1f}", border=True)
    cols[1].metric("N·D vs 7B·140B", f"{mine.compute:.1f}x", border=True,
                   help="The lessons' compute proxy: N·D relative to 7B parameters on 140B tokens.")
    cols[2].metric("FLOPs ≈ 6·N·D", f"{mine.flops:.2e}".replace("e+", "e"), border=True)
    cols[3].metric("Compute-optimal N/D", f"{sc.human(opt_n)}/{sc.human(opt_d)}", border=True,
                   help="N and D that spend the same 6·N·D FLOPs at 20 tokens per parameter (D = 20·N): "
                        "N = √(FLOPs / 120).")
    points = [{"name": r.name, "params": r.params, "tokens": r.tokens, "position": LABEL_POS.get(k, "top center")}
              for k, r in RUNS.items() if k in LABEL_POS]
    with stage:
        show(charts.scaling_plane(points, {"params": n, "tokens": d, "label": mine.name}), "tokens per parameter",
             height=420, data={"run": [p["name"] for p in points] + [mine.name],
                               "parameters": [p["params"] for p in points] + [n],
                               "tokens": [p["tokens"] for p in points] + [d]})
    st.caption("⚠️ A compute proxy, not a quality predictor: N·D says how much training was bought, not how good "
               "the model is — data quality, architecture and what the model is for decide that.")
    table(sc.table(sc.LESSON + ([mine] if mine.name == "your sliders" else [])), hide_index=True,
          width="stretch")
    with st.expander("Where the presets' numbers come from"):
        table([{"run": r.name, "N": sc.human(r.params), "D": sc.human(r.tokens), "source": r.source}
               for r in sc.RUNS], hide_index=True, width="stretch")
    explain("Tokens per parameter = D ÷ N. The lessons compare runs by N·D relative to 7B on 140B tokens (1.0x); "
            "the usual FLOPs estimate is 6·N·D (2 for the forward pass, 4 for the backward pass, per parameter per "
            "token). Chinchilla found about 20 tokens per parameter compute-optimal (the dashed line): GPT-3's 175B "
            "on 300B tokens is 1.7 tokens per parameter at 53.6x the compute — a larger model, starved of data.")


# ============================================================================ ② choosing a model: the scorecard
def section_choose():
    default = sc.format_candidates(sc.CANDIDATES)
    cands = url.parsed("cands", default, sc.parse_candidates, max_chars=600, fallback="the lessons' table")
    scn_key = url.choice("scn", "live", list(sc.SCENARIOS) + ["custom"])
    preset = sc.SCENARIOS.get(scn_key, sc.SCENARIOS["live"])
    with controls("Scenario and weights"):
        c = st.columns([3, 2, 2])
        c[0].segmented_control("Scenario", list(sc.SCENARIOS) + ["custom"], key=url.key("scn"), required=True,
                               format_func=lambda k: sc.SCENARIOS[k].name if k in sc.SCENARIOS else "your weights")
        if scn_key == "custom":
            url.float("lat", preset.latency_penalty, 0.0, 1.0)
            url.float("cst", preset.cost_penalty, 0.0, 100.0)
            lat = c[1].number_input("Latency penalty (points per ms)", 0.0, 1.0, step=0.001, format="%.3f",
                                    key=url.key("lat"))
            cst = c[2].number_input("Cost penalty (points per $ / 1k requests)", 0.0, 100.0, step=0.5,
                                    key=url.key("cst"))
            scenario = sc.Scenario("your weights", lat, cst)
        else:
            scenario = preset
            c[1].markdown(f"Latency penalty **{preset.latency_penalty:g}** points per ms of p95")
            c[2].markdown(f"Cost penalty **{preset.cost_penalty:g}** points per $ / 1k requests")
    ranked = sc.rank(cands, scenario)
    best = sc.winner(cands, scenario)
    with page.main():           # the verdict and the scorecard: the section's main figure
        if best is None:
            st.warning("No candidate passes the licence gate, so none can be chosen.", icon="🔒")
        else:
            st.markdown(f"**{md(scenario.name)} picks {md(best.candidate.name)} at {best.score:.2f} points** "
                        f"(quality − {scenario.latency_penalty:g} × p95 ms − {scenario.cost_penalty:g} × cost).")
        show(charts.scorecard([{"name": r.candidate.name, "score": r.score, "quality": r.candidate.quality,
                                "latency_points": r.latency_points, "cost_points": r.cost_points,
                                "eligible": r.eligible} for r in ranked],
                              best.candidate.name if best else None, scenario.name),
             "model scorecard", height=60 + 52 * len(ranked),
             data={"model": [r.candidate.name for r in ranked], "score": [round(r.score, 4) for r in ranked],
                   "licence_ok": [r.eligible for r in ranked]})
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**The candidates** (click a cell to change it; the weights per scenario are product decisions)")
        ui.candidates_editor(url, cands, default)
    with right:
        st.markdown("**Read a release like an engineer**")
        ui.release_links(url, RUNS["llama-3-8b"])


# ============================================================================ ③ what each strategy trains
def section_adapt():
    archs = ui.architectures()
    key = url.choice("arch", "tiny-gpt2", list(archs))
    with controls("Model, element type and strategy settings"):
        c = st.columns([3, 1.2, 1.6, 1.4, 1.4, 2])
        c[0].selectbox("Architecture", list(archs), key=url.key("arch"), format_func=archs.get)
        a = ui.arch(key)
        if a is None:
            page.stop()
        url.choice("dt", "bf16", list(adapt.BYTES))
        url.int("k", max(1, a.n_layers // 4), lo=1, hi=a.n_layers)
        url.choice("r", 8, [1, 2, 4, 8, 16, 32, 64])
        url.choice("tg", "all", list(adapt.LORA_TARGETS))
        url.choice("alpha", 16, [1, 2, 4, 8, 16, 32, 64, 128])
        dtype = c[1].selectbox("Weights", list(adapt.BYTES), key=url.key("dt"))
        k = c[2].slider("Layers k", 1, a.n_layers, key=url.key("k"), help="Frozen lower k layers: the lowest "
                        "k blocks and the embeddings are frozen. Last k layers only: only the top k blocks train.")
        rank = c[3].select_slider("LoRA rank r", [1, 2, 4, 8, 16, 32, 64], key=url.key("r"))
        alpha = c[4].select_slider("LoRA alpha", [1, 2, 4, 8, 16, 32, 64, 128], key=url.key("alpha"))
        targets = c[5].selectbox("LoRA adapts", list(adapt.LORA_TARGETS), key=url.key("tg"),
                                 format_func=adapt.LORA_TARGETS.get)
    strategies = [adapt.Strategy("full"), adapt.Strategy("lower", layers=k), adapt.Strategy("last", layers=k),
                  adapt.Strategy("head"), adapt.Strategy("lora", rank=rank, alpha=alpha, targets=targets)]
    rows = adapt.compare(a, strategies, dtype)
    full, lora = rows[0], rows[-1]
    stage = page.main()          # the three numbers and the memory per strategy: the section's main figure
    cols = stage.columns(3)
    cols[0].metric(f"{md(archs[key])}: parameters", f"{full.trainable:,}", border=True)
    cols[1].metric(f"LoRA r={rank} trains", f"{lora.trainable:,}", f"{lora.fraction:.3%} of the model",
                   delta_color="off", delta_arrow="off", border=True)
    cols[2].metric("Training memory, LoRA vs full", adapt.format_bytes(lora.memory.total),
                   f"{lora.memory.total / full.memory.total:.1%} of {adapt.format_bytes(full.memory.total)}",
                   delta_color="off", delta_arrow="off", border=True)
    with stage:
        show(charts.memory_bars([{"label": r.strategy.label, "weights": r.memory.weights,
                                  "gradients": r.memory.gradients, "adam": r.memory.adam, "trainable": r.trainable,
                                  "total": r.total} for r in rows]),
             "training memory per strategy", height=340,
             data={"strategy": [r.strategy.label for r in rows], "trainable": [r.trainable for r in rows],
                   "weights_bytes": [r.memory.weights for r in rows],
                   "gradient_bytes": [r.memory.gradients for r in rows], "adam_bytes": [r.memory.adam for r in rows]})
    table(ui.strategy_table(key, rows), hide_index=True, width="stretch")
    tied = " With tied embeddings the output head *is* the embedding matrix, so freezing the embeddings " \
           "freezes it too." if a.tied_embeddings and not a.mlm_head else ""
    explain(f"Weights at {dtype}, one gradient per trainable parameter at {dtype}, and Adam's two float32 moments "
            f"(8 bytes) per trainable parameter; activations come on top and grow with batch and length. LoRA "
            f"freezes every weight and learns r × (in + out) numbers per adapted matrix: the update W + (α/r)·B·A "
            f"starts at zero.{tied} For the bundled models the last column applies each strategy to a copy of the "
            "model for real and counts the parameters whose `requires_grad` is on (LoRA: the adapters peft injects).")


# ============================================================================ ④ a fine-tune you can watch
def section_watch():
    if not adapt.finetune_allowed():
        st.info(f"Live fine-tuning is turned off on this server ({adapt.ALLOW_ENV}=0). Sections ① – ③ work as "
                "usual; run the app yourself to train here.", icon="🔒")
        return
    run = ui.current()
    busy = run is not None and run.running
    texts = {**{k: v[0] for k, v in adapt.TEXTS.items()}, "own": "Your own text"}
    choice = url.choice("txt", "fact", list(texts))
    own = choice == "own"
    url.text("prompt", adapt.TEXTS[choice if not own else "fact"][2], max_chars=200)
    url.int("steps", 200, lo=10, hi=400)
    url.choice("r", 8, [1, 2, 4, 8, 16, 32, 64])
    # Start / Stop and the loss curves first (explorer/ui/page.py); what to train on under them
    stage, under = page.layout("Text, prompt and steps")
    with under:
        c = st.columns([2, 3, 1.3, 1.2])
        c[0].selectbox("Train on", list(texts), key=url.key("txt"), format_func=texts.get, disabled=busy,
                       on_change=lambda: url.set("prompt", adapt.TEXTS.get(st.session_state[url.key("txt")],
                                                                           adapt.TEXTS["fact"])[2]))
        if own:
            text = page.text_input(adapt.TEXTS["fact"][1], label="Your training text", height=68,
                                   prompt="Type a short text to fine-tune on.", max_chars=1500)
        else:
            text = adapt.TEXTS[choice][1]
            c[1].caption(f"“{md(text)}”")
        prompt = c[1].text_input("Prompt for before / after", key=url.key("prompt"), max_chars=200, disabled=busy)
        steps = c[2].number_input("Steps", 10, 400, step=10, key=url.key("steps"), disabled=busy)
        rank = c[3].select_slider("LoRA rank", [1, 2, 4, 8, 16, 32, 64], key=url.key("r"), disabled=busy)
    train_text = text.text if own else text

    @callback("the fine-tune")
    def start():
        error = ui.start(train_text, prompt, int(steps), adapt.Strategy("lora", rank=rank))
        if error:
            notice(md(error))

    b = stage.columns([1, 1, 4])
    b[0].button("▶ Start", key="ad_start", type="primary", disabled=busy or not train_text.strip(),
                on_click=start)
    b[1].button("■ Stop", key="ad_stop", on_click=callback("stopping the fine-tune")(ui.stop),
                disabled=not busy)
    b[2].caption(f"Full fine-tuning and LoRA (r={rank}, attention + MLP) train side by side on the session's own "
                 f"copies of the bundled tiny GPT-2; at most {adapt.budget_seconds():.0f} s of compute per run.")
    with stage:
        watch_fragment()


def watch_fragment():
    run = ui.current()

    @st.fragment(run_every=ui.REDRAW_SECONDS if run is not None and run.running else None)
    @guarded("the fine-tune")
    def live():
        r = ui.current()
        if r is None:
            show(charts.loss_curves([], int(st.session_state[url.key("steps")])), "fine-tuning loss", height=360, key="fig_fine_tuning_loss")
            st.caption("Press **Start**: the loss curves of both sides grow here as the models train.")
            return
        was_running = r.running
        if r.running and not ui.advance(r):
            st.caption("Waiting for another learner's training slice to finish…")
        status = {"running": "training…", "done": "finished", "budget": "stopped at the compute budget",
                  "stopped": "stopped"}[r.status]
        st.progress(min(r.done_steps / r.steps, 1.0),
                    text=f"Step {r.done_steps} of {r.steps} · {r.elapsed:.1f} s of {r.budget:.0f} s · {status}")
        show(charts.loss_curves([{"kind": arm.strategy.kind, "label": f"{arm.label} · {arm.trainable:,} trainable",
                                  "losses": arm.losses} for arm in r.arms], r.steps),
             "fine-tuning loss", height=360, key="fig_fine_tuning_loss",
             data={f"{arm.strategy.kind}_loss": arm.losses[:r.done_steps] for arm in r.arms})
        cols = st.columns(len(r.arms))
        for col, arm in zip(cols, r.arms):
            col.metric(f"{arm.label}: time per step", f"{arm.seconds_per_step * 1000:.0f} ms",
                       f"{arm.trainable:,} of {arm.total:,} parameters train", delta_color="off", delta_arrow="off",
                       border=True)
        if not r.running:
            results(r)
        if was_running and not r.running:
            st.rerun()          # the whole page again: the fragment stops its timer, the buttons update

    live()


def results(r):
    prompt = r.tokenizer.decode(r.prompt_ids)
    st.markdown(f"**Greedy continuation of “{md(prompt, limit=80)}”, before and after**")
    st.table(pd.DataFrame({"model": ["before (the bundled model)"] + [f"after: {a.label}" for a in r.arms],
                           "continuation": [r.before] + [a.after or "" for a in r.arms]}).set_index("model"))
    full, lora = r.arms
    st.caption(f"Measured after the first step: gradients {adapt.format_bytes(full.grad_bytes)} (full) vs "
               f"{adapt.format_bytes(lora.grad_bytes)} (LoRA); Adam's moments {adapt.format_bytes(full.adam_bytes)} vs "
               f"{adapt.format_bytes(lora.adam_bytes)} — 4 and 8 bytes per trainable parameter, as in ③. "
               f"Loss on the text: {r.loss_before:.3f} before, {full.loss_after:.3f} full, {lora.loss_after:.3f} LoRA. "
               "The model copies are gone; the shared model never changed.")


with guard("this section"):
    {"scale": section_scale, "choose": section_choose, "adapt": section_adapt, "watch": section_watch}[view]()
if view != "watch" and ui.current() is not None and ui.current().running:
    ui.stop()                      # leaving the section ends the run and drops its model copies
page.finish()

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
from explorer.ui.metrics import metric_row
from explorer.ui.page import Page
from explorer.ui.presenter import explain
from explorer.ui.state import notice

page = Page("🏋️ Train & adapt", prefix="ad_")
url = page.url
SECTIONS = {"scale": "① Scale", "choose": "② Choosing a model", "adapt": "③ What trains", "watch": "④ Fine-tune live"}
view = page.sections(SECTIONS)
RUNS = {r.key: r for r in sc.RUNS}


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
    mine = sc.sliders_run(run, n, d)
    stage = page.main()          # the headline numbers and the plane: the page's main figure
    metric_row(sc.headline(mine), stage)
    points = sc.plane_points()
    with stage:
        show(charts.scaling_plane(points, {"params": n, "tokens": d, "label": mine.name}), "tokens per parameter",
             height=420, data=sc.plane_table(points, mine))
    st.caption(sc.PROXY_WARNING)
    table(sc.table(sc.LESSON + ([mine] if mine.name == sc.YOURS else [])), hide_index=True, width="stretch")
    with st.expander("Where the presets' numbers come from"):
        table(sc.sources(), hide_index=True, width="stretch")
    explain(sc.SCALE_EXPLAINED)


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
            st.markdown(sc.verdict(scenario, best))
        show(charts.scorecard(sc.scorecard_rows(ranked), best.candidate.name if best else None, scenario.name),
             "model scorecard", height=60 + 52 * len(ranked), data=sc.scorecard_table(ranked))
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
    stage = page.main()          # the three numbers and the memory per strategy: the section's main figure
    metric_row(adapt.headline(archs[key], rows), stage)
    with stage:
        show(charts.memory_bars(adapt.memory_rows(rows)), "training memory per strategy", height=340,
             data=adapt.memory_table(rows))
    table(ui.strategy_table(key, rows), hide_index=True, width="stretch")
    explain(adapt.memory_explained(dtype, a))


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
    b[2].caption(adapt.watch_note(rank))
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
        st.progress(min(r.done_steps / r.steps, 1.0), text=adapt.progress_line(r))
        show(charts.loss_curves(adapt.curve_rows(r), r.steps), "fine-tuning loss", height=360,
             key="fig_fine_tuning_loss", data=adapt.loss_table(r))
        metric_row(adapt.arm_metrics(r))
        if not r.running:
            results(r)
        if was_running and not r.running:
            st.rerun()          # the whole page again: the fragment stops its timer, the buttons update

    live()


def results(r):
    prompt = r.tokenizer.decode(r.prompt_ids)
    st.markdown(f"**Greedy continuation of “{md(prompt, limit=80)}”, before and after**")
    st.table(pd.DataFrame(adapt.results_rows(r)).set_index("model"))
    st.caption(adapt.results_note(r))


with guard("this section"):
    {"scale": section_scale, "choose": section_choose, "adapt": section_adapt, "watch": section_watch}[view]()
if view != "watch" and ui.current() is not None and ui.current().running:
    ui.stop()                      # leaving the section ends the run and drops its model copies
page.finish()

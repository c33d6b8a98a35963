"""The Train & adapt page: the lessons' numbers, every section, deep links, bad links, hostile text, a live fine-tune."""
import pytest

from explorer import adapt
from explorer import scaling as sc
from explorer.presets import PRESETS
from tests.app.conftest import assert_clean, infos, param, run_page

PAGE = "pages/adapt.py"


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def text_of(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_the_default_view_is_the_lessons_first_row():
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value == "🏋️ Train & adapt"
    m = metrics(at)
    assert m["Tokens per parameter D / N"] == "20.0" and m["N·D vs 7B·140B"] == "1.0x"
    assert m["FLOPs ≈ 6·N·D"] == "5.88e21" and m["Compute-optimal N/D"] == "7B/140B"
    assert len(at.get("plotly_chart")) == 1
    table = at.dataframe[0].value
    assert list(table["tokens / parameter"]) == ["20.0", "1.7"] and list(table["compute proxy N·D"]) == ["1.0x", "53.6x"]
    assert any("not a quality predictor" in c.value for c in at.caption)
    assert not at.query_params


def test_the_gpt3_row_and_sliders_change_the_numbers_and_the_link():
    at = run_page(PAGE)
    at.selectbox(key="ad_run").set_value(sc.LESSON[1].key).run()
    assert_clean(at)
    m = metrics(at)
    assert (m["Tokens per parameter D / N"], m["N·D vs 7B·140B"]) == ("1.7", "53.6x")
    assert (at.select_slider(key="ad_n").value, at.select_slider(key="ad_d").value) == (175e9, 300e9)
    at.select_slider(key="ad_d").set_value(3_000_000_000_000).run()
    assert metrics(at)["Tokens per parameter D / N"] == "17.1"
    assert len(at.dataframe[0].value) == 3                               # the lessons' rows + your sliders
    assert param(at, "run") == sc.LESSON[1].key and param(at, "d") == "3000000000000"


@pytest.mark.parametrize("scn, winner, points", [("live", "hosted-fast", "74.50"), ("audit", "hosted-deep", "84.40")])
def test_the_scorecard_picks_the_lessons_winner(scn, winner, points):
    at = run_page(PAGE, query={"view": "choose", "scn": scn})
    assert_clean(at)
    assert f"picks {winner.replace('-', chr(92) + '-')} at {points} points" in text_of(at)
    assert len(at.get("plotly_chart")) == 1
    assert at.button_group(key="ad_scn").value == scn


def test_failing_the_licence_gate_never_wins_even_when_edited_to_the_top():
    cands = "best:100:0:0:0;ok:50:100:1:1"
    at = run_page(PAGE, query={"view": "choose", "cands": cands})
    assert_clean(at)
    assert "picks ok at" in text_of(at)
    at = run_page(PAGE, query={"view": "choose", "cands": "best:100:0:0:0"})
    assert "No candidate passes the licence gate" in " ".join(w.value for w in at.warning)


def test_custom_weights_come_from_the_link():
    at = run_page(PAGE, query={"view": "choose", "scn": "custom", "lat": "0", "cst": "0"})
    assert_clean(at)
    assert "picks hosted\\-deep at 91.00 points" in text_of(at)       # no penalties: the best licensed quality
    assert at.number_input(key="ad_lat").value == 0


@pytest.mark.parametrize("arch", ["tiny-gpt2", "tiny-llama", "tiny-bert"])
def test_bundled_models_show_counts_checked_on_the_model(arch):
    at = run_page(PAGE, query={"view": "adapt", "arch": arch, "r": "4"})
    assert_clean(at)
    table = at.dataframe[0].value
    assert len(table) == 5 and all(v.endswith("✔") for v in table["counted on the model"])
    assert len(at.get("plotly_chart")) == 1


def test_a_deep_link_restores_a_preset_and_lora_settings():
    at = run_page(PAGE, query={"view": "adapt", "arch": "Llama-2-7B", "r": "16", "tg": "qv", "dt": "fp32", "k": "30"})
    assert_clean(at)
    c = PRESETS["Llama-2-7B"]
    lora = adapt.trainable_formula(c, adapt.Strategy("lora", rank=16, targets="qv"))
    assert metrics(at)["LoRA r=16 trains"] == f"{lora:,}"
    table = at.dataframe[0].value
    assert "counted on the model" not in table.columns                # a preset: the config's count only
    assert list(table["strategy"])[1:3] == ["Frozen lower 30 layers", "Last 30 layers only"]
    assert at.selectbox(key="ad_dt").value == "fp32"


def test_nonsense_link_values_fall_back_with_notices():
    q = {"view": "adapt", "arch": "GPT-9", "r": "3", "tg": "x", "dt": "fp64", "k": "999", "alpha": "-1"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    for name in ("arch", "r", "tg", "dt", "k", "alpha"):
        assert f"`{name}`" in infos(at), name
    q = {"view": "choose", "scn": "nope", "cands": "![x](http://evil.example/t.png):1:1:1:1:1"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    assert "`scn`" in infos(at) and "`cands`" in infos(at) and "evil" not in infos(at)
    at = run_page(PAGE, query={"view": "scale", "n": "7", "d": "abc", "run": "<script>"})
    assert_clean(at)
    assert all(f"`{n}`" in infos(at) for n in ("n", "d", "run"))


def test_hostile_names_and_texts_are_shown_as_text():
    at = run_page(PAGE, query={"view": "choose", "cands": "**bold** [x](e.x) <b>é</b> 🙂:99:1:0:1"})
    assert_clean(at)
    shown = text_of(at)
    assert "picks \\*\\*bold\\*\\* \\[x\\]\\(e\\.x\\) \\<b\\>é\\</b\\> 🙂 at" in shown
    at = run_page(PAGE, query={"view": "watch", "txt": "own", "text": "<script>alert(1)</script> 🙂 مرحبا \x07",
                               "prompt": "[x](http://e.x)"})
    assert_clean(at)
    at = run_page(PAGE, query={"view": "watch", "txt": "own", "text": ""})
    assert_clean(at)
    assert at.button(key="ad_start").disabled


def test_a_fine_tune_runs_draws_its_curves_and_leaves_the_shared_model_alone(monkeypatch):
    import torch

    from explorer.ui import models
    monkeypatch.setenv(adapt.SECONDS_ENV, "120")
    at = run_page(PAGE, query={"view": "watch", "steps": "10"})
    assert_clean(at)
    shared = models.get("tiny-gpt2").model
    before = {k: v.clone() for k, v in shared.state_dict().items()}
    at.button(key="ad_start").click().run()
    assert_clean(at)
    # right after Start the page offers Stop while the run goes on (a quiet machine may finish 10 steps first)
    assert ((at.button(key="ad_stop").disabled is False and at.button(key="ad_start").disabled)
            or at.session_state["ad_finetune"].status == "done")
    lengths = []
    for _ in range(60):
        run = at.session_state["ad_finetune"]
        lengths.append(run.done_steps)
        if not run.running:
            break
        at.run()
    assert run.status == "done" and run.done_steps == 10
    assert lengths == sorted(lengths) and lengths[-1] >= lengths[0]     # the curve grew run by run
    fig = at.get("plotly_chart")[0]
    assert "Training loss" in fig.proto.spec
    for arm in run.arms:
        assert arm.losses[-1] < arm.losses[0] and arm.model is None
    assert "before (the bundled model)" in str(at.table[0].value.index.tolist())
    assert all(torch.equal(before[k], v) for k, v in shared.state_dict().items())
    assert at.button(key="ad_stop").disabled


def test_stop_ends_the_run_and_leaving_the_section_stops_it_too(monkeypatch):
    monkeypatch.setenv(adapt.SECONDS_ENV, "120")
    at = run_page(PAGE, query={"view": "watch", "steps": "400"})
    at.button(key="ad_start").click().run()
    at.button(key="ad_stop").click().run()
    assert_clean(at)
    run = at.session_state["ad_finetune"]
    assert run.status == "stopped" and run.done_steps < 400 and all(a.model is None for a in run.arms)
    at.button(key="ad_start").click().run()
    at.button_group(key="ad_view").set_value("scale").run()
    assert at.session_state["ad_finetune"].status == "stopped"


def test_an_operator_can_turn_fine_tuning_off(monkeypatch):
    monkeypatch.setenv(adapt.ALLOW_ENV, "0")
    at = run_page(PAGE, query={"view": "watch"})
    assert_clean(at)
    assert "turned off on this server" in infos(at)
    assert not [b for b in at.button if b.key == "ad_start"]

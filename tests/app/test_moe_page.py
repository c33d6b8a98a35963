"""The MoE page: every section renders, lesson numbers are computed and shown, links restore the view."""
import pytest

from tests.app.conftest import assert_clean, run_page

PAGE = "pages/moe.py"


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def infos(at) -> str:
    return " ".join(i.value for i in at.info)


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def toy_table(at):
    """The routing table: a static table (readable at 16 px and more in presenter mode) with an `expert` column."""
    return next(t.value for t in at.table if "expert" in t.value.columns)


@pytest.mark.parametrize("view,n_charts", [("toy", 1), ("model", 4), ("size", 2)])
def test_every_section_renders_its_figures_without_errors(view, n_charts):
    at = run_page(PAGE, query={"view": view})
    assert_clean(at)
    assert at.title[0].value.startswith("🔀 Mixture of experts")
    assert charts(at) >= n_charts


def test_the_toy_router_shows_the_lessons_weights_and_says_experts_need_not_be_topics():
    at = run_page(PAGE)
    assert_clean(at)
    table = toy_table(at)
    assert list(table["expert"]) == ["returns", "catalog", "shipping", "catalog"]
    assert list(table["mixing weight"]) == ["0.87", "0.13", "0.818", "0.182"]
    assert any("need not match human topics" in m.value for m in at.markdown)


def test_the_top_k_slider_reroutes_and_lands_in_the_url():
    at = run_page(PAGE)
    at.slider(key="moe_k").set_value(1).run()
    assert_clean(at)
    assert list(toy_table(at)["mixing weight"]) == ["1", "1"]
    assert at.query_params["k"] in ("1", ["1"])


def test_a_deep_link_restores_edited_logits_top_k_and_weighting():
    at = run_page(PAGE, query={"view": "toy", "logits": "0,0,3,0;1,1,1,2", "k": "3", "norm": "all"})
    assert_clean(at)
    assert at.slider(key="moe_k").value == 3 and at.radio(key="moe_norm").value == "all"
    table = toy_table(at)
    assert list(table["expert"])[:1] == ["catalog"] and list(table["expert"])[3] == "billing"
    assert "add up to less than 1" in " ".join(c.value for c in at.caption)


def test_the_real_model_section_shows_routing_load_aux_loss_and_capacity():
    at = run_page(PAGE, query={"view": "model"})
    assert_clean(at)
    m = metrics(at)
    n_tokens = int(m["Assignments in this layer"].split("=")[1].split()[0])
    assert m["Assignments in this layer"].startswith(f"{2 * n_tokens} =")
    assert float(m["Aux loss, all layers (transformers)"]) > 1.9     # k = 2 is the floor of even routing
    assert m["Perfectly even routing gives"] == "2"
    assert "same experts for 100%" in " ".join(c.value for c in at.caption)


def test_a_deep_link_restores_the_real_model_view():
    q = {"view": "model", "text": "the cat sat on the mat and the dog sat on the log", "layer": "2", "tok": "3",
         "cf": "0.5", "order": "rank"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    assert at.text_area(key="moe_text").value == q["text"]
    assert at.slider(key="moe_layer").value == 2 and at.slider(key="moe_tok").value == 3
    assert at.slider(key="moe_cf").value == 0.5 and at.radio(key="moe_order").value == "rank"
    label = next(k for k in metrics(at) if k.startswith("Capacity per expert"))
    assert "0.5 ×" in label
    assert int(metrics(at)["Assignments dropped"]) > 0     # half the even share cannot hold every token


def test_empty_text_gets_a_friendly_prompt_and_no_chart():
    at = run_page(PAGE, query={"view": "model"})
    at.text_area(key="moe_text").set_value("   ").run()
    assert_clean(at)
    assert "Type a sentence" in infos(at)
    assert charts(at) == 0


def test_the_size_calculator_counts_mixtral_from_its_config():
    at = run_page(PAGE, query={"view": "size"})
    assert_clean(at)
    m = metrics(at)
    assert m["Total parameters"] == "46.7B" and m["Active per token (top-2)"] == "12.9B"
    assert m["Memory for all weights (bf16)"] == "93.4 GB"
    at.selectbox(key="moe_preset").set_value("Mixtral-8x22B").run()
    assert metrics(at)["Total parameters"] == "140.6B"
    assert at.slider(key="moe_experts").value == 8


def test_a_deep_link_restores_the_calculator():
    at = run_page(PAGE, query={"view": "size", "preset": "Mixtral-8x7B", "experts": "16", "topk": "1",
                               "dtype": "int4"})
    assert_clean(at)
    assert at.slider(key="moe_experts").value == 16 and at.slider(key="moe_topk").value == 1
    m = metrics(at)
    assert "Active per token (top-1)" in m and "(int4)" in " ".join(m)


def test_nonsense_link_values_fall_back_with_notices():
    at = run_page(PAGE, query={"view": "nope", "logits": "<script>", "k": "99", "norm": "x"})
    assert_clean(at)
    notes = infos(at)
    for name in ("view", "logits", "k", "norm"):
        assert f"`{name}`" in notes
    assert list(toy_table(at)["mixing weight"]) == ["0.87", "0.13", "0.818", "0.182"]


def test_nonsense_model_and_calculator_values_fall_back():
    at = run_page(PAGE, query={"view": "model", "layer": "99", "tok": "-1", "cf": "nan", "order": "random"})
    assert_clean(at)
    assert at.slider(key="moe_layer").value == 0 and at.slider(key="moe_cf").value == 1.0
    for name in ("layer", "tok", "cf", "order"):
        assert f"`{name}`" in infos(at)
    at = run_page(PAGE, query={"view": "size", "preset": "GPT-5", "experts": "0", "dtype": "fp64"})
    assert_clean(at)
    assert metrics(at)["Total parameters"] == "46.7B"
    for name in ("preset", "experts", "dtype"):
        assert f"`{name}`" in infos(at)


def test_the_next_button_walks_through_the_sections():
    at = run_page(PAGE)
    at.button(key="moe_next").click().run()
    assert_clean(at)
    assert at.button_group(key="moe_view").value == "model"

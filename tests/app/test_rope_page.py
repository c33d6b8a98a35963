"""The RoPE page: every section renders, lesson numbers are computed and shown, links restore the view."""
import pytest

from tests.app.conftest import assert_clean, run_page

PAGE = "pages/rope.py"
SECTIONS = ["2d", "full", "extend", "model", "gpt2"]


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def infos(at) -> str:
    return " ".join(i.value for i in at.info)


@pytest.mark.parametrize("view", SECTIONS)
def test_every_section_renders_its_figures_without_errors(view):
    at = run_page(PAGE, query={"view": view})
    assert_clean(at)
    assert at.title[0].value.startswith("🌀 RoPE")
    assert charts(at) >= {"2d": 2, "full": 3, "extend": 3, "model": 2, "gpt2": 1}[view]


def test_the_2d_lesson_shows_the_computed_scores_and_follows_the_sliders():
    at = run_page(PAGE)
    assert_clean(at)
    # the lesson's two numbers side by side on the first screen, then the sliders' own score
    assert [m.value for m in at.metric[:3]] == ["0.936998", "-0.794779", "0.936998"]
    assert "(4, 2) and (14, 12)" in at.metric[0].label and "(14, 2)" in at.metric[1].label
    table = at.table[0].value
    assert list(table["score"]) == ["0.936998", "0.936998", "-0.794779"]
    at.slider(key="rope_m").set_value(14).run()
    assert at.metric[2].value == "-0.794779"          # (14, 2): another gap
    at.slider(key="rope_n").set_value(12).run()
    assert at.metric[2].value == "0.936998"           # (14, 12): the same gap as (4, 2)
    assert at.query_params["m"] in ("14", ["14"]) and at.query_params["n"] in ("12", ["12"])


def test_a_deep_link_restores_the_2d_view():
    at = run_page(PAGE, query={"view": "2d", "m": "14", "n": "2", "theta": "0.4"})
    assert_clean(at)
    assert (at.slider(key="rope_m").value, at.slider(key="rope_n").value) == (14, 2)
    assert at.metric[2].value == "-0.794779"


def test_a_deep_link_restores_the_real_model_view():
    q = {"view": "model", "text": "one two three four five six", "layer": "2", "head": "3", "which": "k",
         "pairs": "0,3", "tok": "4"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    assert at.text_area(key="rope_text").value == "one two three four five six"
    assert at.slider(key="rope_layer").value == 2 and at.slider(key="rope_head").value == 3
    assert at.radio(key="rope_which").value == "k"
    assert at.multiselect(key="rope_pairs").value == [0, 3]
    assert at.slider(key="rope_tok").value == 4
    assert "reads key head 1" in " ".join(m.value for m in at.markdown)   # GQA: query head 3 -> key head 1


def test_the_real_model_section_shows_our_rotation_matches_the_model():
    at = run_page(PAGE, query={"view": "model"})
    assert_clean(at)
    by_label = {m.label: m.value for m in at.metric}
    assert float(by_label["Our k vs the model's k"]) < 1e-5
    assert float(by_label["Our attention vs the model's"]) < 1e-5
    assert float(by_label["k error, interleaved pairs"]) > 0.01


def test_empty_text_gets_a_friendly_prompt_and_no_chart():
    at = run_page(PAGE, query={"view": "model"})
    at.text_area(key="rope_text").set_value("   ").run()
    assert_clean(at)
    assert "Type a sentence" in infos(at)
    assert charts(at) == 0


def test_the_extension_section_computes_factor_ntk_base_and_yarn_temperature():
    at = run_page(PAGE, query={"view": "extend"})
    assert_clean(at)
    text = " ".join(m.value for m in at.markdown)
    assert "**8**" in text and "82,685" in text and "1.2079" in text
    at.selectbox(key="rope_target").set_value(16384).run()
    assert "**4**" in " ".join(m.value for m in at.markdown)


def test_the_gpt2_section_shows_a_table_whose_every_row_was_trained():
    """The tiny GPT-2's table has exactly its 256 trained rows (issue 14), so no row is marked untrained;
    a table longer than the trained window is marked (pages/rope.py, `trained < n_table`)."""
    from explorer.models import registry
    at = run_page(PAGE, query={"view": "gpt2"})
    assert_clean(at)
    assert registry.get("tiny-gpt2").trained_length == 256
    assert "never received a gradient" not in infos(at)
    labels = [m.label for m in at.metric]
    assert any("RoPE" in label for label in labels)


def test_nonsense_link_values_fall_back_with_notices():
    at = run_page(PAGE, query={"view": "nope", "m": "999", "theta": "nan", "n": "<script>"})
    assert_clean(at)
    notes = infos(at)
    for name in ("view", "m", "theta", "n"):
        assert f"`{name}`" in notes
    assert at.metric[0].value == "0.936998"   # defaults: the lesson's (4, 2)


def test_nonsense_model_section_values_fall_back():
    at = run_page(PAGE, query={"view": "model", "layer": "99", "head": "-1", "pairs": "0,999", "which": "v"})
    assert_clean(at)
    assert at.slider(key="rope_layer").value == 0 and at.slider(key="rope_head").value == 0
    assert "`layer`" in infos(at) and "`pairs`" in infos(at)


def test_the_next_button_walks_through_the_sections():
    at = run_page(PAGE)
    at.button(key="rope_next").click().run()
    assert_clean(at)
    assert at.button_group(key="rope_view").value == "full"

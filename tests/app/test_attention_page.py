"""The attention page in AppTest: every model mode and view, deep links, bad links, empty and hostile text,
and the promise that moving a control never re-runs the model."""
import pytest

from explorer import bertviz_view
from explorer.ui import attention as ui_attention
from tests.app.conftest import assert_clean, run_page

PAGE = "pages/attention.py"
VIEWS = ["head", "layer", "model", "focus", "summary", "bertviz"]


@pytest.fixture(scope="module", autouse=True)
def bertviz_js():
    """Test set-up fetches bertviz's JavaScript from the npm registry into the local cache (as
    `python -m explorer.download --js` does); the page must work without it too."""
    problems = bertviz_view.fetch_js()
    return not problems


def charts(at):
    return at.get("plotly_chart")


def iframes(at):
    return at.get("iframe")


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


@pytest.mark.parametrize("model", ["bert", "gpt2", "both"])
def test_each_model_mode_draws_its_heatmaps_with_the_mask_explained(model):
    at = run_page(PAGE, query={"model": model})
    assert_clean(at)
    n = 2 if model == "both" else 1
    assert len(charts(at)) == n
    text = captions(at)
    assert ("Causal mask" in text) == (model != "bert")
    assert ("Bidirectional" in text) == (model != "gpt2")
    assert "largest weight above the diagonal is 0 " in text or model == "bert"   # computed: exactly zero


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_runs_side_by_side(view):
    at = run_page(PAGE, query={"view": view})
    assert_clean(at)
    if view == "bertviz":
        assert len(iframes(at)) == 2
    else:
        assert len(charts(at)) == 2
    assert at.get("download_button"), "every figure offers its numbers"


@pytest.mark.parametrize("kind", ["head", "model", "neuron"])
def test_bertviz_views_inline_the_cached_javascript(kind, bertviz_js):
    at = run_page(PAGE, query={"view": "bertviz", "bv": kind, "model": "bert"})
    assert_clean(at)
    html = iframes(at)[0].proto.srcdoc
    assert "bertviz" in html and len(html) > 100_000
    if bertviz_js:   # offline: the libraries are inlined and nothing points at a CDN
        assert "https://d3js.org v5.7.0" in html and "jQuery v2.2.4" in html and "requirejs" in html.lower()
        assert "<script src=" not in html and "cdnjs" not in html
    assert "tokens" in captions(at) and "MB of HTML" in captions(at)


def test_changing_layer_head_view_and_options_never_reruns_the_model(monkeypatch):
    from explorer import attention as A
    passes = []
    real = A.run_attention
    monkeypatch.setattr(A, "run_attention", lambda lm, text, n: passes.append(lm.spec.id) or real(lm, text, n))
    ui_attention._compute.clear()
    at = run_page(PAGE, query={"model": "both", "text": "A fresh sentence for counting forward passes."})
    assert_clean(at)
    before = len(passes)
    assert before == 2, "one forward pass per model"
    at.slider(key="att_layer").set_value(2).run()
    at.slider(key="att_head").set_value(3).run()
    at.checkbox(key="att_hide").check().run()
    at.checkbox(key="att_merge").check().run()
    at.radio(key="att_heads").set_value("mean").run()
    at.checkbox(key="att_rollout").check().run()
    for view in ["layer", "model", "focus", "summary", "head"]:
        at.segmented_control(key="att_view").set_value(view).run()
        assert_clean(at)
    assert len(passes) == before, "a re-draw ran the model again"
    assert at.query_params["layer"] == "2" and at.query_params["head"] == "3"
    # a new text or a new token limit is a new forward pass (once per model)
    at.text_input(key="att_text").input("Another sentence.").run()
    assert len(passes) == before + 2
    at.number_input(key="att_limit").set_value(64).run()
    assert len(passes) == before + 4


def test_deep_link_restores_the_view():
    query = {"text": "The keys to the cabinet are on the table.", "model": "gpt2", "view": "layer", "layer": "2",
             "head": "1", "merge": "1", "hide": "1", "renorm": "0", "limit": "64"}
    at = run_page(PAGE, query=query)
    assert_clean(at)
    assert at.text_input(key="att_text").value == query["text"]
    assert at.radio(key="att_model").value == "gpt2"
    assert at.segmented_control(key="att_view").value == "layer"
    assert at.slider(key="att_layer").value == 2 and at.slider(key="att_head").value == 1
    assert at.checkbox(key="att_merge").value and at.checkbox(key="att_hide").value
    assert not at.checkbox(key="att_renorm").value
    assert at.number_input(key="att_limit").value == 64
    assert "merged into" in captions(at)
    for k, v in query.items():
        assert at.query_params[k] == v          # and the link stays as it was


def test_summary_and_focus_links_restore_their_choices():
    at = run_page(PAGE, query={"view": "summary", "stat": "previous", "model": "gpt2"})
    assert_clean(at)
    assert at.radio(key="att_stat").value == "previous"
    assert "Previous-token score" in captions(at)
    at = run_page(PAGE, query={"view": "focus", "tok_bert": "3", "model": "bert"})
    assert_clean(at)
    assert at.selectbox(key="att_tok_bert").value == 3


def test_nonsense_link_values_fall_back_with_a_notice():
    at = run_page(PAGE, query={"model": "llama", "view": "3d", "layer": "99", "head": "-1", "limit": "1e9",
                               "heads": "median", "stat": "x", "hide": "maybe"})
    assert_clean(at)
    notices = " ".join(i.value for i in at.info)
    for name in ["model", "view", "layer", "head", "limit", "heads", "hide"]:
        assert f"`{name}`" in notices, name
    assert at.radio(key="att_model").value == "both" and at.slider(key="att_layer").value == 0
    assert len(charts(at)) == 2


def test_empty_text_gets_a_friendly_prompt_and_no_chart():
    at = run_page(PAGE, query={"text": "   "})
    assert_clean(at)
    assert any("Type a sentence" in i.value for i in at.info)
    assert not charts(at)


def test_html_and_emoji_text_is_shown_as_text():
    hostile = "<script>alert(1)</script> <b>bold</b> 🙂 [x](javascript:alert(2))"
    at = run_page(PAGE, query={"text": hostile, "view": "focus", "merge": "1"})
    assert_clean(at)
    for m in at.markdown:
        assert not (m.proto.allow_html and ("<script" in m.value or "<b>" in m.value))
    spec = " ".join(c.proto.spec for c in charts(at))
    assert "<script>" not in spec and "<b>bold" not in spec      # plotly would render <b>; labels are escaped
    assert "&lt;" in spec


def test_presenter_mode_collapses_explanations():
    at = run_page(PAGE, query={"present": "1", "view": "summary"})
    assert_clean(at)
    assert len(charts(at)) == 2
    assert at.expander, "explanations and options are tucked into expanders"


def test_long_text_is_cut_at_the_token_limit_with_a_notice():
    at = run_page(PAGE, query={"text": "word " * 300, "limit": "40", "model": "bert"})
    assert_clean(at)
    assert any("40 of its" in w.value for w in at.warning)


def test_clicked_head_reads_the_selection_of_a_click():
    state = {"selection": {"points": [{"customdata": [2, 3], "point_index": 11}]}}
    assert ui_attention.clicked_head(state) == (2, 3)
    assert ui_attention.clicked_head({"selection": {"points": [{"point_index": 7}]}}, n_heads=4) == (1, 3)
    assert ui_attention.clicked_head({"selection": {"points": []}}) is None
    assert ui_attention.clicked_head(None) is None

"""The families page: every section renders, the lesson's rows are shown, links restore the view, junk and
hostile input never break it, and re-draws never re-run the models."""
import pytest

from explorer import families as F
from explorer.ui import families as ui_families
from tests.app.conftest import assert_clean, run_page

PAGE = "pages/families.py"
HOSTILE = "<script>alert(1)</script> **bold** 😀 漢字 مرحبا \u202e\x00 [MASK]"


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def text_of(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.code]
    parts += [i.value for i in at.info] + [w.value for w in at.warning] + [s.value for s in at.success]
    return " ".join(parts)


@pytest.mark.parametrize("view,n_charts", [("masks", 2), ("objectives", 3), ("translator", 2), ("fewshot", 2)])
def test_every_section_renders_its_figures_without_errors(view, n_charts):
    at = run_page(PAGE, query={"view": view})
    assert_clean(at)
    assert at.title[0].value.startswith("👪")
    assert charts(at) >= n_charts


def test_masks_default_shows_the_lessons_rows_and_a_decoder_inside_its_mask():
    at = run_page(PAGE)
    assert_clean(at)
    text = text_of(at)
    assert "causal: `[1, 1, 1, 0]`" in text and "bidirectional: `[1, 1, 1, 1]`" in text
    assert "is **0** in the decoder" in text
    assert "outside the mask, over all layers and heads: **0.0000%**" in text


@pytest.mark.parametrize("query", [{"fam": "encoder"}, {"fam": "encoder-decoder", "part": "enc"},
                                   {"fam": "encoder-decoder", "part": "dec"},
                                   {"fam": "encoder-decoder", "part": "cross"}])
def test_every_family_and_attention_shows_its_mask_beside_the_model(query):
    at = run_page(PAGE, query={"view": "masks", **query})
    assert_clean(at)
    assert at.selectbox(key="fam_fam").value == query["fam"]
    assert charts(at) >= 2
    if query.get("part") == "dec":
        assert "**0.0000%**" in text_of(at)


def test_translator_deep_link_restores_input_layer_and_head_and_checks_the_answer():
    q = {"view": "translator", "s2s": "cab", "layer": "0", "head": "1"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    assert at.text_input(key="fam_s2s").value == "cab"
    assert at.slider(key="fam_layer").value == 0 and at.selectbox(key="fam_head").value == "1"
    line = next(m.value for m in at.markdown if m.value.startswith("cab → "))
    assert "✓ spelled backwards correctly" in line or "expected: bac" in line


def test_moving_layer_head_and_step_never_reruns_the_models(monkeypatch):
    runs = []
    real = F.run_seq2seq
    monkeypatch.setattr(F, "run_seq2seq", lambda *a, **k: runs.append(a[2]) or real(*a, **k))
    ui_families._seq2seq.clear()
    at = run_page(PAGE, query={"view": "translator", "s2s": "lantern"})
    assert_clean(at)
    assert runs == ["lantern"], "one encoder-decoder run"
    at.slider(key="fam_layer").set_value(0).run()
    at.selectbox(key="fam_head").set_value("2").run()
    at.segmented_control(key="fam_view").set_value("objectives").run()
    at.slider(key="fam_gen").set_value(2).run()
    at.segmented_control(key="fam_view").set_value("masks").run()
    at.selectbox(key="fam_fam").set_value("encoder-decoder").run()
    assert_clean(at)
    assert runs == ["lantern"], "a re-draw ran the encoder-decoder again"
    assert at.query_params["layer"] in ("0", ["0"]) and at.query_params["head"] in ("2", ["2"])


def test_objectives_show_fill_mask_next_token_and_generation_step_by_step():
    at = run_page(PAGE, query={"view": "objectives", "obj": "the [MASK] opened the door", "s2s": "door", "gen": "2"})
    assert_clean(at)
    assert at.slider(key="fam_gen").value == 2
    assert "Output after 2 of" in text_of(at)
    assert any(m.value.startswith("door → **") for m in at.markdown)
    at = run_page(PAGE, query={"view": "objectives", "obj": "no mask here"})
    assert_clean(at)
    assert "Put `[MASK]` in the sentence" in text_of(at)


def test_few_shot_table_runs_every_order_and_says_whether_it_beats_guessing():
    at = run_page(PAGE, query={"view": "fewshot"})
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table["shots"]) == [0, 1, 2, 3] and list(table["orders"]) == [1, 3, 6, 6]
    verdicts = [w.value for w in at.warning] + [s.value for s in at.success]
    assert any(v.startswith("At chance") or v.startswith("Above chance") for v in verdicts)
    assert "Guessing: 33%" in text_of(at)


def test_few_shot_deep_link_with_an_edited_set_and_one_message():
    labelled = "S|Refund|I want my money back.\nT|Shipping|Where is my parcel?\nT|Account|I cannot log in."
    at = run_page(PAGE, query={"view": "fewshot", "set": labelled, "msg": "My card was charged twice.", "k": "1"})
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table["shots"]) == [0, 1] and list(table["orders"]) == [1, 1]
    assert at.slider(key="fam_k").value == 1
    assert at.text_input(key="fam_msg").value == "My card was charged twice."
    assert F.build_prompt("My card was charged twice.", (F.Example("I want my money back.", "Refund"),)) in \
        " ".join(c.value for c in at.code)


def test_a_set_too_long_for_the_model_says_so_and_the_page_goes_on():
    """Six 200-character shots of CJK text (several byte-level tokens a character) cannot fit in the tiny decoder's
    256 positions: the few-shot section says so with its own warning, not an error."""
    shot = "注文" * 100
    labelled = "\n".join([f"S|Refund|{shot}"] * 6 + ["T|Shipping|Where is my parcel?"])
    at = run_page(PAGE, query={"view": "fewshot", "set": labelled})
    assert_clean(at)
    assert any("over this model's" in w.value and "positions" in w.value for w in at.warning), \
        [w.value for w in at.warning]
    assert not at.error


def test_junk_link_values_fall_back_with_notices():
    q = {"view": "nope", "fam": "mixture", "part": "zz", "layer": "99", "head": "x", "gen": "-3", "k": "77",
         "set": "T|Billing|hello", "present": "1"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    assert at.segmented_control(key="fam_view").value == "masks"
    assert "Ignored the link's `view` value" in text_of(at)
    for view in ("objectives", "translator", "fewshot"):
        at = run_page(PAGE, query={**q, "view": view})
        assert_clean(at)
    assert "Ignored the link's `set` value" in text_of(at)


@pytest.mark.parametrize("view", ["masks", "objectives", "translator", "fewshot"])
def test_hostile_and_empty_text_never_break_a_section(view):
    at = run_page(PAGE, query={"view": view, "text": HOSTILE, "obj": HOSTILE, "s2s": HOSTILE, "msg": HOSTILE,
                               })
    assert_clean(at)
    assert not any("<script>" in m.value for m in at.markdown)
    at = run_page(PAGE, query={"view": view, "text": "", "obj": "", "s2s": "", "msg": ""})
    assert_clean(at)
    assert at.info, "an empty text gets a friendly prompt"

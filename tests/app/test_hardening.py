"""Issue 12's reproducers as regressions: no link value or model folder can crash a page, inject
markdown, or stall a rerun."""
import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from explorer.models import registry
from tests.app.conftest import assert_clean, run_page
from tests.app.safety import PAYLOAD, foreign_links


def plain(elements) -> str:
    """What the page shows: the elements' markdown with its escapes taken out."""
    return " ".join(e.value for e in elements).replace("\\", "")


def _unsafe_script():
    import streamlit as st

    from tests.app.safety import PAYLOAD
    st.info(f"Ignored the link's `layer` value ({PAYLOAD})")
    st.plotly_chart({"data": [{"type": "bar", "x": ['<a href="http://evil.example">x</a>'], "y": [1]}]})


def test_the_detector_sees_an_unescaped_payload():
    """The check below can fail: the old notice (raw value in markdown) is caught, and so is a plotly link."""
    at = AppTest.from_function(_unsafe_script, default_timeout=30).run()
    found = " ".join(foreign_links(at))
    assert "image" in found and "link_open" in found and "autolink" in found and "plotly" in found


# ---------------------------------------------------------------- 1. markdown injection through notices
def test_a_link_value_notice_names_the_parameter_and_reason_but_not_the_value():
    at = run_page("pages/attention.py", query={"layer": "![i](http://evil.example/t.png)"})
    assert_clean(at)
    notices = [i.value for i in at.info if "layer" in i.value]
    assert notices == ["Ignored the link's `layer` value (not a whole number); using the default."]
    assert not foreign_links(at)


def test_a_huge_float_value_gives_a_short_notice():
    at = run_page("pages/moe.py", query={"view": "model", "cf": "a" * 20_000})
    assert_clean(at)
    notice = next(i.value for i in at.info if "`cf`" in i.value)
    assert notice == "Ignored the link's `cf` value (not a number); using the default."


@pytest.fixture
def custom_models(monkeypatch):
    monkeypatch.setenv("EXPLORER_ALLOW_CUSTOM_MODELS", "1")


def test_a_custom_model_id_is_not_rendered_as_markdown(custom_models):
    at = run_page("pages/attention.py", query={"decoder": PAYLOAD, "model": "gpt2"})
    assert not at.exception
    assert at.error, "a model id that is neither a folder nor a hub id gets one sentence"
    assert "neither a folder on this server nor a hub id" in at.error[0].value
    assert not foreign_links(at)


# ---------------------------------------------------------------- 2. a corrupt config.json
@pytest.mark.parametrize("config_bytes, says", [
    (b'{"model_type": "bert", "architectures": [', "not valid JSON"),
    (b'["bert"]', "JSON list, not an object"),
    (b"\xff\xfe{\x00", "not UTF-8"),
])
def test_a_corrupt_config_is_one_sentence_on_the_page(custom_models, tmp_path, config_bytes, says):
    folder = tmp_path / "broken"
    shutil.copytree(registry.BUNDLED_DIR / "tiny-bert", folder)
    (folder / "config.json").write_bytes(config_bytes)
    at = run_page("pages/attention.py", query={"encoder": str(folder), "model": "bert"})
    assert not at.exception
    assert len(at.error) == 1 and says in plain(at.error)
    assert str(folder)[:15] in plain(at.error) and "/broken" in plain(at.error)   # as typed, cut in the middle


# ---------------------------------------------------------------- 3. a model of the wrong family
@pytest.fixture
def bert_folder(tmp_path):
    folder = tmp_path / "my-bert"
    shutil.copytree(registry.BUNDLED_DIR / "tiny-bert", folder)
    return str(folder)


@pytest.mark.parametrize("page, query", [
    ("pages/generation.py", {"model": "decoder"}),
    ("pages/attention.py", {"model": "gpt2"}),
    ("pages/kv-cache.py", {"view": "measured"}),
])
def test_an_encoder_in_the_decoder_slot_is_refused_naming_both_families(custom_models, bert_folder, page, query):
    at = run_page(page, query={"decoder": bert_folder, **query})
    assert not at.exception
    errors = plain(at.error)
    assert registry.FAMILY_NAMES["encoder"] in errors and registry.FAMILY_NAMES["decoder"] in errors
    assert "AttributeError" not in errors and "Something went wrong" not in errors


@pytest.mark.parametrize("page, query", [
    ("pages/rope.py", {"view": "model"}),
    ("pages/moe.py", {"view": "model"}),
])
def test_an_encoder_in_the_rope_and_moe_slots_is_refused(custom_models, bert_folder, page, query):
    at = run_page(page, query={"rope": bert_folder, "moe": bert_folder, **query})
    assert not at.exception
    errors = plain(at.error)
    assert "this slot needs a" in errors and registry.FAMILY_NAMES["encoder"] in errors


def test_a_failing_step_callback_is_one_sentence_not_a_traceback(monkeypatch):
    from explorer import generation as G
    at = run_page("pages/generation.py", query={"decode": "greedy"})
    assert_clean(at)

    def broken(self, *a, **k):
        raise AttributeError("'BaseModelOutput' object has no attribute 'logits'")
    monkeypatch.setattr(G.Generation, "step", broken)
    at.button(key="gen_step").click().run()
    assert not at.exception
    assert any("Could not show the next token" in e.value and "AttributeError" in e.value for e in at.error)
    monkeypatch.undo()
    at.run()
    assert not at.error                                   # shown once, not on every later rerun


# ---------------------------------------------------------------- 5. the smaller items
def test_fill_mask_on_a_bare_encoder_says_why(custom_models, tmp_path):
    from tests.conftest import bundled_model
    src = bundled_model("tiny-bert")
    src.model.bert.save_pretrained(tmp_path / "bare", safe_serialization=True)
    src.tokenizer.save_pretrained(tmp_path / "bare")
    at = run_page("pages/generation.py", query={"model": "encoder", "encoder": str(tmp_path / "bare")})
    assert not at.exception
    text = plain(at.error)
    assert "without its masked-language-model head" in text and "Something went wrong" not in text


def test_a_missing_local_path_says_so_and_home_is_not_shown(custom_models, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "server-home"))
    at = run_page("pages/attention.py", query={"decoder": "~/models/nothing-here", "model": "gpt2"})
    text = plain(at.error)
    assert "There is no folder ~/models/nothing-here on this server" in text
    assert "server-home" not in text and "cache" not in text


def test_a_custom_model_is_named_by_what_was_typed(custom_models, bert_folder):
    at = run_page("pages/attention.py", query={"encoder": bert_folder, "model": "bert"})
    assert_clean(at)
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    assert title.startswith(bert_folder[:15]) and "/my-bert · " in title     # the path as typed, not "model"


def test_the_head_summary_keeps_special_tokens_upper_case():
    at = run_page("pages/attention.py", query={"view": "summary", "model": "bert", "stat": "sep"})
    assert_clean(at)
    text = plain(at.caption)
    assert "Share to [SEP]" in text and "[sep]" not in text


def test_moe_token_labels_are_escaped():
    at = run_page("pages/moe.py", query={"view": "model", "text": PAYLOAD})
    assert_clean(at)
    assert not foreign_links(at)

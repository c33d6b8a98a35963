"""The app shell: home page, sidebar model choice per family, presenter mode, URL state."""
from explorer.ui.nav import existing
from tests.app.conftest import assert_clean, run_page


def test_home_page_lists_only_existing_pages_and_the_models():
    at = run_page()
    assert_clean(at)
    assert at.title[0].value.endswith("Transformer Explorer")
    rows = at.table[0].value
    assert list(rows["family"]) == ["Encoder (BERT)", "Decoder (GPT-2)", "RoPE decoder (Llama)",
                                    "MoE decoder (Mixtral)", "Encoder-decoder (T5)", "Vision-language (LLaVA)"]
    # offline here: the bundled twins are the defaults, and the page says we are offline
    assert list(rows["model"])[:2] == ["tiny BERT (bundled)", "tiny GPT-2 (bundled)"]
    assert any("Offline" in i.value for i in at.info)
    for page in existing():
        assert page.exists


def test_sidebar_has_a_model_choice_per_family_and_a_presenter_toggle():
    at = run_page()
    labels = [s.label for s in at.sidebar.selectbox]
    assert labels == ["Encoder (BERT)", "Decoder (GPT-2)", "RoPE decoder (Llama)", "MoE decoder (Mixtral)",
                      "Encoder-decoder (T5)", "Vision-language (LLaVA)"]
    assert at.sidebar.toggle[0].label == "Presenter mode" and at.sidebar.toggle[0].value is False


def test_present_1_in_the_url_turns_presenter_mode_on():
    at = run_page(query={"present": "1"})
    assert_clean(at)
    assert at.sidebar.toggle[0].value is True
    assert any("font-size: 1.35rem" in m.value for m in at.markdown)   # presenter stylesheet injected


def test_a_model_in_the_url_is_selected_and_kept_in_the_url():
    # note: AppTest (streamlit 1.67) shows the sidebar of app.py only in the first run's element tree,
    # so sidebar choices are driven through the URL, as a shared link would
    at = run_page(query={"encoder": "bert-base-uncased", "rope": "tiny-llama"})
    assert at.sidebar.selectbox[0].value == "bert-base-uncased"
    assert at.query_params.get("encoder") == "bert-base-uncased"   # not the default: stays in the link
    assert "rope" not in at.query_params                           # the default: left out of the link


def test_nonsense_query_values_fall_back_with_a_notice():
    at = run_page(query={"present": "maybe", "decoder": "<script>alert(1)</script>", "moe": "x" * 5000})
    assert_clean(at)
    notices = " ".join(i.value for i in at.info)
    assert "present" in notices and "decoder" in notices and "moe" in notices
    assert at.sidebar.toggle[0].value is False
    assert at.sidebar.selectbox[1].value == "tiny-gpt2"
    assert not any("<script>" in m.value for m in at.markdown)

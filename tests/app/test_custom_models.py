"""The README's `EXPLORER_ALLOW_CUSTOM_MODELS=1 streamlit run app.py`: a local HF-format folder, named in the
sidebar (or the link), is loaded through the same loader and drives the page."""
import shutil

from explorer.models.registry import BUNDLED_DIR
from tests.app.conftest import assert_clean, run_page


def test_custom_model_folder_loads_through_the_sidebar(monkeypatch, tmp_path):
    folder = tmp_path / "my-gpt2"
    shutil.copytree(BUNDLED_DIR / "tiny-gpt2", folder)
    monkeypatch.setenv("EXPLORER_ALLOW_CUSTOM_MODELS", "1")
    at = run_page("pages/attention.py", query={"decoder": str(folder), "model": "gpt2"})
    assert_clean(at)
    assert any(e.label == "Other models" for e in at.sidebar.expander)
    assert at.sidebar.selectbox[1].value == str(folder)          # the decoder slot holds the folder
    from explorer.ui import models
    held = models.loaded_models()
    assert str(folder) in held and held[str(folder)].model.config.model_type == "gpt2"


def test_without_the_setting_a_link_cannot_name_a_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("EXPLORER_ALLOW_CUSTOM_MODELS", raising=False)
    at = run_page("pages/attention.py", query={"decoder": str(tmp_path)})
    assert_clean(at)
    assert not any(e.label == "Other models" for e in at.sidebar.expander)
    assert at.sidebar.selectbox[1].value != str(tmp_path)

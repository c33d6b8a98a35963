"""Models for the pages: the sidebar choice per family, loaded once per process for all sessions."""
from __future__ import annotations

import threading

import streamlit as st

from explorer.models import loader, registry
from explorer.models.loader import LoadedModel, ModelLoadError
from explorer.ui.state import UrlState

# URL names of the sidebar's model choice per family
URL_NAMES = {"encoder": "encoder", "decoder": "decoder", "rope-decoder": "rope", "moe-decoder": "moe"}

_loaded_lock = threading.Lock()
_loaded: dict[str, LoadedModel] = {}   # every model this process holds: what the home page lists


@st.cache_resource(max_entries=8, show_spinner=False)
def _load(model_id: str, _progress=None) -> LoadedModel:
    lm = loader.load(model_id, progress=_progress)
    with _loaded_lock:
        _loaded[model_id] = lm
    return lm


@st.cache_data(ttl=300, show_spinner=False)
def default_model(family: str) -> str:
    return loader.default_model(family)


def loaded_models() -> dict[str, LoadedModel]:
    with _loaded_lock:
        return dict(_loaded)


def get(model_id: str) -> LoadedModel | None:
    """The loaded model (shared by all sessions), with its fallback banner; None after an error message."""
    bar = None

    def progress(fraction: float, message: str):
        nonlocal bar
        bar = bar or st.progress(0.0)
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        with st.spinner(f"Loading {model_id}…"):
            lm = _load(model_id, _progress=progress)
    except ModelLoadError as e:
        st.error(str(e), icon="⚠️")
        return None
    finally:
        if bar is not None:
            bar.empty()
    if lm.notice:
        st.info(lm.notice, icon="📦")
    return lm


def choices(family: str) -> list[str]:
    return [s.id for s in registry.for_family(family)]


def label(model_id: str) -> str:
    spec = registry.get(model_id)
    return spec.display_name if spec else model_id


def sidebar_choice(family: str, url: UrlState) -> str:
    """The model select box of one family (its value lives in the URL); custom ids where allowed."""
    options = choices(family)
    default = default_model(family)
    custom_key = f"custom_{URL_NAMES[family]}"
    custom_allowed = loader.custom_models_allowed()
    raw = st.query_params.get(URL_NAMES[family])
    if custom_allowed and raw and raw not in options and custom_key not in st.session_state:
        st.session_state[custom_key] = raw  # a link to a custom model
    custom = st.session_state.get(custom_key, "").strip() if custom_allowed else ""
    if custom:
        options = options + [custom]
    url.choice(URL_NAMES[family], default, options)
    value = st.selectbox(registry.FAMILY_NAMES[family], options, key=url.key(URL_NAMES[family]),
                         format_func=label)
    return value


def custom_inputs() -> None:
    """Text boxes for a hub id or local folder per family; only where the server allows it."""
    if not loader.custom_models_allowed():
        return
    with st.expander("Other models"):
        st.caption("A Hugging Face hub id or a local folder in HF format (safetensors only).")
        for family, name in URL_NAMES.items():
            st.text_input(registry.FAMILY_NAMES[family], key=f"custom_{name}", max_chars=300)


def chosen(family: str) -> str:
    """The model id the sidebar has chosen for a family (the sidebar runs before every page)."""
    return st.session_state.get(URL_NAMES[family]) or default_model(family)

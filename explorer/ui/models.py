"""Models for the pages: the sidebar choice per family, loaded once per process for all sessions."""
from __future__ import annotations

import streamlit as st

from explorer.models import loader, pool, registry
from explorer.models.loader import LoadedModel
from explorer.text import md
from explorer.ui.errors import log, message_for
from explorer.ui.state import UrlState

# URL names of the sidebar's model choice per family
URL_NAMES = {"encoder": "encoder", "decoder": "decoder", "rope-decoder": "rope", "moe-decoder": "moe",
             "seq2seq": "seq2seq", "vision-language": "vlm"}

CUSTOM_MAX_CHARS = 300

# every model this process holds, loaded once for all sessions within EXPLORER_MEMORY_MB (explorer.models.pool)
POOL = pool.ModelPool(pool.memory_budget_mb() * 2**20, load=lambda *a, **k: loader.load(*a, **k))
MAX_MODELS = POOL.max_models


@st.cache_data(ttl=300, show_spinner=False)
def default_model(family: str) -> str:
    return loader.default_model(family)


def loaded_models() -> dict[str, LoadedModel]:
    """The models loaded right now (one the budget unloaded is gone from this list)."""
    return POOL.held()


def slot_family(model_id: str) -> str | None:
    """The family of the sidebar slot that chose `model_id` (a registry model: its own family)."""
    spec = registry.get(model_id)
    if spec is not None:
        return spec.family
    slots = [f for f, name in URL_NAMES.items() if st.session_state.get(name) == model_id]
    return slots[0] if len(slots) == 1 else None


def get(model_id: str, family: str | None = None) -> LoadedModel | None:
    """The loaded model (shared by all sessions), with its fallback banner; None after an error message.

    family: the family the page's slot needs (default: the sidebar slot that chose `model_id`); a
    model of another family is refused with a sentence naming both. Any failure while reading or
    loading a model folder is one sentence, never a traceback.
    """
    family = family or slot_family(model_id)
    bar = None

    def progress(fraction: float, message: str):
        nonlocal bar
        bar = bar or st.progress(0.0)
        bar.progress(min(max(fraction, 0.0), 1.0), text=md(message))

    try:
        with st.spinner(f"Loading {md(label(model_id), 80)}…"):
            lm, unloaded = POOL.get(model_id, family, progress=progress)
    except Exception as e:  # noqa: BLE001 - a model folder is untrusted input
        log.exception("loading %r", model_id)
        st.error(md(message_for(e)), icon="⚠️")
        return None
    finally:
        if bar is not None:
            bar.empty()
    for notice in unloaded:
        st.info(md(notice), icon="♻️")
    if lm.notice:
        st.info(md(lm.notice), icon="📦")
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
        st.session_state[custom_key] = raw[:CUSTOM_MAX_CHARS]  # a link to a custom model
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
            st.text_input(registry.FAMILY_NAMES[family], key=f"custom_{name}", max_chars=CUSTOM_MAX_CHARS)


def chosen(family: str) -> str:
    """The model id the sidebar has chosen for a family (the sidebar runs before every page)."""
    return st.session_state.get(URL_NAMES[family]) or default_model(family)

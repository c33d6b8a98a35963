"""Errors as one clear sentence in the page; the traceback goes to the server log only."""
from __future__ import annotations

import contextlib
import logging

import streamlit as st

from explorer.models.loader import ModelLoadError

log = logging.getLogger("explorer")


def message_for(e: BaseException) -> str:
    if isinstance(e, ModelLoadError):
        return str(e)
    if isinstance(e, MemoryError):
        return "That needs more memory than this server has; try a shorter text or a smaller model."
    return f"Something went wrong ({type(e).__name__}); try another input. The details are in the server log."


@contextlib.contextmanager
def guard(what: str = "this view"):
    """Run a section of a page; on failure show one sentence and keep the rest of the page."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - never a traceback (st.stop/rerun are BaseExceptions: they pass)
        log.exception("error in %s", what)
        st.error(f"Could not show {what}: {message_for(e)}", icon="⚠️")

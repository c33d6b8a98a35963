"""Errors as one clear sentence in the page; the traceback goes to the server log only.

One guard for everything a page runs: its body (`with guard(...)`, and app.py runs every page
inside one), its fragments, and its widget callbacks (`@callback(...)` on Step, Play, Branch and
other buttons). A callback runs before the script, where nothing can be drawn: its failure is kept
and shown by the next guard or notices slot of the run that follows.
"""
from __future__ import annotations

import contextlib
import functools
import logging
from typing import Callable

import streamlit as st

from explorer.errors import ExplainedError
from explorer.text import md
from explorer.ui.state import FAILURES

log = logging.getLogger("explorer")


def message_for(e: BaseException) -> str:
    """One plain-text sentence for a failure (escape it with md() before it reaches markdown)."""
    if isinstance(e, ExplainedError):
        return str(e)
    if isinstance(e, MemoryError):
        return "That needs more memory than this server has; try a shorter text or a smaller model."
    return f"Something went wrong ({type(e).__name__}); try another input. The details are in the server log."


def sentence(what: str, e: BaseException) -> str:
    """The markdown of a failure, everything escaped (`what` may name a model a visitor typed)."""
    return f"Could not show {md(what)}: {md(message_for(e))}"


def show_failures() -> None:
    """Show (once) the failures of callbacks that ran before this script run."""
    for message in st.session_state.pop(FAILURES, []):
        st.error(message, icon="⚠️")


@contextlib.contextmanager
def guard(what: str = "this view", failures: bool = True):
    """Run a section of a page; on failure show one sentence and keep the rest of the page.

    failures: first show what this session's callbacks failed to do (False where nothing may be
    drawn yet, e.g. around a whole page before its title)."""
    if failures:
        show_failures()
    try:
        yield
    except Exception as e:  # noqa: BLE001 - never a traceback (st.stop/rerun are BaseExceptions: they pass)
        log.exception("error in %s", what)
        st.error(sentence(what, e), icon="⚠️")


def callback(what: str) -> Callable[[Callable], Callable]:
    """Decorate a widget callback (on_click / on_change): a failure becomes one sentence on the page.

        @callback("the next token")
        def do_step(): ...
    """
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001
                log.exception("error in a callback for %s", what)
                failures = st.session_state.setdefault(FAILURES, [])
                if (message := sentence(what, e)) not in failures:
                    failures.append(message)
        return run
    return decorate


def guarded(what: str) -> Callable[[Callable], Callable]:
    """Run a whole function under guard(what): for fragments, which rerun on their own.

        @st.fragment(run_every=...)
        @guarded("the generated text")
        def player(): ...
    """
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with guard(what):
                return fn(*args, **kwargs)
        return run
    return decorate

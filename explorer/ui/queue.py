"""The forward-pass queue as a student sees it: "N requests ahead of you" while their request waits.

The queue itself (explorer.runtime.GATE) knows nothing of Streamlit; app.py runs every page inside
`waiting_notice()`, which tells the queue how to show this session's place in a placeholder.
"""
from __future__ import annotations

import contextlib
import contextvars

import streamlit as st

from explorer import runtime


def ahead_text(ahead: int) -> str:
    n = f"{ahead} request{'s' if ahead != 1 else ''}"
    return f"⏳ {n} ahead of you on this server; your answer follows as soon as it is your turn."


@contextlib.contextmanager
def waiting_notice(gate: runtime.Gate | None = None):
    """Within the block, a wait for a forward-pass slot shows this session's place in line (then goes away).

    The wait may happen inside a cached function: the notice is drawn in the context of the page outside it,
    so it is never recorded into the cache and replayed to the next visitor."""
    gate = gate or runtime.GATE
    slot = st.empty()
    outside = contextvars.copy_context()      # taken here, outside any cached function

    def draw(ahead):
        if ahead is None:
            slot.empty()
        else:
            slot.info(ahead_text(ahead))

    def hook(ahead):
        outside.run(draw, ahead)

    with gate.waiting(hook):
        yield

"""Failures the learner can act on: their message is one plain-text sentence, shown as it is.

No Streamlit here; explorer/ui/errors.py shows these sentences (escaped) and hides everything else
behind "Something went wrong (…)" with the traceback in the server log.
"""
from __future__ import annotations


class ExplainedError(Exception):
    """A failure whose message is one sentence in our words (plain text, not markdown).

    Any value in it that came from a user, a link, a file or a model is cut short; the page escapes
    the whole sentence before showing it.
    """


class NotSupported(ExplainedError, ValueError):
    """The chosen model cannot do what this view asks (e.g. fill blanks without an MLM head).

    Also a ValueError, so code that already catches ValueError for "not this kind of model" still does."""

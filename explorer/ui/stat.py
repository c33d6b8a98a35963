"""A page's headline number: one bordered metric whose small line under the value is a plain note.

Streamlit draws a metric's delta as a change (green or red, with an arrow); many of our numbers carry a
note instead ("58.3% of full", "T = 131,072", "exactly zero"), which must not look like good or bad news:

    stat(col, "Pairs scored, window 3", "21", "58.3% of full")
"""
from __future__ import annotations

import streamlit as st


def stat(where, label: str, value: str, note: str | None = None, help: str | None = None) -> None:
    """A bordered metric in `where` (a column or container; st itself by default) with `note` under it, uncoloured
    and without an arrow."""
    (where or st).metric(label, value, note, delta_color="off", delta_arrow="off", border=True, help=help)

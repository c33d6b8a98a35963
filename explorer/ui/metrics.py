"""A row of headline numbers: one `st.metric` per column, the way every page draws them.

Engine functions return the numbers as plain tuples (label, value, note, help) — note is a grey line under
the value (Streamlit's delta with neither colour nor arrow), help the tooltip; the last two may be left out.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import streamlit as st


class Metric(NamedTuple):
    label: str
    value: str
    note: str | None = None
    help: str | None = None


def metric_row(metrics: Sequence[tuple], where=None, border: bool = True) -> None:
    """One column per metric in `where` (a container; default: the page), each a (label, value, note, help)."""
    items = [Metric(*m) for m in metrics]
    for col, m in zip((where or st).columns(len(items)), items):
        col.metric(m.label, m.value, m.note, help=m.help, delta_color="off", delta_arrow="off", border=border)

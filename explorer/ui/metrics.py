"""A row of headline numbers: one bordered `stat` (explorer/ui/stat.py) per column.

Engine functions return the numbers as plain tuples (label, value, note, help) — note is a grey line under
the value, help the tooltip; the last two may be left out:

    metric_row(adapt.arm_metrics(run), stage)
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import streamlit as st

from explorer.ui.stat import stat


class Metric(NamedTuple):
    label: str
    value: str
    note: str | None = None
    help: str | None = None


def metric_row(metrics: Sequence[tuple], where=None) -> None:
    """One column per metric in `where` (a container; default: the page), each a (label, value, note, help)."""
    items = [Metric(*m) for m in metrics]
    for col, m in zip((where or st).columns(len(items)), items):
        stat(col, m.label, m.value, m.note, help=m.help)

"""Streamlit-aware helpers of the multimodal page: the image choice and the cached runs.

One caption run (a greedy generation and one forward pass) per (model, image); the ablations once per
(model, image, other image). Moving the token, layer, head or patch only slices what these hold.
"""
from __future__ import annotations

import hashlib

import streamlit as st

from explorer import multimodal as M
from explorer.zoo import scenes

NONE = "none"


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Captioning the image…")
def _caption(key: str, image_key: str, _lm, _image) -> M.CaptionRun:
    return M.caption(_lm, _image)


def caption(lm, image_key: str, image) -> M.CaptionRun:
    return _caption(lm.key, image_key, lm, image)


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Running the variants…")
def _ablations(key: str, image_key: str, other_key: str, _lm, _run, _other) -> list[M.Variant]:
    return M.ablations(_lm, _run, _other)


def ablations(lm, image_key: str, run: M.CaptionRun, other_key: str, other) -> list[M.Variant]:
    return _ablations(lm.key, image_key, other_key, lm, run, other)


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _parts(key: str, _lm) -> tuple[dict, list | None]:
    return M.parts(_lm), M.stages(_lm)


def parts(lm) -> tuple[dict, list | None]:
    return _parts(lm.key, lm)


@st.cache_data(max_entries=8, ttl=3600, show_spinner="Reading the image…")
def read_upload(digest: str, _data: bytes):
    """(image, notes) of an upload, once per file content; ImageRejected with one sentence otherwise."""
    return M.read_upload(_data)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def scene_key(items) -> str:
    return "scene:" + ";".join(",".join(i) for i in items)


def builder_items(url, page) -> list[tuple[str, str, str, str]]:
    """Up to three objects from the builder's controls (their values live in the link: c1 s1 x1 y1 …); a
    second object in a column already used is left out with a notice."""
    defaults = M.BUNDLED["two"] + [(NONE, "square", "middle", "centre")]
    cols = st.columns(3)
    items, used = [], set()
    for i, (c, s, x, y) in enumerate(defaults, start=1):
        url.choice(f"c{i}", c, [NONE, *scenes.COLOURS])
        url.choice(f"s{i}", s, list(scenes.SHAPES))
        url.choice(f"x{i}", x, list(scenes.COLUMNS))
        url.choice(f"y{i}", y, list(scenes.ROWS))
        with cols[i - 1].container(border=True):
            st.caption(f"Object {i}")
            colour = st.selectbox("Colour", [NONE, *scenes.COLOURS], key=url.key(f"c{i}"))
            shape = st.selectbox("Shape", scenes.SHAPES, key=url.key(f"s{i}"))
            column = st.selectbox("Column", scenes.COLUMNS, key=url.key(f"x{i}"))
            row = st.selectbox("Row", scenes.ROWS, key=url.key(f"y{i}"))
        if colour == NONE:
            continue
        if column in used:
            page.note(f"Object {i} is left out: another object already stands in the {column} column.")
            continue
        used.add(column)
        items.append((colour, shape, column, row))
    if not items:
        page.note("Every object is set to none: showing the first bundled scene.")
        items = list(M.BUNDLED["two"])
    return items

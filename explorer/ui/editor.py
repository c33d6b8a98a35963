"""An editable table whose value lives in the link: the one way pages use Streamlit's data editor.

    url_table(url, "logits", df, lambda edits: moe.format_logits(moe.apply_edits(base, edits["edited_rows"])),
              what="your edit of the logits", column_config=...)

The link's text is the truth; the editor shows it. Each value gets a fresh editor (keyed by a digest of the
text), so the editor's own memory of edits never outlives the value it edited. On a change, `fold` gets the
editor's report ({"edited_rows": {row: {column: value}}, "added_rows": [...], "deleted_rows": [...]}) and
returns the new text for the link, or None to keep the old one (after saying why with a notice).
"""
from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from explorer.text import digest
from explorer.ui.errors import callback
from explorer.ui.state import UrlState


def url_table(url: UrlState, name: str, df: pd.DataFrame, fold: Callable[[dict], str | None], *, what: str,
              **editor_args) -> None:
    key = f"{url.key(name)}_table_{digest(st.session_state[url.key(name)])}"

    @callback(what)
    def changed() -> None:
        text = fold(st.session_state[key])
        if text is not None:
            url.set(name, text)

    from explorer.ui.figures import table
    from explorer.ui.presenter import presenting
    if presenting():   # the values at projector size (the editor's grid paints ~12 px on a canvas); edit below
        table(df, hide_index=bool(editor_args.get("hide_index")))
        st.caption("Click a cell of the grid below to change it.")
    with st.container(key=f"{url.key(name)}_table"):     # class st-key-<prefix><name>_table in the page
        st.data_editor(df, key=key, on_change=changed, **editor_args)

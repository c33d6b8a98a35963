"""The shape every page shares: title, notices, URL state, sections, the text box, the footer.

A page file then reads as: scaffold, controls, one engine call per section, figures.

    from explorer.ui.page import Page

    page = Page("🧮 KV cache", prefix="kv_")          # app shell, title, a slot for notices, page.url
    url = page.url                                    # UrlState: every control that changes the view
    view = page.sections({"growth": "① Growth", "fit": "② Will it fit?"})   # in the URL as `view`
    if view == "growth":
        text = page.text_input("The cat sat on the mat.", prompt="Type a sentence to see …")
        if not text.empty:
            ...one engine call, figures via explorer.ui.figures.show...
    page.finish()                                     # "Next: …" button, url.sync(), notices

What the scaffold owns, so that no page repeats it:
- `ensure_app_shell()` before anything is drawn (a first-visit deep link still gets the sidebar);
- the notices slot under the title, filled by `finish()` once every link value has been checked
  (link values are validated as each section registers its controls, so notices come last);
- the section control (a segmented control whose value is the URL's `view`) and the footer that
  walks to the next section;
- the text box: its value in the URL, cleaned by `explorer.text.clean`, every note about what was
  changed shown one way (`note`), and a friendly prompt instead of a figure when it is empty;
- `stop()`: end the page early (nothing to show) with the link and notices still current;
- the layout rule every page follows (projector first): the page's main figure, or the lesson's headline
  number, starts within the top 60% of the first screen at 1280x800 and at 1920x1080 in presenter mode,
  drawn on arrival. `main()` is that figure's slot, placed right after the title and the section control and
  marked in the page (class `st-key-te-main`, which tests/e2e/test_layout_e2e.py measures on every page);
  `controls()` holds the controls under it, folded into a compact expander in presenter mode. Widgets keep
  their values in session state, so a page draws its controls first and its figure into the slot after:

      view = page.sections({...})
      stage = page.main()                    # the figure's place: on the first screen
      with page.controls("Model and text"):  # under it; a folded "⚙️ Model and text" in presenter mode
          text = page.text_input(...)
          layer = st.slider(...)
      with stage:
          show(fig, "my figure")
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from explorer.text import CleanText, clean
from explorer.ui import models
from explorer.ui.models import LoadedModel
from explorer.ui.shell import ensure_app_shell
from explorer.ui.state import MAX_URL_TEXT, UrlState, show_notices

NOTE_ICON = "ℹ️"
MAIN_KEY = "te-main"     # the main figure's slot: class `st-key-te-main` in the page (see main())
PROMPT_ICON = "✍️"

# Callables run right after the title of every page (e.g. a lesson tour's bar); each gets the Page.
AFTER_TITLE: list[Callable[["Page"], None]] = []


class Page:
    def __init__(self, title: str, prefix: str):
        """title: the page's heading (icon first); prefix: its namespace for session keys ("kv_")."""
        ensure_app_shell()
        st.title(title)
        self.title = title
        self.prefix = prefix
        self.notices = st.container()       # filled by finish()/stop(), once every link value is checked
        self.url = UrlState(prefix=prefix)
        self.view: str | None = None
        self._sections: dict[str, str] = {}
        self._finished = False
        self._main = None
        for hook in AFTER_TITLE:
            hook(self)

    # ------------------------------------------------------------------ sections
    def sections(self, sections: dict[str, str], default: str | None = None, label: str | None = None,
                 footer: bool = True) -> str:
        """The section control (URL name `view`); returns the chosen section's key.

        sections: {key: label} in reading order, e.g. {"toy": "① A toy router", ...}. label: a visible name
        for the control (default: none shown). footer: end the page with a "Next: …" button.
        """
        self._sections = dict(sections) if footer else {}
        keys = list(sections)
        self.view = self.url.choice("view", default if default in sections else keys[0], keys)
        st.segmented_control(label or "Section", keys, format_func=sections.get, key=self.url.key("view"),
                             required=True, label_visibility="visible" if label else "collapsed")
        return self.view

    def next_section(self) -> str | None:
        keys = list(self._sections)
        if self.view not in keys or keys.index(self.view) + 1 >= len(keys):
            return None
        return keys[keys.index(self.view) + 1]

    # ------------------------------------------------------------------ layout: the figure first
    def main(self):
        """The slot of the page's main figure (or headline number), here in the page: call it before drawing the
        controls, then draw the figure into it (`with slot:`). One per page run (a second call returns it again).

        Marked in the page as class `st-key-te-main`: the layout test measures that its top is within the top
        60% of the first screen, at laptop and projector sizes, presenter mode on and off.
        """
        if self._main is None:
            self._main = st.container(key=MAIN_KEY)
        return self._main

    def layout(self, label: str = "Controls", controls_first: bool = False):
        """(stage, controls): the main figure's slot and a container for the controls, in page order.

        Presenter mode: the figure, then its controls folded in "⚙️ label". Otherwise the controls go under the
        figure, or above it when `controls_first` (a compact row, e.g. one text box: the figure must still start
        within the top 60% of the first screen at 1280x800).
        """
        from explorer.ui.presenter import presenting
        if controls_first and not presenting():
            controls = st.container()
            return self.main(), controls
        stage = self.main()
        return stage, self.controls(label)

    @staticmethod
    def controls(label: str = "Controls", expanded: bool = False):
        """A container for controls: a compact expander ("⚙️ label", folded) in presenter mode, else plain."""
        from explorer.ui.presenter import presenting
        return st.expander(f"⚙️ {label}", expanded=expanded) if presenting() else st.container()

    # ------------------------------------------------------------------ the text box
    def text_input(self, default: str, *, name: str = "text", label: str = "Text",
                   prompt: str = "Type a sentence above.", max_chars: int = MAX_URL_TEXT,
                   height: int | None = 80, help: str | None = None) -> CleanText:
        """A text box whose value lives in the URL; returns the cleaned text.

        Notes about what cleaning changed are shown (one way, `note`); an empty text shows `prompt`
        as a friendly info box, and the caller draws nothing for it (`if text.empty: ...`).
        height=None gives a one-line box.
        """
        self.url.text(name, default, max_chars=max_chars)
        key = self.url.key(name)
        if height is None:
            st.text_input(label, key=key, max_chars=max_chars, help=help)
        else:
            st.text_area(label, key=key, height=height, max_chars=max_chars, help=help)
        cleaned = clean(st.session_state[key])
        self.note(*cleaned.notes)
        if cleaned.empty:
            st.info(prompt, icon=PROMPT_ICON)
        return cleaned

    @staticmethod
    def note(*messages: str | None) -> None:
        """What was changed about the learner's input (cleaned, cut to the model's limit): one info line each."""
        for m in messages:
            if m:
                st.info(m, icon=NOTE_ICON)

    # ------------------------------------------------------------------ models
    @staticmethod
    def model(family: str) -> LoadedModel | None:
        """The sidebar's model of a family, loaded (with its fallback banner); None after an error message."""
        return models.get(models.chosen(family), family)

    # ------------------------------------------------------------------ the end of the page
    def finish(self) -> None:
        """The next-section footer, the link mirrored from the controls, the notices under the title."""
        if self._finished:
            return
        nxt = self.next_section()
        if nxt is not None:
            st.button(f"Next: {self._sections[nxt]} →", key=f"{self.prefix}next",
                      on_click=self.url.set, args=("view", nxt))
        self._close()

    def stop(self) -> None:
        """End the page here (nothing more to draw), keeping the link and notices current."""
        self._close()
        st.stop()

    def _close(self) -> None:
        self._finished = True
        self.url.sync()
        with self.notices:
            show_notices()

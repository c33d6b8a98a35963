"""View state that lives in the URL, so a copied link restores the exact view.

Every control that changes the view is registered here before its widget is drawn:

    url = UrlState()
    url.int("layer", 0, lo=0, hi=n_layers - 1)          # -> session_state["layer"] is set
    st.slider("Layer", 0, n_layers - 1, key="layer")     # the widget uses that key (no value=)
    ...
    url.sync()                                           # -> st.query_params mirrors the controls

Where the first value comes from, in order: the widget's current value in this session; the URL
(validated: a bad or hostile value falls back to the default with a short notice); the value this
session last had on this page (state survives page switches); the default.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import streamlit as st

KEEP = "_keep_"            # session_state prefix of values kept across page switches
NOTICES = "_url_notices"   # notices of this run, shown by show_notices()
MAX_URL_TEXT = 2000        # characters of free text a URL may carry


class UrlState:
    def __init__(self, prefix: str = ""):
        """prefix: a page's namespace for session keys (URL names stay short and readable)."""
        self.prefix = prefix
        self.controls: dict[str, tuple[str, Callable[[Any], str], Any]] = {}  # url name -> (key, to_url, default)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    # ------------------------------------------------------------ typed registrations
    def text(self, name: str, default: str, max_chars: int = MAX_URL_TEXT) -> str:
        def parse(raw: str) -> str:
            if len(raw) > max_chars:
                raise ValueError(f"longer than {max_chars} characters")
            return raw
        return self._register(name, default, parse, str)

    def int(self, name: str, default: int, lo: int, hi: int) -> int:
        def parse(raw: str) -> int:
            v = int(raw)
            if not lo <= v <= hi:
                raise ValueError(f"outside {lo}..{hi}")
            return v
        value = self._register(name, default, parse, str)
        return self._clamp(name, value, lo, hi, default)

    def float(self, name: str, default: float, lo: float, hi: float) -> float:
        def parse(raw: str) -> float:
            v = float(raw)
            if not math.isfinite(v) or not lo <= v <= hi:
                raise ValueError(f"outside {lo}..{hi}")
            return v
        value = self._register(name, default, parse, lambda v: f"{v:g}")
        return self._clamp(name, value, lo, hi, default)

    def choice(self, name: str, default: Any, options: Sequence[Any]) -> Any:
        by_text = {str(o): o for o in options}

        def parse(raw: str):
            if raw not in by_text:
                raise ValueError("not one of the choices")
            return by_text[raw]
        key = self.key(name)
        value = self._register(name, default, parse, str)
        if value not in options:   # options changed (e.g. another model): back to the default
            st.session_state[key] = value = default if default in options else options[0]
        return value

    def flag(self, name: str, default: bool) -> bool:
        def parse(raw: str) -> bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("not 0 or 1")
        return self._register(name, default, parse, lambda v: "1" if v else "0")

    def multi(self, name: str, default: list, options: Sequence[Any]) -> list:
        by_text = {str(o): o for o in options}

        def parse(raw: str) -> list:
            items = [s for s in raw.split(",") if s]
            if any(s not in by_text for s in items):
                raise ValueError("unknown item")
            return [by_text[s] for s in items]
        value = self._register(name, default, parse, lambda v: ",".join(map(str, v)))
        kept = [v for v in value if v in options]
        if kept != value:
            st.session_state[self.key(name)] = kept
        return kept

    # ------------------------------------------------------------ mechanics
    def _register(self, name: str, default: Any, parse: Callable[[str], Any], to_url: Callable[[Any], str]):
        key = self.key(name)
        self.controls[name] = (key, to_url, default)
        ss = st.session_state
        if key not in ss:
            raw = st.query_params.get(name)
            if raw is not None:
                try:
                    ss[key] = parse(raw)
                except (ValueError, TypeError) as e:
                    notice(f"Ignored the link's `{name}` value ({e}); using the default.")
                    ss[key] = default
            else:
                ss[key] = ss.get(KEEP + key, default)
        return ss[key]

    def _clamp(self, name: str, value, lo, hi, default):
        key = self.key(name)
        if not isinstance(value, (int, float)) or not lo <= value <= hi:
            value = default if lo <= default <= hi else lo
            st.session_state[key] = value
        return value

    def set(self, name: str, value: Any) -> None:
        """Change a control from code (e.g. a click on a figure), before its widget is drawn."""
        st.session_state[self.key(name)] = value

    def sync(self) -> None:
        """Mirror every registered control into the URL and keep it for the next visit.

        Values equal to their default are left out, so links stay short and readable.
        """
        for name, (key, to_url, default) in self.controls.items():
            if key not in st.session_state:
                continue
            value = st.session_state[key]
            st.session_state[KEEP + key] = value
            text = to_url(value)
            if text == to_url(default):
                if name in st.query_params:
                    del st.query_params[name]
            elif st.query_params.get(name) != text:
                st.query_params[name] = text


def notice(message: str) -> None:
    st.session_state.setdefault(NOTICES, [])
    if message not in st.session_state[NOTICES]:
        st.session_state[NOTICES].append(message)


def show_notices() -> None:
    """Show (once) what was ignored or changed in this run: one short line each."""
    for message in st.session_state.pop(NOTICES, []):
        st.info(message, icon="ℹ️")

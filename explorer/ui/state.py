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

A notice names the parameter and the reason in our words ("not a whole number", "outside 0..3");
it never echoes the link's value (a crafted link must not put its text, let alone markdown, on
the page).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import streamlit as st

from explorer.text import md

KEEP = "_keep_"            # session_state prefix of values kept across page switches
NOTICES = "_url_notices"   # notices of this run, shown by show_notices()
FAILURES = "_failures"     # sentences of callbacks that failed (explorer.ui.errors.callback)
REGISTERED = "_url_registered"   # {session key: URL name} of every control this session has registered
MAX_URL_TEXT = 2000        # characters of free text a URL may carry


class BadValue(ValueError):
    """A link value we refuse; the message is our reason (never the value itself)."""


# ---------------------------------------------------------------- parsers: link text -> value, or BadValue
# Pure functions (no Streamlit), so that a property test can feed them any string.
def parse_text(max_chars: int = MAX_URL_TEXT) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > max_chars:
            raise BadValue(f"longer than {max_chars:,} characters")
        return raw
    return parse


def parse_int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            v = int(raw.strip()) if len(raw) <= 30 else None
        except ValueError:
            v = None
        if v is None:
            raise BadValue("not a whole number")
        if not lo <= v <= hi:
            raise BadValue(f"outside {lo}..{hi}")
        return v
    return parse


def parse_float(lo: float, hi: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            v = float(raw.strip()) if len(raw) <= 40 else None
        except ValueError:
            v = None
        if v is None or math.isnan(v):
            raise BadValue("not a number")
        if not math.isfinite(v) or not lo <= v <= hi:
            raise BadValue(f"outside {lo:g}..{hi:g}")
        return v
    return parse


def parse_choice(options: Sequence[Any]) -> Callable[[str], Any]:
    by_text = {str(o): o for o in options}

    def parse(raw: str):
        if raw not in by_text:
            raise BadValue(f"not one of the {len(by_text)} choices")
        return by_text[raw]
    return parse


def parse_flag() -> Callable[[str], bool]:
    def parse(raw: str) -> bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise BadValue("not 0 or 1")
    return parse


def parse_multi(options: Sequence[Any]) -> Callable[[str], list]:
    by_text = {str(o): o for o in options}

    def parse(raw: str) -> list:
        items = [s for s in raw.split(",") if s]
        if any(s not in by_text for s in items):
            raise BadValue("an item that is not one of the choices")
        return [by_text[s] for s in items]
    return parse


def read(name: str, raw: str, parse: Callable[[str], Any]) -> tuple[bool, Any, str | None]:
    """(ok, value, notice) for one link value: the parsed value, or a notice that names the parameter
    and our reason. The notice never contains the value (a crafted link puts no text on the page)."""
    try:
        return True, parse(raw), None
    except Exception as e:  # noqa: BLE001 - no link value may crash a page
        reason = str(e) if isinstance(e, BadValue) else "not a value this control takes"
        return False, None, f"Ignored the link's `{md(name)}` value ({reason}); using the default."


class UrlState:
    def __init__(self, prefix: str = ""):
        """prefix: a page's namespace for session keys (URL names stay short and readable)."""
        self.prefix = prefix
        self.controls: dict[str, tuple[str, Callable[[Any], str], Any]] = {}  # url name -> (key, to_url, default)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    # ------------------------------------------------------------ typed registrations
    def text(self, name: str, default: str, max_chars: int = MAX_URL_TEXT) -> str:
        return self._register(name, default, parse_text(max_chars), str)

    def parsed(self, name: str, default: str, parse: Callable[[str], Any], max_chars: int = MAX_URL_TEXT,
               fallback: str = "the default") -> Any:
        """A text control with a format of its own (a table, a matrix): the parsed value of its text.

        Text that `parse` refuses (a ValueError whose message is our reason, never the text) falls back to
        `default` with a notice, and the control is reset to it."""
        self.text(name, default, max_chars)
        try:
            return parse(st.session_state[self.key(name)])
        except ValueError as e:
            notice(f"Ignored the link's `{md(name)}` value ({md(str(e))}); using {fallback}.")
            self.set(name, default)
            return parse(default)

    def int(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self._register(name, default, parse_int(lo, hi), str)
        return self._clamp(name, value, lo, hi, default)

    def float(self, name: str, default: float, lo: float, hi: float) -> float:
        value = self._register(name, default, parse_float(lo, hi), lambda v: f"{v:g}")
        return self._clamp(name, value, lo, hi, default)

    def choice(self, name: str, default: Any, options: Sequence[Any]) -> Any:
        key = self.key(name)
        value = self._register(name, default, parse_choice(options), str)
        if value not in options:   # options changed (e.g. another model): back to the default
            st.session_state[key] = value = default if default in options else options[0]
        return value

    def flag(self, name: str, default: bool) -> bool:
        return self._register(name, default, parse_flag(), lambda v: "1" if v else "0")

    def multi(self, name: str, default: list, options: Sequence[Any]) -> list:
        value = self._register(name, default, parse_multi(options), lambda v: ",".join(map(str, v)))
        kept = [v for v in value if v in options]
        if kept != value:
            st.session_state[self.key(name)] = kept
        return kept

    # ------------------------------------------------------------ mechanics
    def _register(self, name: str, default: Any, parse: Callable[[str], Any], to_url: Callable[[Any], str]):
        key = self.key(name)
        self.controls[name] = (key, to_url, default)
        ss = st.session_state
        ss.setdefault(REGISTERED, {})[key] = name
        if key not in ss:
            raw = st.query_params.get(name)
            if raw is not None:
                ok, value, message = read(name, raw, parse)
                if not ok:
                    notice(message)
                ss[key] = value if ok else default
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


def reset_controls(names: Iterable[str] = ()) -> None:
    """Forget every page's controls and the values kept across page switches (app-shell controls, which
    have no prefix, stay unless named in `names`), so that the next page reads its view from the link
    and its defaults: a lesson tour opens exactly a step's view this way. Call before any widget is drawn."""
    names = set(names)
    ss = st.session_state
    for key, name in ss.get(REGISTERED, {}).items():
        if key != name or name in names:
            for k in (key, KEEP + key):
                if k in ss:
                    del ss[k]


def notice(message: str) -> None:
    """A short line for the notices slot. `message` is markdown written by us: any text in it that came
    from a user, a link, a file or a model must already be escaped with explorer.text.md."""
    st.session_state.setdefault(NOTICES, [])
    if message not in st.session_state[NOTICES]:
        st.session_state[NOTICES].append(message)


def show_notices() -> None:
    """Show (once) what was ignored or changed in this run: one short line each (and what failed)."""
    for message in st.session_state.pop(FAILURES, []):
        st.error(message, icon="⚠️")
    for message in st.session_state.pop(NOTICES, []):
        st.info(message, icon="ℹ️")

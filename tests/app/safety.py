"""What a hostile visitor must never get onto a page: a link or an image the app did not create.

Walks an AppTest's element tree and checks every string Streamlit renders as markdown (text, captions,
alerts, headings, widget labels, help, radio options, expander labels) and every plotly figure.
Payloads point at evil.example, so anything that links there came from the visitor.
"""
from __future__ import annotations

import contextlib
import json
import re

from markdown_it import MarkdownIt

EVIL = "evil.example"
PAYLOAD = ("![i](http://evil.example/t.png) [x](http://evil.example/a) <img src=http://evil.example/i.png> "
           "www.evil.example x@evil.example :red[x] $x$ **b** `c` # h")

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# GFM autolink literals: Streamlit's markdown finds them in the text after escapes are resolved (an escaped
# "http\\://" is still linked), with these patterns (ASCII word characters, as in JavaScript)
_AUTOLINK = re.compile(r"(?:https?://|www\.)[-.\w]*evil|[-.\w+]+@[-\w]*evil(?:\.[-\w]+)+", re.IGNORECASE | re.ASCII)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_PLOTLY_TAG = re.compile(r"<\s*(a|img|image|iframe|script)\b|href\s*=", re.IGNORECASE)

MARKDOWN_FIELDS = {"body", "label", "help", "caption", "placeholder", "text"}
MARKDOWN_OPTIONS = {"Radio", "ButtonGroup"}          # their options are rendered as markdown


def _many(value) -> list:
    """A repeated field's items, or the one value."""
    return [value] if isinstance(value, (str, bytes)) or hasattr(value, "ListFields") else list(value)


def _strings(msg, fields, out):
    for fd, value in msg.ListFields():
        if fd.type == fd.TYPE_MESSAGE:
            for m in _many(value):
                _strings(m, fields, out)
        elif fd.type == fd.TYPE_STRING and fd.name in fields:
            out.extend(_many(value))


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for c in children.values():
            yield from _walk(c)


def markdown_strings(at) -> list[str]:
    out: list[str] = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None or getattr(node, "type", "") in ("plotly_chart", "iframe", "code", "text"):
            continue
        fields = MARKDOWN_FIELDS | ({"options"} if type(proto).__name__ in MARKDOWN_OPTIONS else set())
        _strings(proto, fields, out)
    return out


def figure_strings(at) -> list[str]:
    out: list[str] = []

    def collect(v):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            for x in v:
                collect(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                if k != "template":
                    collect(x)
    for fig in at.get("plotly_chart"):
        spec = json.loads(fig.proto.spec)
        collect(spec.get("data", []))
        collect({k: v for k, v in spec.get("layout", {}).items() if k != "template"})
    return out


def foreign_links(at) -> list[str]:
    """Every link, image or HTML from a visitor's payload that would reach the rendered page."""
    found = []
    for src in markdown_strings(at):
        for tok in _PARSER.parse(src):
            for t in [tok] + list(tok.children or []):
                href = t.attrGet("href") or t.attrGet("src") or ""
                if t.type in ("link_open", "image") and EVIL in href:
                    found.append(f"{t.type} {href!r} in {src[:120]!r}")
                if t.type in ("html_inline", "html_block") and EVIL in t.content:
                    found.append(f"html {t.content[:80]!r} in {src[:120]!r}")
        if _AUTOLINK.search(_ESCAPE.sub(r"\1", src)):
            found.append(f"autolink in {src[:120]!r}")
    for s in figure_strings(at):
        if _PLOTLY_TAG.search(s) and EVIL in s:
            found.append(f"plotly text {s[:120]!r}")
    return found


# ---------------------------------------------------------------- which link parameters a page reads
SECTION_NAMES = ("view", "model")     # choices that switch what a page draws: each option is swept


@contextlib.contextmanager
def recording():
    """While open: (names, options) of every UrlState registration in runs of the app in this process
    (AppTest runs the script in a thread of it), and the options of the section switches."""
    from explorer.ui.state import UrlState
    seen: list[str] = []
    options: dict[str, list[str]] = {}
    register, choice = UrlState._register, UrlState.choice

    def recording_register(self, name, *a, **k):
        if name not in seen:
            seen.append(name)
        return register(self, name, *a, **k)

    def recording_choice(self, name, default, opts):
        if name in SECTION_NAMES:
            options.setdefault(name, [str(o) for o in opts])
        return choice(self, name, default, opts)

    UrlState._register, UrlState.choice = recording_register, recording_choice
    try:
        yield seen, options
    finally:
        UrlState._register, UrlState.choice = register, choice


def discover(page_file: str, run_page) -> dict[tuple[str, str] | None, list[str]]:
    """{section (name, option) or None for the defaults: the link parameters registered there}, found by
    running the page and recording every UrlState registration (sidebar included)."""
    with recording() as (seen, options):
        run_page(page_file)
        found = {None: list(seen)}
        for name, opts in list(options.items()):
            for opt in opts:
                seen.clear()
                run_page(page_file, query={name: opt})
                found[(name, opt)] = list(seen)
    return found


def hostile_query(names: list[str], section: tuple[str, str] | None, payload: str = PAYLOAD) -> dict[str, str]:
    """Every parameter of a page set to the payload (the section's own switch kept, to reach it)."""
    query = {n: payload for n in names if n != "present"}
    if section:
        query[section[0]] = section[1]
    return query


_URL_CALL = re.compile(r"""url\.(?:int|float|choice|flag|text|multi)\(\s*["'](\w+)["']""")
_NAME_KW = re.compile(r"""text_input\([^)]*?name=["'](\w+)["']""", re.S)


def link_names(page_file: str, run_page) -> tuple[list[str], dict[str, list[str]]]:
    """(every link parameter a page may read, {section switch: its options}) from one recorded run of
    the page's defaults plus the names its source registers in other sections. Cheaper than discover()
    (one run per page), for the browser test."""
    from tests.app.conftest import ROOT
    with recording() as (seen, options):
        run_page(page_file)
    source = (ROOT / page_file).read_text()
    names = list(dict.fromkeys(seen + _URL_CALL.findall(source) + _NAME_KW.findall(source)))
    return names, options

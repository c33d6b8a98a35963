"""Widgets whose value lives in the link: register the URL value and draw its widget in one call.

UrlState asks every control that changes the view to be registered before its widget is drawn, with the same
name, default and options (explorer/ui/state.py). Written out, that is two lines per control that must agree:

    url.choice("hd", 8, [4, 8, 16, 64])
    d = c[3].selectbox("Head dim d", [4, 8, 16, 64], key=url.key("hd"))

Here it is one, and the options are written once:

    ctl = Linked(url)
    d = ctl.select(c[3], "Head dim d", "hd", 8, [4, 8, 16, 64])

`where` is the column or container to draw in (`st` for the page itself); other keyword arguments go to the
widget (format_func, help, horizontal, ...). A link value that the control does not take falls back to the
default with a notice, as UrlState does.
"""
from __future__ import annotations

from typing import Any, Sequence

from explorer.ui.state import UrlState


class Linked:
    def __init__(self, url: UrlState):
        self.url = url

    def _one_of(self, draw, label: str, name: str, default: Any, options: Sequence[Any], **kw) -> Any:
        """Register `name` as one of `options`, then draw the widget `draw` over them with its key."""
        self.url.choice(name, default, options)
        return draw(label, options, key=self.url.key(name), **kw)

    def select(self, where, label: str, name: str, default: Any, options: Sequence[Any], **kw) -> Any:
        """A selectbox over `options` (URL: one of them)."""
        return self._one_of(where.selectbox, label, name, default, options, **kw)

    def select_slider(self, where, label: str, name: str, default: Any, options: Sequence[Any], **kw) -> Any:
        """A slider over `options` (URL: one of them)."""
        return self._one_of(where.select_slider, label, name, default, options, **kw)

    def radio(self, where, label: str, name: str, default: Any, options: Sequence[Any], **kw) -> Any:
        """Radio buttons over `options` (URL: one of them)."""
        return self._one_of(where.radio, label, name, default, options, **kw)

    def multiselect(self, where, label: str, name: str, default: list, options: Sequence[Any], **kw) -> list:
        """A multiselect over `options` (URL: its items, comma-separated)."""
        self.url.multi(name, default, options)
        return where.multiselect(label, options, key=self.url.key(name), **kw)

    def slider(self, where, label: str, name: str, default: int | float, lo: int | float, hi: int | float,
               **kw) -> int | float:
        """A slider from lo to hi (URL: a number in that range; a float default makes it a float slider). A range of
        one value (a text of one token, a model of one layer) draws nothing, since a slider needs two: that value."""
        register = self.url.float if isinstance(default, float) else self.url.int
        value = register(name, default, lo=lo, hi=hi)
        if hi <= lo:
            return value
        return where.slider(label, lo, hi, key=self.url.key(name), **kw)

    def number(self, where, label: str, name: str, default: int, lo: int, hi: int, **kw) -> int:
        """A whole-number input from lo to hi (URL: a whole number in that range)."""
        self.url.int(name, default, lo=lo, hi=hi)
        return where.number_input(label, lo, hi, key=self.url.key(name), **kw)

    def toggle(self, where, label: str, name: str, default: bool, **kw) -> bool:
        """An on/off toggle (URL: 1 or 0)."""
        self.url.flag(name, default)
        return where.toggle(label, key=self.url.key(name), **kw)

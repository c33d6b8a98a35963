"""Play / Pause state of a page's animation: whether it runs, and when it last took a step."""
from __future__ import annotations

import time

import streamlit as st


class Player:
    """One animation's state in st.session_state under `<prefix>playing` and `<prefix>last_tick`."""

    def __init__(self, prefix: str):
        self.playing_key = f"{prefix}playing"
        self.tick_key = f"{prefix}last_tick"
        self.times_key = f"{prefix}step_times"      # when the last few steps were delivered while playing

    def playing(self) -> bool:
        return bool(st.session_state.get(self.playing_key, False))

    def set_playing(self, on: bool) -> None:
        st.session_state[self.playing_key] = on
        st.session_state[self.tick_key] = 0.0
        st.session_state[self.times_key] = []

    def tick_due(self, interval: float) -> bool:
        """True when the animation should take its next step (not on every rerun: clicks rerun too)."""
        now = time.monotonic()
        if now - st.session_state.get(self.tick_key, 0.0) >= 0.8 * interval:
            st.session_state[self.tick_key] = now
            times = st.session_state.setdefault(self.times_key, [])
            times.append(now)
            del times[:-KEEP_TIMES]
            return True
        return False

    def delivered(self) -> float | None:
        """Steps per second actually delivered over the last few steps of this play (None: too few yet).

        The timer asks for one step per interval, but a step's forward pass and the redraw take their own time
        (on a busy 2-core machine, 2 tokens/s asked delivered ~1.1): the page says so instead of pretending."""
        times = st.session_state.get(self.times_key) or []
        if len(times) < 3 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])


KEEP_TIMES = 8
BEHIND = 0.85     # delivered below this share of the asked speed: the page says it falls behind


def cadence_note(asked: float, delivered: float | None) -> str | None:
    """One line for the page when Play delivers noticeably fewer steps per second than asked."""
    if delivered is None or delivered >= BEHIND * asked:
        return None
    return (f"Delivering {delivered:.1f} tokens/s of the {asked:g} asked: each step (a forward pass and a redraw) "
            "takes longer than the interval on this machine.")

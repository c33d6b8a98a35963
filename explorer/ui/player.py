"""Play / Pause state of a page's animation: whether it runs, and when it last took a step."""
from __future__ import annotations

import time

import streamlit as st


class Player:
    """One animation's state in st.session_state under `<prefix>playing` and `<prefix>last_tick`."""

    def __init__(self, prefix: str):
        self.playing_key = f"{prefix}playing"
        self.tick_key = f"{prefix}last_tick"

    def playing(self) -> bool:
        return bool(st.session_state.get(self.playing_key, False))

    def set_playing(self, on: bool) -> None:
        st.session_state[self.playing_key] = on
        st.session_state[self.tick_key] = 0.0

    def tick_due(self, interval: float) -> bool:
        """True when the animation should take its next step (not on every rerun: clicks rerun too)."""
        now = time.monotonic()
        if now - st.session_state.get(self.tick_key, 0.0) >= 0.8 * interval:
            st.session_state[self.tick_key] = now
            return True
        return False

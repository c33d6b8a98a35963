"""Process-wide settings, fixed once at start-up (app.py), never toggled per request.

torch's thread count is global to the process: changing it inside one session's request would change
it under every other session's forward pass at the same moment.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import gc
import logging
import os
import sys
import threading
import time

from explorer.errors import ExplainedError

_configured: int | None = None


def torch_threads() -> int:
    """EXPLORER_TORCH_THREADS if set, else half the CPUs (at least 1, at most 4).

    Many sessions share the process; small models' one-token decoding steps are tiny matmuls that extra
    threads only slow down on a busy machine (measured: 64 tiny-gpt2 steps 0.5 s on 1 thread, 18 s on 2
    on a loaded 2-CPU machine), while a 124M model's forward pass gains from a few.
    """
    raw = os.environ.get("EXPLORER_TORCH_THREADS", "")
    if raw.strip().isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def configure() -> int:
    """Set torch's intra-op threads once per process; later calls change nothing. Returns the count."""
    global _configured
    if _configured is None:
        import torch
        # pandas is imported lazily by plotly and Streamlit inside the first figure or table; two sessions'
        # script threads doing that at once met a half-imported pandas once ("partially initialized module"):
        # import it here, once, before any session draws
        import pandas  # noqa: F401
        _configured = torch_threads()
        torch.set_num_threads(_configured)
        _malloc_arenas(2)
    return _configured


# ---------------------------------------------------------------------------------------------- C heap (glibc)
# Every session's script runs on a thread of its own, and glibc gives threads up to 8 x cores malloc arenas,
# each keeping what it freed: a server's RSS crept up with the number of sessions seen. Two arenas, and after
# each full collection the freed pages go back to the system (malloc_trim). No-ops where there is no glibc.
M_ARENA_MAX = -8


@functools.lru_cache(maxsize=1)
def _libc():
    import ctypes
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def _malloc_arenas(n: int) -> bool:
    libc = _libc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, n) == 1)


def trim_heap() -> bool:
    """Give the C heap's free pages back to the system. Returns whether any were."""
    libc = _libc()
    return bool(libc and libc.malloc_trim(0) == 1)


# ---------------------------------------------------------------------------------------------- the heap
# A full collection walks every object the process tracks, and it holds ~400,000 long-lived ones (torch,
# transformers, plotly, the models): ~200 ms each, a third of a loaded server's time when Streamlit collected
# after every rerun. gc.freeze() moves what is alive now into a permanent
# generation that collections skip; objects created later are still collected. The long-lived heap grows only
# when modules are imported (a page's first visit) or a model loads, so the heap is frozen at those moments;
# before a model is unloaded it is unfrozen, so that its memory can be freed.
_freeze_lock = threading.Lock()
_frozen_modules = 0


def freeze_heap() -> int:
    """Collect, then freeze everything alive into the permanent generation. Returns the frozen count."""
    with _freeze_lock:
        global _frozen_modules
        gc.collect()
        gc.freeze()
        _frozen_modules = len(sys.modules)
        return gc.get_freeze_count()


def seconds_setting(name: str, default: float, zero_ok: bool = False) -> float:
    """A number of seconds from the environment variable `name`; `default` when unset, not a number, negative, or
    zero unless `zero_ok`."""
    try:
        value = float(os.environ.get(name, str(default)))
    except ValueError:
        return default
    return value if value > 0 or (zero_ok and value == 0) else default


def gc_seconds() -> float:
    """EXPLORER_GC_SECONDS (default 10): the least time between two full collections of the process."""
    return seconds_setting("EXPLORER_GC_SECONDS", 10.0, zero_ok=True)


# Streamlit's own collection after every rerun is off (.streamlit/config.toml: runner.postScriptGC = false):
# even with the long-lived heap frozen, what 30 sessions keep alive (their states, cached results and figures)
# made each full collection ~50 ms, a quarter of a loaded server's time (measured: 27% of the samples holding
# the GIL). settle() keeps its protection (cycles freed soon after a rerun) at most every gc_seconds() for the
# whole process, whatever the number of sessions; Python's own generational collections run as always.
_last_full = float("-inf")


def settle(now: float | None = None) -> str:
    """At the end of a rerun: freeze the heap when modules were imported since the last freeze (their objects
    live as long as the process); otherwise a full collection when the last one is gc_seconds() old.
    Returns what it did: "froze", "collected" or ""."""
    global _last_full
    now = time.monotonic() if now is None else now
    if len(sys.modules) != _frozen_modules:
        freeze_heap()
        _last_full = now
        return "froze"
    if now - _last_full < gc_seconds():
        return ""
    with _freeze_lock:
        if now - _last_full < gc_seconds():     # another session's rerun collected meanwhile
            return ""
        _last_full = now
        gc.collect()
        trim_heap()
    return "collected"


@contextlib.contextmanager
def thawed():
    """Unfreeze for the block (e.g. dropping a model: frozen objects are never collected), then collect what
    the block let go and freeze the rest again."""
    with _freeze_lock:
        gc.unfreeze()
    try:
        yield
    finally:
        freeze_heap()


# ---------------------------------------------------------------------------------------------- forward passes
class Busy(ExplainedError):
    """A request waited longer than the queue's limit for a free slot."""


def forward_slots() -> int:
    """EXPLORER_FORWARD_SLOTS if set, else CPUs / torch threads (at least 1): one forward pass per free share of
    the CPU at a time, so that passes do not fight over the cores (torch runs its ops without the GIL)."""
    raw = os.environ.get("EXPLORER_FORWARD_SLOTS", "")
    if raw.strip().isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, (os.cpu_count() or 2) // torch_threads())


def queue_seconds() -> float:
    """EXPLORER_QUEUE_SECONDS (default 60): the longest a request waits for a slot before it gets a message."""
    return seconds_setting("EXPLORER_QUEUE_SECONDS", 60.0)


class Gate:
    """A fixed number of slots for forward passes, handed out first come, first served.

    A request that must wait is told how many requests are ahead of it (those running and those queued before
    it) through the hook of its own thread (set by the UI: `waiting(hook)`); after `timeout` seconds it stops
    waiting with a Busy message. A thread that holds a slot and runs another pass keeps its slot (re-entrant).
    """

    def __init__(self, slots: int, timeout: float):
        self.slots, self.timeout = max(1, int(slots)), float(timeout)
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()
        self._running = 0
        self._local = threading.local()

    def ahead(self) -> int:
        """Requests running or queued right now (what a newcomer would wait behind)."""
        with self._cond:
            return self._running + len(self._queue)

    @contextlib.contextmanager
    def slot(self):
        if getattr(self._local, "held", False):
            yield
            return
        ticket = object()
        hook = getattr(self._local, "hook", None)
        start = time.monotonic()
        told = None
        with self._cond:
            self._queue.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._queue[0] is ticket and self._running < self.slots:
                        self._queue.popleft()
                        self._running += 1
                        self._cond.notify_all()          # the next in line may start too when a slot is free
                        break
                    ahead = self._running + self._queue.index(ticket)
                    waited = time.monotonic() - start
                    if waited >= self.timeout:
                        self._queue.remove(ticket)
                        self._cond.notify_all()
                        raise Busy(f"The server is busy: {ahead} request{' was' if ahead == 1 else 's were'} still ahead of yours after "
                                   f"{waited:.0f} s. Please try again in a moment.")
                if hook is not None and ahead != told:
                    told = ahead
                    _tell(hook, ahead)
                with self._cond:
                    self._cond.wait(min(0.25, max(0.01, self.timeout - waited)))
        except BaseException:
            with self._cond:                     # whatever stopped the wait, the ticket leaves the line
                if ticket in self._queue:
                    self._queue.remove(ticket)
                self._cond.notify_all()
            raise
        finally:
            if told is not None and hook is not None:
                _tell(hook, None)
        self._local.held = True
        try:
            yield
        finally:
            self._local.held = False
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def waiting(self, hook):
        """Within the block, this thread's waits report `hook(ahead)` (an int while waiting, None when done)."""
        old = getattr(self._local, "hook", None)
        self._local.hook = hook
        try:
            yield
        finally:
            self._local.hook = old


def _tell(hook, ahead) -> None:
    """Show a waiting request its place; a notice that cannot be drawn never stops the request."""
    try:
        hook(ahead)
    except Exception:  # noqa: BLE001 - cosmetic
        logging.getLogger("explorer").exception("could not show the queue notice")


GATE = Gate(forward_slots(), queue_seconds())


def queued(fn):
    """Run `fn` holding a forward-pass slot of the process's queue (GATE, looked up at call time): for engine
    functions that call a model themselves (batched scoring, a decoding loop) instead of through forward()."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with GATE.slot():
            return fn(*args, **kwargs)
    return run

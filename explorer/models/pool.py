"""The models a server process holds: each loaded once for every session, within a memory budget.

EXPLORER_MEMORY_MB bounds the bytes of model weights (parameters and buffers) held at once. When a model
to load would exceed it, the least recently used ones are unloaded first (each with a notice); a model that
alone is larger than the budget is refused with one sentence. The default, 1024 MB, holds GPT-2 (498 MB) and
BERT-base (438 MB) together, the pair the Attention page shows side by side; with the ~550 MB a server
process takes before any model, the process stays near 1.5 GB. A smaller host sets e.g. EXPLORER_MEMORY_MB=500
(one real-size model at a time; the bundled tiny models take a few MB each).
"""
from __future__ import annotations

import collections
import os
import threading
from dataclasses import dataclass
from typing import Callable

from explorer import runtime
from explorer.errors import ExplainedError
from explorer.models.loader import LoadedModel, shown

DEFAULT_MEMORY_MB = 1024
MAX_MODELS = 8                  # models held at most, whatever their size


class TooLarge(ExplainedError):
    """A model larger than the whole memory budget."""


def memory_budget_mb() -> int:
    """EXPLORER_MEMORY_MB (a positive whole number), else the default."""
    raw = os.environ.get("EXPLORER_MEMORY_MB", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MEMORY_MB


def weight_bytes(model) -> int:
    """Bytes of a model's parameters and buffers (tied weights counted once)."""
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        s = t.untyped_storage()
        if s.data_ptr() not in seen:
            seen.add(s.data_ptr())
            total += s.nbytes()
    return total


@dataclass
class Held:
    model_id: str
    lm: LoadedModel
    nbytes: int


class ModelPool:
    """Loaded models by id, least recently used first; thread-safe (one load per id at a time)."""

    def __init__(self, budget_bytes: int, load: Callable[..., LoadedModel], max_models: int = MAX_MODELS):
        self.budget = int(budget_bytes)
        self._load = load
        self.max_models = max_models
        self._held: "collections.OrderedDict[str, Held]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def held(self) -> dict[str, LoadedModel]:
        with self._lock:
            return {h.model_id: h.lm for h in self._held.values()}

    def used(self) -> int:
        with self._lock:
            return sum(h.nbytes for h in self._held.values())

    def get(self, model_id: str, family: str | None = None, progress=None) -> tuple[LoadedModel, list[str]]:
        """(the model, notices of what was unloaded to make room). Raises TooLarge for a model that can
        never fit, and whatever the loader raises."""
        key = f"{model_id}\x00{family}"
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key].lm, []
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:                         # a second session asking for the same model waits for this load
            with self._lock:
                if key in self._held:
                    self._held.move_to_end(key)
                    return self._held[key].lm, []
            lm = self._load(model_id, progress=progress, family=family)
            nbytes = weight_bytes(lm.model)
            mb = 2 ** 20
            if nbytes > self.budget:
                del lm
                with runtime.thawed():
                    pass                   # its weights go now, not at some later collection
                raise TooLarge(f"{shown(model_id)} needs {nbytes / mb:,.0f} MB for its weights, more than this "
                               f"server's model memory budget of {self.budget / mb:,.0f} MB (EXPLORER_MEMORY_MB); "
                               "choose a smaller model.")
            notices = []
            with self._lock:
                victims = []
                while self._held and (sum(h.nbytes for h in self._held.values()) + nbytes > self.budget
                                      or len(self._held) >= self.max_models):
                    old_key, old = self._held.popitem(last=False)
                    victims.append(old)
                    notices.append(f"Unloaded {shown(old.model_id)} ({old.nbytes / mb:,.0f} MB) to make room for "
                                   f"{shown(model_id)} within the server's model memory budget of "
                                   f"{self.budget / mb:,.0f} MB; it loads again when a page needs it.")
                self._held[key] = Held(model_id, lm, nbytes)
                self._loading.pop(key, None)
            if victims:
                with runtime.thawed():     # frozen objects are never collected: thaw, let go, freeze again
                    victims.clear()
            else:
                runtime.freeze_heap()      # the new model lives as long as the process: out of every collection
            return lm, notices

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
        with runtime.thawed():
            pass

"""Process-wide settings, fixed once at start-up (app.py), never toggled per request.

torch's thread count is global to the process: changing it inside one session's request would change
it under every other session's forward pass at the same moment.
"""
from __future__ import annotations

import os

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
        _configured = torch_threads()
        torch.set_num_threads(_configured)
    return _configured

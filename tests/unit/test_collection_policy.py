"""A full garbage collection at most every EXPLORER_GC_SECONDS for the whole process (explorer.runtime.settle),
instead of Streamlit's one after every rerun of every session (off in .streamlit/config.toml)."""
import gc
import sys
import tomllib
import weakref
from pathlib import Path

from explorer import runtime

ROOT = Path(__file__).resolve().parents[2]


class Cycle:
    def __init__(self):
        self.me = self


def test_streamlits_collection_after_every_rerun_is_off():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_a_cycle_is_freed_by_the_next_due_collection_and_not_before(monkeypatch):
    monkeypatch.setenv("EXPLORER_GC_SECONDS", "10")
    monkeypatch.setattr(runtime, "_last_full", float("-inf"))
    runtime.freeze_heap()
    try:
        assert runtime.settle(now=1000.0) == "collected"
        gc.disable()                                   # only settle() collects in this test
        c = Cycle()
        ref = weakref.ref(c)
        del c
        assert runtime.settle(now=1005.0) == ""        # 5 s after the last one: not due
        assert ref() is not None
        assert runtime.settle(now=1010.5) == "collected"
        assert ref() is None
    finally:
        gc.enable()
        gc.unfreeze()


def test_new_modules_are_frozen_at_once(monkeypatch):
    try:
        runtime.freeze_heap()
        monkeypatch.setitem(sys.modules, "explorer_test_fake_module", type(sys)("explorer_test_fake_module"))
        assert runtime.settle(now=0.0) == "froze"
        assert runtime.settle(now=0.1) == ""
    finally:
        gc.unfreeze()


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EXPLORER_GC_SECONDS", "2.5")
    assert runtime.gc_seconds() == 2.5
    for bad in ("", "soon", "-1"):
        monkeypatch.setenv("EXPLORER_GC_SECONDS", bad)
        assert runtime.gc_seconds() == 10.0


def test_the_c_heap_gives_freed_pages_back_after_a_full_collection(monkeypatch):
    if runtime._libc() is None:
        import pytest
        pytest.skip("no glibc here")
    trims = []
    monkeypatch.setattr(runtime, "trim_heap", lambda: trims.append(1) or True)
    monkeypatch.setattr(runtime, "_last_full", float("-inf"))
    runtime.freeze_heap()
    try:
        assert runtime.settle(now=50.0) == "collected" and trims == [1]
        assert runtime.settle(now=51.0) == "" and trims == [1]
    finally:
        gc.unfreeze()

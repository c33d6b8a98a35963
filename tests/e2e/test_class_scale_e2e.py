"""A class on one server: the protocol-level load benchmark runs clean, and several server processes behind
nginx (python -m explorer.serve) serve every page with sticky sessions."""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = mod           # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod


def _run(coro):
    """asyncio.run in a thread of its own: Playwright's sync API (the other e2e tests' browser) keeps an event loop
    running in this one, and asyncio.run refuses to start a second."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _instant_sessions(monkeypatch, load) -> None:
    """bench/load.py's sessions replaced by ones that answer every step at once (no server)."""
    class InstantSession:
        def __init__(self, base):
            pass

        async def connect(self):
            pass

        async def close(self):
            pass

        async def run(self, step, timeout):
            return load.Result(step.page, 0.0)
    monkeypatch.setattr(load, "Session", InstantSession)


def _nginx() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None)
    if not path:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (apt-get install -y nginx); CI must run the proxy test")
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    return path


def test_load_bench_with_four_sessions_runs_clean():
    # the README's `python bench/load.py`, bounded: 4 sessions, 60 s per scenario; any failed visit fails it
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "bench/load.py", "--sessions", "4", "--seconds", "60"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1500)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and "0 errors" in out, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    for word in ("alone", "own", "teacher", "server RSS: start", "ratio"):
        assert word in out, out[-4000:]


def test_two_processes_behind_nginx_serve_every_page_with_sticky_sessions():
    _nginx()
    load = _load_bench()
    server = load.Server(2)                 # python -m explorer.serve --processes 2 --port <free>
    try:
        assert len(server.pythons()) == 2
        seen = set()
        for _ in range(12):                 # browsers without a cookie are spread over both processes
            with urllib.request.urlopen(server.base + "/", timeout=30) as r:
                seen.add(r.headers["X-Explorer-Process"])
                cookie = r.headers["Set-Cookie"].split(";")[0]
        assert len(seen) == 2, seen
        for _ in range(4):                  # one browser (its cookie) stays on one process
            req = urllib.request.Request(server.base + "/_stcore/health", headers={"Cookie": cookie})
            with urllib.request.urlopen(req, timeout=30) as r:
                seen.add(("sticky", r.headers["X-Explorer-Process"]))
        assert len([s for s in seen if isinstance(s, tuple)]) == 1

        async def every_page():
            results = []
            for i in range(2):              # two sessions: (most likely) both processes, every page each
                await load.student(server.base, load.scenario(load.student_text(i)), float("inf"), results)
            return results
        results = _run(every_page())
    finally:
        server.stop()
    pages = {r.page for r in results}
    assert {"home", "attention", "generation", "pipeline", "kv-cache"} <= pages, pages
    assert [r.error for r in results if r.error] == []
    assert len(pages) == len(load.scenario("x"))


def test_the_proxy_configuration_keeps_websockets_and_hosts():
    from explorer import serve
    conf = serve.nginx_conf([9001, 9002], 8501, "127.0.0.1", "/tmp/x")
    assert "server 127.0.0.1:9001" in conf and "server 127.0.0.1:9002" in conf
    assert "proxy_set_header Upgrade $http_upgrade" in conf            # Streamlit's session is a websocket
    assert "proxy_set_header Host $http_host" in conf                  # with its port: Streamlit's origin check
    assert "hash $route consistent" in conf and f"{serve.COOKIE}=$route" in conf


def test_a_session_that_comes_back_starts_every_section_walk_from_its_link():
    # a soak loops each session through the pages: a page whose step clicks "next section" must name its first
    # section in the link, or the second loop lands on the last section, where that button is gone (37 errors)
    load = _load_bench()
    for steps in load.scenario("x"):
        if any(s.kind == "click" and str(s.arg).endswith("_next") for s in steps):
            assert "view" in steps[0].arg, steps[0]


def test_students_read_before_they_click_again(monkeypatch):
    load = _load_bench()

    slept = []

    async def sleep(seconds):
        slept.append(seconds)
    _instant_sessions(monkeypatch, load)
    monkeypatch.setattr(load.asyncio, "sleep", sleep)
    plan = load.scenario("x")
    n = sum(len(steps) for steps in plan)
    _run(load.student("http://x", plan, float("inf"), [], think=5.0, seed=3))
    assert len(slept) == n and all(2.5 <= s <= 7.5 for s in slept) and 4 < sum(slept) / n < 6
    first = list(slept)
    slept.clear()
    _run(load.student("http://x", plan, float("inf"), [], think=5.0, seed=3))
    assert slept == first                    # seeded: the same run reads the same times
    slept.clear()
    _run(load.student("http://x", plan, float("inf"), [], think=5.0, seed=4))
    assert slept != first                    # another student reads at other times
    slept.clear()
    _run(load.student("http://x", plan, float("inf"), [], think=0.0))
    assert slept == []                       # --think 0: the next click at once


def test_the_soak_compares_the_last_minute_with_a_given_minute():
    load = _load_bench()
    samples = [(30.0 * i, 100 + (10 * i if i <= 6 else 60)) for i in range(1, 21)]   # grows 3 min, then flat
    assert load.rss_change(samples, 60) == pytest.approx(160 / 125 - 1)               # the second minute: +28%
    assert load.rss_change(samples, 180) == pytest.approx(0.0)                        # after the growth: flat
    assert load.rss_change(samples, 500) is None                                      # overlaps the last minute
    assert load.rss_change([], 60) is None


def test_each_session_reports_its_first_round_once(monkeypatch):
    load = _load_bench()
    _instant_sessions(monkeypatch, load)
    import time
    rounds = []
    _run(load.student("http://x", load.scenario("x"), float("inf"), [], time.monotonic() + 0.05,
                             rounds=rounds))
    assert len(rounds) == 1

"""A whole class on one server, measured at Streamlit's own protocol level.

Starts the app (`streamlit run app.py`, or `python -m explorer.serve --processes P`: P servers behind nginx) on
a loopback port and drives N sessions at once over the websocket a browser uses (`/_stcore/stream`): each
rerun is a `BackMsg` with `rerun_script` (the page's name, the link's query string, the widget that changed),
answered by `ForwardMsg`s up to `script_finished` (a status other than finished-early-for-rerun). Every session
walks every page's main interactions: open it with a link, move a slider, step the generation, switch a
section. Two scenarios: every student with their own text, and the whole class on the teacher's link.

Prints one table: p50 / p95 / max seconds per page visit, errors (exceptions, error boxes, page not found, no
answer in time), the servers' RSS at start / after one session / peak, their CPU share of the machine, the wall
time, and p95 with N sessions against p95 of one session alone, measured in the same run.

    python bench/load.py                       # 30 sessions, both scenarios
    python bench/load.py --sessions 4 --seconds 60
    python bench/load.py --processes 2         # two servers behind nginx (explorer.serve)
    python bench/load.py --browsers 2          # + 2 real Chromium tabs (Playwright) on the teacher's link
    python bench/load.py --minutes 10          # soak: sessions loop for 10 minutes; RSS every 30 s
    python bench/load.py --real-size           # GPT-2- and BERT-base-size random-init models instead of the tiny ones
    python bench/load.py --think 0             # every student clicks the instant an answer arrives (a stress test)

A student reads each answer before clicking again: --think seconds on average (default 5), seeded. With --think 0
the class is a closed loop that clicks as fast as the server answers, so the mean wait is sessions / throughput
whatever the pages do (Little's law): a measure of throughput, not of what a class waits.

Exits 1 when any visit fails (an error is an error however loaded the machine is); time goals are printed.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
FINISHED_EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
THINK_SECONDS = 5.0           # a student reads an answer this long on average before the next click
STEP_TIMEOUT = 120.0           # one rerun that takes longer is an error, not a wait forever

TEACHER_TEXT = "The refund was approved because the parcel arrived late."
STUDENT_WORDS = ["refund", "parcel", "account", "password", "shipping", "invoice", "order", "delivery", "login",
                 "address", "payment", "ticket", "support", "courier", "receipt", "warranty"]


def student_text(i: int) -> str:
    """Student i's own sentence (seeded: the same run types the same texts)."""
    rng = random.Random(i)
    a, b, c = rng.sample(STUDENT_WORDS, 3)
    return f"Student {i} asked about the {a} and the {b}, then the {c} was sorted."


# ------------------------------------------------------------------------------------------- the scenario
@dataclass(frozen=True)
class Step:
    page: str                 # url path ("" = home)
    kind: str                 # "open" (a link), "set" (a widget's new value), "click" (a button)
    arg: object = None        # open: query dict; set: (key, value); click: key


def visit(page: str, query: dict | None = None, *actions: tuple) -> list[Step]:
    return [Step(page, "open", query or {})] + [Step(page, kind, arg) for kind, arg in actions]


def scenario(text: str) -> list[list[Step]]:
    """Every page's main interactions for one student who types `text`: one list of steps per page. Links name the
    section a click leaves, so a session that comes back (a soak) starts from it again."""
    return [
        visit(""),
        visit("families", {"view": "masks", "text": text[:60]}, ("set", ("fam_layer", 1)), ("click", "fam_next")),
        visit("attention", {"text": text}, ("set", ("att_layer", 1)), ("set", ("att_head", 1)),
              ("set", ("att_view", "A layer's heads"))),
        visit("generation", {"prompt": text}, ("click", "gen_step"), ("click", "gen_step"), ("click", "gen_step"),
              ("set", ("gen_temp", 0.7))),
        visit("rope", {"view": "model", "text": text}, ("set", ("rope_layer", 1))),
        visit("moe", {"view": "model", "text": text}, ("set", ("moe_layer", 1))),
        visit("kv-cache", {"view": "growth"}, ("set", ("kv_layers", 12)), ("click", "kv_next")),
        visit("efficient", {"view": "model", "text": text}, ("click", "eff_next")),
        visit("pipeline", {"text": text, "view": "tokens"}, ("click", "pipe_go_next"), ("click", "pipe_go_next")),
        visit("adapt", {"view": "scale"}, ("click", "ad_next")),
        visit("multimodal"),
    ]


# Real-size models: GPT-2 small's and BERT-base's bodies (12 layers, 12 heads, width 768, 3072 inner, 1024 and 512
# positions), random init, written as local model folders the pages open through their link (decoder=, encoder=;
# the server allows local folders). They keep the bundled tokenizers (4,096 tokens): with GPT-2's 50,257-token
# embedding a random model would predict ids those tokenizers cannot show. Weights float32.
REAL_SIZE = {"decoder": ("tiny-gpt2", dict(n_embd=768, n_layer=12, n_head=12, n_inner=3072, n_positions=1024)),
             "encoder": ("tiny-bert", dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                           intermediate_size=3072, max_position_embeddings=512))}


def real_size_models(folder: Path) -> dict[str, str]:
    """Write the real-size random-init folders under `folder` (seeded); {link parameter: folder path}."""
    import json
    import shutil

    import torch
    import transformers
    torch.manual_seed(0)
    out = {}
    for name, (tiny, sizes) in REAL_SIZE.items():
        src, dst = ROOT / "assets" / "models" / tiny, folder / f"{tiny.replace('tiny-', '')}-real-size"
        config = json.loads((src / "config.json").read_text())
        config.update(sizes, dtype="float32")
        cfg = transformers.AutoConfig.for_model(config.pop("model_type"), **config)
        model = getattr(transformers, cfg.architectures[0])(cfg)
        model.save_pretrained(dst, safe_serialization=True)
        for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
            if (src / f).exists():
                shutil.copy(src / f, dst / f)
        out[name] = str(dst)
        print(f"  {dst.name}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters", flush=True)
    return out


def with_models(pages: list[list[Step]], models: dict[str, str]) -> list[list[Step]]:
    """The same visits with the models in every link (decoder=..., encoder=...)."""
    return [[Step(s.page, s.kind, {**s.arg, **models}) if s.kind == "open" else s for s in steps] for steps in pages]


# ------------------------------------------------------------------------------------------- one session
@dataclass
class Result:
    page: str
    seconds: float
    error: str | None = None
    queued: bool = False      # the run showed "N requests ahead of you" (it waited for a forward-pass slot)


class Session:
    """One browser tab's conversation with the server, over its websocket."""

    def __init__(self, base: str):
        self.base = base
        self.ws = None
        self.query = ""                      # the tab's address bar (the server rewrites it: page_info_changed)
        self.widgets: dict[str, tuple[str, str]] = {}   # user key -> (widget id, element type) of the last run

    async def connect(self) -> None:
        headers = {}
        with contextlib.suppress(Exception):          # behind the proxy: the sticky-session cookie of "/"
            with urllib.request.urlopen(self.base + "/", timeout=30) as r:
                cookies = [c.split(";")[0] for c in r.headers.get_all("Set-Cookie") or []]
                if cookies:
                    headers["Cookie"] = "; ".join(cookies)
        url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None,
                                           additional_headers=headers, open_timeout=60, ping_interval=None)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def rerun(self, page: str, states=()) -> list[str]:
        """Send one rerun and read until its script has finished. Returns the errors the run drew."""
        msg = BackMsg()
        msg.rerun_script.page_name = page
        msg.rerun_script.query_string = self.query
        for s in states:
            msg.rerun_script.widget_states.widgets.append(s)
        await self.ws.send(msg.SerializeToString())
        errors: list[str] = []
        widgets: dict[str, tuple[str, str]] = {}
        self.queued = False
        while True:
            f = ForwardMsg()
            f.ParseFromString(await self.ws.recv())
            kind = f.WhichOneof("type")
            if kind == "delta" and f.delta.WhichOneof("type") == "new_element":
                e = f.delta.new_element
                ek = e.WhichOneof("type")
                if ek == "exception":
                    errors.append(f"exception: {e.exception.type}: {e.exception.message[:120]}")
                elif ek == "alert" and e.alert.format == Alert.ERROR:
                    errors.append(f"error box: {e.alert.body[:120]}")
                elif ek == "alert" and "ahead of you" in e.alert.body:
                    self.queued = True
                else:
                    wid = getattr(getattr(e, ek), "id", "") if ek else ""
                    if isinstance(wid, str) and wid.startswith("$$ID-"):
                        widgets[wid.split("-", 2)[2]] = (wid, ek)
            elif kind == "page_not_found":
                errors.append(f"page not found: {f.page_not_found.page_name!r}")
            elif kind == "page_info_changed":
                self.query = f.page_info_changed.query_string
            elif kind == "new_session":
                widgets.clear()
                errors.clear()
            elif kind == "script_finished" and f.script_finished != FINISHED_EARLY:
                self.widgets = widgets
                return errors
            elif kind == "script_finished":
                widgets.clear()              # a rerun follows; its elements replace these
                errors.clear()

    def state(self, step: Step):
        from streamlit.proto.WidgetStates_pb2 import WidgetState
        key = step.arg if step.kind == "click" else step.arg[0]
        if key not in self.widgets:
            raise LookupError(f"no widget {key!r} on {step.page or 'home'}")
        wid, ek = self.widgets[key]
        s = WidgetState(id=wid)
        if step.kind == "click":
            s.trigger_value = True
        elif ek == "slider":
            s.double_array_value.data.append(float(step.arg[1]))
        elif ek == "button_group":
            s.string_array_value.data.append(str(step.arg[1]))
        else:
            s.string_value = str(step.arg[1])
        return s

    async def run(self, step: Step, timeout: float) -> Result:
        t = time.perf_counter()
        try:
            if step.kind == "open":
                self.query = urllib.parse.urlencode(step.arg)
                errors = await asyncio.wait_for(self.rerun(step.page), timeout)
            else:
                errors = await asyncio.wait_for(self.rerun(step.page, [self.state(step)]), timeout)
            error = "; ".join(errors) or None
        except asyncio.TimeoutError:
            error = f"no answer within {timeout:.0f} s"
        except Exception as e:  # noqa: BLE001 - a broken connection is one error of the run, reported
            error = f"{type(e).__name__}: {e}"
        return Result(step.page or "home", time.perf_counter() - t, error, getattr(self, "queued", False))


async def student(base: str, pages: list[list[Step]], deadline: float, results: list[Result],
                  loop_until: float | None = None, think: float = 0.0, seed: int = 0,
                  rounds: list[float] | None = None) -> int:
    """One session through `pages` in order (looping until `loop_until` in a soak). After each answer the student
    reads for `think` seconds on average (uniform between half and one and a half times it, seeded) before the
    next click; 0: the next click the instant the answer has arrived. Returns skipped steps."""
    rng = random.Random(seed)
    first_round_done = False
    s = Session(base)
    try:
        await asyncio.wait_for(s.connect(), 60)
    except Exception as e:  # noqa: BLE001
        results.append(Result("connect", 0.0, f"{type(e).__name__}: {e}"))
        return 0
    skipped = 0
    try:
        while True:
            for steps in pages:
                for i, step in enumerate(steps):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        skipped += len(steps) - i
                        continue
                    r = await s.run(step, min(STEP_TIMEOUT, left + 30))
                    results.append(r)
                    if r.error and step.kind == "open":
                        skipped += len(steps) - i - 1
                        break
                    if think > 0:
                        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            if rounds is not None and not skipped and not first_round_done:
                rounds.append(time.monotonic())      # this session has been through every page once
                first_round_done = True
            if loop_until is None or time.monotonic() > loop_until:
                return skipped
    finally:
        await s.close()


# ------------------------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` (one process) or `python -m explorer.serve` (P processes behind nginx)."""

    def __init__(self, processes: int, log: str | None = None, env: dict | None = None):
        self.processes = processes
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT), **(env or {}))
        if processes == 1:
            argv = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
                    f"--server.port={self.port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"]
        else:
            argv = [sys.executable, "-m", "explorer.serve", "--processes", str(processes), "--port", str(self.port)]
        out = open(log, "w") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        end = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(self.base + "/_stcore/health", timeout=2)
                break
            except Exception:
                if self.proc.poll() is not None or time.time() > end:
                    self.stop()
                    sys.exit(f"the server did not start: {' '.join(argv)}")
                time.sleep(0.5)
        self.peak = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def pythons(self) -> list[psutil.Process]:
        """The processes that run the app: the one `streamlit run`, or explorer.serve's servers (not nginx)."""
        root = psutil.Process(self.proc.pid)
        if self.processes == 1:
            return [root]
        out = []
        for p in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "streamlit" in " ".join(p.cmdline()):
                    out.append(p)
        return out

    def backends(self) -> list[str]:
        """Each app process's own address (behind the proxy: each process once, to warm them all)."""
        if self.processes == 1:
            return [self.base]
        out = []
        for p in self.pythons():
            with contextlib.suppress(psutil.Error):
                for arg in p.cmdline():
                    if arg.startswith("--server.port="):
                        out.append(f"http://127.0.0.1:{arg.split('=', 1)[1]}")
        return out

    def rss(self) -> int:
        total = 0
        for p in self.pythons():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu(self) -> float:
        total = 0.0
        for p in self.pythons():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(0.5)

    def stop(self) -> None:
        with contextlib.suppress(AttributeError):
            self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ------------------------------------------------------------------------------------------- browsers
def browsers(base: str, k: int, query_text: str, results: list[Result], deadline: float) -> None:
    """K real Chromium tabs visiting every page on the teacher's link (a check of what the driver sees)."""
    import shutil
    from playwright.sync_api import sync_playwright
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        results.append(Result("browser", 0.0, "Chromium is not installed (apt-get install -y chromium)"))
        return
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

    def one(i: int) -> None:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=exe, args=args)
            page = b.new_page(viewport={"width": 1280, "height": 800})
            for steps in scenario(query_text):
                if time.monotonic() > deadline:
                    break
                first = steps[0]
                q = urllib.parse.urlencode(first.arg)
                t = time.perf_counter()
                error = None
                try:
                    page.goto(f"{base}/{first.page}" + (f"?{q}" if q else ""), wait_until="domcontentloaded",
                              timeout=STEP_TIMEOUT * 1000)
                    page.wait_for_selector('[data-testid="stMain"] h1', timeout=STEP_TIMEOUT * 1000)
                    time.sleep(1.0)
                    end = time.time() + STEP_TIMEOUT
                    while time.time() < end and page.locator('[data-testid="stStatusWidget"]').count():
                        time.sleep(0.2)
                    bad = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
                    texts = [" ".join(x.split())[:120] for x in bad.all_inner_texts()]
                    error = "; ".join(texts) or None
                except Exception as e:  # noqa: BLE001
                    error = f"{type(e).__name__}: {str(e)[:120]}"
                results.append(Result("browser:" + (first.page or "home"), time.perf_counter() - t, error))
            b.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ------------------------------------------------------------------------------------------- the run
def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


@dataclass
class Phase:
    name: str
    results: list[Result] = field(default_factory=list)
    wall: float = 0.0
    cpu_share: float = 0.0
    skipped: int = 0
    bound: float = 0.0        # the phase's time bound, seconds
    rounds: list[float] = field(default_factory=list)   # when each session finished its first round of the pages
    load: tuple = ()          # the machine's load average (1, 5 min) at the phase's end: others' work counts too

    def times(self, page: str | None = None) -> list[float]:
        return [r.seconds for r in self.results if not r.error and (page is None or r.page == page)]

    def errors(self) -> list[Result]:
        return [r for r in self.results if r.error]


def run_phase(server: Server, name: str, plans: list[list[list[Step]]], seconds: float,
              loop: bool = False, browser_k: int = 0, think: float = 0.0, base: str | None = None) -> Phase:
    phase = Phase(name, bound=seconds)
    base = base or server.base
    deadline = time.monotonic() + seconds
    cpu0, t0 = server.cpu(), time.perf_counter()
    bthread = None
    if browser_k:
        bthread = threading.Thread(target=browsers, args=(server.base, browser_k, TEACHER_TEXT, phase.results,
                                                          deadline))
        bthread.start()

    async def main():
        return await asyncio.gather(*[student(base, plan, deadline, phase.results,
                                              deadline if loop else None, think, seed=i, rounds=phase.rounds)
                                      for i, plan in enumerate(plans)])
    skipped = asyncio.run(main())
    if bthread is not None:
        bthread.join()
    phase.wall = time.perf_counter() - t0
    phase.cpu_share = (server.cpu() - cpu0) / phase.wall / (os.cpu_count() or 1)
    phase.skipped = sum(skipped)
    phase.load = os.getloadavg()[:2]
    return phase


def rotate(pages: list, k: int) -> list:
    k %= len(pages)
    return pages[k:] + pages[:k]


def table(phases: list[Phase], alone: Phase) -> list[str]:
    pages = list(dict.fromkeys(r.page for p in [alone] + phases for r in p.results))
    lines = [f"{'scenario':<10} {'page':<20} {'visits':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'errors':>6}"]
    for p in [alone] + phases:
        for page in pages + ["all"]:
            ts = p.times(None if page == "all" else page)
            errs = [r for r in p.errors() if page == "all" or r.page == page]
            if not ts and not errs:
                continue
            lines.append(f"{p.name:<10} {page:<20} {len(ts):>6} {pct(ts, .5):>7.2f} {pct(ts, .95):>7.2f} "
                         f"{max(ts, default=float('nan')):>7.2f} {len(errs):>6}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=600, help="time bound of each scenario's concurrent run")
    ap.add_argument("--scenario", choices=["own", "teacher", "both"], default="both")
    ap.add_argument("--think", type=float, default=THINK_SECONDS,
                    help="seconds a student reads an answer before the next click, on average (0: clicks at once)")
    ap.add_argument("--processes", type=int, default=1, help="servers behind nginx (explorer.serve); 1: plain")
    ap.add_argument("--browsers", type=int, default=0, help="real Chromium tabs on the teacher's link, alongside")
    ap.add_argument("--minutes", type=float, default=0, help="soak: every session loops this long; RSS over time")
    ap.add_argument("--log", help="write the server's output (tracebacks of failed visits) to this file")
    ap.add_argument("--real-size", action="store_true",
                    help="GPT-2- and BERT-base-size random-init models (local folders) instead of the bundled tiny ones")
    a = ap.parse_args(argv)
    models: dict[str, str] = {}
    env: dict[str, str] = {}
    if a.real_size:
        import tempfile
        tmp = tempfile.TemporaryDirectory(prefix="explorer-real-size-")
        print("real-size random-init models:", flush=True)
        models = real_size_models(Path(tmp.name))
        env["EXPLORER_ALLOW_CUSTOM_MODELS"] = "1"

    def plan(text: str) -> list[list[Step]]:
        return with_models(scenario(text), models)

    print(f"class load: {a.sessions} sessions, {a.processes} server process(es), {os.cpu_count()} CPUs, "
          + ("real-size random-init models, " if a.real_size else "")
          + f"{a.think:g} s reading time between clicks on average, "
          + f"load average {os.getloadavg()[0]:.1f} at start", flush=True)
    server = Server(a.processes, a.log, env)
    try:
        rss_start = server.rss()
        # one session through every page on each process (its first visits import modules and load models)
        warm = Phase("warm-up")
        for b in server.backends():
            warm.results += run_phase(server, "warm-up", [plan(student_text(1000))], STEP_TIMEOUT * 10, base=b).results
        rss_one = server.rss()
        alone = run_phase(server, "alone", [plan(student_text(999))], STEP_TIMEOUT * 10)
        phases = []
        if a.minutes:
            phases.append(soak(server, a, plan))
        else:
            if a.scenario in ("own", "both"):
                plans = [rotate(plan(student_text(i)), i) for i in range(a.sessions)]
                phases.append(run_phase(server, "own", plans, a.seconds, browser_k=a.browsers, think=a.think))
            if a.scenario in ("teacher", "both"):
                plans = [plan(TEACHER_TEXT) for _ in range(a.sessions)]
                phases.append(run_phase(server, "teacher", plans, a.seconds, browser_k=a.browsers, think=a.think))
        peak = server.peak
    finally:
        server.stop()

    print("\n".join(table(phases, alone)))
    mb = 1 / 2 ** 20
    one = "after one session" + (" on each process" if a.processes > 1 else "")
    print(f"server RSS: start {rss_start * mb:.0f} MB, {one} {rss_one * mb:.0f} MB, "
          f"peak {peak * mb:.0f} MB (growth from one session to peak {(peak - rss_one) * mb:+.0f} MB)")
    for p in phases:
        alone95, p95 = pct(alone.times(), .95), pct(p.times(), .95)
        print(f"{p.name}: wall {p.wall:.0f} s, server CPU {100 * p.cpu_share:.0f}% of {os.cpu_count()} CPUs, "
              f"p95 {p95:.2f} s vs alone {alone95:.2f} s: ratio {p95 / alone95:.1f}x, "
              f"{sum(r.queued for r in p.results)} visits showed their place in the queue, "
              f"machine load average {p.load[0]:.1f} (1 min) / {p.load[1]:.1f} (5 min) at the end"
              + (f", {p.skipped} steps not reached within {p.bound:.0f} s" if p.skipped else ""))
    errors = warm.errors() + alone.errors() + [r for p in phases for r in p.errors()]
    for r in errors[:20]:
        print(f"  error on {r.page}: {r.error}")
    if errors:
        print(f"FAIL: {len(errors)} visits failed")
        return 1
    print("0 errors")
    return 0


def soak(server: Server, a, plan=scenario) -> Phase:
    """Every session loops its scenario for a.minutes; RSS printed every 30 s; flat = last minute within 5% of
    the second."""
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def watch():
        while not stop.wait(30):
            samples.append((time.monotonic() - t0, server.rss()))
            print(f"  soak {samples[-1][0] / 60:5.1f} min: RSS {samples[-1][1] / 2 ** 20:.0f} MB", flush=True)
    w = threading.Thread(target=watch, daemon=True)
    w.start()
    plans = [rotate(plan(student_text(i)), i) for i in range(a.sessions)]
    phase = run_phase(server, "soak", plans, a.minutes * 60, loop=True, think=a.think)
    stop.set()
    change = rss_change(samples, 60)
    if change is not None:
        print(f"soak: RSS in the last minute {100 * change:+.1f}% against the second minute "
              f"({'flat' if abs(change) <= 0.05 else 'NOT flat'}: goal within 5%)")
    if len(phase.rounds) == a.sessions:     # every session has been everywhere once: growth from here is a leak's
        start = max(phase.rounds) - t0
        change = rss_change(samples, start)
        if change is not None:
            print(f"soak: RSS in the last minute {100 * change:+.1f}% against the minute after every session's "
                  f"first round of the pages (done at {start / 60:.1f} min)")
    return phase


def rss_change(samples: list[tuple[float, int]], start: float) -> float | None:
    """Mean RSS of the last minute against the minute from `start` s; None when the soak is too short for both."""
    if not samples:
        return None
    first = [r for t, r in samples if start <= t < start + 60]
    last = [r for t, r in samples if t >= samples[-1][0] - 60]
    if not first or not last or start + 60 > samples[-1][0] - 60:
        return None
    return statistics.mean(last) / statistics.mean(first) - 1


if __name__ == "__main__":
    sys.exit(main())

"""Lesson tours: a teacher walks a class through the app, step by step, with a presentation clicker.

A tour is one TOML file in assets/lessons/ (its file name, without .toml, is its id in the link,
`?tour=gqa-mqa&step=3`). A step names a page by its link path and sets that page's link parameters
(the same names `UrlState` reads), so a step opens exactly one view of the app:

    title = "Why GQA and MQA save memory"
    audience = "Knows what attention is · 10 minutes"
    order = 3                                  # place in the lessons' arc on the home page

    [[steps]]
    title = "Llama-3-8B's cache"               # optional short name of the step
    page = "kv-cache"                          # the page's link path
    params = { preset = "Llama-3-8B", view = "growth" }
    caption = "Three cache sizes for one workload: read the middle card."
    shows = ["8.00 GiB"]                       # text the checker expects this view to show (computed live)
    note = "Only the teacher sees this (sidebar)."

    [steps.ask]                                # optional: a question for the class, answer revealed on demand
    kind = "choice"
    question = "What does GQA share between query heads?"
    choices = ["The queries", "The keys and values", "The output projection"]
    answer = "The keys and values"             # one of the choices, exactly
    why = "Each group of query heads reads one cached K/V head."

This module is the schema (dataclasses), the loader (stdlib `tomllib`), static validation and the
command line checker:

    python -m explorer.tours check assets/lessons/*.toml

which validates each file, then opens every step through streamlit.testing's AppTest (see
explorer/ui/tour_check.py) and reports a step that fails to render, a link parameter its page does
not read or rejects, or a `shows` text missing from the view. Nothing here imports Streamlit.
"""
from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "assets" / "lessons"

# Link names the tour itself uses: a step may not set them. `solo`: a learner plays the tour alone (checks are
# graded); `prog`: that learner's progress (see encode_progress), so a bookmark brings it back.
TOUR_PARAM, STEP_PARAM, SOLO_PARAM, PROGRESS_PARAM = "tour", "step", "solo", "prog"
RESERVED_PARAMS = {TOUR_PARAM, STEP_PARAM, SOLO_PARAM, PROGRESS_PARAM}
MAX_STEPS = 30
MAX_TEXT = 600                 # characters of a caption, question, choice, note
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
CHECK_KINDS = ("choice", "predict")   # predict: the answer is computed live (explorer/checks.py), never in the file


class TourError(ValueError):
    """A tour file that does not follow the schema; `problems` lists every one, with where it is."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))


# ============================================================================ the schema
@dataclass(frozen=True)
class Check:
    """A question inside a step.

    kind "choice": pick one of `choices`; `answer` is one of them, `why` says why in one line.
    kind "predict": the learner commits a guess, then sees what `compute` (a name in explorer.checks.REGISTRY,
    called with `args`) gives from the model or engine right now; the file never holds the answer.
    `see`: the step (number in the file) that answers the question, when it is not this one.
    """
    kind: str
    question: str
    choices: tuple[str, ...] = ()
    answer: str = ""
    why: str = ""
    compute: str = ""
    args: tuple[tuple[str, Any], ...] = ()
    see: int = 0

    @property
    def answer_index(self) -> int:
        return self.choices.index(self.answer)

    @property
    def live(self) -> bool:
        return self.kind == "predict"

    def grade(self, guess: Any) -> bool:
        """A choice check: is `guess` its answer? (A predict check is graded by its live answer: checks.Live.grade.)"""
        if self.live:
            raise ValueError("a predict check is graded against its live answer (explorer.checks.Live.grade)")
        return guess == self.answer

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)


@dataclass(frozen=True)
class Step:
    page: str                                  # link path of the page, e.g. "kv-cache"
    caption: str                               # what to look at, one or two sentences
    params: tuple[tuple[str, str], ...] = ()   # the page's link parameters, as the link carries them
    title: str = ""
    note: str = ""                             # for the teacher only
    shows: tuple[str, ...] = ()                # texts the view must show (checked, never displayed)
    ask: Check | None = None
    number: int = 0                            # 1-based position in the file (before skipping)

    @property
    def query(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True)
class Skipped:
    number: int      # 1-based position in the file
    page: str


@dataclass(frozen=True)
class Tour:
    id: str
    title: str
    audience: str
    steps: tuple[Step, ...]                    # the steps a class can take now
    order: int = 100
    skipped: tuple[Skipped, ...] = ()          # steps whose page is not built yet
    source: str = ""

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def runnable(self) -> bool:
        return bool(self.steps)

    @property
    def waiting_for(self) -> list[str]:
        """Pages the skipped steps wait for, in order of first use."""
        return list(dict.fromkeys(s.page for s in self.skipped))

    def skip_note(self, titles: dict[str, str] | None = None) -> str | None:
        """One sentence for the teacher about skipped steps, or None."""
        if not self.skipped:
            return None
        names = ", ".join((titles or {}).get(p, p) for p in self.waiting_for)
        n = len(self.skipped)
        return (f"{n} step{'s' if n > 1 else ''} of this tour {'wait' if n > 1 else 'waits'} for "
                f"{'pages' if len(self.waiting_for) > 1 else 'a page'} not built yet ({names}) and "
                f"{'are' if n > 1 else 'is'} left out.")


# ============================================================================ parsing and validation
def _text(d: dict, key: str, where: str, problems: list[str], required: bool = True, limit: int = MAX_TEXT) -> str:
    v = d.get(key)
    if v is None:
        if required:
            problems.append(f"{where}: `{key}` is missing")
        return ""
    if not isinstance(v, str):
        problems.append(f"{where}: `{key}` must be text, not {type(v).__name__}")
        return ""
    if required and not v.strip():
        problems.append(f"{where}: `{key}` is empty")
    if len(v) > limit:
        problems.append(f"{where}: `{key}` is longer than {limit} characters")
    return v.strip()


def _unknown(d: dict, allowed: Iterable[str], where: str, problems: list[str]) -> None:
    extra = sorted(set(d) - set(allowed))
    if extra:
        problems.append(f"{where}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} "
                        f"(allowed: {', '.join(sorted(allowed))})")


def param_text(value: Any) -> str:
    """A parameter value as the link carries it (what UrlState parses): true -> "1", 0.4 -> "0.4"."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _check(d: Any, where: str, problems: list[str]) -> Check | None:
    if not isinstance(d, dict):
        problems.append(f"{where}: must be a table ([steps.ask])")
        return None
    kind = d.get("kind", "choice")
    if kind not in CHECK_KINDS:
        problems.append(f"{where}: `kind` must be one of {', '.join(CHECK_KINDS)}, not {kind!r}")
        return None
    see = d.get("see", 0)
    if not isinstance(see, int) or isinstance(see, bool) or not 0 <= see <= MAX_STEPS:
        problems.append(f"{where}: `see` must be the number of a step of this file")
        see = 0
    if kind == "predict":
        return _predict(d, where, problems, see)
    _unknown(d, ("kind", "question", "choices", "answer", "why", "see"), where, problems)
    question = _text(d, "question", where, problems)
    choices = d.get("choices")
    if not isinstance(choices, list) or not 2 <= len(choices) <= 6 or not all(isinstance(c, str) and c.strip()
                                                                            for c in choices):
        problems.append(f"{where}: `choices` must be a list of 2 to 6 texts")
        return None
    choices = tuple(c.strip() for c in choices)
    if any(len(c) > MAX_TEXT for c in choices):
        problems.append(f"{where}: a choice is longer than {MAX_TEXT} characters")
    if len(set(choices)) != len(choices):
        problems.append(f"{where}: two choices are the same")
    answer = _text(d, "answer", where, problems)
    if answer and answer not in choices:
        problems.append(f"{where}: `answer` {answer!r} is not one of the choices")
        return None
    return Check(kind, question, choices, answer, _text(d, "why", where, problems, required=False), see=see)


def _predict(d: dict, where: str, problems: list[str], see: int) -> Check | None:
    from explorer import checks
    for key in ("answer", "choices"):
        if key in d:
            problems.append(f"{where}: a predict check has no `{key}`: the app computes it live from `compute`")
    _unknown(d, ("kind", "question", "compute", "args", "why", "see", "answer", "choices"), where, problems)
    question = _text(d, "question", where, problems)
    name = _text(d, "compute", where, problems, limit=40)
    args = d.get("args", {})
    if not isinstance(args, dict):
        problems.append(f"{where}: `args` must be a table, e.g. args = {{ prompt = \"Where is my\" }}")
        return None
    if name:
        problems += [f"{where}: {p}" for p in checks.problems(name, args)]
    return Check("predict", question, why=_text(d, "why", where, problems, required=False), compute=name,
                 args=tuple(sorted(args.items())), see=see)


def _step(d: Any, n: int, problems: list[str]) -> Step | None:
    where = f"step {n}"
    if not isinstance(d, dict):
        problems.append(f"{where}: must be a table ([[steps]])")
        return None
    _unknown(d, ("page", "params", "caption", "title", "note", "shows", "ask"), where, problems)
    page = _text(d, "page", where, problems)
    if page and not ID_RE.match(page):
        problems.append(f"{where}: `page` {page!r} is not a page's link path (like \"kv-cache\")")
    params_in = d.get("params", {})
    params: list[tuple[str, str]] = []
    if not isinstance(params_in, dict):
        problems.append(f"{where}: `params` must be a table, e.g. params = {{ view = \"growth\" }}")
    else:
        for name, value in params_in.items():
            if not NAME_RE.match(name) or name in RESERVED_PARAMS:
                problems.append(f"{where}: `{name}` cannot be a link parameter"
                                + (" (the tour itself uses it)" if name in RESERVED_PARAMS else ""))
            elif isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                                 for v in value):
                params.append((name, ",".join(param_text(v) for v in value)))   # UrlState.multi's form
            elif isinstance(value, (str, int, float, bool)):
                params.append((name, param_text(value)))
            else:
                problems.append(f"{where}: parameter `{name}` must be text, a number, true/false or a list")
    shows = d.get("shows", [])
    if isinstance(shows, str):
        shows = [shows]
    if not isinstance(shows, list) or not all(isinstance(s, str) and s.strip() for s in shows):
        problems.append(f"{where}: `shows` must be a list of texts")
        shows = []
    ask = _check(d["ask"], f"{where}, ask", problems) if "ask" in d else None
    return Step(page=page, caption=_text(d, "caption", where, problems), params=tuple(params),
                title=_text(d, "title", where, problems, required=False, limit=80),
                note=_text(d, "note", where, problems, required=False), shows=tuple(s.strip() for s in shows),
                ask=ask, number=n)


def parse(text: str, tour_id: str, source: str = "") -> Tour:
    """A tour from TOML text, every step kept (pages are checked by the caller). Raises TourError listing
    every problem found."""
    source = source or f"{tour_id}.toml"
    if not ID_RE.match(tour_id):
        raise TourError(source, [f"file name {tour_id!r} must be lower-case letters, digits and dashes"])
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TourError(source, [f"not valid TOML ({e})"]) from None
    problems: list[str] = []
    _unknown(d, ("title", "audience", "order", "steps"), "tour", problems)
    title = _text(d, "title", "tour", problems, limit=120)
    audience = _text(d, "audience", "tour", problems, required=False, limit=200)
    order = d.get("order", 100)
    if not isinstance(order, int) or isinstance(order, bool):
        problems.append("tour: `order` must be a whole number")
        order = 100
    raw_steps = d.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append("tour: no steps (add [[steps]] tables)")
        raw_steps = []
    elif len(raw_steps) > MAX_STEPS:
        problems.append(f"tour: {len(raw_steps)} steps, at most {MAX_STEPS}")
    steps = [_step(s, i + 1, problems) for i, s in enumerate(raw_steps[:MAX_STEPS])]
    for s in steps:
        if s and s.ask and s.ask.see and s.ask.see > len(steps):
            problems.append(f"step {s.number}, ask: `see` = {s.ask.see}, but the tour has {len(steps)} steps")
    if problems:
        raise TourError(source, problems)
    return Tour(id=tour_id, title=title, audience=audience, steps=tuple(s for s in steps if s), order=order,
                source=source)


def read(path: str | Path) -> Tour:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TourError(str(path), [f"cannot read the file ({e})"]) from None
    return parse(text, path.stem, str(path))


def check_pages(tour: Tour, known: Iterable[str]) -> list[str]:
    """Problems with the steps' page names: a name that is no page of the app, built or planned."""
    known = set(known)
    return [f"step {s.number}: no page {s.page!r} (pages: {', '.join(sorted(known))})"
            for s in tour.steps if s.page not in known]


def resolve(tour: Tour, built: Iterable[str]) -> Tour:
    """The tour a class can take now: a step whose page is not built is skipped (and listed), never an error."""
    built = set(built)
    keep = tuple(s for s in tour.steps if s.page in built)
    skipped = tuple(Skipped(s.number, s.page) for s in tour.steps if s.page not in built)
    return Tour(id=tour.id, title=tour.title, audience=tour.audience, steps=keep, order=tour.order,
                skipped=skipped, source=tour.source)


def tour_files(folder: Path | None = None) -> list[Path]:
    return sorted((folder or LESSONS).glob("*.toml"))


def load_all(built: Iterable[str], folder: Path | None = None) -> tuple[list[Tour], list[TourError]]:
    """Every tour in the folder (default: assets/lessons), resolved against the built pages, in the lessons'
    order; and the files that do not follow the schema."""
    tours, broken = [], []
    built = set(built)
    for path in tour_files(folder):
        try:
            tours.append(resolve(read(path), built))
        except TourError as e:
            broken.append(e)
    tours.sort(key=lambda t: (t.order, t.id))
    return tours, broken


def step_number(raw: str | None, n_steps: int) -> int | None:
    """A step number from the link (1-based); None when it is not a whole number in 1..n_steps."""
    try:
        n = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return n if 1 <= n <= n_steps else None


# ============================================================================ the learner's progress
# In the link as `prog=families_7_1201.gqa-mqa_3_12`: per tour, the furthest step seen and one digit per check
# of the tour, in step order (0 not answered, 1 right, 2 wrong). Short, readable, bookmarkable; nothing is kept
# on the server beyond the visitor's own session.
MAX_PROGRESS = 900                               # characters of `prog` read from a link
_PART_RE = re.compile(r"^([a-z0-9][a-z0-9-]{0,40})_(\d{1,2})_([012]{0,%d})$" % MAX_STEPS)
NOT_ANSWERED, RIGHT, WRONG = "0", "1", "2"


@dataclass(frozen=True)
class Progress:
    """One tour's progress: the furthest step seen (0: not started) and a digit per check."""
    seen: int = 0
    answers: str = ""

    def answer(self, i: int) -> str:
        return self.answers[i] if i < len(self.answers) else NOT_ANSWERED

    def with_answer(self, i: int, right: bool) -> "Progress":
        a = self.answers.ljust(i + 1, NOT_ANSWERED)
        return Progress(self.seen, a[:i] + (RIGHT if right else WRONG) + a[i + 1:])

    def with_seen(self, n: int) -> "Progress":
        return Progress(max(self.seen, n), self.answers)

    def right(self) -> int:
        return self.answers.count(RIGHT)


def encode_progress(progress: dict[str, Progress]) -> str:
    """{tour id: Progress} -> the link's `prog` text (tours never started left out)."""
    return ".".join(f"{t}_{p.seen}_{p.answers.rstrip(NOT_ANSWERED)}" for t, p in sorted(progress.items())
                    if p.seen or p.answers.strip(NOT_ANSWERED))


def decode_progress(raw: str | None) -> dict[str, Progress] | None:
    """The link's `prog` text -> {tour id: Progress}; None when it is not progress this app wrote."""
    if raw is None or len(raw) > MAX_PROGRESS:
        return None
    if raw == "":
        return {}
    out: dict[str, Progress] = {}
    for part in raw.split("."):
        m = _PART_RE.match(part)
        if not m or m.group(1) in out:
            return None
        out[m.group(1)] = Progress(min(int(m.group(2)), MAX_STEPS), m.group(3))
    return out


def check_steps(tour: Tour) -> list[int]:
    """1-based numbers (in the tour as played) of the steps that hold a check, in order."""
    return [i for i, s in enumerate(tour.steps, 1) if s.ask is not None]


def answering_step(tour: Tour, n: int) -> int:
    """The step (as played) that answers step n's check: its `see` step when that one is played, else n."""
    see = tour.steps[n - 1].ask.see if tour.steps[n - 1].ask else 0
    return next((i for i, s in enumerate(tour.steps, 1) if s.number == see), n)


@dataclass(frozen=True)
class Score:
    right: int
    wrong: int
    total: int
    missed: tuple[int, ...]          # steps (as played) whose check was answered wrong or not at all

    @property
    def answered(self) -> int:
        return self.right + self.wrong


def score(tour: Tour, p: Progress) -> Score:
    steps = check_steps(tour)
    marks = [p.answer(i) for i in range(len(steps))]
    return Score(marks.count(RIGHT), marks.count(WRONG), len(steps),
                 tuple(n for n, m in zip(steps, marks) if m != RIGHT))


# ============================================================================ the learning path
@dataclass(frozen=True)
class Chapter:
    title: str        # shown while its tour is not there yet
    tour: str         # tour id (file name in assets/lessons/)
    page: str         # the page the chapter is about: until it is built, the chapter is "coming"


# The lessons' arc, in order. Each chapter is a tour played solo.
PATH = (
    Chapter("Three families", "families", "families"),
    Chapter("One prompt through a decoder", "decoder", "pipeline"),
    Chapter("Attention", "attention", "attention"),
    Chapter("Generation", "generation", "generation"),
    Chapter("KV cache, GQA and MQA", "gqa-mqa", "kv-cache"),
    Chapter("RoPE", "rope", "rope"),
    Chapter("Mixture of experts", "moe", "moe"),
    Chapter("Efficient attention", "efficient", "efficient"),
    Chapter("Train and adapt", "adapt", "adapt"),
    Chapter("Multimodal", "multimodal", "multimodal"),
)


def path(tours: Iterable[Tour], built: Iterable[str]) -> list[tuple[Chapter, Tour | None]]:
    """The chapters in order, each with its playable tour, or None while its page or tour does not exist."""
    by_id, built = {t.id: t for t in tours}, set(built)
    return [(c, by_id[c.tour] if c.tour in by_id and by_id[c.tour].runnable and c.page in built else None)
            for c in PATH]


# ============================================================================ the checker
def main(argv: list[str] | None = None) -> int:
    """python -m explorer.tours check FILE... : schema, pages, link parameters, and every step rendered."""
    import argparse
    import os
    ap = argparse.ArgumentParser(prog="python -m explorer.tours")
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="validate tour files and open every step in the app (AppTest)")
    c.add_argument("files", nargs="+", type=Path)
    c.add_argument("--no-render", action="store_true", help="check the schema and page names only (fast)")
    c.add_argument("--online", action="store_true",
                   help="let the app use downloaded models (default: the bundled ones, as offline in class)")
    a = ap.parse_args(argv)
    if not a.online:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # the report is this command's output: keep the libraries' chatter (bare-mode warnings, progress bars) out
    for name, value in (("STREAMLIT_LOGGER_LEVEL", "error"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    import logging
    import streamlit.logger
    streamlit.logger.set_log_level("error")
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage())   # AppTest's bare mode, harmless
    from explorer.ui import tour_check      # Streamlit's AppTest is needed from here on
    problems = sum(tour_check.check_file(p, render=not a.no_render, out=sys.stdout) for p in a.files)
    print("every tour checks out" if not problems else f"{problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

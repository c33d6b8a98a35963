"""Open every step of a tour in the app, as a visit to its link would (streamlit.testing's AppTest).

Used by `python -m explorer.tours check FILE...` and by the tests. A step passes when its page runs
without an exception or error box, the tour landed on the step's page, the page read every link
parameter the step sets and accepted its value, and each text in the step's `shows` is in the view.
"""
from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path
from typing import IO, Iterator

from explorer import tours as T
from explorer.ui import tour as ui_tour
from explorer.ui.state import REGISTERED

APP = Path(__file__).resolve().parents[2] / "app.py"
IGNORED = "Ignored the link's `"       # how UrlState's notices start
NOT_COMPUTED = "This check cannot be computed"   # how the tour bar says a predict check failed


def open_step(tour_id: str, n: int, timeout: float = 300, query: dict | None = None):
    """An AppTest that opened `?tour=<id>&step=<n>` (plus `query`) as a first visit; returns it after the run."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    for k, v in {T.TOUR_PARAM: tour_id, T.STEP_PARAM: str(n), **(query or {})}.items():
        at.query_params[k] = v
    at.run()
    return at


HIDDEN = {"hovertemplate", "hovertext", "customdata", "hoverinfo", "meta", "ids", "uid", "template"}   # never on screen


def _strings(x) -> Iterator[str]:
    """The texts of a figure's JSON that can be on screen (titles, labels, annotations; not hover texts)."""
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for k, v in x.items():
            if k not in HIDDEN:
                yield from _strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from _strings(v)


def texts(at) -> list[str]:
    """Every text the view shows: markdown, captions, metrics, tables, alerts, labels, and figures' texts."""
    out: list[str] = []

    def walk(node) -> None:
        kind = getattr(node, "type", "")
        for attr in ("label", "value", "delta", "body"):
            try:
                v = getattr(node, attr, None)
            except Exception:   # noqa: BLE001 - some elements compute values lazily and may refuse
                v = None
            if isinstance(v, str):
                out.append(v)
            elif hasattr(v, "to_string"):      # st.table / st.dataframe: a DataFrame
                out.append(v.to_string())
        if kind == "plotly_chart":
            try:
                out.extend(_strings(json.loads(node.proto.spec)))
            except (AttributeError, ValueError):
                pass
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def shown_page(at) -> str | None:
    return at.session_state[ui_tour.PAGE] if ui_tour.PAGE in at.session_state else None


def step_problems(at, step: T.Step) -> list[str]:
    """What is wrong with one opened step (an empty list when it renders as promised)."""
    problems = [f"exception: {e.value}" for e in at.exception]
    problems += [f"error box: {e.value}" for e in at.error]
    page = shown_page(at)
    if page != step.page:
        problems.append(f"opened page {page!r}, not {step.page!r}")
        return problems
    read = set(at.session_state[REGISTERED].values()) if REGISTERED in at.session_state else set()
    for name in step.query:
        if name not in read:
            problems.append(f"page {step.page!r} does not read the link parameter `{name}` in this view")
    problems += [f"notice: {i.value}" for i in at.info if str(i.value).startswith((IGNORED, NOT_COMPUTED))]
    if step.shows:
        blob = "\n".join(texts(at))
        problems += [f"does not show {s!r}" for s in step.shows if not shows(blob, s)]
    return problems


def shows(blob: str, text: str) -> bool:
    """`text` is in `blob` as a whole: "1.00 GiB" is not found in "21.00 GiB", nor "0.87" in "0.870"."""
    return re.search(rf"(?<![\w.,\-]){re.escape(text)}(?!\w)", blob) is not None


def check_file(path: str | Path, render: bool = True, out: IO[str] = sys.stdout) -> int:
    """Check one tour file and print a line per problem (and per step); returns the number of problems."""
    try:
        tour = T.read(path)
    except T.TourError as e:
        for p in e.problems:
            print(f"{e.source}: {p}", file=out)
        return len(e.problems)
    wrong = T.check_pages(tour, ui_tour.known_pages())
    for p in wrong:
        print(f"{tour.source}: {p}", file=out)
    if wrong:
        return len(wrong)
    ready = T.resolve(tour, ui_tour.pages())
    print(f"{tour.source}: {tour.title!r}, {len(tour.steps)} step{'s' if len(tour.steps) != 1 else ''}", file=out)
    note = ready.skip_note(ui_tour.page_titles())
    if note:
        print(f"  note: {note} (file steps {', '.join(str(s.number) for s in ready.skipped)})", file=out)
    if not render:
        return 0
    problems = check_predictions(ready, out)
    with lessons_from(Path(path).parent):
        for n, step in enumerate(ready.steps, 1):
            found = step_problems(open_step(ready.id, n), step)
            problems += len(found)
            print(f"  step {n} ({step.page}): " + ("ok" if not found else "; ".join(found)), file=out)
    return problems


def check_predictions(tour: T.Tour, out: IO[str] = sys.stdout) -> int:
    """Compute every predict check of the tour now, with the bundled models (as offline in class); print each
    answer; returns the number of checks that cannot be computed."""
    from explorer import checks as C
    problems = 0
    for n, step in enumerate(tour.steps, 1):
        if step.ask is None or not step.ask.live:
            continue
        try:
            live = C.compute(step.ask.compute, step.ask.kwargs, C.bundled_models)
            print(f"  step {n} predict {step.ask.compute}: computed now {live.answer!r}"
                  + (f" among {', '.join(map(repr, live.options))}" if live.options else ""), file=out)
        except Exception as e:   # noqa: BLE001 - the checker reports whatever goes wrong, per check
            problems += 1
            print(f"  step {n} predict {step.ask.compute}: cannot be computed ({e})", file=out)
    return problems


@contextlib.contextmanager
def lessons_from(folder: Path):
    """The app (run in this process by AppTest) reads its tours from `folder` meanwhile: a teacher's draft
    is checked where it is, before it is copied to assets/lessons."""
    saved, T.LESSONS = T.LESSONS, Path(folder)
    try:
        yield
    finally:
        T.LESSONS = saved

"""AppTest helpers: run app.py on a page with a query string, as a browser visit would."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def run_page(page: str | None = None, query: dict | None = None, timeout: float = 180,
             entry: str = "app.py") -> AppTest:
    """page: a file under pages/ (e.g. "pages/attention.py"); query: URL parameters of the visit;
    entry: the entry script, relative to the repository root (app.py, or cloud/streamlit_app.py)."""
    at = AppTest.from_file(str(ROOT / entry), default_timeout=timeout)
    if page and "/" in entry:      # AppTest finds pages relative to the entry script's folder
        page = str(Path("..") / page)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page)
        for k, v in (query or {}).items():   # a visit to the page's own link keeps its parameters
            at.query_params[k] = v
        at.run()
    return at


def assert_clean(at: AppTest) -> None:
    """No exception element and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def param(at: AppTest, name: str):
    """The value of one parameter of the page's link (None when it is left out)."""
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def infos(at: AppTest) -> str:
    """Every info box of the page (notices included), as one string."""
    return " ".join(i.value for i in at.info)


@pytest.fixture
def app():
    return run_page

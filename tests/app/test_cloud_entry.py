"""The Community Cloud entry point (cloud/streamlit_app.py) serves every page like app.py does."""
import re
from pathlib import Path

import pytest

from explorer.ui.nav import HOME, existing
from tests.app.conftest import assert_clean, run_page

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page", [HOME] + existing(), ids=lambda p: p.url_path)
def test_every_page_runs_through_the_cloud_entry_point(page):
    at = run_page(page.file, entry="cloud/streamlit_app.py")
    assert_clean(at)
    expected = "transformer explorer" if page is HOME else page.title.split()[0].lower()
    assert at.title and expected in at.title[0].value.lower()
    assert at.sidebar.toggle, "the app's sidebar (presenter toggle) is missing"


def _pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.M))


def test_cloud_requirements_are_the_same_pins_with_the_cpu_index():
    cloud, root = ROOT / "cloud" / "requirements.txt", ROOT / "requirements.txt"
    assert _pins(cloud) == _pins(root) and len(_pins(root)) > 20
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in cloud.read_text()
    assert "+cpu" not in cloud.read_text()   # a local-version pin exists on no registry


def test_every_installed_requirement_is_pinned_exactly():
    for f in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / f).read_text().splitlines():
            s = line.split("#")[0].strip()
            if s and not s.startswith("-"):
                assert re.fullmatch(r"[A-Za-z0-9_.-]+==[^=\s]+", s), f"{f}: {s}"

"""axe-core on every page, presenter mode off and on: no serious or critical violation."""
import pytest

from explorer.ui.nav import HOME, existing
from tests.e2e.a11y import serious_violations
from tests.e2e.conftest import errors_on


@pytest.mark.parametrize("query", ["", "present=1"], ids=["normal", "presenter"])
@pytest.mark.parametrize("page_info", [HOME] + existing(), ids=lambda p: p.url_path)
def test_no_serious_accessibility_violation(open_page, page_info, query):
    page = open_page(page_info.url_path, query)
    assert errors_on(page) == []
    assert serious_violations(page) == []

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


def test_the_check_finds_a_known_violation(browser):
    # the check itself can fail: an image without alt text and a button without a name are critical in axe
    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_content("<html lang='en'><head><title>t</title></head><body><main>"
                     "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='><button></button></main></body></html>")
    found = serious_violations(page)
    ctx.close()
    assert any(v.startswith("image-alt") for v in found) and any(v.startswith("button-name") for v in found)

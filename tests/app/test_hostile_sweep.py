"""Every page, every section: markdown/HTML payloads in every link parameter and text box put no link,
image or HTML the app did not create on the page, and no exception (the browser version of this
check, with the network watched, is tests/e2e/test_hostile_links_e2e.py)."""
import pytest

from explorer.ui.nav import existing
from tests.app.conftest import run_page
from tests.app.safety import discover, foreign_links, hostile_query

PAGES = [p.file for p in existing()] + ["pages/home.py"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.split("/")[-1][:-3])
def test_payloads_in_every_link_parameter_make_no_link_or_image(page, monkeypatch):
    sections = discover(page, run_page)
    assert sections[None], f"{page} registers no link parameter"
    problems = []

    def check(at, where):
        if at.exception:
            problems.append(f"{where}: exception {at.exception[0].value[:200]}")
        problems.extend(f"{where}: {f}" for f in foreign_links(at))

    for section, names in sections.items():   # the models' link values are refused: pages draw with the payload text
        check(run_page(page, query=hostile_query(names, section)), f"{page} {section or 'defaults'}")
    # where the server allows other models, a link's model ids are tried, and echoed in the error sentence
    monkeypatch.setenv("EXPLORER_ALLOW_CUSTOM_MODELS", "1")
    check(run_page(page, query=hostile_query(sections[None], None)), f"{page} custom models")
    assert not problems, "\n".join(problems)

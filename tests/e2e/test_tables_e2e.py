"""Editable tables in a real browser: a cell typed into Streamlit's data grid reaches the link (explorer/ui/editor.py
folds the editor's report into the page's URL value) and the figure computed from it."""
from urllib.parse import parse_qs, urlparse

from tests.e2e.conftest import errors_on, wait_idle


def test_a_router_logit_typed_into_the_moe_table_lands_in_the_link(open_page):
    from explorer import moe
    page = open_page("moe", query="view=toy")
    page.set_default_timeout(120_000)
    grid = page.locator('.st-key-moe_logits_table [data-testid="stDataFrame"]')     # explorer/ui/editor.py
    grid.wait_for()
    wait_idle(page)
    for _ in range(5):    # the grid's canvas may take a moment after the element appears to take clicks (3 tries
        # missed once in a full run on a loaded 2-core machine; it passed alone)
        grid.scroll_into_view_if_needed()      # the table sits under the routing picture: maybe below the fold
        box = grid.bounding_box()
        # the last expert column of the first token's row: the grid's right edge, one header row down
        page.mouse.click(box["x"] + box["width"] - 30, box["y"] + 35 + 17)
        page.keyboard.type("7")
        page.keyboard.press("Enter")
        wait_idle(page)
        try:
            page.wait_for_function("() => new URLSearchParams(location.search).has('logits')", timeout=20_000)
            break
        except Exception:
            continue
    logits = moe.parse_logits(parse_qs(urlparse(page.url).query)["logits"][0])
    expected = moe.apply_edits(moe.TOY_LOGITS, {0: {moe.TOY_EXPERTS[-1]: 7.0}})
    assert (logits == expected).all()
    assert errors_on(page) == []

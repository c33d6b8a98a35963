"""Tables in presenter mode are HTML tables (which the presenter stylesheet sets at projector size), not the
interactive grid, whose canvas keeps its own ~12 px whatever the stylesheet says; outside presenter mode the
same data is the sortable grid (explorer.ui.figures.table)."""
import pytest

from tests.app.conftest import assert_clean, run_page

SECTIONS_WITH_TABLES = [("pages/adapt.py", "scale"), ("pages/adapt.py", "adapt"), ("pages/pipeline.py", "shapes"),
                        ("pages/pipeline.py", "append"), ("pages/multimodal.py", "ablate"),
                        ("pages/kv-cache.py", "fit"), ("pages/kv-cache.py", "measured")]


@pytest.mark.parametrize("page,view", SECTIONS_WITH_TABLES, ids=lambda v: str(v))
def test_a_sections_tables_are_html_in_presenter_mode_and_grids_otherwise(page, view):
    shown = run_page(page, {"view": view, "present": "1"})
    assert_clean(shown)
    assert shown.table and not shown.dataframe, (len(shown.table), len(shown.dataframe))
    normal = run_page(page, {"view": view})
    assert_clean(normal)
    assert normal.dataframe and len(normal.dataframe) >= len(shown.table) - len(normal.table)

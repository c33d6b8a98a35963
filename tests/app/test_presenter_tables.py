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


def test_an_editable_table_shows_its_values_as_an_html_table_in_presenter_mode():
    """The MoE router logits: the data editor stays (it is how they change), and in presenter mode the same
    values stand above it as an HTML table the stylesheet enlarges; outside presenter mode only the editor."""
    from explorer import moe
    shown = run_page("pages/moe.py", {"view": "toy", "present": "1"})
    assert_clean(shown)
    values = [t.value for t in shown.table if list(t.value.index) == list(moe.TOY_TOKENS)]
    assert len(values) == 1 and list(values[0].columns) == list(moe.TOY_EXPERTS)
    assert [[float(x) for x in row] for row in values[0].to_numpy()] == \
        [[float(x) for x in row] for row in moe.TOY_LOGITS]
    normal = run_page("pages/moe.py", {"view": "toy"})
    assert not [t for t in normal.table if list(t.value.index) == list(moe.TOY_TOKENS)]

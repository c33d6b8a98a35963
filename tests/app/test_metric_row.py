"""metric_row: one bordered metric per column, notes as plain (uncoloured) lines, help kept."""
from streamlit.testing.v1 import AppTest


def _script():
    from explorer.ui.metrics import metric_row
    metric_row([("Tokens", "12"), ("Cache", "3 MiB", "+1 KiB for one token", "bytes of every K and V")])


def test_a_row_of_metrics_with_notes_and_help():
    at = AppTest.from_function(_script, default_timeout=30).run()
    assert not at.exception
    assert [(m.label, m.value) for m in at.metric] == [("Tokens", "12"), ("Cache", "3 MiB")]
    assert at.metric[1].proto.delta == "+1 KiB for one token" and at.metric[1].proto.help == "bytes of every K and V"
    cache = at.metric[1].proto
    assert cache.direction == cache.MetricDirection.NONE and cache.color == cache.MetricColor.GRAY
    assert all(m.proto.show_border for m in at.metric) and not at.metric[0].proto.delta
    assert len(at.columns) == 2

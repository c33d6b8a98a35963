"""Controls registered in the link and drawn in one call (explorer/ui/linked.py), and the bordered number with a
plain note (explorer/ui/stat.py)."""
from streamlit.testing.v1 import AppTest


def _demo_page():
    import streamlit as st

    from explorer.ui.linked import Linked
    from explorer.ui.page import Page
    from explorer.ui.stat import stat
    page = Page("🧪 Linked", prefix="lk_")
    ctl = Linked(page.url)
    d = ctl.select(st, "Head dim", "hd", 8, [4, 8, 16])
    t = ctl.select_slider(st, "Tokens", "t", 16, [8, 16, 32])
    w = ctl.radio(st, "Which", "which", "q", ["q", "k"])
    ms = ctl.multiselect(st, "Methods", "methods", ["a", "b"], ["a", "b", "c"])
    n = ctl.slider(st, "Layer", "layer", 0, 0, 3)
    one = ctl.slider(st, "Only layer", "only", 0, 0, 0)           # a range of one value: no slider
    speed = ctl.slider(st, "Speed", "speed", 2.0, 0.5, 8.0, step=0.5)
    seed = ctl.number(st, "Seed", "seed", 0, 0, 99)
    on = ctl.toggle(st, "Causal", "causal", True)
    st.markdown(f"values: {d} {t} {w} {ms} {n} {one} {speed} {seed} {on}")
    stat(st, "Pairs", "21", "58.3% of full", help="T(T+1)/2")
    page.finish()


def run(query=None):
    at = AppTest.from_function(_demo_page, default_timeout=60)
    at.query_params.update(query or {})
    return at.run()


def test_defaults_draw_every_control_and_keep_the_link_empty():
    at = run()
    assert not at.exception
    assert at.markdown[-1].value == "values: 8 16 q ['a', 'b'] 0 0 2.0 0 True"
    assert [s.label for s in at.slider] == ["Layer", "Speed"]            # no slider for a one-value range
    assert at.selectbox(key="lk_hd").options == ["4", "8", "16"]
    assert not at.query_params


def test_a_link_restores_every_control_and_bad_values_fall_back_with_a_notice():
    at = run({"hd": "16", "t": "32", "which": "k", "methods": "c", "layer": "2", "speed": "4", "seed": "7",
              "causal": "0"})
    assert not at.exception
    assert at.markdown[-1].value == "values: 16 32 k ['c'] 2 0 4.0 7 False"
    at = run({"hd": "5", "layer": "9", "speed": "x", "only": "3"})
    notes = " ".join(i.value for i in at.info)
    assert all(f"`{name}`" in notes for name in ("hd", "layer", "speed", "only"))
    assert at.markdown[-1].value == "values: 8 16 q ['a', 'b'] 0 0 2.0 0 True"


def test_moving_a_control_goes_into_the_link():
    at = run()
    at.selectbox(key="lk_hd").set_value(4).run()
    at.slider(key="lk_layer").set_value(3).run()
    assert at.query_params["hd"] in ("4", ["4"]) and at.query_params["layer"] in ("3", ["3"])


def test_stat_shows_its_note_without_colour_or_arrow():
    m = run().metric[0]
    assert (m.label, m.value, m.delta, m.help) == ("Pairs", "21", "58.3% of full", "T(T+1)/2")
    from streamlit.proto.Metric_pb2 import Metric
    assert m.proto.color == Metric.MetricColor.GRAY and m.proto.direction == Metric.MetricDirection.NONE
    assert m.proto.show_border

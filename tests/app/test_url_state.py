"""UrlState: links restore controls; bad values fall back with a notice; defaults stay out of the link."""
from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from explorer.ui.state import UrlState, show_notices
    url = UrlState(prefix="t_")
    url.int("layer", 2, lo=0, hi=11)
    url.float("temp", 1.0, lo=0.1, hi=2.0)
    url.choice("view", "head", ["head", "layer", "model"])
    url.flag("merge", False)
    url.text("text", "hello", max_chars=50)
    url.multi("stats", ["entropy"], ["entropy", "sink", "self"])
    show_notices()
    st.slider("Layer", 0, 11, key=url.key("layer"))
    st.slider("Temperature", 0.1, 2.0, key=url.key("temp"))
    st.radio("View", ["head", "layer", "model"], key=url.key("view"))
    st.checkbox("Merge", key=url.key("merge"))
    st.text_input("Text", key=url.key("text"))
    st.multiselect("Stats", ["entropy", "sink", "self"], key=url.key("stats"))
    url.sync()


def _run(query: dict) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def test_a_link_restores_every_control():
    at = _run({"layer": "7", "temp": "0.5", "view": "model", "merge": "1", "text": "a b", "stats": "sink,self"})
    assert not at.exception and not at.info
    assert at.slider[0].value == 7 and at.slider[1].value == 0.5
    assert at.radio[0].value == "model" and at.checkbox[0].value is True
    assert at.text_input[0].value == "a b" and at.multiselect[0].value == ["sink", "self"]


def test_bad_values_fall_back_to_defaults_with_one_notice_each():
    at = _run({"layer": "99", "temp": "nan", "view": "<img src=x onerror=alert(1)>", "merge": "perhaps",
               "text": "x" * 51, "stats": "entropy,bogus"})
    assert not at.exception
    assert at.slider[0].value == 2 and at.slider[1].value == 1.0 and at.radio[0].value == "head"
    assert at.checkbox[0].value is False and at.text_input[0].value == "hello"
    assert at.multiselect[0].value == ["entropy"]
    notices = [i.value for i in at.info]
    assert len(notices) == 6
    assert all("Ignored the link's" in n for n in notices)


def test_controls_are_written_to_the_url_and_defaults_left_out():
    at = _run({"layer": "7"})
    assert at.query_params == {"layer": "7"}
    at.slider[1].set_value(0.3).run()
    assert at.query_params.get("temp") == "0.3"
    at.slider[0].set_value(2).run()   # back to the default: gone from the link
    assert "layer" not in at.query_params

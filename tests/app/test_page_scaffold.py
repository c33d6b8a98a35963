"""The page scaffold (explorer/ui/page.py): sections in the link, the text box, notes, the footer, notices."""
from streamlit.testing.v1 import AppTest


def _demo_page():
    from explorer.ui.page import Page
    page = Page("🧪 Demo", prefix="demo_")
    view = page.sections({"a": "① A", "b": "② B", "c": "③ C"})
    page.url.int("n", 3, lo=0, hi=9)
    import streamlit as st
    st.slider("n", 0, 9, key=page.url.key("n"))
    if view == "b":
        text = page.text_input("hello world", prompt="Type something to see it.")
        if not text.empty:
            st.markdown(f"chars: {len(text.text)}")
    if view == "c":
        page.stop()
    page.finish()


def run(query=None):
    at = AppTest.from_function(_demo_page, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def qp(at, name):
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def test_defaults_draw_title_sections_and_a_next_button_and_keep_the_link_empty():
    at = run()
    assert not at.exception
    assert at.title[0].value == "🧪 Demo"
    assert at.button_group(key="demo_view").value == "a"
    assert at.button(key="demo_next").label == "Next: ② B →"
    assert not at.query_params


def test_the_next_button_walks_to_the_next_section_and_into_the_link():
    at = run()
    at.button(key="demo_next").click().run()
    assert at.button_group(key="demo_view").value == "b"
    assert qp(at, "view") == "b"


def test_a_deep_link_opens_its_section_and_a_bad_one_falls_back_with_a_notice():
    at = run({"view": "b", "n": "5"})
    assert at.button_group(key="demo_view").value == "b" and at.slider(key="demo_n").value == 5
    at = run({"view": "<script>", "n": "99"})
    assert not at.exception
    assert at.button_group(key="demo_view").value == "a" and at.slider(key="demo_n").value == 3
    notices = " ".join(i.value for i in at.info)
    assert "`view`" in notices and "`n`" in notices


def test_the_text_box_cleans_notes_once_and_prompts_when_empty():
    at = run({"view": "b", "text": "hi\x00\x01 there"})
    assert [i.value for i in at.info] == ["Removed 2 invisible control character(s)."]
    assert "chars: 8" in " ".join(m.value for m in at.markdown)
    at = run({"view": "b", "text": "   "})
    assert [i.value for i in at.info] == ["Type something to see it."]
    assert not any(m.value.startswith("chars") for m in at.markdown)


def test_the_last_section_has_no_next_button_and_stop_still_syncs_the_link():
    at = run({"view": "c"})
    assert not at.exception
    assert not [b for b in at.button if b.key == "demo_next"]
    at.slider(key="demo_n").set_value(7).run()
    assert qp(at, "n") == "7" and qp(at, "view") == "c"

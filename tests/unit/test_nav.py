"""The page list: every page's file is named as its address. Streamlit 1.67 serves the pages/ folder by file
name until app.py's st.navigation has run once, so a shared link opened as a fresh server's first visit finds
a page only by its file's name (tests/e2e/test_deep_link_first_visit_e2e.py opens one)."""
from explorer.ui.nav import HOME, PAGES


def test_every_page_file_is_named_as_its_address():
    for p in PAGES + [HOME]:
        assert p.path.stem == p.url_path, f"{p.file} is served at /{p.url_path}: rename the file"
        assert p.exists


def test_addresses_are_unique():
    paths = [p.url_path for p in PAGES + [HOME]]
    assert len(paths) == len(set(paths))

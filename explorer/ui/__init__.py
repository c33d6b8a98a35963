"""The only Streamlit-aware part of explorer/: widgets, URL state, presenter mode, caching, errors."""

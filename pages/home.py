"""Home: what the explorer is, the learning path, a card per page, the classroom tours, and which models are loaded and from where."""
import streamlit as st

from explorer.models import loader, registry
from explorer.ui import models as ui_models
from explorer.ui import tour
from explorer.ui.nav import existing
from explorer.ui.page import MAIN_KEY
from explorer.ui.presenter import explain, presenting
from explorer.ui.shell import ensure_app_shell
from explorer.ui.state import show_notices

ensure_app_shell()
st.title("🔭 Transformer Explorer")
show_notices()
st.markdown("See what happens **inside** transformer language models — live, on text you type.")

if not loader.is_online():
    st.info("Offline: the explorer uses its bundled tiny models (and any models already in your local cache).",
            icon="📦")

# the learning path and the page cards are the home page's main figure (explorer/ui/page.py: the layout rule,
# measured by the e2e test): the path starts on the first screen, the cards follow it
with st.container(key=MAIN_KEY):
    tour.learning_path()
    st.subheader("Pages")
    pages = existing()
    cols = st.columns(min(3, max(1, len(pages))))
    for i, page in enumerate(pages):
        with cols[i % len(cols)].container(border=True):
            st.page_link(page.path, label=f"**{page.title}**", icon=page.icon)
            st.write(page.blurb)

tour.listing()

st.subheader("Models")
explain("Each page uses the model chosen in the sidebar for its family. A real model (GPT-2, BERT) is used "
        "when it is in your local cache or can be downloaded; otherwise its bundled tiny twin, trained on "
        "WordNet's glosses, the Python documentation's prose and synthetic support tickets (Refund, Shipping, "
        "Account), stands in so the explorer always works offline.")
held = ui_models.loaded_models()
rows = []
for family in registry.FAMILIES:
    model_id = ui_models.chosen(family)
    lm = held.get(model_id)
    spec = registry.get(model_id)
    if lm is not None:
        where = lm.source + (f" (instead of {lm.requested})" if lm.requested else "")
        size = f"{lm.n_params / 1e6:.1f}M parameters"
        state = "loaded"
    else:
        where = "bundled" if spec and spec.bundled else ("hub or local cache" if spec else "local folder / hub")
        size = f"{spec.params} parameters" if spec and spec.params else "counted when loaded"
        state = "loads when a page needs it"
    rows.append({"family": registry.FAMILY_NAMES[family], "model": ui_models.label(model_id), "state": state,
                 "from": where, "size": size})
st.table({k: [r[k] for r in rows] for k in rows[0]})   # an HTML table: presenter mode can enlarge it
if not presenting():
    st.caption("Tip: every view lives in the page's link — copy it to share or to restore a view in class. "
               "Add `?present=1` for presenter mode.")

"""Shared fixtures. Tests never touch the network: the hub is declared offline before any import."""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import warnings  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings as _hypothesis_settings  # noqa: E402

# Property tests explore new random cases on a developer's machine; in CI (.ci/run sets CI) they replay a fixed
# sequence, so whether main is green does not depend on the day's random draw. A failure found locally prints
# the case to pin as an example.
_hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# ---------------------------------------------------------------- deprecations from our own calls fail the test
# pytest.ini ignores third-party DeprecationWarning/FutureWarning noise. A warning's reported location depends on
# the library's stacklevel (transformers' deprecations point into torch's Module.__call__), so filters by module
# cannot tell our calls from theirs. Instead every warnings.warn is watched: a DeprecationWarning or FutureWarning
# with a frame of explorer/ on the stack (our code called the deprecated thing, directly or through a library)
# fails the test that raised it, in the test thread or in an AppTest script thread.
_EXPLORER = str(ROOT / "explorer") + os.sep

# Libraries that warn about their own internals while they import or first load (torch's pytree
# LeafSpec, plotly's scattermapbox in its templates) are loaded before the watch starts: the first
# test that imports them through explorer/ did not call anything deprecated.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import plotly.io as _pio  # noqa: E402
    import torch  # noqa: E402, F401
    import transformers  # noqa: E402, F401
    _pio.templates["plotly_white"]
    _pio.templates[_pio.templates.default]
_ours: list[str] = []
_warn = warnings.warn
# Third-party internals that warn while doing what we asked in a current way (each with its reason):
THIRD_PARTY_INTERNAL = {
    "*scattermapbox* is deprecated": "plotly's own built-in templates (plotly_white) still carry scattermapbox "
                                     "defaults; we never draw a mapbox trace",
}


def _watch(message, category=None, stacklevel=1, source=None, **kwargs):
    cat = category or (type(message) if isinstance(message, Warning) else UserWarning)
    if isinstance(cat, type) and issubclass(cat, (DeprecationWarning, FutureWarning)):
        f = sys._getframe(1)
        while f is not None and not any(k in str(message) for k in THIRD_PARTY_INTERNAL):
            if f.f_code.co_filename.startswith("<frozen importlib"):
                break   # raised while a library imports itself: its internals, not a call of ours
            if f.f_code.co_filename.startswith(_EXPLORER):
                where = os.path.relpath(f.f_code.co_filename, ROOT)
                _ours.append(f"{cat.__name__} from {where}:{f.f_lineno}: {str(message)[:300]}")
                break
            f = f.f_back
    return _warn(message, category, stacklevel + 1, source, **kwargs)


warnings.warn = _watch


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    _ours.clear()
    result = yield
    if _ours:
        found = list(dict.fromkeys(_ours))
        _ours.clear()
        pytest.fail("our code triggered a deprecation:\n" + "\n".join(found), pytrace=False)
    return result

_models = {}


def bundled_model(name: str):
    """A bundled model, loaded once per test session (as the app loads it once per process)."""
    from explorer.models.loader import load
    if name not in _models:
        _models[name] = load(name)
    return _models[name]


@pytest.fixture(scope="session")
def load_bundled():
    return bundled_model

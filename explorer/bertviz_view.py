"""bertviz's head, model and neuron views as self-contained HTML that works offline.

bertviz loads require.js, d3 and jQuery from cdnjs, so in a classroom without internet its views
are blank. Here the same library versions come from the npm registry (`npm pack`, fetched by
`python -m explorer.download` and by the test set-up into a local cache, never committed) and are
inlined into the HTML that Streamlit's components.html shows.

Payloads are capped: bertviz ships every weight as JSON text, and its model view of 128 tokens of
BERT-base is ~100 MB; `token_cap` picks the largest prefix of the text that stays under a budget.
No Streamlit here.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# what bertviz 1.4 asks cdnjs for; jQuery 2.0.0 is not on npm, 2.2.4 is the last 2.x release there
JS_DEPS = {   # name -> (npm package, version, file inside the package tarball)
    "require": ("requirejs", "2.3.6", "package/require.js"),
    "d3": ("d3", "5.7.0", "package/dist/d3.min.js"),
    "jquery": ("jquery", "2.2.4", "package/dist/jquery.min.js"),
}
CDN = {   # the URLs bertviz itself uses, for when nothing is cached (works only with internet)
    "require": "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js",
    "d3": "https://cdnjs.cloudflare.com/ajax/libs/d3/5.7.0/d3.min.js",
    "jquery": "https://cdnjs.cloudflare.com/ajax/libs/jquery/2.0.0/jquery.min.js",
}
VALUE_BUDGET = 400_000     # numbers per view (~2.5 MB of HTML): keeps browsers responsive
MODEL_VIEW_MAX_PX = 4500   # bertviz's model view grows with layers x tokens; keep it scrollable


def cache_dir() -> Path:
    return Path(os.environ.get("EXPLORER_JS_CACHE", Path.home() / ".cache" / "transformer-explorer" / "js"))


def _file(name: str) -> Path:
    pkg, version, member = JS_DEPS[name]
    return cache_dir() / f"{pkg}-{version}-{Path(member).name}"


def cached_js() -> dict[str, str] | None:
    """The three libraries' source from the local cache, or None if any is missing."""
    files = {name: _file(name) for name in JS_DEPS}
    if not all(f.is_file() and f.stat().st_size > 1000 for f in files.values()):
        return None
    return {name: f.read_text(encoding="utf-8") for name, f in files.items()}


def fetch_js(timeout: float = 120) -> list[str]:
    """Fetch the libraries from the npm registry into the cache (`npm pack`: verified tarballs).

    Returns a list of problems (empty when everything is cached). Already cached files are kept.
    """
    missing = [n for n in JS_DEPS if not (_file(n).is_file() and _file(n).stat().st_size > 1000)]
    if not missing:
        return []
    npm = shutil.which("npm")
    if not npm:
        return ["npm is not installed, so bertviz's JavaScript cannot be fetched from the npm registry"]
    cache_dir().mkdir(parents=True, exist_ok=True)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{JS_DEPS[n][0]}@{JS_DEPS[n][1]}" for n in missing]
        try:
            proc = subprocess.run([npm, "pack", *specs, "--pack-destination", tmp, "--silent"], cwd=tmp,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [f"npm pack timed out after {timeout:.0f} s"]
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
            return [f"npm pack failed: {last[:200]}"]
        for n in missing:
            pkg, version, member = JS_DEPS[n]
            tgz = Path(tmp) / f"{pkg}-{version}.tgz"
            try:
                with tarfile.open(tgz) as tf:
                    data = tf.extractfile(member).read()
            except (OSError, KeyError, AttributeError, tarfile.TarError) as e:
                problems.append(f"{pkg}@{version}: {e}")
                continue
            target = _file(n)
            part = target.with_suffix(".part")
            part.write_bytes(data)
            part.replace(target)   # atomic: a reader never sees half a file
    return problems


_fetch_lock = threading.Lock()
_last_fetch: tuple[float, list[str]] | None = None   # (when, problems) of this process's last attempt
RETRY_AFTER = 600.0   # seconds before a failed fetch is tried again (the network may be back)


def js_or_fetch() -> tuple[dict[str, str] | None, str | None]:
    """The cached libraries; fetched if missing, at most once per RETRY_AFTER. (sources or None, why not)."""
    global _last_fetch
    js = cached_js()
    if js:
        return js, None
    import time
    with _fetch_lock:
        if _last_fetch is None or time.monotonic() - _last_fetch[0] >= RETRY_AFTER:
            _last_fetch = (time.monotonic(), fetch_js(timeout=60))
        problems = _last_fetch[1]
    js = cached_js()
    if js:
        return js, None
    return None, "; ".join(problems or ["not cached"])


# ------------------------------------------------------------------ payload caps
def token_cap(n_layers: int, n_heads: int, kind: str, head_dim: int = 64, budget: int = VALUE_BUDGET) -> int:
    """Most tokens a bertviz view gets: numbers sent <= budget (and the model view stays scrollable).

    head/model view: layers*heads*T^2 weights; neuron view adds queries and keys, 2*layers*heads*T*head_dim.
    """
    lh = max(1, n_layers * n_heads)
    if kind == "neuron":
        # T^2 + 2*d*T - budget/lh = 0
        t = -head_dim + math.sqrt(head_dim ** 2 + budget / lh)
    else:
        t = math.sqrt(budget / lh)
    if kind == "model":
        box = 7 * 12 / max(n_heads, 1)                 # bertviz's thumbnail row height per token
        t = min(t, (MODEL_VIEW_MAX_PX / max(n_layers, 1) - 10) / box)
    return max(2, int(t))


@dataclass
class BertvizHtml:
    html: str
    height: int
    tokens_shown: int
    payload_bytes: int


def _round(a: np.ndarray, decimals: int = 3):
    return np.round(np.asarray(a, dtype=np.float64), decimals).tolist()


def pretty(tokens: list[str]) -> list[str]:
    return [t.replace("Ġ", " ").replace("▁", " ").replace("Ċ", "⏎") for t in tokens]


def _script(js: dict[str, str] | None) -> str:
    """Library tags: inlined from the cache, else bertviz's own CDN URLs (with a visible failure note)."""
    if js:
        # d3 and jQuery first, while no AMD loader exists, so they become globals; then require.js,
        # and the two are handed to it under the names bertviz asks for: nothing is fetched.
        return ("<script>" + js["d3"] + "\n</script>\n<script>" + js["jquery"] + "\n</script>\n<script>"
                + js["require"] + "\n</script>\n<script>define('d3', [], function(){return window.d3;});"
                "define('jquery', [], function(){return window.jQuery;});</script>\n")
    return (f'<script src="{CDN["require"]}" onerror="document.body.insertAdjacentText(\'afterbegin\', '
            '\'bertviz could not load its JavaScript (no cache, no internet): run python -m explorer.download\')">'
            "</script>\n")


class BertvizTemplateChanged(RuntimeError):
    """The installed bertviz's view script no longer has what we fill in or take out (a blank view otherwise)."""


# What each view script must contain for us to fill it: head/model views take their data where the text
# PYTHON_PARAMS stands; the neuron view reads window.bertviz_params. Every script opens with a
# require.config({...}); naming bertviz's CDN paths, which we drop when the libraries are inlined.
PARAMS_SLOT = {"head": "PYTHON_PARAMS", "model": "PYTHON_PARAMS", "neuron": "window.bertviz_params"}
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", flags=re.S)


def _view_js(kind: str, js_cached: bool) -> str:
    """bertviz's own view script, checked: a bertviz upgrade that moves a hook raises instead of drawing a blank."""
    import bertviz
    path = Path(bertviz.__file__).parent / f"{kind}_view.js"
    src = path.read_text(encoding="utf-8")
    if PARAMS_SLOT[kind] not in src:
        raise BertvizTemplateChanged(f"bertviz {bertviz.__version__ if hasattr(bertviz, '__version__') else ''}: "
                                     f"{path.name} no longer contains {PARAMS_SLOT[kind]}")
    if kind == "head":
        # stronger lines for a projector: 3 px instead of 2, and opacity sqrt(weight / heads) instead of
        # weight / heads (with 12 heads on, a weight of 0.5 was drawn at 4% opacity: faint pastel)
        src = src.replace('.attr("stroke-width", 2)', '.attr("stroke-width", 3)')
        src = src.replace("return d / activeHeads()", "return Math.min(1, Math.sqrt(d / activeHeads()))")
    if js_cached:   # the modules are defined above; drop bertviz's CDN paths
        src, n = _REQUIRE_CONFIG.subn("", src, count=1)
        if n != 1:
            raise BertvizTemplateChanged(f"{path.name} no longer opens with require.config({{...}});")
    return src


_ESCAPE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json(obj) -> str:
    """JSON safe inside a <script> (a token like '</script>' stays text)."""
    s = json.dumps(obj, separators=(",", ":"))
    return re.sub(r"[<>&\u2028\u2029]", lambda m: _ESCAPE[m.group()], s)


def head_or_model_view(kind: str, attn: np.ndarray, tokens: list[str], js: dict[str, str] | None,
                       layer: int = 0, present: bool = False) -> BertvizHtml:
    """bertviz's head view or model view. attn: [layer, head, T, T] (already capped)."""
    n_layers, n_heads, t = attn.shape[0], attn.shape[1], attn.shape[-1]
    vis_id = f"bertviz-{kind}"
    data = [{"name": None, "attn": _round(attn), "left_text": pretty(tokens), "right_text": pretty(tokens)}]
    params = {"attention": data, "default_filter": "0", "root_div_id": vis_id,
              "include_layers": list(range(n_layers))}
    if kind == "head":
        params.update(layer=layer, heads=None)
        controls = 'Layer: <select id="layer"></select>'
        height = int(min(4000, 22.5 * t + 140))
    else:
        params.update(display_mode="light", include_heads=list(range(n_heads)), total_heads=n_heads)
        controls = ""
        box = 7 * 12 / n_heads
        height = int(min(MODEL_VIEW_MAX_PX + 200, n_layers * (t * box + 10) + 120))
    body = _view_js(kind, js is not None).replace("PYTHON_PARAMS", _json(params))
    size = 17 if present else 14
    html = (f"<!doctype html><html><head><meta charset='utf-8'><style>body{{margin:0;background:#fff;"
            f"font-size:{size}px}}</style></head><body>"
            f"<div id='{vis_id}' style=\"font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;\">"
            f"<span style='user-select:none'>{controls}</span><div id='vis'></div></div>"
            + _script(js) + "<script>" + body + "</script></body></html>")
    return BertvizHtml(html, height, t, len(html.encode()))


def neuron_view(attn: np.ndarray, queries: np.ndarray, keys: np.ndarray, tokens: list[str],
                js: dict[str, str] | None, bidirectional: bool, layer: int = 0, head: int = 0) -> BertvizHtml:
    """bertviz's neuron view (query x key products behind one head's weights).

    attn [layer, head, T, T]; queries/keys [layer, head, T, head_dim], read from the loaded model.
    """
    t = attn.shape[-1]
    vis_id = "bertviz-neuron"
    data = {"all": {"attn": _round(attn), "queries": _round(queries, 3), "keys": _round(keys, 3),
                    "left_text": pretty(tokens), "right_text": pretty(tokens)}}
    params = {"attention": data, "default_filter": "all", "root_div_id": vis_id, "bidirectional": bidirectional,
              "display_mode": "light", "layer": layer, "head": head}
    body = _view_js("neuron", js is not None)
    html = ("<!doctype html><html><head><meta charset='utf-8'><style>body{margin:0;background:#fff}</style></head><body>"
            f"<div id='{vis_id}' style=\"padding:8px;font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;\">"
            "<span style='user-select:none'><span class='dropdown-label'>Layer: </span><select id='layer'></select>"
            "<span class='dropdown-label'> Head: </span><select id='att_head'></select></span>"
            "<div id='vis'></div></div>" + _script(js)
            + "<script>window.bertviz_params = " + _json(params) + ";</script><script>" + body + "</script></body></html>")
    return BertvizHtml(html, int(min(4000, 26 * t + 200)), t, len(html.encode()))

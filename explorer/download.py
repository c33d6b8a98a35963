"""Prefetch everything a lecture needs, so nothing downloads mid-class:  python -m explorer.download

1. bertviz's JavaScript (require.js, d3, jQuery) from the npm registry into a local cache
   (~/.cache/transformer-explorer/js, or EXPLORER_JS_CACHE), so its views work offline;
2. the registry's hub models (safetensors, config, tokenizer) into the Hugging Face cache.
Run it once while online; afterwards the app works offline with the real models.
`--js` fetches only the JavaScript; `--no-js` only the models.
"""
from __future__ import annotations

import argparse
import sys

from explorer.models import loader, registry


def prefetch_models(ids: list[str]) -> int:
    failures = 0
    for model_id in ids:
        try:
            path = loader.download(model_id, progress=lambda f, m: print(f"  {f:5.0%}  {m}", flush=True))
            loader.load_folder(path)   # proves it loads (eager, safetensors) before class
            print(f"ok   {model_id} -> {path}")
        except Exception as e:  # keep going: one failure should not stop the rest
            failures += 1
            print(f"FAIL {model_id}: {e}", file=sys.stderr)
    return failures


def prefetch_js() -> int:
    from explorer import bertviz_view
    problems = bertviz_view.fetch_js()
    for p in problems:
        print(f"FAIL bertviz JavaScript: {p}", file=sys.stderr)
    if not problems:
        libs = ", ".join(f"{pkg}@{v}" for pkg, v, _ in bertviz_view.JS_DEPS.values())
        print(f"ok   bertviz JavaScript ({libs}) -> {bertviz_view.cache_dir()}")
    return len(problems)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(s.id for s in registry.SPECS.values() if not s.bundled),
                    help="comma-separated hub ids (default: every hub model of the registry)")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--js", action="store_true", help="only bertviz's JavaScript (npm registry)")
    what.add_argument("--no-js", action="store_true", help="only the models (Hugging Face hub)")
    a = ap.parse_args(argv)
    failures = 0
    if not a.no_js:
        failures += prefetch_js()
        if a.js:
            return 1 if failures else 0
    if not loader.is_online():
        print("The Hugging Face hub cannot be reached (offline); the app will use the bundled models.")
        return 1
    failures += prefetch_models([m for m in a.models.split(",") if m])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Prefetch everything a lecture needs, so nothing downloads mid-class:  python -m explorer.download

Fetches the registry's hub models (safetensors, config, tokenizer) into the Hugging Face cache.
Run it once while online; afterwards the app works offline with the real models.
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(s.id for s in registry.SPECS.values() if not s.bundled),
                    help="comma-separated hub ids (default: every hub model of the registry)")
    a = ap.parse_args(argv)
    if not loader.is_online():
        print("The Hugging Face hub cannot be reached (offline); the app will use the bundled models.")
        return 1
    return 1 if prefetch_models([m for m in a.models.split(",") if m]) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: measured KV-cache bytes vs the formula, and what the measurement costs.

    python bench/kvcache.py [--tokens 128 --batch 2 --gpt2-size]

Measured side by side in one run:
  1. measured / formula cache bytes at every step, for the bundled tiny GPT-2 (MHA) and tiny Llama (GQA)
     (and, with --gpt2-size, a GPT-2-size random-init model)                           -> must be exactly 1
  2. measured tiny-Llama / tiny-GPT-2 cache bytes (same layers and head_dim; 2 vs 4 KV heads) vs the
     formula's ratio                                                                      -> 0.500 both
  3. seconds per decoding step of the measurement (what the page's cached call costs once)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from explorer import kvcache as kv  # noqa: E402
from explorer.models.loader import load  # noqa: E402


def row(name: str, m: kv.Measurement) -> dict:
    ratio = m.measured / m.formula
    return {"model": name, "kind": f"{m.shape.kind} {m.shape.n_heads}q/{m.shape.n_kv_heads}kv",
            "tokens": int(m.lengths[-1]), "bytes": int(m.measured[-1]), "min ratio": float(ratio.min()),
            "max ratio": float(ratio.max()), "exact": bool(np.array_equal(m.measured, m.formula)),
            "ms/step": 1000 * m.seconds / len(m.lengths)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--gpt2-size", action="store_true", help="also a GPT-2-size random-init model (124M)")
    a = ap.parse_args()

    runs = {}
    for name in ("tiny-gpt2", "tiny-llama"):
        runs[name] = kv.measure(load(name), a.tokens, a.batch)
    if a.gpt2_size:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel
        config = GPT2Config()
        config._attn_implementation = "eager"
        torch.manual_seed(0)
        from explorer.models.loader import LoadedModel
        lm = LoadedModel.in_memory(GPT2LMHeadModel(config), name="gpt2-random")
        runs["GPT-2 size (random)"] = kv.measure(lm, min(a.tokens, 64), a.batch)

    rows = [row(n, m) for n, m in runs.items()]
    print(f"{'model':<22}{'attention':<14}{'tokens':>7}{'bytes':>14}{'measured/formula':>20}{'exact':>7}"
          f"{'ms/step':>9}")
    for r in rows:
        print(f"{r['model']:<22}{r['kind']:<14}{r['tokens']:>7}{r['bytes']:>14,}"
              f"{r['min ratio']:>11.6f}..{r['max ratio']:.6f}{str(r['exact']):>7}{r['ms/step']:>9.2f}")

    g, l = runs["tiny-gpt2"], runs["tiny-llama"]
    measured = float(l.measured[-1] / g.measured[-1])
    formula = float(kv.cache_bytes(l.shape, a.tokens, a.batch, 32) / kv.cache_bytes(g.shape, a.tokens, a.batch, 32))
    print(f"\nGQA/MHA cache ratio at {a.tokens} tokens: measured {measured:.3f}, formula {formula:.3f} "
          f"({l.shape.n_kv_heads}/{g.shape.n_kv_heads} KV heads)")
    ok = all(r["exact"] for r in rows) and measured == formula
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

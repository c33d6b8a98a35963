"""Benchmark: FlashAttention's tiled loop and a sliding window, measured side by side in one run.

    python bench/efficient.py [--tokens 1024 --head-dim 64 --block 64 --rounds 3 --model-tokens 96 --window 16]

  1. tiled online softmax vs standard attention (numpy float32, same q/k/v): largest difference (must be
     < 1e-5) and wall time, tiled / standard (a Python loop over tiles on a CPU: slower; the GPU's gain is
     memory traffic, not arithmetic)
  2. memory traffic counted by each implementation, standard / tiled, vs the formula's ratio       -> equal
  3. the bundled tiny Llama with and without a window: forward seconds, windowed / full (about 1: eager
     attention still computes every score and masks them, only a kernel that skips tiles saves time), and
     its sliding-window DynamicCache bytes after the text, windowed / full (= (window - 1) / tokens)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from explorer import efficient as E  # noqa: E402
from explorer import kvcache as kv  # noqa: E402

TEXT = ("I asked for a refund for my order last week. The shipping label came, but the refund has not arrived, "
        "so I am asking again about my refund. ")


def best_of(rounds: int, fn):
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model-tokens", type=int, default=96)
    ap.add_argument("--window", type=int, default=16)
    a = ap.parse_args()
    t, d, b = a.tokens, a.head_dim, a.block
    ok = True

    print(f"1-2. one head, T = {t}, d = {d}, tiles {b} x {b} (numpy float32)")
    q, k, v = E.random_qkv(t, d, seed=0)
    for causal in (False, True):
        ts, (o_std, _, tr_std) = best_of(a.rounds, lambda: E.standard_attention(q, k, v, causal))
        tt, r = best_of(a.rounds, lambda: E.tiled_attention(q, k, v, b, b, causal))
        diff = float(np.abs(r.out - o_std).max())
        counted = tr_std.elements / r.traffic.elements
        formula = E.standard_traffic_elements(t, d) / E.tiled_traffic_elements(t, d, b, b, causal)
        same = abs(counted - formula) < 1e-12
        ok &= diff < 1e-5 and same
        print(f"   {'causal' if causal else 'full  '}: max |tiled - standard| {diff:.1e}   time tiled/standard "
              f"{tt / ts:6.2f}  ({1000 * tt:.1f} ms vs {1000 * ts:.1f} ms)   traffic standard/tiled counted "
              f"{counted:.3f}, formula {formula:.3f} {'ok' if same else 'MISMATCH'}")

    print(f"3. tiny Llama, {a.model_tokens} tokens, window {a.window}")
    from explorer.forward import encode
    from explorer.models.loader import load
    lm = load("tiny-llama")
    enc = encode(lm, TEXT * 8, a.model_tokens)
    tf, _ = best_of(a.rounds, lambda: E.window_forward(lm, enc, None))
    tw, _ = best_of(a.rounds, lambda: E.window_forward(lm, enc, a.window))
    m, _ = E.windowed_decode(lm, enc.ids, a.window)
    full = kv.cache_bytes(kv.shape_from_config(lm.model.config), len(enc.ids), 1, 8 * m.element_size)
    exact = bool(np.array_equal(m.measured, m.formula))
    ok &= exact
    n = len(enc.ids)
    print(f"   forward seconds windowed/full {tw / tf:.2f} ({1000 * tw:.1f} ms vs {1000 * tf:.1f} ms)")
    print(f"   cache bytes after {n} tokens windowed/full {m.measured[-1] / full:.4f} "
          f"(= (window - 1)/tokens = {(min(a.window - 1, n)) / n:.4f}); measured == formula at every step: {exact}; "
          f"decode {1000 * m.seconds / n:.1f} ms/token")
    print("all checks passed" if ok else "FAIL: a check above did not hold")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

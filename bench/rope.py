"""RoPE page benchmark: what capturing q and k costs on top of a plain forward pass.

    python bench/rope.py [--tokens 64 --rounds 5]

Measured side by side in one run, interleaved so the shared machine's load hits all alike, on the
bundled tiny Llama and on a SmolLM2-135M-size Llama with random weights (30 layers, 9 heads / 3 KV
heads, head_dim 64; no download):
  1. plain eager forward pass (no attentions, no cache)
  2. explorer.rope.capture: forward hooks on every layer's q/k projection + output_attentions + KV cache
  3. explorer.rope.reproduce: our rotation of every layer and head, checked against cache and attention
Prints medians, the ratios capture / forward and (capture + reproduce) / forward, the size of the cached
result, and the two check errors. Capture runs once per (model, text); sliders never repeat it.
"""
from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explorer import rope as R  # noqa: E402
from explorer.models.loader import LoadedModel, load  # noqa: E402

TEXT = ("The cat sat on the mat because it was tired, and then the cat slept on the mat all day long. " * 8)


def smollm_size(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, head_dim=64, max_position_embeddings=8192,
                      rope_parameters={"rope_type": "default", "rope_theta": 100000.0}, tie_word_embeddings=True)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg).eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tiny = load("tiny-llama")
    big = LoadedModel.in_memory(smollm_size(tiny.tokenizer), tiny.tokenizer, "SmolLM2-135M size, random")
    for name, lm in [("tiny-llama (bundled)", tiny), ("SmolLM2-135M size, random", big)]:
        ids = torch.tensor([lm.tokenizer(TEXT)["input_ids"][: a.tokens]])
        times = {"forward": [], "capture": [], "reproduce": []}
        for _ in range(a.rounds):
            t = time.perf_counter()
            with torch.no_grad():
                lm.model(input_ids=ids, use_cache=False)
            times["forward"].append(time.perf_counter() - t)
            t = time.perf_counter()
            cap = R.capture(lm, TEXT, a.tokens)
            times["capture"].append(time.perf_counter() - t)
            t = time.perf_counter()
            check = R.reproduce(cap)
            times["reproduce"].append(time.perf_counter() - t)
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        size_mb = len(pickle.dumps((cap, check))) / 2**20
        slim = (replace(cap, attn=None, k_model=None), replace(check, q_rot=None, k_rot=None))   # as the page caches
        slim_mb = len(pickle.dumps(slim)) / 2**20
        print(f"{name}: {ids.shape[1]} tokens, {cap.n_layers} layers x {cap.n_heads} heads")
        print(f"  forward {med['forward']:.1f} ms | capture {med['capture']:.1f} ms | reproduce {med['reproduce']:.1f} ms")
        print(f"  capture / forward = {med['capture'] / med['forward']:.2f}   "
              f"(capture + reproduce) / forward = {(med['capture'] + med['reproduce']) / med['forward']:.2f}")
        print(f"  full result {size_mb:.1f} MB, as cached by the page {slim_mb:.1f} MB;  max |k error| {check.k_error:.1e}, "
              f"max |attention error| {check.attn_error:.1e}")


if __name__ == "__main__":
    main()

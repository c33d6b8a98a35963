"""Benchmark: what the Pipeline page's data costs next to one plain forward pass.

    python bench/pipeline.py [--tokens 64 --repeats 7 --threads 1]

Measured side by side in one run, on a GPT-2-size model with random weights (GPT2Config(): 12 blocks,
d = 768, vocabulary 50,257) and a prompt of --tokens tokens, alternating the two so that a busy machine
slows both alike:
  plain   model(input_ids)                               one ordinary forward pass
  page    pipeline.trace_ids(model, ids)                 everything the page shows: the captured forward
          pass, the logit lens at the last position, KV-cache shapes and bytes, and the picked token
          appended through the cache (a one-token forward pass)
  ratio   page / plain (median of the repeats)           -> must be <= 1.5

Then the stages themselves: every per-stage computation the page does on a cached trace (stream,
block changes, softmax at a temperature, lens at another position), with the number of model forward
calls they make (-> 0: stepping between stages runs no forward pass, except the lens at a position
other than the last, which reads only the unembedding).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explorer import pipeline as P  # noqa: E402
from explorer.models.loader import LoadedModel  # noqa: E402


def cpu_time(fn) -> float:
    """Process CPU seconds of fn() (steadier than wall time on a machine other jobs share)."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from transformers import GPT2Config, GPT2LMHeadModel
    config = GPT2Config()
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config).eval()
    lm = LoadedModel.in_memory(model, name="gpt2-size-random")
    ids = torch.randint(0, config.vocab_size, (a.tokens,)).tolist()
    x = torch.tensor([ids])

    def plain():
        with torch.no_grad():
            model(input_ids=x)

    def page():
        return P.trace_ids(lm, ids)

    plain(), page()                                  # warm-up (allocator, first-call overheads)
    plains, pages = [], []
    for _ in range(a.repeats):
        plains.append(cpu_time(plain))
        pages.append(cpu_time(page))
    p, q = statistics.median(plains), statistics.median(pages)
    print(f"GPT-2-size random-init model, {a.tokens}-token prompt, {a.threads} thread(s), "
          f"median of {a.repeats} (CPU seconds)")
    print(f"{'plain forward':<44}{p * 1000:>9.1f} ms")
    print(f"{'page data (trace + lens + append)':<44}{q * 1000:>9.1f} ms")
    print(f"{'ratio page / plain':<44}{q / p:>9.2f}   (must be <= 1.5)")

    # stepping between stages: what each stage computes from the cached trace, and the forward calls it makes
    t = page()
    calls = []
    hook = model.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        stages = {
            "tokens (pieces, splits)": lambda: P.splits(" ".join(t.pieces), [(0, 0)] * t.n_tokens, t.pieces),
            "embed (vectors)": lambda: P.vector_preview(t.tok_embed[-1] + t.pos_embed[-1]),
            "blocks (stream, norms, cosines)": lambda: P.block_changes(t, t.n_tokens - 1),
            "blocks (lens, last position: stored)": lambda: P.lens_at(model, t, t.n_tokens - 1),
            "output (softmax at T = 0.7, top 10)": lambda: P.next_token(t.logits, 0.7, 10),
            "append (stored)": lambda: t.appended.attention.mean(1),
        }
        print(f"\n{'stage computation on the cached trace':<44}{'ms':>9}{'forward calls':>15}")
        for name, fn in stages.items():
            before = len(calls)
            ms = cpu_time(fn) * 1000
            print(f"{name:<44}{ms:>9.2f}{len(calls) - before:>15}")
        before = len(calls)
        ms = cpu_time(lambda: P.lens_at(model, t, 0)) * 1000
        print(f"{'lens at another position (unembedding only)':<44}{ms:>9.2f}{len(calls) - before:>15}")
    finally:
        hook.remove()
    if q / p > 1.5:
        print(f"FAIL: the page's data costs {q / p:.2f}x one plain forward pass (limit 1.5)")
        sys.exit(1)


if __name__ == "__main__":
    main()

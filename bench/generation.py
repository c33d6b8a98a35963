"""Benchmark: the explorer's stepper against model.generate, on a GPT-2-size random-init model.

    python bench/generation.py [--compare 40 --rounds 3 --threads 1]

Measured side by side in one run, interleaved so that the shared machine's load hits both alike:
  1. per-token time of the stepper (top-k trace, attention row and hidden states included, no rendering)
     / per-token time of model.generate(do_sample=False) on the same model and prompt   -> must be <= 1.25
  2. per-token time of the stepper around step 200 / around step 20 (the cache works)    -> must be <= 1.5
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

from explorer.generation import Generation, Sampling  # noqa: E402
from explorer.models.loader import LoadedModel  # noqa: E402


class _Pieces:
    """Token labels without a tokenizer (random weights: the words do not matter here)."""
    eos_token_id = None

    def convert_ids_to_tokens(self, i):
        return f"t{i}"


def per_token_generate(model, ids, n: int) -> float:
    t = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                         do_sample=False, pad_token_id=0)
    dt = time.perf_counter() - t
    assert out.shape[1] == ids.shape[1] + n
    return dt / n


def stepper(lm, ids, n: int, sampling=Sampling(greedy=True)) -> Generation:
    return Generation(lm, ids[0].tolist(), sampling, n, eos_ids=set())


def timed_steps(g: Generation, lm, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        g.step(lm)
        times.append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", type=int, default=40, help="tokens per generate-vs-stepper round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = GPT2Config()
    config._attn_implementation = "eager"
    model = GPT2LMHeadModel(config).eval()
    lm = LoadedModel.in_memory(model, _Pieces(), "GPT2Config() random init")
    ids = torch.randint(0, config.vocab_size, (1, 12))
    n = args.compare

    per_token_generate(model, ids, 3)            # warm-up
    timed_steps(stepper(lm, ids, 3), lm, 3)
    # 1. same model, prompt and length, rounds interleaved so the shared machine's load hits both alike
    gen, step, sampled = [], [], []
    for _ in range(args.rounds):
        gen.append(per_token_generate(model, ids, n))
        step.append(sum(timed_steps(stepper(lm, ids, n), lm, n)) / n)
        sampled.append(sum(timed_steps(stepper(lm, ids, n, Sampling(temperature=0.8, top_k=50, top_p=0.9,
                                                                     seed=1)), lm, n)) / n)
    # 2. one long run: steps around 20 against steps around 200
    times = timed_steps(stepper(lm, ids, 210), lm, 210)
    early, late = statistics.median(times[15:26]), statistics.median(times[195:206])
    g, s, sp = min(gen), min(step), min(sampled)
    print(f"GPT2Config() random init, eager attention, prompt 12 tokens, {torch.get_num_threads()} thread(s); "
          f"{n} new tokens x {args.rounds} interleaved rounds (best of), then one 210-token run")
    print(f"model.generate (greedy)             {g * 1e3:7.2f} ms/token")
    print(f"stepper greedy, trace included      {s * 1e3:7.2f} ms/token   ratio {s / g:.2f}  (limit 1.25)")
    print(f"stepper T=0.8 top-k 50 top-p 0.9    {sp * 1e3:7.2f} ms/token   ratio {sp / g:.2f}")
    print(f"stepper, median of steps 15..25     {early * 1e3:7.2f} ms/token")
    print(f"stepper, median of steps 195..205   {late * 1e3:7.2f} ms/token   ratio {late / early:.2f}  (limit 1.5)")
    ok = s / g <= 1.25 and late / early <= 1.5
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: LoRA step time / full fine-tuning step time, measured side by side in one run.

    python bench/adapt.py [--steps 12 --big-steps 4 --length 128 --rank 8 --no-gpt2-size]

For the bundled tiny GPT-2 (1.4M parameters) and a GPT-2-size random-init model (124M, GPT2Config()),
full fine-tuning and LoRA (peft, attention + MLP) train on the same fixed batch, one step of each in
turn (so both see the same machine load); after warm-up steps, the median seconds per step of each
side and their ratio are printed, with the trainable parameters and the measured gradient and Adam
bytes (which must equal 4 and 8 bytes per trainable parameter).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explorer import adapt  # noqa: E402
from explorer.presets import from_hf_config  # noqa: E402


def compare(name: str, model, steps: int, length: int, rank: int, warmup: int = 2) -> dict:
    c = from_hf_config(name, model.config)
    torch.manual_seed(0)
    batch = torch.randint(0, model.config.vocab_size, (1, length))
    sides = {}
    for s in (adapt.Strategy("full"), adapt.Strategy("lora", rank=rank, targets="all")):
        m = adapt.apply_strategy(copy.deepcopy(model), s, c).train()
        sides[s.kind] = {"model": m, "opt": adapt.optimizer_for(m, s.kind), "times": [],
                         "trainable": adapt.count_trainable(m)[0]}
    for i in range(warmup + steps):
        for side in sides.values():            # interleaved: both sides share the machine's load
            _, dt, grad_bytes = adapt.train_step(side["model"], side["opt"], batch)
            if i == 0:
                side["grad_bytes"], side["adam_bytes"] = grad_bytes, adapt.adam_state_bytes(side["opt"])
            if i >= warmup:
                side["times"].append(dt)
    row = {"model": name, "params": adapt.count_trainable(sides["full"]["model"])[1]}
    for kind, side in sides.items():
        row[f"{kind}_s"] = statistics.median(side["times"])
        row[f"{kind}_trainable"] = side["trainable"]
        row[f"{kind}_bytes_ok"] = (side["grad_bytes"], side["adam_bytes"]) == (4 * side["trainable"],
                                                                              8 * side["trainable"])
    row["ratio"] = row["lora_s"] / row["full_s"]
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12, help="measured steps per side, tiny GPT-2")
    ap.add_argument("--big-steps", type=int, default=4, help="measured steps per side, GPT-2 size")
    ap.add_argument("--length", type=int, default=128, help="tokens in the training row")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--no-gpt2-size", action="store_true", help="skip the 124M random-init model")
    a = ap.parse_args()
    from explorer.models.loader import load
    from explorer.runtime import configure
    print(f"torch threads: {configure()}")
    rows = [compare("tiny-gpt2", load("tiny-gpt2").model, a.steps, a.length, a.rank)]
    if not a.no_gpt2_size:
        from transformers import GPT2Config, GPT2LMHeadModel
        config = GPT2Config()
        config._attn_implementation = "eager"
        torch.manual_seed(0)
        rows.append(compare("GPT-2 size (random init)", GPT2LMHeadModel(config), a.big_steps, a.length, a.rank))
    print(f"{'model':<26}{'params':>13}{'LoRA trains':>13}{'full s/step':>13}{'LoRA s/step':>13}"
          f"{'LoRA / full':>13}{'bytes = 4+8/param':>19}")
    for r in rows:
        print(f"{r['model']:<26}{r['params']:>13,}{r['lora_trainable']:>13,}{r['full_s']:>13.4f}{r['lora_s']:>13.4f}"
              f"{r['ratio']:>13.3f}{str(r['full_bytes_ok'] and r['lora_bytes_ok']):>19}")


if __name__ == "__main__":
    main()

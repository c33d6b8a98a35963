"""Benchmark: re-drawing the Multimodal page's overlay when the token, layer or head changes, against one
forward pass of the model.

    python bench/multimodal.py [--repeats 7 --threads 1]

Measured side by side in one run on the bundled tiny LLaVA (64 image patches, the prompt and a caption),
alternating the two so that a busy machine slows both alike:
  forward  model(input_ids, pixel_values, output_attentions=True)    one forward pass over prompt + caption
  redraw   for every (token, layer, head or mean): run.patch_attention(...) and the overlay figure
           (charts.multimodal.image_patches), from the cached run: no forward pass
  ratio    one redraw / one forward pass (median over the repeats)   -> must be < 1
and the number of model forward calls the redraws make (-> 0).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.pipeline import cpu_time  # noqa: E402
from explorer import multimodal as M  # noqa: E402
from explorer.charts import multimodal as charts  # noqa: E402
from explorer.models.loader import load  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    lm = load("tiny-llava")
    image = M.scene_image(M.BUNDLED["three"])
    run = M.caption(lm, image)
    enc = M.inputs(lm, image)
    ids, pv = torch.tensor([run.ids]), enc["pixel_values"]
    n_layers, n_heads = run.decoder_attn.shape[:2]
    views = [(s, layer, h) for s in range(len(run.steps)) for layer in range(n_layers)
             for h in [None, *range(n_heads)]]

    calls = []
    hook = lm.model.register_forward_hook(lambda *_: calls.append(1))

    def forward():
        with torch.no_grad():
            lm.model(input_ids=ids, pixel_values=pv, output_attentions=True)

    def redraw_all():
        for s, layer, h in views:
            charts.image_patches(run.view, run.geometry.patch, overlay=run.patch_attention(s, layer, h),
                                 selected=M.top_patch(run, s, layer, h), numbers=False)

    fwd, red = [], []
    for _ in range(a.repeats):
        fwd.append(cpu_time(forward))
        n = len(calls)
        red.append(cpu_time(redraw_all) / len(views))
        assert len(calls) == n, "a redraw ran the model"
    hook.remove()
    f, r = statistics.median(fwd), statistics.median(red)
    print(f"tiny LLaVA, {len(run.ids)} positions ({len(run.image_positions)} image tokens), caption "
          f"{run.caption!r}; {len(views)} views (token x layer x head/mean)")
    print(f"  one forward pass with attentions  {f * 1e3:8.2f} ms CPU")
    print(f"  one overlay redraw (no forward)   {r * 1e3:8.2f} ms CPU")
    print(f"  ratio redraw / forward            {r / f:8.3f}   (forward calls during redraws: 0)")


if __name__ == "__main__":
    main()

"""Attention page benchmark: one forward pass vs. every re-draw, on real-size random-init models.

    python bench/attention.py [--tokens 128]

Prints, from one run: the forward time of BERT-base (BertConfig(), eager) and GPT-2 small
(GPT2Config(), eager) at 128 tokens; the server-side re-draw time of each view (options applied,
figure built, styled and serialised to JSON as st.plotly_chart does, export table built), with its
ratio to the forward pass; the JSON size of one head's heatmap; the cache hit cost; and bertviz's
payload with and without the cap. Targets: re-draw <= 150 ms, one head's figure <= 300 KB.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import plotly.io as pio  # noqa: E402
import torch  # noqa: E402

from explorer import attention as A  # noqa: E402
from explorer import bertviz_view  # noqa: E402
from explorer.charts import attention as charts  # noqa: E402
from explorer.charts import theme  # noqa: E402
from explorer.charts.theme import styled  # noqa: E402
from explorer.attention import long_table  # noqa: E402
from explorer.ui.attention import Computed  # noqa: E402
from explorer.ui.figures import _jsonable, is_table, to_csv  # noqa: E402

theme.SHARING = False     # every re-draw builds its figure (not the shared store's copy)

REDRAW_TARGET_MS = 150
HEAD_JSON_TARGET_KB = 300


CPU = {}


def ms(f, repeat=5):
    """Median wall time in ms (CPU time of this process kept in CPU[f]: the machine may be shared)."""
    times, cpu = [], []
    out = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = f()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    CPU[f] = statistics.median(cpu)
    return statistics.median(times), out


def build(family: str):
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model
    torch.manual_seed(0)
    cfg = BertConfig() if family == "encoder" else GPT2Config()
    cfg._attn_implementation = "eager"
    return (BertModel if family == "encoder" else GPT2Model)(cfg).eval()


def forward(model, t: int, family: str) -> A.AttentionResult:
    ids = torch.randint(1000, 20000, (1, t))
    with torch.no_grad():
        start = time.perf_counter()
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)
        fwd = (time.perf_counter() - start) * 1000
    attn = torch.stack(out.attentions)[:, 0].float().numpy().astype(np.float16)
    if family == "encoder":
        tokens = ["[CLS]"] + [("##" if i % 5 == 4 else "") + f"w{i}" for i in range(t - 2)] + ["[SEP]"]
        special = [True] + [False] * (t - 2) + [True]
    else:
        tokens = [("Ġ" if i % 4 == 0 else "") + f"w{i}" for i in range(t)]
        special = [False] * t
    r = A.AttentionResult(family, tokens, ids[0].tolist(), attn, False, t, family != "encoder", special, fwd,
                          "wordpiece" if family == "encoder" else "bpe")
    return r


def serialise(fig) -> str:
    return pio.to_json(styled(fig), validate=False)      # what st.plotly_chart sends


EXPORTS = {}


def export(data: dict) -> dict:
    """What a re-draw does with the numbers: hand them to deferred download buttons (built on click)."""
    is_table(data)
    return data


def export_on_click(data: dict) -> int:
    """What a click on JSON and CSV costs: both texts built."""
    return len(json.dumps(_jsonable(data))) + len(to_csv(data) or "")


def views(r: A.AttentionResult, stats, roll, layer=5, head=3, hide=True, merge=True):
    """name -> a function doing everything a re-draw of that view does on the server."""
    def prep(a):
        return A.prepare(a, r.tokens, r.special, hide, True, merge, r.scheme)

    def head_view():
        p = prep(r.attn[layer, head])
        fig = charts.heatmap(p.attn, p.labels)
        return serialise(fig), export(long_table(p.attn, p.labels, p.labels))

    def head_plain():   # no options: the page's default view
        p = A.prepare(r.attn[layer, head], r.tokens, r.special)
        fig = charts.heatmap(p.attn, p.labels)
        return serialise(fig), export(long_table(p.attn, p.labels, p.labels))

    def rollout_view():
        p = prep(roll[layer])                           # rollout is computed once, with the forward pass
        return serialise(charts.heatmap(p.attn, p.labels)), export(long_table(p.attn, p.labels, p.labels))

    def layer_view():
        p = prep(r.attn[layer])
        fig = charts.head_grid(p.attn, p.labels, [f"head {h}" for h in range(r.n_heads)])
        return serialise(fig), export(long_table(p.attn, p.labels, p.labels, lead={"head": list(range(r.n_heads))}))

    def model_view():
        p = prep(r.attn)
        fig = charts.model_thumbnails(p.attn, stats["entropy"], "entropy", thumb=24)
        pooled = charts.pool(p.attn, 24)
        s = [str(i) for i in range(pooled.shape[-1])]
        return serialise(fig), export(long_table(pooled, s, s, lead={
            "layer": np.repeat(np.arange(r.n_layers), r.n_heads), "head": np.tile(np.arange(r.n_heads), r.n_layers)}))

    def focus_view():
        p = prep(r.attn[layer])
        return serialise(charts.token_focus(p.attn, p.labels, min(7, len(p.labels) - 1))), None

    def summary_view():
        fig = charts.head_summary(stats["entropy"], "entropy", {k: v for k, v in stats.items()})
        return serialise(fig), export({"layer": np.repeat(np.arange(r.n_layers), r.n_heads),
                                       **{k: v.reshape(-1) for k, v in stats.items()}})

    return {"one head (no options)": head_plain, "one head (hide+merge)": head_view, "rollout": rollout_view,
            "layer's heads": layer_view, "whole model": model_view, "token focus": focus_view,
            "head summary": summary_view}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=128)
    a = ap.parse_args(argv)
    t = a.tokens
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ok = True
    for family, name in [("encoder", "BERT-base (random init, BertConfig())"),
                         ("decoder", "GPT-2 small (random init, GPT2Config())")]:
        model = build(family)
        forward(model, 8, family)                                   # warm-up
        fwd_times = []
        load = os.getloadavg()[0]
        for _ in range(3):
            r = forward(model, t, family)
            fwd_times.append(r.forward_ms)
        fwd = statistics.median(fwd_times)
        stats_ms, stats = ms(lambda: A.head_summary(r), 1)
        roll_ms, roll = ms(lambda: A.rollout(A.combine_heads(r.attn, "mean")).astype(np.float32), 1)
        c = Computed(r, stats, roll)
        hit_ms, _ = ms(lambda: pickle.loads(pickle.dumps(c)))        # what an st.cache_data hit costs
        print(f"\n{name}, {t} tokens: attention {r.attn.shape} float16 = {r.attn.nbytes / 1e6:.1f} MB "
              f"(load average {load:.1f} on {os.cpu_count()} CPUs)")
        print(f"  forward pass (eager, output_attentions) {fwd:8.1f} ms   (once per model/text/limit, cached)")
        print(f"  head statistics                         {stats_ms:8.1f} ms   (cached with the forward pass)")
        print(f"  rollout of every layer                  {roll_ms:8.1f} ms   (cached with the forward pass)")
        print(f"  cache hit (pickle round trip)           {hit_ms:8.1f} ms")
        for view, f in views(r, stats, roll).items():
            f()                                                     # warm-up
            t_ms, (js, data) = ms(f)
            # on a shared, oversubscribed machine wall time mostly measures waiting for a core: judge the
            # target on this process's CPU time then, and say so
            judged = CPU[f] if load > (os.cpu_count() or 1) else t_ms
            flag = "ok" if judged <= REDRAW_TARGET_MS else "SLOW"
            click_ms, nbytes = ms(lambda: export_on_click(data), 1) if data else (0.0, 0)
            print(f"  re-draw {view:22s} {t_ms:7.1f} ms (cpu {CPU[f]:6.1f})  = forward/{fwd / t_ms:6.1f}  "
                  f"figure {len(js) / 1024:6.1f} KB  [{flag}]  JSON+CSV on click: {click_ms:5.0f} ms, "
                  f"{nbytes / 1024:5.0f} KB")
            if view.startswith("one head") or view == "rollout":
                ok &= judged <= REDRAW_TARGET_MS
            if view == "one head (no options)":
                size_ok = len(js) / 1024 <= HEAD_JSON_TARGET_KB
                ok &= size_ok
                print(f"  one head's heatmap JSON: {len(js) / 1024:.1f} KB (target <= {HEAD_JSON_TARGET_KB} KB) "
                      f"[{'ok' if size_ok else 'TOO BIG'}]")
        if family == "encoder":
            values = r.n_layers * r.n_heads * t * t
            full = len(json.dumps(np.round(r.attn.astype(np.float64), 3).tolist())) * 2   # bertviz: all weights, twice-ish
            cap = bertviz_view.token_cap(r.n_layers, r.n_heads, "model")
            capped = bertviz_view.head_or_model_view("model", r.attn[..., :cap, :cap].astype(np.float32), r.tokens[:cap],
                                                     None)
            print(f"  bertviz model view: uncapped {values:,} weights ≈ {full / 1e6:.0f} MB of JSON text; "
                  f"capped to {cap} tokens: {capped.payload_bytes / 1e6:.2f} MB of HTML "
                  f"(+0.4 MB inlined JS)")
        del model
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(f"\nnote: load average {os.getloadavg()[0]:.1f} > {os.cpu_count()} CPUs: the 150 ms re-draw target "
              "was judged on CPU time (wall time shown too)")
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The app's pages. A page is listed only once its file exists: no placeholders."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PageInfo:
    file: str          # relative to the project root
    title: str
    icon: str
    url_path: str
    blurb: str         # one line for the home page card
    families: tuple[str, ...] = ()   # model families the page uses

    @property
    def path(self) -> Path:
        """Absolute: st.Page resolves relative paths against the entry script's folder, and the app has two
        entry scripts (app.py, cloud/streamlit_app.py) in different folders."""
        return ROOT / self.file

    @property
    def exists(self) -> bool:
        return self.path.is_file()


PAGES = [
    PageInfo("pages/families.py", "Families", "👪", "families",
             "Encoder, decoder, encoder-decoder: masks, objectives, a live T5's cross-attention, few-shot measured.",
             ("encoder", "decoder", "seq2seq")),
    PageInfo("pages/attention.py", "Attention", "🔍", "attention",
             "Where every token looks: BERT vs GPT-2 attention, head by head, with head statistics.",
             ("encoder", "decoder")),
    PageInfo("pages/generation.py", "Generation", "✍️", "generation",
             "Watch a decoder write token by token: top-k probabilities, sampling, branches, logit lens.",
             ("decoder", "rope-decoder", "encoder")),
    PageInfo("pages/rope.py", "RoPE", "🌀", "rope",
             "Rotary position embeddings: from a 2-D rotation to a real model's queries and keys.",
             ("rope-decoder", "decoder")),
    PageInfo("pages/moe.py", "Mixture of experts", "🔀", "moe",
             "Which expert gets which token: router probabilities, top-k routing, load balance.",
             ("moe-decoder",)),
    PageInfo("pages/kv-cache.py", "KV cache", "🧮", "kv-cache",
             "How the KV cache grows under MHA, GQA and MQA — computed and measured.",
             ("decoder", "rope-decoder")),
    PageInfo("pages/efficient.py", "Efficient attention", "⚡", "efficient",
             "Sliding windows and FlashAttention's tiling, shown exactly and applied to a real model.",
             ("rope-decoder",)),
    PageInfo("pages/adapt.py", "Train & adapt", "🏋️", "adapt",
             "Tokens per parameter, choosing a model, what fine-tuning trains — and a LoRA fine-tune you can watch."),
    PageInfo("pages/pipeline.py", "Pipeline", "🛤️", "pipeline",
             "Follow one prompt through a decoder: tokens, embeddings, blocks, logits, the pick, the KV cache.",
             ("decoder", "rope-decoder")),
    PageInfo("pages/multimodal.py", "Multimodal", "🖼️", "multimodal",
             "A picture becomes tokens: patches, a frozen vision encoder, a projector, and words that look at the image.",
             ("vision-language",)),
]


HOME = PageInfo("pages/home.py", "Home", "🏠", "home", "What the explorer is, its pages and its models.")


def existing() -> list[PageInfo]:
    return [p for p in PAGES if p.exists]


def page(url_path: str) -> PageInfo:
    """A listed page by its link path ("kv-cache"); use its absolute `.path` for st.page_link."""
    return next(p for p in PAGES if p.url_path == url_path)

"""User text in, safe model input out: cleaning, empty checks and token-limit truncation.

Pure functions (no Streamlit) so every page treats text the same way and tests can pin it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_CHARS = 20_000  # far above any model limit here; bounds the work the tokenizer is asked to do


@dataclass
class CleanText:
    text: str
    notes: list[str] = field(default_factory=list)   # what was changed, one sentence each

    @property
    def empty(self) -> bool:
        return not self.text.strip()


def clean(text: str | None, max_chars: int = MAX_CHARS) -> CleanText:
    """Drop control characters (keeping newline and tab), normalise to NFC, cap the length.

    Emoji, CJK and every other printable character pass through unchanged; HTML passes through
    as text (the app never renders user text as HTML).
    """
    text = "" if text is None else str(text)
    notes = []
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
                   or ch == "\u200d")  # keep the zero-width joiner that holds emoji sequences together
    if len(kept) != len(text):
        notes.append(f"Removed {len(text) - len(kept)} invisible control character(s).")
    kept = unicodedata.normalize("NFC", kept)
    if len(kept) > max_chars:
        notes.append(f"Text cut to its first {max_chars:,} characters.")
        kept = kept[:max_chars]
    return CleanText(kept, notes)


@dataclass
class Encoded:
    ids: list[int]
    tokens: list[str]          # the tokenizer's own pieces (Ġ / ## markers kept)
    truncated: bool
    total_tokens: int          # before truncation

    @property
    def notice(self) -> str | None:
        if not self.truncated:
            return None
        return f"Input cut to {len(self.ids)} of its {self.total_tokens} tokens (the limit you set or the model's maximum)."


def encode(tokenizer, text: str, max_tokens: int, add_special_tokens: bool = True) -> Encoded:
    """Tokenize and keep at most `max_tokens` ids (special tokens included, the final [SEP] kept)."""
    ids = tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
    total = len(ids)
    truncated = total > max_tokens
    if truncated:
        sep = getattr(tokenizer, "sep_token_id", None)
        if add_special_tokens and sep is not None and ids[-1] == sep:
            ids = ids[: max_tokens - 1] + [sep]
        else:
            ids = ids[:max_tokens]
    return Encoded(ids, tokenizer.convert_ids_to_tokens(ids), truncated, total)


def display_token(token: str) -> str:
    """A readable label for a token piece: byte-level markers turned back into spaces/newlines."""
    return token.replace("Ġ", "␣").replace("Ċ", "⏎").replace("▁", "␣")


# ---------------------------------------------------------------- the one escaping rule
# Every text that came from a user, a link, a file or a model (tokens included) goes through md()
# before it reaches anything Streamlit renders as markdown (st.markdown, st.caption, st.info,
# st.error, widget labels, radio options...). Escaped, it shows as typed and can make no link,
# image, heading, emphasis, colour directive or LaTeX. Backslash escapes every ASCII punctuation
# character in CommonMark; these are the ones that start something in Streamlit's markdown
# (GFM autolinks need ':', '.', '@'; directives ':red[..]'; LaTeX '$'; HTML '<').
MD_SPECIAL = frozenset("\\`*_{}[]()#+-.!<>|~$:@&=^\"'%")
SHORT = 40   # characters of an echoed value in a notice
ZWSP = "\u200b"
_AUTOLINK = re.compile(r"://|www\.|@", re.IGNORECASE)


def digest(text: str) -> str:
    """A short stable name for a text (e.g. a widget key that changes whenever a link value does; Python's
    hash() of a str differs between processes)."""
    import hashlib
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def md(text: object, limit: int | None = None) -> str:
    """`text` safe inside Streamlit markdown, shown as typed: one line, specials escaped, optionally
    cut to `limit` characters (with "…"). Line breaks become spaces; control characters are dropped."""
    s = "" if text is None else str(text)
    s = "".join(" " if ch in "\r\n\t\v\f\u2028\u2029" else ch for ch in s
                if ch in "\r\n\t\v\f" or unicodedata.category(ch) not in ("Cc", "Cs"))
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    # GFM autolink literals are found in the text *after* escapes are resolved (Streamlit's markdown links
    # "http://…", "www.…" and "a@b.c" even when escaped): an invisible zero-width space breaks each pattern
    s = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + ZWSP + m.group(0)[-1], s)
    return "".join("\\" + ch if ch in MD_SPECIAL else ch for ch in s)

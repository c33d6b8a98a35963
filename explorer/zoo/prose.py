"""Running English prose for the bundled models: the Python documentation's tutorial, FAQ and HOWTOs.

Debian's `python3.11-doc` package ships the reStructuredText sources of the documentation
(`/usr/share/doc/python3.X/html/_sources/`), under the Python Software Foundation License
Version 2 (permissive: use, copy, modify and distribute, with the copyright notice kept).
We keep the paragraphs of plain prose (no code blocks, directives, tables or headings), strip the
inline markup, and make one document of each section's paragraphs (about 1,000 characters at most).
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path

PARTS = ("tutorial", "faq", "howto", "reference")
MAX_DOC_CHARS = 1000
LICENSE = ("Python documentation (Debian package `python3.11-doc`), Copyright 2001-2023 Python Software "
           "Foundation, Python Software Foundation License Version 2")

_ROLE = re.compile(r":[a-z:]+:`~?!?([^`<]*?)\s*(?:<[^`>]*>)?`")       # :func:`len` / :ref:`text <target>`
_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`_+")                        # `text <url>`_
_LITERAL = re.compile(r"``([^`]+)``")
_REF = re.compile(r"`([^`]+)`_*")
_STRONG = re.compile(r"\*\*([^*]+)\*\*")
_EMPH = re.compile(r"\*([^*\s][^*]*)\*")
_FOOTNOTE = re.compile(r"\s*\[#[^\]]*\]_")
_HEADING = re.compile(r"^([=\-~^\"'`#*+.:_])\1{3,}\s*$")


def find_sources() -> Path:
    """The folder of the documentation sources (env PYTHON_DOC_SOURCES, or the newest python3.X-doc)."""
    env = os.environ.get("PYTHON_DOC_SOURCES")
    candidates = [env] if env else sorted(glob.glob("/usr/share/doc/python3*/html/_sources"), reverse=True)
    for c in candidates:
        if c and all((Path(c) / p).is_dir() for p in PARTS):
            return Path(c)
    raise FileNotFoundError("Python documentation sources not found. Install them with "
                            "`apt-get install python3.11-doc` (or set PYTHON_DOC_SOURCES to an html/_sources folder).")


def plain(paragraph: str) -> str:
    """Inline reStructuredText markup -> plain text, on one line."""
    text = " ".join(line.strip() for line in paragraph.splitlines())
    for pattern in (_FOOTNOTE,):
        text = pattern.sub("", text)
    text = _ROLE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _REF.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPH.sub(r"\1", text)
    text = text.replace("\\ ", "").replace("\\", "")
    text = re.sub(r"([A-Za-z0-9])_(?!\w)", r"\1", text)          # IPython_ (a named link) -> IPython
    if text.endswith("::"):
        text = text[:-1]
    return re.sub(r"\s+", " ", text).strip()


def is_prose(paragraph: str) -> bool:
    lines = paragraph.splitlines()
    if not lines or lines[0].startswith((" ", "\t", "..", "|", "+", "*", "-", ">>>", "#", ":", "=")):
        return False
    if re.match(r"^(\d+\.|#\.)\s", lines[0]):     # enumerated list items
        return False
    text = plain(paragraph)
    return len(text) >= 80 and text.count(".") >= 1 and not text.startswith("(") and "::" not in text


def sections(source: str) -> list[list[str]]:
    """A file's prose paragraphs, grouped by the section headings between them."""
    out, cur, para = [], [], []

    def flush_para():
        if para:
            block = "\n".join(para)
            if is_prose(block):
                cur.append(plain(block))
            para.clear()

    lines = source.splitlines()
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _HEADING.match(line) or (line.strip() and _HEADING.match(nxt) and not line.startswith(" ")):
            flush_para()
            if cur:
                out.append(cur)
                cur = []
            continue
        if not line.strip():
            flush_para()
        else:
            para.append(line)
    flush_para()
    if cur:
        out.append(cur)
    return out


def documents(folder: Path | None = None) -> list[str]:
    """Prose documents in a fixed order (sorted file names): each a run of one section's paragraphs."""
    folder = folder or find_sources()
    docs = []
    for part in PARTS:
        for path in sorted((folder / part).rglob("*.txt")):
            for paragraphs in sections(path.read_text(encoding="utf-8", errors="replace")):
                doc = ""
                for p in paragraphs:
                    if doc and len(doc) + len(p) > MAX_DOC_CHARS:
                        docs.append(doc)
                        doc = ""
                    doc = f"{doc} {p}".strip() if doc else p
                if doc:
                    docs.append(doc)
    return docs

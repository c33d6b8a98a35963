"""User text handling: control characters, emoji/CJK, HTML as text, truncation with a notice."""
from explorer.text import clean, display_token, encode
from tests.conftest import bundled_model


def test_control_characters_are_removed_and_reported():
    c = clean("hello\x00 wor\x07ld\u202e!\n")
    assert c.text == "hello world!\n"
    assert c.notes and "3" in c.notes[0]


def test_emoji_cjk_and_html_pass_through_as_text():
    s = "👩‍🔬 学习 <script>alert(1)</script> café"
    assert clean(s).text == s
    assert clean(s).notes == []


def test_empty_and_whitespace_are_empty():
    assert clean("").empty and clean("   \n").empty and clean(None).empty


def test_very_long_text_is_capped_by_characters():
    c = clean("a" * 50_000, max_chars=1000)
    assert len(c.text) == 1000 and "1,000" in c.notes[0]


def test_truncation_keeps_the_limit_and_the_final_sep():
    tok = bundled_model("tiny-bert").tokenizer
    e = encode(tok, "the dog runs " * 100, max_tokens=16)
    assert len(e.ids) == 16 and e.truncated and e.total_tokens > 16
    assert e.tokens[0] == "[CLS]" and e.tokens[-1] == "[SEP]"
    assert "16 of its" in e.notice
    assert encode(tok, "short", 16).notice is None


def test_every_kind_of_text_tokenizes(tmp_path):
    tok = bundled_model("tiny-gpt2").tokenizer
    for s in ["👩‍🔬🚀", "深度学习", "<b>bold</b>", "tab\tand\nnewline", "x" * 3000]:
        e = encode(tok, s, 64)
        assert 0 < len(e.ids) <= 64
        assert tok.decode(e.ids) if not e.truncated else True


def test_display_token_shows_spaces_and_newlines():
    assert display_token("Ġthe") == "␣the" and display_token("Ċ") == "⏎"


def test_md_escapes_every_markdown_construct_that_makes_a_link_image_or_format():
    from markdown_it import MarkdownIt

    from explorer.text import md
    payloads = ["![i](http://evil.example/t.png)", "[x](http://evil.example)", "<http://evil.example>",
                "<img src=x onerror=alert(1)>", "**bold** _it_ `code` ~~s~~", "# heading", "> quote",
                "- item", "1. item", "[x]: http://evil.example", "| a | b |", ":red[x] $x^2$", "&lt;b&gt;"]
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    for p in payloads:
        tokens = parser.parse(f"Text: {md(p)} end")
        assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], p
        inline = tokens[1].children
        assert [t.type for t in inline] == ["text"], (p, [t.type for t in inline])
        assert inline[0].content.replace("\u200b", "") == f"Text: {p} end"   # shown as typed (zero-width spaces aside)


def test_md_breaks_autolinks_that_markdown_finds_after_escapes_are_resolved():
    """Streamlit's GFM links http://..., www.... and a@b.c in text nodes, escaped or not."""
    import re

    from explorer.text import md
    autolink = re.compile(r"(?:https?://|www\.)[-.\w]+|[-.\w+]+@[-\w]+(?:\.[-\w]+)+", re.ASCII)
    unescape = re.compile(r"\\([!-/:-@\[-`{-~])")
    for p in ["http://evil.example/t.png", "see www.evil.example", "x@evil.example", "HTTPS://EVIL.EXAMPLE"]:
        assert autolink.search(unescape.sub(r"\1", md(p))) is None, p
        assert md(p).replace("\u200b", "").replace("\\", "") == p


def test_md_makes_one_line_and_cuts_long_values():
    from explorer.text import md
    assert md("a\nb\r\nc\x00d") == "a b  cd"
    assert md("x" * 100, 40) == "x" * 39 + "…"
    assert md(None) == ""

"""Data text is shown as text: Markdown escaped, restricted rendering, invisible characters shown, CSV formulas."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from pipeline.safe_text import clean, csv_cell, markdown_html, md_escape

HOSTILE = [
    "![x](http://example.com/x.png)",
    "[click](https://example.com)",
    ":red[alarm] and :material/warning: and :smile:",
    "<img src=http://example.com/a.png> <script>alert(1)</script>",
    "$$\\int x$$ and $x^2$",
    "**bold** _it_ `code` ~~gone~~",
    "<http://example.com/auto> www.example.com http://example.com/bare a@example.com",
    "# heading\n- item\n1. first\n===",
    "a | b | c",
    "&lt;img src=x&gt; &#xA;next",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_md_escape_renders_literally_in_commonmark(text):
    html = MarkdownIt("gfm-like", {"linkify": False}).enable("strikethrough").render(md_escape(text))
    for tag in ("<img", "<a ", "<script", "<strong", "<em", "<h1", "<li", "<table", "<s>"):
        assert tag not in html, (text, html)


def test_md_escape_keeps_the_characters():
    text = "Dx: *not* [this](x) <b>"
    rendered = MarkdownIt("commonmark").render(md_escape(text, one_line=True))
    assert "Dx: *not* [this](x) &lt;b&gt;" in rendered


def test_restricted_markdown_keeps_formatting_but_no_html_links_or_images():
    html = markdown_html("# History\n\n**Fever** for 3 days\n\n- cough\n- ![x](http://e.com/x.png) [l](http://e.com)")
    assert "<h1>History</h1>" in html and "<strong>Fever</strong>" in html and "<li>cough</li>" in html
    assert "<img" not in html and "<a " not in html and "http://e.com" in html
    raw = markdown_html("<script>alert(1)</script><img src=x onerror=alert(1)>")
    assert "<script" not in raw and "<img" not in raw and "&lt;script&gt;" in raw


def test_entities_decoded_and_invisible_characters_made_visible():
    assert clean("a&#xA;b &amp; &lt;c&gt;") == "a\nb & <c>"
    shown = clean("abc\u202edcba\u200bx\ufeff")
    assert shown == "abc[U+202E RLO]dcba[U+200B ZWSP]x[U+FEFF BOM]"
    assert "\u202e" not in md_escape("x\u202ey") and "\u2066" not in markdown_html("\u2066y")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://e.com")', '\'=HYPERLINK("http://e.com")'),
        ("+1", "'+1"),
        ("-5 mmHg", "'-5 mmHg"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("fever = 39", "fever = 39"),
        (-5, -5),
        (None, None),
    ],
)
def test_csv_cell(value, expected):
    assert csv_cell(value) == expected


def test_bare_urls_and_addresses_become_code_not_links():
    html = MarkdownIt("commonmark").render(md_escape("see http://e.com/x, www.e.com and a@e.com; `tick`"))
    assert "<code>http://e.com/x,</code>" in html and "<code>www.e.com</code>" in html
    assert "<code>a@e.com</code>" in html and "`tick`" in html and "<a " not in html

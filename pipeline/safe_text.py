"""Text that comes from data (cases, model output, names, codebooks) shown as text, never as markup.

One place decides how data text reaches a screen or a document:
- `clean`: HTML entities decoded once (`&#xA;` is a line break, `&lt;` is "<"), and bidirectional overrides
  and zero-width characters made visible as [U+202E RLO] instead of silently reordering or hiding text.
- `md_escape`: for Markdown contexts (Streamlit labels, captions, report.md): every character Markdown or
  Streamlit would interpret (emphasis, links, images, `:red[...]` directives, `$...$` LaTeX, HTML) is
  backslash-escaped, so the text renders literally and nothing is fetched.
- `markdown_html`: where formatting helps a reader, a restricted Markdown renderer (markdown-it-py, CommonMark):
  no raw HTML, no links, no images, no autolinks; the result is HTML-escaped text in a few tags.
- `csv_cell`: a spreadsheet would run a cell starting with = + - @ (or a tab / carriage return) as a formula.
"""

from __future__ import annotations

import html
import re
from functools import cache
from typing import Any

# Characters that change the order or the visibility of text without showing themselves.
_INVISIBLE = {
    "\u200b": "ZWSP",
    "\u200c": "ZWNJ",
    "\u200d": "ZWJ",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2060": "WJ",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
    "\u061c": "ALM",
    "\ufeff": "BOM",
    "\u00ad": "SHY",
}
_INVISIBLE_RE = re.compile("[" + "".join(_INVISIBLE) + "]")
# The characters that make Markdown or Streamlit markup anywhere in a line: emphasis, code, links and images
# (no "[" means no link, image or :red[] directive), HTML and entities, tables, strikethrough, LaTeX, and
# "@" of an e-mail address (GFM links bare URLs and addresses by itself: see _URLISH).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#+!|<>~$&^@])")
# ... and those that do only at the start of a line: lists, setext headings, ordered lists.
_MD_LINE_START = re.compile(r"^(\s*)([-=]|\d+(?=[.)]))", re.MULTILINE)
_URLISH = re.compile(r"((?:[a-z][a-z0-9+.\-]*:/+|www\.)[^\s`]+|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+)", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def visible(text: str) -> str:
    """Bidirectional overrides and zero-width characters shown as [U+202E RLO], never applied."""
    return _INVISIBLE_RE.sub(lambda m: f"[U+{ord(m.group()):04X} {_INVISIBLE[m.group()]}]", text)


def clean(value: Any) -> str:
    """Data text ready to show as characters: entities decoded once, invisible controls made visible."""
    text = "" if value is None else str(value)
    return visible(html.unescape(text))


def _code_span(text: str) -> str:
    """`text` as an inline code span: shown as is, and no Markdown viewer turns it into a link."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_escape(value: Any, *, one_line: bool = False) -> str:
    """Data text for a Markdown context: shown literally, nothing fetched, no directives, LaTeX or HTML.

    GFM viewers (Streamlit, GitHub) turn bare URLs and e-mail addresses into links after the escapes are
    read, so those are shown as code spans instead, which no viewer links.
    """
    text = clean(value)
    text = " ".join(text.split()) if one_line else text
    parts = _URLISH.split(text)
    text = "".join(_code_span(p) if i % 2 else _MD_SPECIAL.sub(r"\\\1", p) for i, p in enumerate(parts))
    text = _MD_LINE_START.sub(lambda m: m.group(1) + _escape_start(m.group(2)), text)
    return text if one_line else text.replace("\n", "  \n")


def _escape_start(token: str) -> str:
    # "1." starts an ordered list; "1\." does not (the digit cannot be escaped, the dot can).
    return "\\" + token if token in "-=" else token + "\\"


@cache
def _parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    # No links, images or autolinks: nothing a reader's browser would fetch or follow.
    md.disable(["link", "image", "autolink", "html_inline", "html_block", "reference"])
    return md


def markdown_html(value: Any) -> str:
    """Restricted Markdown to HTML (bold, lists, headings, code): raw HTML is escaped, links and images stay text."""
    return _parser().render(clean(value))


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; other values unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value

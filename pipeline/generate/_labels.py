"""Diagnosis names inside answer text: cut a name from its explanation, tell a name from prose. Pure."""

from __future__ import annotations

import html
import re
import unicodedata

from ftfy import fix_text

from pipeline.generate._formats import reasoning_title

# HTML list markup some chat front-ends and models emit: items become bullet lines, bold stays bold.
_HTML_ITEM = re.compile(r"<li\b[^>]*>", re.I)
_HTML_BOLD = re.compile(r"</?(?:strong|b)\s*>", re.I)
_HTML_BREAK = re.compile(r"</?(?:ol|ul|li|p|div|br|h[1-6])\b[^>]*>", re.I)


def _html_lists(text: str) -> str:
    if not _HTML_ITEM.search(text):
        return text
    text = _HTML_BOLD.sub("**", _HTML_ITEM.sub("\n- ", text))
    return _HTML_BREAK.sub("\n", text)


def clean_text(text: str) -> str:
    """Fix mojibake and HTML entities (``&#xA;``), normalise newlines, drop code fences, HTML lists as lines."""
    text = fix_text(html.unescape(text or ""), normalization="NFC")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = _html_lists(text)
    return "\n".join(line for line in text.split("\n") if not line.strip().startswith("```"))


MD = re.compile(r"[*_`]+")
_SPACES = re.compile(r"\s+")
# Parentheticals and trailing clauses that rank or hedge rather than name.
_QUALIFIER_WORDS = (
    r"likely|probable|possible|possibly|unlikely|urgent|concern|consider|priority|emergenc|rule out|"
    r"differential|suspected|less common|more common|most common|top|first|second|third|fourth|fifth|"
    r"primary|leading|working|diagnosis|%"
)
_QUALIFIER_PAREN = re.compile(r"\s*[(\[][^()\[\]]*(?:" + _QUALIFIER_WORDS + r")[^()\[\]]*[)\]]", re.I)
_QUALIFIER_TAIL = re.compile(
    r",\s*(?:most|less|more|very|highly|also|but|though|especially|particularly|likely|possibly|probably|"
    r"given|if|which|as|such as|in this)\b.*$",
    re.I,
)
_QUALIFIER_HEAD = re.compile(
    r"^(?:(?:most|more|less|very|highly)\s+)?(?:likely|probable|possible|unlikely|suspected|consider|"
    r"rule out|r/o|primary|secondary|leading|working|differential|top|main|final|preliminary|alternative|"
    r"additional|associated|underlying|comorbid|other)"
    r"(?:\s+(?:diagnosis|diagnoses|dx|consideration|cause))?\s*[:\-–—]\s*",
    re.I,
)
_ORDINAL_HEAD = re.compile(r"^(?:diagnosis|dx|ddx|differential|case|patient)\s*#?\s*\d{1,2}\s*[:.)\-–—]\s*", re.I)

# Words that mark a label as a sentence (an intro, a disclaimer), never part of a name.
_PROSE = re.compile(
    r"\b(?:here|these|those|this|that|include|includes|including|could|would|should|may|might|"
    r"can|you|your|i'm|we|my|our|consult|doctor|professional|advice|important|possibilities|"
    r"however|ranked|based|ai|it|is|are|was|were|be|been|has|have|had|will|please|if|because)\b",
    re.I,
)
# "I" the pronoun, not the Roman numeral of "Type I diabetes", "Stage I", "troponin I".
_PRONOUN_I = re.compile(
    r"(?:^|[.!?]\s+)I\b(?!\s*[-,)])|\bI\s+(?:am|think|would|believe|suspect|cannot|can't|have|will|'d|'m)\b"
)
# Words that start a structural title under an item ("Key indicators:", "Next steps:"), not a name.
_TITLE = re.compile(
    r"^(?:note|reasoning|resoning|thinking|step|case|patient|symptoms?|causes|conditions|diagnoses|diagnosis|options|list|reasons?|explanation|next steps?|"
    r"treatment|management|recommendations?|tests?|workup|work-up|evaluation|features|findings|signs|"
    r"key|why|summary|conclusion|rationale|answer|assessment|plan|history|risk factors?|indicators?|"
    r"supporting|against|typical|presentation|complications?|meantime|informational|disclaimer|"
    r"additional|also|additionally|given|possible causes|action|what|when|how|urgent|immediate)\b",
    re.I,
)
# A line that is a bare section title naming the list rather than an item of it.
_LIST_TITLE = re.compile(
    r"^(?:(?:five|5|top|possible|potential|preliminary|differential|likely|most likely|probable|other|"
    r"alternative|additional|further|less likely|remaining|secondary)\s+)*"
    r"(?:differential\s+)?(?:diagnos[ie]s|ddx|differentials?|possibilities|considerations|options)$",
    re.I,
)
MAX_LABEL_WORDS = 14


def collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


_NAME_END = re.compile(r":(?:\s|$)|\s[-–—]\s|—|\s[-–]$|\.\s+(?=[A-Z])|\.$|;\s")


def _head_outside_parens(text: str) -> str:
    """Text up to the first separator that is not inside parentheses ("X (Most Likely – Urgent) – why")."""
    depth_at = []
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        depth_at.append(depth)
    for m in _NAME_END.finditer(text):
        if depth_at[m.start()] == 0:
            return text[: m.start()]
    return text


def cut_label(text: str) -> str:
    """The diagnosis name at the start of a list item, without its explanation."""
    text = text.strip()
    bold = re.match(r"^(\*\*|__)(.+?)\1", text)
    if bold and len(bold.group(2).split()) <= MAX_LABEL_WORDS:
        inner = bold.group(2).strip()
        inner = _ORDINAL_HEAD.sub("", inner)
        # "**Most likely:** Appendicitis" titles the item; the name follows.
        rest = text[bold.end() :].lstrip(" :-–—")
        if _QUALIFIER_HEAD.match(inner + ":") and rest:
            text = rest
        elif inner.rstrip(":").strip():
            text = inner
    text = MD.sub("", text).strip().lstrip("#> ")
    text = _ORDINAL_HEAD.sub("", text)
    text = _QUALIFIER_HEAD.sub("", text)
    # The name ends at a colon, a spaced dash, an unspaced em dash, or a sentence end.
    text = _head_outside_parens(text)
    text = _QUALIFIER_PAREN.sub("", text)
    text = _QUALIFIER_TAIL.sub("", text)
    text = re.sub(r"\s*\(\s*\)", "", text)
    text = collapse(text).strip(" .,;:-–—*")
    # Unbalanced parenthesis left by a cut: "Gout (acute" -> "Gout (acute)".
    if text.count("(") > text.count(")"):
        text += ")"
    return text


def bare(text: str) -> str:
    """Text without its parentheticals, for counting words."""
    return re.sub(r"\([^()]*\)?", " ", text)


def valid_label(label: str, max_words: int = MAX_LABEL_WORDS) -> bool:
    if not label or len(label) < 2 or not re.search(r"[A-Za-zÀ-ÿ]", label):
        return False
    plain = bare(label)  # "(also known as mono)" does not make a name prose
    words = plain.split()
    if not words or len(label.split()) > max_words:
        return False
    if _LIST_TITLE.match(label) or reasoning_title(label) or _PRONOUN_I.search(plain.strip()):
        return False
    # Long labels with prose words are sentences; short ones are names ("Reactive arthritis").
    if _TITLE.match(plain.strip()) and len(words) <= 2:
        return False
    if _PROSE.search(plain) and (len(words) > 3 or _PROSE.match(plain.strip())):
        return False
    return not label.endswith("?")


def dedupe(labels: list[str], k: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for label in labels:
        k_ = key(label)
        if k_ and k_ not in seen:
            seen.add(k_)
            out.append(label)
        if len(out) >= k:
            break
    return out


def key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", unicodedata.normalize("NFKD", text).casefold()).strip()

"""Parsing model outputs: reasoning vs answer, ranked diagnoses, the chosen option. Pure functions.

Real answers come in many shapes (see the 720 shipped Sandmann answers): numbered
lists with explanation lines under each item, bold bullets, "Name: explanation"
headings, bare heading lines followed by a paragraph, one paragraph of
"Name: explanation." sentences, comma lists. Each shape has its own extractor;
the first that finds a list wins, in order from the most explicit to the loosest.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

from ftfy import fix_text
from rapidfuzz import fuzz

# --------------------------------------------------------------------------- reasoning

# Tag pairs reasoning models use for their trace inside the content.
_THINK_TAGS = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
    ("◁think▷", "◁/think▷"),
)


def split_reasoning(text: str | None) -> tuple[str | None, str]:
    """(trace, answer) of a raw output with inline reasoning, e.g. ``<think>...</think>answer``.

    Handles a closing tag without an opening one (R1-distill chat templates put
    ``<think>`` in the prompt), several blocks, and an unclosed block (output cut
    at max tokens: all of it is trace, the answer is empty). Text without tags is
    all answer and the trace is None.
    """
    if not text:
        return None, ""
    lower = text.lower()
    for open_tag, close_tag in _THINK_TAGS:
        if open_tag not in lower and close_tag not in lower:
            continue
        traces: list[str] = []
        answer_parts: list[str] = []
        pos = 0
        first = True
        while pos <= len(text):
            o = lower.find(open_tag, pos)
            c = lower.find(close_tag, pos)
            if first and c != -1 and (o == -1 or c < o):
                # Closing tag first: everything before it is the trace.
                traces.append(text[pos:c])
                pos = c + len(close_tag)
            elif o != -1:
                answer_parts.append(text[pos:o])
                start = o + len(open_tag)
                c = lower.find(close_tag, start)
                if c == -1:  # unclosed: cut off while thinking
                    traces.append(text[start:])
                    pos = len(text) + 1
                    break
                traces.append(text[start:c])
                pos = c + len(close_tag)
            else:
                answer_parts.append(text[pos:])
                break
            first = False
        trace = "\n\n".join(t.strip() for t in traces if t.strip())
        return (trace or None), "".join(answer_parts).strip()
    return None, text.strip()


# --------------------------------------------------------------------------- text clean-up


def clean_text(text: str) -> str:
    """Fix mojibake and HTML entities (``&#xA;``), normalise newlines, drop code fences."""
    text = fix_text(html.unescape(text or ""), normalization="NFC")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    return "\n".join(line for line in text.split("\n") if not line.strip().startswith("```"))


_MD = re.compile(r"[*_`]+")
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
    r"given|if|which|as|such as|with a|in this)\b.*$",
    re.I,
)
_QUALIFIER_HEAD = re.compile(
    r"^(?:(?:most|more|less|very|highly)\s+)?(?:likely|probable|possible|unlikely|suspected|consider|"
    r"rule out|r/o|primary|leading|working|differential|top|main|final|preliminary|alternative)"
    r"(?:\s+(?:diagnosis|diagnoses|dx|consideration|cause))?\s*[:\-–—]\s*",
    re.I,
)
_ORDINAL_HEAD = re.compile(r"^(?:diagnosis|dx|ddx|differential)\s*#?\s*\d{1,2}\s*[:.)\-–—]\s*", re.I)

# Words that mark a label as a sentence (an intro, a disclaimer), never part of a name.
_PROSE = re.compile(
    r"\b(?:here|these|those|this|that|include|includes|including|could|would|should|may|might|"
    r"can|you|your|i|i'm|we|my|our|consult|doctor|professional|advice|important|possibilities|"
    r"however|ranked|based|ai|it|is|are|was|were|be|been|has|have|had|will|please|if|because)\b",
    re.I,
)
# Words that start a structural title under an item ("Key indicators:", "Next steps:"), not a name.
_TITLE = re.compile(
    r"^(?:note|reasoning|resoning|thinking|step|symptoms?|causes|conditions|diagnoses|diagnosis|options|list|reasons?|explanation|next steps?|"
    r"treatment|management|recommendations?|tests?|workup|work-up|evaluation|features|findings|signs|"
    r"key|why|summary|conclusion|rationale|answer|assessment|plan|history|risk factors?|indicators?|"
    r"supporting|against|typical|presentation|complications?|meantime|informational|disclaimer|"
    r"additional|also|additionally|given|possible causes|action|what|when|how|urgent|immediate)\b",
    re.I,
)
# A line that is a bare section title naming the list rather than an item of it.
_LIST_TITLE = re.compile(
    r"^(?:(?:five|5|top|possible|potential|preliminary|differential|likely|most likely|probable)\s+)*"
    r"(?:differential\s+)?(?:diagnos[ie]s|ddx|differentials?)$",
    re.I,
)
_MAX_LABEL_WORDS = 14


def _collapse(text: str) -> str:
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


def _cut_label(text: str) -> str:
    """The diagnosis name at the start of a list item, without its explanation."""
    text = text.strip()
    bold = re.match(r"^(\*\*|__)(.+?)\1", text)
    if bold and len(bold.group(2).split()) <= _MAX_LABEL_WORDS:
        inner = bold.group(2).strip()
        inner = _ORDINAL_HEAD.sub("", inner)
        # "**Most likely:** Appendicitis" titles the item; the name follows.
        rest = text[bold.end() :].lstrip(" :-–—")
        if _QUALIFIER_HEAD.match(inner + ":") and rest:
            text = rest
        elif inner.rstrip(":").strip():
            text = inner
    text = _MD.sub("", text).strip().lstrip("#> ")
    text = _ORDINAL_HEAD.sub("", text)
    text = _QUALIFIER_HEAD.sub("", text)
    # The name ends at a colon, a spaced dash, an unspaced em dash, or a sentence end.
    text = _head_outside_parens(text)
    text = _QUALIFIER_PAREN.sub("", text)
    text = _QUALIFIER_TAIL.sub("", text)
    text = re.sub(r"\s*\(\s*\)", "", text)
    text = _collapse(text).strip(" .,;:-–—*")
    # Unbalanced parenthesis left by a cut: "Gout (acute" -> "Gout (acute)".
    if text.count("(") > text.count(")"):
        text += ")"
    return text


def _bare(text: str) -> str:
    """Text without its parentheticals, for counting words."""
    return re.sub(r"\([^()]*\)?", " ", text)


def _valid_label(label: str, max_words: int = _MAX_LABEL_WORDS) -> bool:
    if not label or len(label) < 2 or not re.search(r"[A-Za-zÀ-ÿ]", label):
        return False
    bare = _bare(label)  # "(also known as mono)" does not make a name prose
    words = bare.split()
    if not words or len(label.split()) > max_words:
        return False
    if _LIST_TITLE.match(label):
        return False
    # Long labels with prose words are sentences; short ones are names ("Reactive arthritis").
    if _TITLE.match(bare.strip()) and len(words) <= 2:
        return False
    if _PROSE.search(bare) and (len(words) > 3 or _PROSE.match(bare.strip())):
        return False
    return not label.endswith("?")


def _dedupe(labels: list[str], k: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for label in labels:
        key = _key(label)
        if key and key not in seen:
            seen.add(key)
            out.append(label)
        if len(out) >= k:
            break
    return out


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", unicodedata.normalize("NFKD", text).casefold()).strip()


# --------------------------------------------------------------------------- list extractors

_NUMBERED = re.compile(r"^(?:[#>]+\s*)?(?:\*\*|__)?\s*\(?(\d{1,2})\s*[.)](?:\*\*|__)?(?:\s+|(?=\*\*))(.*)$")
_NUMBERED_WORD = re.compile(
    r"^(?:[#>]+\s*)?(?:\*\*|__)?\s*(?:diagnosis|dx|ddx)\s*#?\s*(\d{1,2})\s*[:.)\-–—]\s*(.*)$", re.I
)
_BULLET = re.compile(r"^(?:[-*•●◦▪‣∙+]|[–—])\s+(.*)$")
_BOLD_START = re.compile(r"^(?:[-*•●◦▪‣∙+–—]\s+)?(\*\*|__)(.+?)\1")
_COLON_HEAD = re.compile(r"^(?:[-*•●◦▪‣∙+–—]\s+)?([^:]{2,120}?):(?!//)\s*(.*)$")
_INLINE_NUMBER = re.compile(r"(?:(?<=\s)|^)\(?(\d{1,2})[.)]\s+")


def _split_inline_numbers(line: str) -> list[str]:
    """'1. A 2. B 3. C' on one line -> three lines (only for a 1, 2, 3... run)."""
    marks = [(m.start(), int(m.group(1))) for m in _INLINE_NUMBER.finditer(line)]
    starts: list[int] = []
    expected = 1
    for pos, n in marks:
        if n == expected:
            starts.append(pos)
            expected += 1
    if len(starts) < 2:
        return [line]
    pieces = [line[: starts[0]]] if starts[0] > 0 else []
    pieces += [line[a:b] for a, b in zip(starts, [*starts[1:], len(line)], strict=True)]
    return [p.strip() for p in pieces if p.strip()]


def _lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if line:
            out.extend(_split_inline_numbers(line))
    return out


def _numbered(lines: list[str], k: int) -> list[str]:
    """The first run 1, 2, 3... of numbered items with a name in them."""
    runs: list[list[str]] = []
    expected = None
    for line in lines:
        m = _NUMBERED.match(line) or _NUMBERED_WORD.match(line)
        if not m:
            continue
        n = int(m.group(1))
        if n == 1:
            runs.append([m.group(2)])
            expected = 2
        elif expected is not None and n == expected:
            runs[-1].append(m.group(2))
            expected += 1
    for run in runs:
        labels = [_cut_label(item) for item in run]
        labels = [label for label in labels if _valid_label(label)]
        if len(labels) >= 2 or (len(run) == 1 and labels):
            return _dedupe(labels, k)
    return []


def _bold_items(lines: list[str], k: int) -> list[str]:
    labels = []
    for line in lines:
        m = _BOLD_START.match(line)
        if m:
            label = _cut_label(line[m.start(1) :])
            if _valid_label(label):
                labels.append(label)
    return _dedupe(labels, k) if len(labels) >= 2 else []


def _colon_heads(lines: list[str], k: int) -> list[str]:
    """Lines 'Name: explanation' or 'Name:' alone; repeated titles ('Reason:') are structure, not names."""
    found: list[str] = []
    for line in lines:
        m = _COLON_HEAD.match(line)
        if m and not re.search(r"[.!?]\s", m.group(1)):
            found.append(_cut_label(m.group(1)))
    counts: dict[str, int] = {}
    for label in found:
        counts[_key(label)] = counts.get(_key(label), 0) + 1
    labels = [label for label in found if counts[_key(label)] == 1 and _valid_label(label)]
    return _dedupe(labels, k) if len(labels) >= 2 else []


_DASH_HEAD = re.compile(r"^(?:[-*•●◦▪‣∙+–—]\s+)?(.{2,200}?)\s[-–—]\s+\S")


def _dash_heads(lines: list[str], k: int) -> list[str]:
    """Lines 'Name – explanation'."""
    labels = []
    for line in lines:
        m = _DASH_HEAD.match(_MD.sub("", line))
        if m and not re.search(r"[.!?:]\s", _bare(m.group(1))):
            label = _cut_label(m.group(1))
            if _valid_label(label):
                labels.append(label)
    return _dedupe(labels, k) if len(labels) >= 2 else []


def _bullets(lines: list[str], k: int) -> list[str]:
    """The first block of bullet items (a later block is usually advice)."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        m = _BULLET.match(line)
        if m:
            blocks[-1].append(m.group(1))
        elif blocks[-1] and len(line.split()) <= 3:
            continue
        elif blocks[-1] and not line.endswith(":"):
            # An explanation line under an item keeps the block open.
            continue
        elif blocks[-1]:
            blocks.append([])
    for block in blocks:
        labels = [_cut_label(item) for item in block]
        labels = [label for label in labels if _valid_label(label)]
        if len(labels) >= 2:
            return _dedupe(labels, k)
    return []


def _short_lines(lines: list[str], k: int) -> list[str]:
    """Bare heading lines ('Cellulitis') each followed by a paragraph, or a plain list of names."""
    labels = []
    sizes = [len(_bare(line).split()) for line in lines]
    for i, line in enumerate(lines):
        # Judge the name, not its trailing ", such as ..." clause.
        if len(_bare(_cut_label(line)).split()) > 8 or re.search(r"[.!?]$", line):
            continue
        nxt = sizes[i + 1] if i + 1 < len(lines) else 0
        prev = sizes[i - 1] if i > 0 else 0
        is_heading = nxt > sizes[i] + 2
        in_list = nxt <= 8 or prev <= 8
        if not (is_heading or in_list):
            continue
        label = _cut_label(line)
        if _valid_label(label):
            labels.append(label)
    return _dedupe(labels, k) if len(labels) >= 2 else []


_INLINE_HEAD = re.compile(r"(?:^|(?<=[.!?:;]\s)|(?<=\n))\s*([A-Z0-9][^.:!?\n]{1,90}?):\s")


def _inline_heads(text: str, k: int) -> list[str]:
    """One paragraph of 'Name: explanation. Name: explanation.' sentences."""
    labels = [_cut_label(m.group(1)) for m in _INLINE_HEAD.finditer(text)]
    labels = [label for label in labels if _valid_label(label)]
    return _dedupe(labels, k) if len(labels) >= 2 else []


def _split_commas(text: str) -> list[str]:
    """Split on commas, semicolons and a final 'and'/'or', outside parentheses."""
    parts: list[str] = []
    depth = 0
    current = []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        if ch in ",;" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    if len(parts) >= 2:
        # "A, B and C": the last part holds two items (an Oxford comma already split them).
        last = re.split(r"\s+(?:and|or|and/or)\s+(?![^()]*\))", parts[-1].strip(), maxsplit=1)
        if len(last) == 2 and "," not in parts[-1]:
            parts[-1:] = last
    out = []
    for part in parts:
        part = re.sub(r"^\s*(?:and|or|and/or)\s+", "", part.strip())
        out.append(part)
    return out


def _comma_list(lines: list[str], k: int) -> list[str]:
    """'A, B, C, D and E' on one line, after an optional 'The diagnoses are:' lead-in."""
    for line in lines:
        if len(line.split()) > 40:  # a paragraph of prose, not a list
            continue
        body = _MD.sub("", line)
        if ":" in body:
            body = body.rsplit(":", 1)[1]
        body = re.sub(r"^.*?\b(?:are|include|includes|including|consider)\b\s*", "", body, count=1, flags=re.I)
        parts = _split_commas(body.rstrip(" ."))
        if len(parts) < 3:
            continue
        labels = [_cut_label(p) for p in parts]
        labels = [label for label in labels if _valid_label(label) and len(label.split()) <= 8]
        if len(labels) >= 3 and len(labels) >= len(parts) - 1:
            return _dedupe(labels, k)
    return []


def _single(lines: list[str], k: int, max_words: int = _MAX_LABEL_WORDS) -> list[str]:
    """A one-line answer that is itself a diagnosis, possibly 'A, B and C'.

    Under an explicit answer heading a long compound diagnosis is accepted as one
    ("X secondary to Y due to Z (...)").
    """
    if len(lines) != 1:
        return []
    body = _MD.sub("", lines[0])
    if ":" in body:
        body = body.rsplit(":", 1)[1]
    parts = _split_commas(body.rstrip(" ."))
    labels = [_cut_label(p) for p in parts]
    labels = [label for label in labels if _valid_label(label, max_words)]
    if len(labels) == len(parts) and labels:
        return _dedupe(labels, k)
    label = _cut_label(body)
    return [label] if _valid_label(label, max_words) else []


_EXTRACTORS: tuple[Callable[[list[str], int], list[str]], ...] = (
    _numbered,
    _bold_items,
    _colon_heads,
    _dash_heads,
    _bullets,
    _short_lines,
)

# A heading that starts the final answer: what follows is what gets parsed.
_ANSWER_MARK = re.compile(
    r"^(?:[#>]+\s*)?(?:\*\*|__)?\s*(?:final\s+answer|answer|final\s+diagnos[ie]s|"
    r"(?:(?:five|5|top)\s+)?(?:preliminary|differential|possible|potential)\s+diagnoses)"
    r"\s*(?:\*\*|__)?\s*:?\s*(?:\*\*|__)?\s*(.*)$",
    re.I,
)


def _answer_section(text: str) -> str | None:
    lines = text.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        m = _ANSWER_MARK.match(lines[i].strip())
        if m:
            section = "\n".join([m.group(1), *lines[i + 1 :]]).strip()
            return section or None
    return None


def _extract(text: str, k: int, section: bool = False) -> list[str]:
    lines = _lines(text)
    if not lines:
        return []
    # The most explicit shape that yields a full list wins; else the one that yields most
    # (an item's own "Cellulitis: ..." sub-lines must not beat the list they sit in).
    best: list[str] = []
    for extractor in _EXTRACTORS:
        found = extractor(lines, k)
        if len(found) >= k:
            return found
        if len(found) > len(best):
            best = found
    if best:
        return best
    max_words = 60 if section else _MAX_LABEL_WORDS
    return _inline_heads(text, k) or _comma_list(lines, k) or _single(lines, k, max_words)


def parse_diagnoses(answer: str | None, k: int = 5) -> list[str]:
    """Up to k ranked diagnosis names from an answer, in the model's order; [] if none is found."""
    if not answer or k < 1:
        return []
    text = clean_text(answer)
    _, text = split_reasoning(text)
    section = _answer_section(text)
    if section:
        found = _extract(section, k, section=True)
        if found:
            return found
    return _extract(text, k)


# --------------------------------------------------------------------------- multiple choice

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_REF = re.compile(r"\[\s*\d+(?:\s*[,–\-]\s*\d+)*\s*\]?|^\s*\d+\s*\]")


def normalise_option(text: str) -> str:
    """Comparable form of an option or answer: fixed encoding, no reference marks, case, dashes or punctuation."""
    text = clean_text(text)
    text = _REF.sub(" ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().replace("’", "'").replace("'s", "s")
    return _collapse(re.sub(r"[^0-9a-z]+", " ", text))


def _contained(norm_answer: str, norm_options: list[tuple[int, str]]) -> list[int]:
    """Indexes of options found in the answer, dropping those only found inside a longer found option."""
    hits = [(i, o) for i, o in norm_options if o and re.search(rf"(?:^|\s){re.escape(o)}(?:\s|$)", norm_answer)]
    keep = [i for i, o in hits if not any(o != other and o in other for _, other in hits)]
    return sorted(set(keep))


_LETTER_ANSWER = re.compile(
    r"^(?:(?:the\s+)?(?:final\s+)?(?:answer|option|choice)\s*(?:is)?\s*[:\-]?\s*)?\(?([A-Z])\)?(?:[.):]|\s*$|\s+[-–—]\s)",
)
_LETTER_MARK = re.compile(r"\b(?:answer|option|choice)\s*(?:is)?\s*[:\-]?\s*\(?((?-i:[A-Z]))\)?(?![A-Za-z])", re.I)


def parse_choice(answer: str | None, options: list[str]) -> str | None:
    """The option a multiple-choice answer picked, as written in `options`; None if none or ambiguous.

    Accepts the option's text (any case, mojibake, reference marks like "[4,6]"),
    a letter ("B", "(B)", "Answer: B") when options are presented lettered, and a
    near match of a short answer. When several options are named, the final-answer
    section, then the first line decide; still several is ambiguous.
    """
    if not answer or not options:
        return None
    _, text = split_reasoning(clean_text(answer))
    text = text.strip()
    if not text:
        return None
    norm_options = [(i, normalise_option(o)) for i, o in enumerate(options)]
    valid = [(i, o) for i, o in norm_options if o]

    # A lone letter or an explicit "Answer: B".
    letter = _LETTER_ANSWER.match(_MD.sub("", text)) or _LETTER_MARK.search(_MD.sub("", text))
    if letter:
        idx = _LETTERS.index(letter.group(1).upper())
        if idx < len(options) and normalise_option(options[idx]):
            # "A. Option text": the letter counts only when the text agrees or is absent.
            rest = normalise_option(text[letter.end() :])
            named = _contained(rest, valid) if rest else []
            if not named or named == [idx]:
                return options[idx]

    norm_answer = normalise_option(text)
    for i, o in valid:
        if o == norm_answer:
            return options[i]

    segments = []
    section = _answer_section(text)
    if section:
        segments.append(section)
    first_line = next((line for line in text.split("\n") if line.strip()), "")
    segments += [first_line, text]
    for segment in segments:
        hits = _contained(normalise_option(segment), valid)
        if len(hits) == 1:
            return options[hits[0]]
        if len(hits) > 1 and len(segment.split()) <= 12:
            # A short answer naming two because an option list was split on its commas
            # ("Sturge-Weber syndrome, type 1"): the option the answer starts with.
            norm_segment = normalise_option(segment)
            leading = [i for i in hits if norm_segment.startswith(dict(valid)[i])]
            if len(leading) == 1:
                return options[leading[0]]
        if len(hits) > 1:
            return None

    # A short answer with a small spelling difference ("haemoglobinuria" vs "hemoglobinuria").
    if len(norm_answer.split()) <= 12:
        scored = sorted(((fuzz.ratio(norm_answer, o), i) for i, o in valid), reverse=True)
        if scored and scored[0][0] >= 90 and (len(scored) == 1 or scored[0][0] - scored[1][0] >= 5):
            return options[scored[0][1]]
    return None

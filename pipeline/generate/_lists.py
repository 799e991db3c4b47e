"""Ranked diagnoses from an answer: list shapes, and one final diagnosis kept whole. Pure.

Real answers come in many shapes (see the 720 shipped Sandmann answers): numbered
lists with explanation lines under each item, bold bullets, "Name: explanation"
headings, bare heading lines followed by a paragraph, one paragraph of
"Name: explanation." sentences, comma lists. Each shape has its own extractor;
the first that finds a list wins, in order from the most explicit to the loosest.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.generate._formats._headings import AFTER
from pipeline.generate._labels import MAX_LABEL_WORDS, MD, bare, clean_text, cut_label, dedupe, key, valid_label

_ITEM_START = re.compile(r"^\s*(?:[#>]+\s*)?(?:\*\*|__)?\s*(?:\(?\d{1,2}[.)]|[-*•●◦▪‣∙+–—]\s)")
LIST = "list"
SINGLE = "single"
_EXTRACTORS: list[Callable[[list[str], int], list[str]]] = []


def _extractor(fn: Callable[[list[str], int], list[str]]) -> Callable[[list[str], int], list[str]]:
    """Register a list shape; the order of registration is the order of trust (most explicit first)."""
    _EXTRACTORS.append(fn)
    return fn


# --------------------------------------------------------------------------- list extractors

_NUMBERED = re.compile(r"^(?:[#>]+\s*)?(?:\*\*|__)?\s*\(?(\d{1,2})\s*[.)](?:\*\*|__)?(?:\s+|(?=\*\*))(.*)$")
_NUMBERED_WORD = re.compile(
    r"^(?:[#>]+\s*)?(?:\*\*|__)?\s*(?:diagnosis|dx|ddx|case|patient)\s*#?\s*(\d{1,2})\s*[:.)\-–—]\s*(.*)$", re.I
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


# Other ways models number a list, rewritten as "N. ": "1 - X", "1: X", "#1 X", "1️⃣ X", "a) X", "ii. X",
# "First: X", "2nd - X". Letters and Roman numerals only count when the list starts at a / i.
_MARKERS = [
    (re.compile(r"^(?:#\s?)(\d{1,2})\s*[.):\-–—]?\s+(?=\S)"), lambda g: g),
    (re.compile(r"^(\d{1,2})(?:\s*[:\-–—]\s+|\ufe0f?\u20e3\s*)(?=\S)"), lambda g: g),
    (re.compile(r"^\(?([a-h])[.)]\s+(?=\S)"), lambda g: str(ord(g) - 96)),
    (re.compile(r"^\(?((?:i{1,3}|iv|v|vi{1,3}|ix|x))[.)]\s+(?=\S)", re.I), lambda g: str(_ROMAN[g.lower()])),
    (re.compile(r"^(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)(?:ly)?\s*[:.,\-–—]\s+(?=\S)", re.I),
     lambda g: str(_ORDINALS.index(g.lower()) + 1)),
    (re.compile(r"^(\d{1,2})(?:st|nd|rd|th)\s*[:.,\-–—]\s+(?=\S)", re.I), lambda g: g),
]  # fmt: skip
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]


def _numbering(lines: list[str]) -> list[str]:
    """Lines with other number markers rewritten as "N. ", when two or more lines form a run from 1."""
    for pattern, number in _MARKERS:
        hits = [pattern.match(line) for line in lines]
        numbers = [int(number(m.group(1))) for m in hits if m]
        if len(numbers) >= 2 and numbers[0] == 1 and numbers[1] == 2:
            return [
                f"{number(m.group(1))}. {line[m.end() :]}" if m else line for m, line in zip(hits, lines, strict=True)
            ]
    return lines


def _lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if line:
            out.extend(_split_inline_numbers(line))
    return _numbering(out)


_TABLE_ROW = re.compile(r"^\|(.*)\|$")
_TABLE_RULE = re.compile(r"^\|?(?:\s*:?-{2,}:?\s*\|)+\s*(?::?-{2,}:?\s*)?\|?$")
_NAME_COLUMN = re.compile(
    r"^(?:(?:differential|final|preliminary|most likely|likely)\s+)?(?:diagnos[ie]s|differential|condition|disease|dx|ddx)$",
    re.I,
)
_RANK_COLUMN = re.compile(r"^(?:rank|#|no|order|priority)$", re.I)


def _cells(line: str) -> list[str]:
    m = _TABLE_ROW.match(line)
    return [MD.sub("", c).strip().strip(".:") for c in m.group(1).split("|")] if m else []


def _column(header: list[str], pattern: re.Pattern) -> int | None:
    return next((i for i, c in enumerate(header) if pattern.match(c)), None)


def _rank_of(cell: str, default: int) -> float:
    m = re.match(r"\D*(\d{1,2})", cell)
    return float(m.group(1)) if m else float(default)


@_extractor
def _table(lines: list[str], k: int) -> list[str]:
    """A Markdown table with a diagnosis column: its cells in rank order (a rank column) or row order."""
    for i, line in enumerate(lines[:-1]):
        header = _cells(line)
        name_col = _column(header, _NAME_COLUMN) if header and _TABLE_RULE.match(lines[i + 1]) else None
        if name_col is None:
            continue
        rank_col = _column(header, _RANK_COLUMN)
        rows = []
        for row in lines[i + 2 :]:
            cells = _cells(row)
            if not cells:
                break
            if name_col < len(cells):
                rank = (
                    _rank_of(cells[rank_col], len(rows))
                    if rank_col is not None and rank_col < len(cells)
                    else len(rows)
                )
                rows.append((rank, len(rows), cut_label(cells[name_col])))
        labels = [label for *_, label in sorted(rows) if valid_label(label)]
        if labels:
            return dedupe(labels, k)
    return []


@_extractor
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
        labels = [cut_label(item) for item in run]
        labels = [label for label in labels if valid_label(label)]
        filled = [item for item in run if item.strip()]  # "Case 2:" left empty is no item
        if len(labels) >= 2 or (len(filled) == 1 and labels):
            return dedupe(labels, k)
    return []


@_extractor
def _bold_items(lines: list[str], k: int) -> list[str]:
    labels = []
    for line in lines:
        m = _BOLD_START.match(line)
        if m:
            label = cut_label(line[m.start(1) :])
            if valid_label(label):
                labels.append(label)
    return dedupe(labels, k) if len(labels) >= 2 else []


@_extractor
def _colon_heads(lines: list[str], k: int) -> list[str]:
    """Lines 'Name: explanation' or 'Name:' alone; repeated titles ('Reason:') are structure, not names."""
    found: list[str] = []
    for line in lines:
        m = _COLON_HEAD.match(line)
        if m and not re.search(r"[.!?]\s", m.group(1)):
            found.append(cut_label(m.group(1)))
    counts: dict[str, int] = {}
    for label in found:
        counts[key(label)] = counts.get(key(label), 0) + 1
    labels = [label for label in found if counts[key(label)] == 1 and valid_label(label)]
    return dedupe(labels, k) if len(labels) >= 2 else []


_DASH_HEAD = re.compile(r"^(?:[-*•●◦▪‣∙+–—]\s+)?(.{2,200}?)\s[-–—]\s+\S")


@_extractor
def _dash_heads(lines: list[str], k: int) -> list[str]:
    """Lines 'Name – explanation'."""
    labels = []
    for line in lines:
        m = _DASH_HEAD.match(MD.sub("", line))
        if m and not re.search(r"[.!?:]\s", bare(m.group(1))):
            label = cut_label(m.group(1))
            if valid_label(label):
                labels.append(label)
    return dedupe(labels, k) if len(labels) >= 2 else []


@_extractor
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
        labels = [cut_label(item) for item in block]
        labels = [label for label in labels if valid_label(label)]
        if len(labels) >= 2:
            return dedupe(labels, k)
    return []


@_extractor
def _short_lines(lines: list[str], k: int) -> list[str]:
    """Bare heading lines ('Cellulitis') each followed by a paragraph, or a plain list of names."""
    labels = []
    sizes = [len(bare(line).split()) for line in lines]
    for i, line in enumerate(lines):
        # Judge the name, not its trailing ", such as ..." clause.
        if len(bare(cut_label(line)).split()) > 8 or re.search(r"[.!?]$", line):
            continue
        nxt = sizes[i + 1] if i + 1 < len(lines) else 0
        prev = sizes[i - 1] if i > 0 else 0
        is_heading = nxt > sizes[i] + 2
        in_list = nxt <= 8 or prev <= 8
        if not (is_heading or in_list):
            continue
        label = cut_label(line)
        if valid_label(label):
            labels.append(label)
    return dedupe(labels, k) if len(labels) >= 2 else []


_INLINE_HEAD = re.compile(r"(?:^|(?<=[.!?:;]\s)|(?<=\n))\s*([A-Z0-9][^.:!?\n]{1,90}?):\s")


def _inline_heads(text: str, k: int) -> list[str]:
    """One paragraph of 'Name: explanation. Name: explanation.' sentences."""
    labels = [cut_label(m.group(1)) for m in _INLINE_HEAD.finditer(text)]
    labels = [label for label in labels if valid_label(label)]
    return dedupe(labels, k) if len(labels) >= 2 else []


# --------------------------------------------------------------------------- one line: a list, or one diagnosis

# Words that tie the parts of one compound diagnosis together ("X with Y, involving Z").
_LINKER = re.compile(
    r"\b(?:with|without|due\s+to|secondary\s+to|caused\s+by|causing|involving|complicated\s+by|complicating|"
    r"associated\s+with|following|after|leading\s+to|resulting\s+in|in\s+the\s+setting\s+of|presenting\s+(?:with|as)|"
    r"affecting|manifesting\s+as|arising\s+(?:in|from)|status\s+post|s/p|versus|vs\.?)\b",
    re.I,
)
# A part that only qualifies the diagnosis before it ("stage IVB", "T4N3M1c", "type 1", "bilateral").
_MODIFIER_WORD = re.compile(
    r"^(?:stage|grade|type|class|division|score|left|right|left-sided|right-sided|bilateral|unilateral|acute|"
    r"chronic|subacute|severe|mild|moderate|recurrent|refractory|early|late|advanced|metastatic|localized|diffuse|"
    r"focal|nos|unspecified|suspected|likely|probable|possible|confirmed|who|figo|isup|nyha|"
    r"[ivx]+[a-d]?|[a-z]?\d+(?:[-–/]\d+)?[a-z0-9]*)$",
    re.I,
)
# A lead-in that announces several diagnoses ("Differential: ...", "The diagnoses include ...").
_PLURAL_LEAD = re.compile(
    r"^(?P<lead>.*?(?:\b(?:are|include|includes|including|consider)\b|"
    r"(?:diagnoses|differentials?|ddx|possibilities)\s*:|"
    # "My top diagnosis is A, followed by B, C and D": a ranked list in one sentence.
    r"\b(?:diagnosis|consideration|suspicion)\s+(?:is|would be)\b(?=[^,]+,\s*(?:followed by|then)\b)))"
    r"\s*(?P<body>.*)$",
    re.I,
)


def _split_commas(text: str) -> list[str]:
    """Split on commas, semicolons and a final 'and'/'or', outside parentheses and between digits (1,6-)."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        between_digits = ch == "," and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
        if ch in ",;" and depth == 0 and not between_digits:
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
    return [re.sub(r"^\s*(?:(?:and|or|and/or)\s+)?(?:(?:followed by|then)\s+)?", "", part.strip()) for part in parts]


def _modifier(part: str) -> bool:
    words = bare(part).replace("(", " ").replace(")", " ").split()
    return bool(words) and all(_MODIFIER_WORD.match(w.strip(".,;:")) for w in words)


def _reads_as_list(body: str, parts: list[str]) -> bool:
    """Separate diagnoses rather than one compound: short parts, nothing tying them, none a bare qualifier."""
    return (
        len(parts) >= 2
        and not _LINKER.search(bare(body))
        and all(len(bare(p).split()) <= 6 and not _modifier(p) for p in parts)
    )


def _after_colon(text: str) -> str:
    """Text after the last colon outside parentheses ("Final: X (variant in TRIM8: c.1484G>A)" keeps the variant)."""
    depth = 0
    cut = -1
    for i, ch in enumerate(text):
        depth += (ch in "([") - (ch in ")]")
        if ch == ":" and depth <= 0:
            cut = i
    return text[cut + 1 :] if cut >= 0 else text


def _comma_parts(line: str) -> tuple[str, list[str], bool]:
    """(body, parts, announced): the line without its lead-in, its comma parts, whether a lead-in said 'several'."""
    body = MD.sub("", line).strip()
    lead = _PLURAL_LEAD.match(body)
    body = lead.group("body") if lead and lead.group("body") else _after_colon(body)
    body = body.strip().rstrip(" .")
    return body, _split_commas(body), bool(lead and lead.group("body"))


def _comma_list(lines: list[str], k: int) -> list[str]:
    """'A, B, C, D and E' on one line, announced ('The diagnoses are: ...') or plainly a list of names."""
    for line in lines:
        if len(line.split()) > 40:  # a paragraph of prose, not a list
            continue
        body, parts, announced = _comma_parts(line)
        if len(parts) < 3 or not (announced or _reads_as_list(body, parts)):
            continue
        labels = [cut_label(p) for p in parts]
        labels = [label for label in labels if valid_label(label) and len(label.split()) <= 8]
        if len(labels) >= 3 and len(labels) >= len(parts) - 1:
            return dedupe(labels, k)
    return []


def _single(lines: list[str], k: int, max_words: int) -> list[str]:
    """A one-line answer: one diagnosis kept whole, however compound, unless it plainly lists several."""
    if len(lines) != 1:
        return []
    body, parts, announced = _comma_parts(lines[0])
    # Two parts split by a comma are one diagnosis and its qualifier ("X, tricuspid valve") more often than
    # two diagnoses; a semicolon or three parts make a list.
    listed = (";" in body or len(parts) >= 3 or announced) and len(lines[0].split()) <= 40  # else prose
    if len(parts) >= 2 and listed and (announced or _reads_as_list(body, parts)):
        labels = [cut_label(p) for p in parts]
        labels = [label for label in labels if valid_label(label)]
        if len(labels) == len(parts):
            return dedupe(labels, k)
    # The whole line, lead-in included: "... can be caused by A, B or C" is prose, not a name.
    label = cut_label(_after_colon(MD.sub("", lines[0])))
    return [label] if valid_label(label, max_words) else []


# "The most likely diagnosis is X." / "the answer is X": one diagnosis stated in a sentence.
_STATED = re.compile(
    r"(?:\b(?:diagnosis|answer)\s+(?:here\s+)?(?:is|would\s+be|remains)|\b(?:most\s+likely|probably|likely)\s+"
    r"(?:has|have|is|represents)|\bsuffers?\s+from|\bpatient\s+has)\s*(?:most\s+likely|likely|probably)?\s*:?\s*"
    r"(?P<name>[^.\n;]{2,160})",
    re.I,
)
# Looser, for reasoning only (a flagged fallback): "... aligns with X, a rare ...", "consistent with X".
_CONCLUDED = re.compile(
    r"\b(?:(?:diagnosis|answer)\s+(?:here\s+)?(?:is|would\s+be|remains)|consistent\s+with|aligns?\s+with|"
    r"points?\s+(?:to|toward)|diagnostic\s+of|suggestive\s+of|confirms?|establish(?:es)?)\s*(?:most\s+likely|likely|"
    r"probably)?\s*:?\s*(?P<name>[^.\n;]{2,160})",
    re.I,
)
_APPOSITIVE = re.compile(r",\s+(?:a|an|the|which|that|who|as|given|confirming|supporting)\b.*$", re.I)


def _stated(text: str, pattern: re.Pattern = _STATED) -> list[str]:
    found = [cut_label(_APPOSITIVE.sub("", _name(m.group("name")))) for m in pattern.finditer(text)]
    labels = [re.sub(r"^(?:an?|the)\s+", "", label, flags=re.I) for label in found]
    labels = [label for label in labels if valid_label(label, 30)]
    return labels[-1:]  # the last statement is the conclusion


# A heading that starts the list (or the final answer) inside an answer: what follows is what gets parsed.
_ANSWER_MARK = re.compile(
    r"^(?:[#>]+\s*)?(?:\*\*|__)?\s*(?:final\s+answer|answer|final\s+diagnos[ie]s|differentials?|ddx|"
    r"(?:(?:five|5|top)\s+)?(?:preliminary|differential|possible|potential)\s+diagnoses)"
    r"\s*(?:\*\*|__)?\s*:?\s*(?:\*\*|__)?\s*(.*)$",
    re.I,
)
_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_TEX = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")


def unbox(text: str) -> str:
    """The inside of the last ``\\boxed{...}`` (QwQ writes its final answer so), TeX wrappers dropped."""
    found = _BOXED.findall(text)
    if not found:
        return text
    inner = _TEX.sub(r"\1", found[-1])
    return re.sub(r"\\[,;!: ]|\\\\", " ", inner).strip()


def _answer_section(text: str) -> tuple[str, str] | None:
    """(text before, section) at the last answer or differential heading inside an answer."""
    lines = text.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        m = _ANSWER_MARK.match(lines[i].strip())
        if m:
            section = "\n".join([m.group(1), *lines[i + 1 :]]).strip()
            return ("\n".join(lines[:i]), section) if section else None
    return None


def _extract(text: str, k: int, section: bool = False) -> tuple[list[str], str | None]:
    lines = _lines(text)
    if not lines:
        return [], None
    # The most explicit shape that yields a full list wins; else the one that yields most
    # (an item's own "Cellulitis: ..." sub-lines must not beat the list they sit in).
    best: list[str] = []
    for extractor in _EXTRACTORS:
        found = extractor(lines, k)
        if len(found) >= k:
            return found, LIST
        if len(found) > len(best):
            best = found
    if best:
        return best, LIST if len(best) > 1 else SINGLE
    found = _inline_heads(text, k) or _comma_list(lines, k)
    if found:
        return found, LIST
    # One line is one diagnosis (a long compound under an answer heading too); prose must state it.
    max_words = 60 if section or len(lines) == 1 else MAX_LABEL_WORDS
    found = _single(lines, k, max_words) or _stated(text) or _bold_phrase(text)
    return found, (LIST if len(found) > 1 else SINGLE) if found else None


def _name(stated: str) -> str:
    """The stated name: its bold span when it opens with one ("**X**, precipitated by ..." -> X)."""
    bold = re.match(r"\s*(\*\*|__)(.+?)\1", stated)
    return bold.group(2) if bold else MD.sub("", stated)


def _bold_phrase(text: str) -> list[str]:
    """One short paragraph with one bold phrase: the phrase is what it names ("The patient has **X**, ...")."""
    bold = re.findall(r"(\*\*|__)(.+?)\1", text)
    if len(bold) != 1 or "\n\n" in text.strip() or len(text.split()) > 60:
        return []
    label = cut_label(bold[0][1])
    return [label] if valid_label(label) else []


def same_start(a: str, b: str) -> bool:
    words_a, words_b = a.split(), b.split()
    n = min(len(words_a), len(words_b), 3)
    return n > 0 and words_a[:n] == words_b[:n]


def read_diagnoses(answer: str, k: int = 5) -> tuple[list[str], str | None]:
    """(up to k diagnoses in the model's order, shape): shape is "list", "single" or None (none found)."""
    if not answer or k < 1:
        return [], None
    text = unbox(clean_text(answer)).strip()
    first, *rest = re.split(r"\n[ \t]*\n", text, maxsplit=1)
    if rest and AFTER.match(rest[0].lstrip()) and not _ITEM_START.match(first):
        # "The diagnosis is X." then "Key points:" and a list of findings: X is the answer.
        found = _stated(first)
        if found:
            return found, LIST if len(found) > 1 else SINGLE
    found = _read(text, k)
    if not found[0] and rest:  # an answer line, then notes about it: the first paragraph alone
        return _read(first, k)
    return found


def _read(text: str, k: int) -> tuple[list[str], str | None]:
    split = _answer_section(text)
    if split:
        before, section = split
        found, shape = _extract(section, k, section=True)
        if found:
            # "Final diagnosis: X" then "Differential: Y, Z": X ranks first.
            lead = _single(_lines(before), k, 60) if before.strip() else []
            if len(lead) == 1 and shape == LIST and key(lead[0]) not in {key(d) for d in found}:
                return dedupe(lead + found, k), LIST
            listed, listed_shape = _extract(before, k) if shape == SINGLE and before.strip() else ([], None)
            if listed_shape == LIST and any(same_start(key(d), key(found[0])) for d in listed):
                return listed, LIST  # a ranked list, then "Final answer:" naming one of its items
            return found, shape
    return _extract(text, k)


def read_stated(reasoning: str, k: int = 5) -> tuple[list[str], str | None]:
    """Strict reading of reasoning (a fallback): a numbered list or a stated diagnosis, never a heading."""
    text = clean_text(reasoning)
    tail = "\n\n".join(text.strip().split("\n\n")[-3:])
    found = _stated(tail, _CONCLUDED)
    if found:
        return found, SINGLE
    found = _numbered(_lines(tail), k)
    return found, (LIST if len(found) > 1 else SINGLE) if found else None

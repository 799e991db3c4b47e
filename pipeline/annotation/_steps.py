"""A trace split into numbered steps: the unit that evidence and first_error_step refer to.

Everyone uses split_steps, so a step number means the same thing in the app, the
exports and the agreement statistics. The rule is deliberately simple and stable:
paragraphs (blank-line separated); a trace without blank lines splits on single
line breaks; a paragraph longer than MAX_STEP_CHARS is cut at sentence ends.
"""

from __future__ import annotations

import re

MAX_STEP_CHARS = 1500
_PARAGRAPH = re.compile(r"\n[ \t]*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def _cut_long(paragraph: str) -> list[str]:
    if len(paragraph) <= MAX_STEP_CHARS:
        return [paragraph]
    out: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(paragraph):
        if current and len(current) + 1 + len(sentence) > MAX_STEP_CHARS:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        out.append(current)
    # A single sentence longer than the limit is cut at whitespace, so no step is unreadably long.
    result: list[str] = []
    for part in out:
        while len(part) > MAX_STEP_CHARS:
            cut = part.rfind(" ", 0, MAX_STEP_CHARS)
            cut = cut if cut > MAX_STEP_CHARS // 2 else MAX_STEP_CHARS
            result.append(part[:cut].rstrip())
            part = part[cut:].lstrip()
        if part:
            result.append(part)
    return result


def split_steps(trace: str | None) -> list[str]:
    """The trace's steps, numbered from 1 by their position in the list."""
    if not trace or not trace.strip():
        return []
    text = trace.replace("\r\n", "\n").replace("\r", "\n").strip()
    parts = _PARAGRAPH.split(text)
    if len(parts) == 1 and "\n" in text:
        parts = text.split("\n")
    steps: list[str] = []
    for part in parts:
        part = part.strip()
        if part:
            steps.extend(_cut_long(part))
    return steps


def search_steps(steps: list[str], query: str) -> list[int]:
    """1-based numbers of the steps containing every word of the query (case-insensitive)."""
    words = query.casefold().split()
    if not words:
        return []
    return [i for i, step in enumerate(steps, 1) if all(w in step.casefold() for w in words)]


def hit_spans(text: str, query: str) -> list[tuple[int, int]]:
    """[start, end) of every occurrence of each query word in the text (case-insensitive), overlaps merged:
    what the view highlights in a step that search_steps found."""
    spans = sorted(
        (m.start(), m.end()) for w in set(query.split()) for m in re.finditer(re.escape(w), text, re.IGNORECASE)
    )
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def page_bounds(n_steps: int, page: int, per_page: int) -> tuple[int, int]:
    """0-based [start, end) of the steps on a 1-based page, the page clamped into range."""
    n_pages = max(1, -(-n_steps // per_page))
    page = min(max(1, page), n_pages)
    start = (page - 1) * per_page
    return start, min(n_steps, start + per_page)


def n_pages(n_steps: int, per_page: int) -> int:
    return max(1, -(-n_steps // per_page))

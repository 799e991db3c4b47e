"""Reasoning inline, then a final-answer section at the end (QwQ-style ``### Answer:`` / ``**Final Answer**``)."""

from __future__ import annotations

from pipeline.generate._formats._headings import boxed_start, empty_heading_at_end, final_heading
from pipeline.generate._formats._registry import EMPTY_SECTION, Split, join, reader


@reader("answer_section", order=40)
def read_answer_section(text: str) -> Split | None:
    """All before the last final-answer heading (and any explanation after the answer) is trace."""
    heading = final_heading(text)
    if heading is not None:
        answer = text[heading.answer_start : heading.end].strip()
        return Split(join(text[: heading.start], text[heading.end :]), answer)
    empty = empty_heading_at_end(text)
    if empty is not None:  # "### Answer:" and nothing after it: all before is reasoning
        return Split(join(text[:empty]), "", EMPTY_SECTION)
    start = boxed_start(text)
    if start:  # reasoning, then a last paragraph with \boxed{answer}
        return Split(join(text[:start]), text[start:].strip())
    return None

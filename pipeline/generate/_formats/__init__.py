"""Format readers: split a raw model output into trace (reasoning) and answer, and say which reader did.

Wrapper readers (``<think>`` tags) peel reasoning blocks off first; then the first
layout reader that recognises what is left (step-tagged reasoning, a reasoning
summary, a final-answer section) splits it; ``plain`` (answer only) matches the rest.
Add a format: a module here with a function decorated ``@reader(name, order=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.generate._formats import (  # noqa: F401  (registers)
    _json,
    _plain,
    _section,
    _steps,
    _summary,
    _tagged,
    _think,
)
from pipeline.generate._formats._headings import final_heading, reasoning_title
from pipeline.generate._formats._registry import LAYOUT, READERS, WRAPPER, Split, join, reader

REASONING_FIELD = "reasoning_field"


@dataclass(frozen=True)
class SplitOutput:
    trace: str | None
    answer: str
    reader: str  # the readers that matched, joined by "+": "think_tags+answer_section", "plain"
    note: str | None = None  # why the split is a guess; the response is then flagged (parse_ok=False)


def split_output(text: str | None, trace: str | None = None) -> SplitOutput:
    """Trace and answer of one output. `trace` is reasoning the server or file gave separately."""
    names = [REASONING_FIELD] if trace and trace.strip() else []
    traces = [trace]
    answer = text or ""
    note = None
    for stage in (WRAPPER, LAYOUT):
        for r in (r for r in READERS if r.stage == stage):
            got = r.read(answer)
            if got is None:
                continue
            if r.name != "plain" or not names:
                names.append(r.name)
            traces.append(got.trace)
            answer, note = got.answer, note or got.note
            break
        if not answer.strip():
            break
    return SplitOutput(join(*traces), answer.strip(), "+".join(names), note)


__all__ = [
    "LAYOUT",
    "READERS",
    "REASONING_FIELD",
    "WRAPPER",
    "Split",
    "SplitOutput",
    "final_heading",
    "reader",
    "reasoning_title",
    "split_output",
]

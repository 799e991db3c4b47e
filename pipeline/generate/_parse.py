"""Parsing model outputs: trace vs answer (format readers), ranked diagnoses, the chosen option. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.generate._choice import normalise_option, parse_choice
from pipeline.generate._formats import REASONING_FIELD, split_output
from pipeline.generate._formats._registry import join
from pipeline.generate._formats._think import read_think_tags
from pipeline.generate._labels import clean_text
from pipeline.generate._lists import LIST, SINGLE, read_diagnoses, read_stated

NO_ANSWER_DIAGNOSIS = "the answer names no diagnosis"
FROM_REASONING = "diagnoses taken from the reasoning"


@dataclass(frozen=True)
class ParsedAnswer:
    """One output read: its trace and answer, the reader that split them, and the diagnoses."""

    trace: str | None
    answer: str
    reader: str  # "plain", "think_tags+answer_section", "reasoning_field+step_tagged", ...
    diagnoses: list[str]
    shape: str | None  # "list" (ranked), "single" (one final diagnosis), None (none found)
    note: str | None  # why the reading is a guess (a fallback): recorded, parse_ok=False


def split_answer(raw: str | None, trace: str | None = None) -> tuple[str | None, str, str, str | None]:
    """(trace, answer, reader, note). `trace` is reasoning given separately (a server field, a file column)."""
    inline = split_output(raw or "")
    field = trace if trace and trace.strip() else None
    names = [n for n in inline.reader.split("+") if not (field and n == "plain")]
    reader = "+".join([REASONING_FIELD] * bool(field) + names)
    return join(field, inline.trace), inline.answer, reader, inline.note


def parse_answer(raw: str | None, k: int = 5, trace: str | None = None) -> ParsedAnswer:
    """Split one output, then read its diagnoses from the answer.

    When the answer names none but the model's own inline reasoning states one (or
    ends in a numbered list), that is used and the note says so: a fallback is
    never silent.
    """
    full_trace, answer, reader, note = split_answer(raw, trace)
    diagnoses, shape = read_diagnoses(answer, k)
    inline = split_output(raw or "").trace
    if not diagnoses and inline:
        diagnoses, shape = read_stated(inline, k)
        if diagnoses:
            note = f"{note or NO_ANSWER_DIAGNOSIS}; {FROM_REASONING}"
    return ParsedAnswer(full_trace, answer, reader, diagnoses, shape, note)


def parse_diagnoses(answer: str | None, k: int = 5) -> list[str]:
    """Up to k ranked diagnosis names from an answer (or a whole output), in the model's order; [] if none."""
    if not answer or k < 1:
        return []
    return parse_answer(answer, k).diagnoses


def split_reasoning(text: str | None) -> tuple[str | None, str]:
    """(trace, answer) of an output with inline ``<think>`` reasoning; without tags all is answer."""
    if not text:
        return None, ""
    got = read_think_tags(text)
    return (None, text.strip()) if got is None else (got.trace, got.answer)


__all__ = [
    "LIST",
    "SINGLE",
    "ParsedAnswer",
    "clean_text",
    "normalise_option",
    "parse_answer",
    "parse_choice",
    "parse_diagnoses",
    "split_answer",
    "split_reasoning",
]

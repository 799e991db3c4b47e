"""Inline reasoning blocks: ``<think>...</think>answer`` (R1 and its distills, QwQ, Qwen3, Kimi)."""

from __future__ import annotations

import re

from pipeline.generate._formats._registry import WRAPPER, Split, join, reader

# Tag pairs reasoning models use for their trace inside the content.
_THINK_TAGS = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
    ("◁think▷", "◁/think▷"),
    ("<seed:think>", "</seed:think>"),  # Seed-OSS
    ("[think]", "[/think]"),  # Magistral
    ("<|begin_of_thought|>", "<|end_of_thought|>"),  # Sky-T1, OpenThoughts
    ("<|channel|>analysis<|message|>", "<|end|>"),  # gpt-oss (harmony) without a reasoning parser
    ("<unused94>thought", "<unused95>"),  # MedGemma's thinking mode
    ("<unused94>", "<unused95>"),
)
# Chat-template tokens left around the answer: "<|start|>assistant<|channel|>final<|message|>", "<|end_of_solution|>".
_LEAD_TOKENS = re.compile(r"^(?:\s*(?:<\|[a-z_]{1,30}\|>|(?<=\|>)(?:assistant|final|commentary)))+", re.I)
_TAIL_TOKENS = re.compile(r"(?:<\|[a-z_]{1,30}\|>\s*)+$", re.I)
CUT_OFF = "the output ends inside its reasoning block (cut off at max tokens?)"


@reader("think_tags", order=10, stage=WRAPPER)
def read_think_tags(text: str) -> Split | None:
    """Every tagged block is trace, the rest is answer.

    A closing tag without an opening one (R1-distill chat templates put ``<think>``
    in the prompt) makes all before it trace; an unclosed block (cut at max tokens)
    is all trace and the answer is empty.
    """
    lower = text.lower()
    for open_tag, close_tag in _THINK_TAGS:
        if open_tag in lower or close_tag in lower:
            return _split_tags(text, lower, open_tag, close_tag)
    return None


def _split_tags(text: str, lower: str, open_tag: str, close_tag: str) -> Split:
    traces: list[str] = []
    answer_parts: list[str] = []
    pos = 0
    o, c = lower.find(open_tag), lower.find(close_tag)
    if c != -1 and (o == -1 or c < o):  # closing tag first: everything before it is the trace
        traces.append(text[:c])
        pos = c + len(close_tag)
    while True:
        o = lower.find(open_tag, pos)
        if o == -1:
            answer_parts.append(text[pos:])
            break
        answer_parts.append(text[pos:o])
        start = o + len(open_tag)
        c = lower.find(close_tag, start)
        if c == -1:  # unclosed: cut off while thinking
            traces.append(text[start:])
            answer = _untokened("".join(answer_parts))
            return Split(join(*traces), answer, None if answer else CUT_OFF)
        traces.append(text[start:c])
        pos = c + len(close_tag)
    return Split(join(*traces), _untokened("".join(answer_parts)))


def _untokened(answer: str) -> str:
    return _TAIL_TOKENS.sub("", _LEAD_TOKENS.sub("", answer.strip())).strip()

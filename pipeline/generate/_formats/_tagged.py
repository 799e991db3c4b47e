"""The answer inside tags: ``<answer>...</answer>`` (and ``<final_answer>``, ``<diagnosis>``), reasoning around it.

Models prompted or trained with an answer tag (R1-style RL recipes: ``<think>...</think><answer>...</answer>``)
keep the answer there; all text outside the tags is trace.
"""

from __future__ import annotations

import re

from pipeline.generate._formats._registry import Split, join, reader

_TAG = re.compile(
    r"<(?P<tag>answer|final_answer|final|diagnosis|diagnoses|output)>(?P<body>.*?)</(?P=tag)>", re.I | re.S
)


@reader("answer_tags", order=6)
def read_answer_tags(text: str) -> Split | None:
    found = [m for m in _TAG.finditer(text) if m.group("body").strip()]
    if not found:
        return None
    last = found[-1]  # a draft answer, then the final one: the last wins
    return Split(join(text[: last.start()], text[last.end() :]), last.group("body").strip())

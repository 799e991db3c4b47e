"""Step-tagged reasoning, then the answer (Gemini-style ``<step 1> ...`` / ``Step 1: ...`` / ``### Step 1``)."""

from __future__ import annotations

import re

from pipeline.generate._formats._headings import empty_heading_at_end, final_heading
from pipeline.generate._formats._registry import EMPTY_SECTION, Split, join, reader

_STEP = re.compile(
    r"^[ \t]*(?:<step[ \t]*\d{1,2}>|(?:#{1,6}[ \t]*)?(?:\*\*|__)?[ \t]*step[ \t]*\d{1,2}[ \t]*(?:\*\*|__)?[ \t]*[:.)\-–—])",
    re.I | re.M,
)
_STEP_CLOSE = re.compile(r"</step[ \t]*\d{0,2}>", re.I)
NO_ANSWER = "no answer after the reasoning steps; the last step was read as the answer"


@reader("step_tagged", order=20)
def read_steps(text: str) -> Split | None:
    """Two or more step markers open the text's reasoning; the answer follows the last step.

    The answer is a final-answer section if there is one, else the paragraphs after
    the last step's paragraph; with neither, the last step is read as the answer
    and the split is recorded as a guess.
    """
    steps = list(_STEP.finditer(text))
    if len(steps) < 2 or text[: steps[0].start()].strip().count("\n\n") > 2:
        return None  # steps buried deep in prose are a list inside the answer, not its reasoning
    heading = final_heading(text)
    if heading is not None and heading.start > steps[-1].start():
        return Split(join(text[: heading.start], text[heading.end :]), text[heading.answer_start : heading.end].strip())
    empty = empty_heading_at_end(text)
    if empty is not None and empty > steps[-1].start():
        return Split(join(text[:empty]), "", EMPTY_SECTION)
    last = steps[-1]
    para_end = text.find("\n\n", last.end())
    tail = text[para_end:].strip() if para_end != -1 else ""
    if tail and not _STEP_CLOSE.fullmatch(tail):
        return Split(join(text[:para_end]), tail)
    return Split(join(text[: last.start()]), text[last.end() :].strip(), NO_ANSWER)

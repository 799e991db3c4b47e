"""A reasoning summary before the answer (o3-mini style): ``> Reasoning`` quoted block, or bold gerund titles."""

from __future__ import annotations

import re

from pipeline.generate._formats._headings import final_heading, reasoning_title
from pipeline.generate._formats._registry import Split, join, reader

# A line that is nothing but a reasoning marker: "> **Reasoning**", "Reasoning summary:", "Thought for 9 seconds".
_MARK = re.compile(
    r"^(?:>[ \t]*)?(?:#{1,6}[ \t]*)?(?:\*\*|__)?[ \t]*(?:reasoning(?:[ \t]+summary)?|thinking|thoughts|"
    r"(?:thought|reasoned)[ \t]+for[ \t][^\n]{0,40}|summary[ \t]+of[ \t]+(?:my[ \t]+)?(?:reasoning|thinking))"
    r"[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*(?:\*\*|__)?[ \t\r]*$",
    re.I,
)
_BOLD_LINE = re.compile(r"^(?:\*\*|__)([^*_\n]{3,100})(?:\*\*|__)[ \t\r]*$", re.M)
_RULE_OR_HEADING = re.compile(r"^[ \t]*(?:(?:-{3,}|\*{3,}|_{3,})[ \t]*|#{1,6}[ \t]+\S.*)\r?$", re.M)
NO_ANSWER = "no answer after the reasoning summary; its last paragraph was read as the answer"
NOTHING_AFTER = "the reasoning summary is followed by no answer"


@reader("reasoning_summary", order=30)
def read_summary(text: str) -> Split | None:
    first = text.lstrip()
    offset = len(text) - len(first)
    first_line = first.split("\n", 1)[0]
    titles = [m for m in _BOLD_LINE.finditer(text) if reasoning_title(m.group(1))]
    if _MARK.match(first_line):
        body_start = offset + len(first_line)
    elif len(titles) >= 2 and not text[: titles[0].start()].strip():
        body_start = 0  # opens straight with bold "Assessing ..." titles (one alone could title a list)
    else:
        return None
    return _quoted(text, offset) or _after_heading(text, body_start) or _after_titles(text, titles, body_start)


def _quoted(text: str, offset: int) -> Split | None:
    """A block of '>' lines (from the start, or right under the marker) is the trace."""
    lines = text[offset:].split("\n")
    start = 1 if not lines[0].lstrip().startswith(">") else 0
    if start >= len(lines) or not lines[start].lstrip().startswith(">"):
        return None
    end = start
    while end < len(lines) and (lines[end].lstrip().startswith(">") or not lines[end].strip()):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1  # trailing blank lines belong to neither
    trace = "\n".join(re.sub(r"^\s*>[ \t]?", "", line) for line in lines[:end])
    rest = "\n".join(lines[end:])
    heading = final_heading(rest)
    if heading is not None:
        return Split(
            join(trace, rest[: heading.start], rest[heading.end :]), rest[heading.answer_start : heading.end].strip()
        )
    return Split(join(trace), rest.strip()) if rest.strip() else Split(join(trace), "", NOTHING_AFTER)


def _after_heading(text: str, body_start: int) -> Split | None:
    """The answer starts at a final-answer heading, else after a rule (---) or a markdown heading."""
    heading = final_heading(text[body_start:])
    if heading is not None:
        s, a, e = (body_start + x for x in (heading.start, heading.answer_start, heading.end))
        return Split(join(text[:s], text[e:]), text[a:e].strip())
    rule = _RULE_OR_HEADING.search(text, body_start)
    if rule and text[body_start : rule.start()].strip() and text[rule.end() :].strip():
        answer_from = rule.end() if rule.group(0).strip()[0] in "-*_" else rule.start()
        return Split(join(text[: rule.start()]), text[answer_from:].strip())
    return None


def _after_titles(text: str, titles: list[re.Match], body_start: int) -> Split:
    """Each title heads one paragraph; what follows the last titled paragraph is the answer.

    Without titles (or nothing after them) the last paragraph is read as the answer, flagged.
    """
    if titles:
        body = len(text) - len(text[titles[-1].end() :].lstrip())
        para_end = text.find("\n\n", body)
        if para_end != -1 and text[para_end:].strip():
            return Split(join(text[:para_end]), text[para_end:].strip())
    cut = text.rstrip().rfind("\n\n")
    if cut > body_start:
        return Split(join(text[:cut]), text[cut:].strip(), NO_ANSWER)
    return Split(join(text), "", NOTHING_AFTER)

"""Where the final answer starts: a heading such as ``### Answer:``, ``**Final Answer**``, ``Final diagnosis:``."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Labels that announce the final answer; a heading whose label says "list" is read by the list parser instead.
_FINAL = (
    r"final\s+answer|answer|final\s+diagnosis|diagnosis|"
    r"(?:most\s+likely|likely|probable|primary|principal|working|leading|clinical|definitive)\s+diagnosis"
)
_HEADING = re.compile(
    r"^(?P<mark>#{1,6}[ \t]*)?(?P<bold>\*\*|__)?[ \t]*(?P<label>" + _FINAL + r")[ \t]*"
    r"(?P<close>\*\*|__)?[ \t]*(?P<colon>:)?[ \t]*(?:\*\*|__)?[ \t]*(?P<rest>.*?)[ \t\r]*$",
    re.I | re.M,
)
# Titles of what models write after the answer to justify it: reasoning, not answer.
_AFTER_TITLES = (
    r"explanation|rationale|reasoning|justification|discussion|key\s+(?:findings|points|features)|"
    r"supporting\s+(?:evidence|findings|features)|why|notes?|next\s+steps|management|treatment|"
    r"recommendations?|summary\s+of\s+(?:reasoning|findings)"
)
_AFTER = re.compile(
    r"^(?:(?:#{1,6}[ \t]*|\*\*|__)[ \t]*(?:" + _AFTER_TITLES + r")\b|(?:" + _AFTER_TITLES + r")[ \t]*:)",
    re.I | re.M,
)
_BOXED = re.compile(r"\\boxed\s*\{")
ANSWER_LABELS = frozenset({"answer", "final answer"})
# Labels that announce the answer itself; "most likely diagnosis" and the like announce a pick.
_PLAIN_LABELS = ANSWER_LABELS | {"final diagnosis", "diagnosis"}
_ITEM = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*|__)?(\d{1,2})[.)][ \t]", re.M)
_BULLET_START = re.compile(r"^(?:[-*•●◦▪‣∙+]|[–—])\s")


@dataclass(frozen=True)
class Heading:
    label: str  # lower case, single spaces: "final answer", "diagnosis", "most likely diagnosis"
    start: int  # where the heading line starts
    answer_start: int  # where the answer text starts (after the colon)
    end: int  # where the answer section ends (a later explanation heading, or the end)


def _is_heading(m: re.Match) -> bool:
    # "Diagnosis of exclusion ..." is prose; "Diagnosis: X", "**Final Answer**", "### Answer" are headings.
    if m.group("colon"):
        return True
    return not m.group("rest") and bool(m.group("mark") or m.group("bold") or " " in m.group("label").strip())


def final_heading(text: str) -> Heading | None:
    """The last final-answer heading at the start of a line, with its section; None if there is none.

    A label repeated on several lines (``Diagnosis: CT scan`` under each item of a
    list) is a field of the items, not the final answer; "answer" may repeat (a draft
    and then the final one), and the last wins.
    """
    found = [m for m in _HEADING.finditer(text) if _is_heading(m)]
    labels = [_label(m) for m in found]
    pool = [m for m, label in zip(found, labels, strict=True) if label in ANSWER_LABELS or labels.count(label) == 1]
    for m in reversed(pool):
        answer_start = m.start("rest") if m.group("rest") else m.end()
        after = _AFTER.search(text, m.end())
        end = after.start() if after and text[answer_start : after.start()].strip() else len(text)
        if _is_final(text, m, _label(m), text[answer_start:end]):
            return Heading(_label(m), m.start(), answer_start, end)
        break  # an earlier heading is not the final answer either
    return None


def _is_final(text: str, m: re.Match, label: str, section: str) -> bool:
    """A final answer is short or a list of its own; never a field inside the list around it."""
    if not section.strip():
        return False
    before = [int(n) for n in _ITEM.findall(text[: m.start()])]
    after = [int(n) for n in _ITEM.findall(section)]
    if before and after and after[0] == before[-1] + 1:
        return False  # "1. PCOS / Diagnosis: ... / 2. Hyperthecosis": a field of item 1
    before_text = text[: m.start()]
    opens_with_list = bool(_ITEM.match(before_text.lstrip()) or _BULLET_START.match(before_text.lstrip()))
    if (label not in _PLAIN_LABELS or opens_with_list) and _picks_from_list(before_text, section):
        # "Most likely diagnosis: X" after a ranked list holding X, or an output that opens with its
        # ranked list and ends naming one of its items: the list is the answer, the pick comments on it.
        return False
    paragraphs = [p for p in re.split(r"\n[ \t\r]*\n", section.strip()) if p.strip()]
    return len(paragraphs) <= 3 or bool(after and after[0] == 1) or bool(_BULLET_START.match(section.strip()))


def empty_heading_at_end(text: str) -> int | None:
    """Where a final-answer heading with nothing under it ends the text (cut off, or the model stopped)."""
    found = [m for m in _HEADING.finditer(text) if _is_heading(m) and not m.group("rest")]
    if found and not text[found[-1].end() :].strip():
        return found[-1].start()
    return None


def _picks_from_list(before: str, section: str) -> bool:
    from pipeline.generate._labels import key  # the list readers sit above this module
    from pipeline.generate._lists import read_diagnoses, same_start

    listed, _ = read_diagnoses(before)
    first = section.strip().split("\n", 1)[0]
    pick = key(first)
    return len(listed) >= 2 and any(same_start(key(name), pick) for name in listed)


def _label(m: re.Match) -> str:
    return " ".join(m.group("label").lower().split())


def boxed_start(text: str) -> int | None:
    """Where the last paragraph holding a ``\\boxed{...}`` answer starts (QwQ's maths habit), or None."""
    found = list(_BOXED.finditer(text))
    if not found:
        return None
    para = text.rfind("\n\n", 0, found[-1].start())
    return 0 if para == -1 else para + 2


# Verbs that reasoning models title their summary paragraphs with ("**Assessing the symptoms**").
_THINKING_VERBS = (
    r"assess|consider|reconsider|evaluat|re-?evaluat|weigh|explor|analy[sz]|review|narrow|examin|identif|"
    r"determin|pinpoint|rul|map|piec|synthes[iy]z|integrat|interpret|reflect|think|confirm|clarif|investigat|"
    r"summari[sz]|conclud|refin|compar|contrast|differentiat|unravel|look|check|focus|establish|formulat|"
    r"highlight|link|connect|not|observ|gather|break|sort|piec|tying|tie|match|reason|work|draft|finaliz|"
    r"outlin|prioritiz|rank|search|verif|understand|recogniz|rethink|revisit|decid|settl|zero"
)
_THINKING_TITLE = re.compile(r"^(?:" + _THINKING_VERBS + r")[a-z]*ing\b|^tying\b", re.I)
_DETERMINER = re.compile(
    r"^[a-z]+ing\s+(?:the|a|an|this|these|those|that|my|our|possible|potential|other|further|next|key|all)\b", re.I
)


def reasoning_title(text: str) -> bool:
    """A summary heading ("Assessing the diagnosis", "Considering sepsis"), never a diagnosis name."""
    text = text.strip(" *_#>:.-–—")
    return bool(_THINKING_TITLE.match(text) or _DETERMINER.match(text))

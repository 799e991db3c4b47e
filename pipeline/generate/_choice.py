"""The option a multiple-choice answer picked. Pure."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

from pipeline.generate._formats import final_heading, split_output
from pipeline.generate._labels import MD, clean_text, collapse

# --------------------------------------------------------------------------- multiple choice

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_REF = re.compile(r"\[\s*\d+(?:\s*[,–\-]\s*\d+)*\s*\]?|^\s*\d+\s*\]")


def normalise_option(text: str) -> str:
    """Comparable form of an option or answer: fixed encoding, no reference marks, case, dashes or punctuation."""
    text = clean_text(text)
    text = _REF.sub(" ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().replace("’", "'").replace("'s", "s")
    return collapse(re.sub(r"[^0-9a-z]+", " ", text))


def _contained(norm_answer: str, norm_options: list[tuple[int, str]]) -> list[int]:
    """Indexes of options found in the answer, dropping those only found inside a longer found option."""
    hits = [(i, o) for i, o in norm_options if o and re.search(rf"(?:^|\s){re.escape(o)}(?:\s|$)", norm_answer)]
    keep = [i for i, o in hits if not any(o != other and o in other for _, other in hits)]
    return sorted(set(keep))


_LETTER_ANSWER = re.compile(
    r"^(?:(?i:(?:the\s+)?(?:final\s+|correct\s+|best\s+)?(?:answer|option|choice)(?:\s+is)?)\s*[:\-]?\s*)?"
    r"\(?([A-Z])\)?(?:[.):]|\s*$|\s+[-–—]\s)"
    # a lone lower-case letter, "(b)" or "b.", is a letter too (nothing else on the line)
    r"|^\(?([a-z])[.)]?\)?\s*$",
)
# An explicit pick anywhere ("The answer is (C)", "I would choose B"); "option A is unlikely" is not one.
_LETTER_MARK = re.compile(
    r"\b(?:(?:final\s+|correct\s+)?answer(?:\s+is)?|(?:option|choice)\s+is|(?:i\s+(?:would\s+)?)?(?:choose|pick|select)"
    r"(?:\s+option)?)\s*[:\-]?\s*\(?((?-i:[A-Z]))\)?(?![A-Za-z])(?!\s+[a-z])",
    re.I,
)
_BOXED = re.compile(r"\$*\\boxed\s*\{\s*(?:\\text\s*\{)?([^{}]*)\}?\s*\}\$*")
_LETTERED_LINE = re.compile(r"^\s*(?:[-*•]\s*)?(?:\*\*|__)?\(?([A-Z])[.):](?:\*\*|__)?\s+(.+?)\s*$", re.M)


_LISTED_LINE = re.compile(
    r"^[ \t]*(?:[-*•][ \t]*|\(?[A-Z][.):][ \t]+|\d{1,2}[.)][ \t]+)(?:\*\*|__)?(.+?)(?:\*\*|__)?[ \t]*\r?$", re.M
)


def _drop_echo(text: str, options: list[str]) -> tuple[str, int]:
    """The answer without lines that only repeat an option, and how many lettered lines are left.

    Two or more such lines ("A. Tuberculosis", "- Lymphoma") are the option list echoed back,
    which picks nothing.
    """
    norm = {normalise_option(o) for o in options} - {""}
    echoed = [m for m in _LISTED_LINE.finditer(text) if normalise_option(m.group(1)) in norm]
    if len(echoed) >= 2:
        for m in reversed(echoed):
            text = text[: m.start()] + text[m.end() :]
    return text.strip(), len(_LETTERED_LINE.findall(text))


def parse_choice(answer: str | None, options: list[str]) -> str | None:
    """The option a multiple-choice answer picked, as written in `options`; None if none or ambiguous.

    Accepts the option's text (any case, mojibake, reference marks like "[4,6]"),
    a letter ("B", "(B)", "**C. Pneumonia**", "Answer: B", "The answer is (C)") when
    options are presented lettered, and a near match of a short answer. Reasoning
    before the answer is split off first (format readers). An answer that only
    echoes the option list picks nothing; when several options are named, the
    final-answer section, then the first line decide; still several is ambiguous.
    """
    if not answer or not options:
        return None
    text, lettered = _drop_echo(_BOXED.sub(r"\1", split_output(clean_text(answer)).answer), options)
    if not text:
        return None
    norm_options = [(i, normalise_option(o)) for i, o in enumerate(options)]
    valid = [(i, o) for i, o in norm_options if o]
    plain = MD.sub("", text)

    # A lone letter or an explicit "Answer: B"; a text listing several lettered options must say which.
    marks = list(_LETTER_MARK.finditer(plain))
    letter = marks[-1] if marks else (_LETTER_ANSWER.match(plain) if lettered < 2 else None)
    if letter:
        idx = _LETTERS.index(next(g for g in letter.groups() if g).upper())
        if idx < len(options) and normalise_option(options[idx]):
            # "A. Option text": the letter counts only when the text agrees or is absent.
            rest = normalise_option(plain[letter.end() :].split("\n", 1)[0])
            named = _contained(rest, valid) if rest else []
            if not named or named == [idx]:
                return options[idx]
            return None  # "Answer: B. Pneumonia" with Pneumonia under C: the two disagree
    if lettered >= 2:
        return None  # options discussed one by one, no explicit pick: a clinician reads it
    return _by_text(text, options, valid)


def _by_text(text: str, options: list[str], valid: list[tuple[int, str]]) -> str | None:
    norm_answer = normalise_option(text)
    for i, o in valid:
        if o == norm_answer:
            return options[i]
    segments = []
    heading = final_heading(text)
    if heading:
        segments.append(text[heading.answer_start : heading.end])
    first_line = next((line for line in text.split("\n") if line.strip()), "")
    segments += [first_line, text]
    for segment in segments:
        hits = _contained(normalise_option(segment), valid)
        if len(hits) == 1:
            return options[hits[0]]
        if len(hits) > 1 and len(segment.split()) <= 12:
            # A short answer naming two because an option list was split on its commas
            # ("Sturge-Weber syndrome, type 1"): the option the answer starts with.
            norm_segment = normalise_option(segment)
            leading = [i for i in hits if norm_segment.startswith(dict(valid)[i])]
            if len(leading) == 1:
                return options[leading[0]]
        if len(hits) > 1:
            return None

    # A short answer with a small spelling difference ("haemoglobinuria" vs "hemoglobinuria").
    if len(norm_answer.split()) <= 12:
        scored = sorted(((fuzz.ratio(norm_answer, o), i) for i, o in valid), reverse=True)
        if scored and scored[0][0] >= 90 and (len(scored) == 1 or scored[0][0] - scored[1][0] >= 5):
            return options[scored[0][1]]
    return None

"""Text helpers of the signals: sentences with their exact place in the text, normalised phrase search,
negation and "set aside" cues.

Matching runs on pipeline.accuracy's normalisation (the one grading uses), so "neck stiffness" and
"Neck-stiffness" are one phrase; quotes are always cut from the original text, so they stay exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.accuracy import normalise

QUOTE_MAX = 300  # characters of a quote shown as evidence; a longer sentence is cut around the match
_BREAK = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
# NegEx-style cues (Chapman et al., J Biomed Inform 2001): a finding after one of these, in the same
# sentence and within NEGATION_WINDOW tokens, is absent.
NEGATION_WINDOW = 6
_NEGATIONS = ("no", "not", "denies", "denied", "deny", "without", "negative for", "absence of", "free of", "never")
_NEGATIONS_AFTER = ("absent", "negative", "not present", "was not", "were not")
# Cues that the trace sets a diagnosis aside (it may still be named).
_SET_ASIDE = (
    "ruled out", "rule it out", "excluded", "can be excluded", "less likely", "unlikely", "not likely",
    "less probable", "improbable", "does not fit", "doesn t fit", "doesnt fit", "not consistent",
    "inconsistent with", "argues against", "against", "lower on the list", "not supported", "probably not",
    "less consistent", "can be dismissed", "dismissed", "not the case", "not the diagnosis",
)  # fmt: skip


def _norm_cues(cues: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(normalise(c).split()) for c in cues)


NEGATIONS = _norm_cues(_NEGATIONS)
NEGATIONS_AFTER = _norm_cues(_NEGATIONS_AFTER)
SET_ASIDE = _norm_cues(_SET_ASIDE)


@dataclass(frozen=True)
class Sentence:
    start: int  # character offsets into the text it came from
    end: int
    text: str  # text[start:end], exactly
    tokens: tuple[str, ...]  # normalised tokens


def sentences(text: str) -> list[Sentence]:
    """The sentences (and line-separated pieces) of a text, with their exact offsets."""
    out: list[Sentence] = []
    start = 0
    for m in [*_BREAK.finditer(text), None]:
        end = len(text) if m is None else m.start()
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            s = start + (len(piece) - len(piece.lstrip()))
            e = s + len(stripped)
            toks = tuple(normalise(stripped).split())
            if toks:
                out.append(Sentence(s, e, text[s:e], toks))
        if m is not None:
            start = m.end()
    return out


def find_phrase(tokens: tuple[str, ...], phrase: tuple[str, ...], slack: int = 0) -> int | None:
    """Token index where the phrase starts; with slack > 0 its words may come in any order within
    len(phrase) + slack tokens ("headache of sudden onset" for "sudden onset headache")."""
    n = len(phrase)
    if n == 0 or n > len(tokens):
        return None
    for i in range(len(tokens) - n + 1):
        if tokens[i : i + n] == phrase:
            return i
    if slack and n > 1:
        need = set(phrase)
        for i, tok in enumerate(tokens):
            if tok in need and need <= set(tokens[i : i + n + slack]):
                return i
    return None


def _has_cue(window: tuple[str, ...], cues: tuple[tuple[str, ...], ...]) -> bool:
    return any(find_phrase(window, cue) is not None for cue in cues)


def negated(tokens: tuple[str, ...], at: int, length: int) -> bool:
    """Whether the phrase at tokens[at:at+length] is negated in its sentence."""
    before = tokens[max(0, at - NEGATION_WINDOW) : at]
    after = tokens[at + length : at + length + 3]
    return _has_cue(before, NEGATIONS) or _has_cue(after, NEGATIONS_AFTER)


def set_aside(tokens: tuple[str, ...], at: int, length: int) -> bool:
    """Whether the sentence sets the phrase at tokens[at:at+length] aside: a cue shortly before it
    ("unlikely to be X") or after it ("X is less likely"), unless X is only the comparison ("... than X")."""
    if at > 0 and tokens[at - 1] == "than":
        return False
    before = tokens[max(0, at - 4) : at]
    after = tokens[at + length :]
    if "than" in after:
        after = after[: after.index("than")]
    return _has_cue(before, SET_ASIDE) or _has_cue(after[:10], SET_ASIDE)


def quote(text: str, sentence: Sentence, hint: str | None = None) -> str:
    """The sentence as evidence: whole, or QUOTE_MAX characters around the hint word; always text[a:b]."""
    if len(sentence.text) <= QUOTE_MAX:
        return sentence.text
    centre = 0
    if hint:
        found = sentence.text.casefold().find(hint.casefold()[:5])
        centre = max(0, found)
    a = max(0, centre - QUOTE_MAX // 3)
    b = min(len(sentence.text), a + QUOTE_MAX)
    # Cut at whitespace so no word is broken; the result is still a substring.
    if a > 0:
        space = sentence.text.find(" ", a)
        a = space + 1 if 0 <= space < centre else a
    if b < len(sentence.text):
        space = sentence.text.rfind(" ", a, b)
        b = space if space > centre else b
    return sentence.text[a:b].strip()

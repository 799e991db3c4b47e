"""Matching a response's listed diagnoses against the gold diagnosis, in tiers.

Tiers, most literal first; the first confident match (lowest rank) decides:
  exact      the normalised names are equal (a name the gold diagnosis offers);
  synonym    equal to one of the case's accepted synonyms;
  fuzzy      equal up to qualifiers ("acute", "left-sided", ...) or a high rapidfuzz token score
             (typos, word order, spelling variants);
  embedding  cosine similarity of the shipped MiniLM sentence embeddings.
Below the confident thresholds but above the uncertain ones a match waits for a clinician.
Thresholds and their justification: docs/accuracy.md ("Grading").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz

from pipeline.accuracy._normalise import critical_tokens, name_variants, normalise

GRADER_VERSION = "dxtrace-grader/1"

# An item may add these to the gold name and still name the same disease ("acute appendicitis" for
# "appendicitis"): they narrow it down, they do not change it.
EXTRA_OK = frozenset(
    [
        "acute",
        "subacute",
        "chronic",
        "recurrent",
        "left",
        "right",
        "sided",
        "bilateral",
        "unilateral",
        "early",
        "late",
        "mild",
        "moderate",
        "severe",
        "typical",
        "classic",
        "classical",
        "simple",
        "uncomplicated",
        "complicated",
        "flare",
        "episode",
        "attack",
        "disease",
        "disorder",
        "syndrome",
        "condition",
        "mellitus",
        "exacerbation",
        "incarcerated",
        "strangulated",
        "perforated",
        "ruptured",
        "deep",
        "infiltrating",
        "of",
        "the",
        "a",
        "an",
        "with",
    ]
)
# An item may leave these out of the gold name ("appendicitis" for "acute appendicitis"); "chronic", a type
# or a stage are not here: leaving them out names a broader disease, which a clinician should judge.
MISSING_OK = frozenset(
    [
        "acute",
        "left",
        "right",
        "sided",
        "bilateral",
        "unilateral",
        "typical",
        "classic",
        "classical",
        "simple",
        "uncomplicated",
        "disease",
        "disorder",
        "syndrome",
        "condition",
        "mellitus",
        "female",
        "male",
        "of",
        "the",
        "a",
        "an",
        "advanced",
        "stage",
    ]
)


@dataclass(frozen=True)
class Thresholds:
    """Similarity scores (0-1) at which a match is confident, or uncertain (waits for a clinician)."""

    fuzzy_confident: float = 0.90
    fuzzy_uncertain: float = 0.80
    embedding_confident: float = 0.95
    embedding_uncertain: float = 0.75

    def __post_init__(self) -> None:
        for lo, hi in (
            (self.fuzzy_uncertain, self.fuzzy_confident),
            (self.embedding_uncertain, self.embedding_confident),
        ):
            if not 0 <= lo <= hi <= 1:
                raise ValueError("thresholds must satisfy 0 <= uncertain <= confident <= 1")


@dataclass(frozen=True)
class GoldNames:
    """The normalised names that count as the gold diagnosis, and whether each is a synonym."""

    names: tuple[tuple[str, bool], ...]

    @classmethod
    def build(cls, gold: str, synonyms: Sequence[str] = ()) -> GoldNames:
        out: dict[str, bool] = {}
        for name in name_variants(gold):
            out.setdefault(name, False)
        for syn in synonyms:
            for name in name_variants(syn):
                out.setdefault(name, True)
        return cls(tuple(out.items()))

    def strings(self) -> list[str]:
        return [n for n, _ in self.names]


@dataclass(frozen=True)
class Match:
    rank: int  # 1-based position in the response's list
    diagnosis: str  # as the response lists it
    name: str  # the normalised variant of the listed diagnosis that matched
    gold_name: str  # the normalised gold name or synonym it matched
    method: str  # exact, synonym, fuzzy, embedding
    score: float
    confident: bool
    conflict: bool = False  # same words but a different number, letter or type: a different disease

    def as_dict(self) -> dict:
        return {
            "rank": self.rank,
            "diagnosis": self.diagnosis,
            "name": self.name,
            "gold_name": self.gold_name,
            "method": self.method,
            "score": round(self.score, 4),
            "confident": self.confident,
            "conflict": self.conflict,
        }


@dataclass(frozen=True)
class MatchResult:
    """The grade a list of diagnoses earns: correct (True/False) or None (waits for a clinician)."""

    correct: bool | None
    rank: int | None
    method: str
    score: float | None
    matched_diagnosis: str | None
    candidates: tuple[Match, ...] = field(default=())  # uncertain matches, for the clinician
    best: tuple[Match, ...] = field(default=())  # the best match of each listed diagnosis

    @property
    def status(self) -> str:
        return "pending" if self.correct is None else "auto"


Similarity = Callable[[list[str], list[str]], np.ndarray]


def _qualifier_match(item: str, gold: str) -> bool:
    ti, tg = set(item.split()), set(gold.split())
    if not ti or not tg:
        return False
    if critical_tokens(item) - EXTRA_OK != critical_tokens(gold) - EXTRA_OK:
        return False
    # Word order is free ("diabetes mellitus type 1" == "type 1 diabetes"); the critical tokens above
    # keep numbers, letters and types apart.
    if tg <= ti and ti - tg <= EXTRA_OK:
        return True
    return bool(ti < tg and tg - ti <= MISSING_OK and ti - EXTRA_OK)


def _fuzzy(item: str, gold: str) -> float:
    return fuzz.token_sort_ratio(item, gold) / 100.0


def _same_critical(a: str, b: str) -> bool:
    return critical_tokens(a) == critical_tokens(b)


def match_diagnoses(
    diagnoses: Sequence[str],
    gold: GoldNames,
    *,
    k: int = 5,
    thresholds: Thresholds | None = None,
    similarity: Similarity | None = None,
) -> MatchResult:
    """Grade one ranked list of diagnoses against the gold names.

    similarity(items, golds) -> matrix of cosine similarities enables the embedding tier; without it
    only the string tiers run (and nothing reaches the embedding thresholds).
    """
    th = thresholds or Thresholds()
    best_per_rank: list[Match] = []
    for rank, diagnosis in enumerate(list(diagnoses)[:k], start=1):
        if not diagnosis or not diagnosis.strip():
            continue
        variants = name_variants(diagnosis, item=True)
        best: Match | None = None
        for v in variants:
            for g, is_syn in gold.names:
                m = _string_match(rank, diagnosis, v, g, is_syn, th)
                if m and (best is None or (m.confident, m.score) > (best.confident, best.score)):
                    best = m
        if similarity is not None and not (best and best.confident):
            sims = similarity(variants, gold.strings())
            i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
            score = float(sims[i, j])
            v, g = variants[i], gold.strings()[j]
            if score >= th.embedding_uncertain:
                same = _same_critical(v, g)
                conflict = not same and _words(v) == _words(g)
                m = Match(rank, diagnosis, v, g, "embedding", score, score >= th.embedding_confident and same, conflict)
                if best is None or (m.confident, m.score) > (best.confident, best.score):
                    best = m
            elif best is None:
                best = Match(rank, diagnosis, v, g, "embedding", score, False)
        if best is not None:
            best_per_rank.append(best)
    return decide(best_per_rank, th)


def _string_match(rank: int, diagnosis: str, v: str, g: str, is_syn: bool, th: Thresholds) -> Match | None:
    if v == g:
        return Match(rank, diagnosis, v, g, "synonym" if is_syn else "exact", 1.0, True)
    if _qualifier_match(v, g):
        return Match(rank, diagnosis, v, g, "fuzzy", 1.0, True)
    score = _fuzzy(v, g)
    same = _same_critical(v, g)
    conflict = not same and _words(v) == _words(g)
    return Match(rank, diagnosis, v, g, "fuzzy", score, score >= th.fuzzy_confident and same, conflict)


def _words(name: str) -> frozenset[str]:
    return frozenset(name.split()) - critical_tokens(name)


def _is_candidate(m: Match, th: Thresholds) -> bool:
    floor = th.embedding_uncertain if m.method == "embedding" else th.fuzzy_uncertain
    return not m.confident and not m.conflict and m.score >= floor


def decide(best_per_rank: Sequence[Match], th: Thresholds) -> MatchResult:
    confident = [m for m in best_per_rank if m.confident]
    if confident:
        m = min(confident, key=lambda x: x.rank)
        return MatchResult(True, m.rank, m.method, m.score, m.diagnosis, best=tuple(best_per_rank))
    candidates = tuple(m for m in best_per_rank if _is_candidate(m, th))
    if candidates:
        top = max(candidates, key=lambda x: x.score)
        return MatchResult(None, None, top.method, top.score, None, candidates, tuple(best_per_rank))
    score = max((m.score for m in best_per_rank), default=None)
    return MatchResult(False, None, "none", score, None, best=tuple(best_per_rank))


def mentions_gold(answer: str, gold: GoldNames) -> str | None:
    """A gold name (of at least 4 letters) that the answer text mentions as a phrase, if any."""
    text = f" {normalise(answer)} "
    for name, _ in gold.names:
        if len(name) >= 4 and f" {name} " in text:
            return name
    return None


def match_option(chosen: str | None, gold: GoldNames) -> MatchResult:
    """A multiple-choice answer: the chosen option against the gold (case and punctuation do not matter)."""
    if chosen is None or not chosen.strip():
        return MatchResult(False, None, "option", None, None)
    names = {normalise(chosen), *name_variants(chosen, inner=False)[:1]}
    for g, _ in gold.names:
        if g in names:
            return MatchResult(True, 1, "option", 1.0, chosen)
    return MatchResult(False, None, "option", 0.0, None)

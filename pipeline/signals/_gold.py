"""Does a sentence name a diagnosis? Decided by grading's own matchers, so the two never disagree.

This is the ONE place the signals call pipeline.accuracy's matching: grading decides whether a listed
diagnosis is the gold; here the "listed diagnoses" are short spans of a trace sentence around words of
the gold name, graded with the same string tiers (exact, synonym, qualifier and fuzzy; the embedding
tier is left out: per-span embeddings would cost more than the whole signal run). When the grading
ladder changes, re-point grading_match and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from pipeline.accuracy import GoldNames, case_synonyms, match_diagnoses
from pipeline.signals._text import Sentence

# A word right before a span that makes it a different disease ("non-Hodgkin lymphoma" is not
# "Hodgkin lymphoma"); grading sees whole listed names, so it never meets this in the middle of a name.
_CHANGES_DISEASE = frozenset({"non", "pseudo", "para", "pre", "post", "anti", "not"})
# Grading's fuzzy tier needs a token-sort score of at least this (its uncertain floor); spans far below it
# and without every needed word of a gold name cannot match, so grading never has to see them.
_PREFILTER_SCORE = 75
_OPTIONAL = frozenset({"acute", "left", "right", "sided", "bilateral", "unilateral", "typical", "classic", "simple",
                       "uncomplicated", "disease", "disorder", "syndrome", "condition", "of", "the", "a", "an"})  # fmt: skip
_SPAN_EXTRA = 2  # a span may be this many tokens longer than the gold name (qualifiers)
# Words too common to start a span on: a mention starts on a word that names something.
_NOT_A_START = frozenset(
    {"the", "and", "due", "with", "without", "for", "from", "of", "to", "in", "on", "by", "or", "its", "an",
     "acute", "chronic", "left", "right", "disease", "syndrome", "disorder", "type", "primary", "secondary"}
)  # fmt: skip


def grading_match(spans: Sequence[str], names: GoldNames) -> int | None:
    """Index of the first span grading would accept as the named diagnosis, or None."""
    if not spans:
        return None
    result = match_diagnoses(list(spans), names, k=len(spans))
    return None if result.correct is not True or result.rank is None else result.rank - 1


def gold_names(gold: str, synonyms: Sequence[str] = ()) -> GoldNames:
    return GoldNames.build(gold, list(synonyms))


def case_gold_names(case_set: str, case_key: str, gold: str, own_synonyms: list | None) -> GoldNames:
    """The names grading accepts for a case's gold diagnosis (its own synonyms and the curated file)."""
    return gold_names(gold, case_synonyms(case_set, case_key, own_synonyms))


@dataclass(frozen=True)
class Mention:
    at: int  # token index in the sentence
    length: int  # tokens
    span: str  # the normalised span that matched


def _spans(tokens: tuple[str, ...], names: GoldNames) -> list[tuple[int, int]]:
    """Candidate (start, length) spans around each naming word of a gold name, about that name's length."""
    words = {w for name in names.strings() for w in name.split() if len(w) > 2 and w not in _NOT_A_START}
    lengths = sorted({len(name.split()) for name in names.strings()})
    out: dict[tuple[int, int], None] = {}
    for i, tok in enumerate(tokens):
        if tok not in words:
            continue
        for n in lengths:
            for length in range(max(1, n - 1), n + _SPAN_EXTRA + 1):
                # Spans that contain word i, starting up to two tokens before it ("type 1 diabetes").
                for a in range(max(0, i - min(2, length - 1)), i + 1):
                    if a + length > len(tokens) or (a > 0 and tokens[a - 1] in _CHANGES_DISEASE):
                        continue
                    out.setdefault((a, length), None)
    return list(out)


def _could_match(texts: list[str], names: GoldNames) -> list[bool]:
    """A cheap, generous pre-check (C speed): close in token-sort score, or holding a gold name's needed words."""
    golds = names.strings()
    scores = process.cdist(texts, golds, scorer=fuzz.token_sort_ratio, workers=1)
    close = np.asarray(scores).max(axis=1) >= _PREFILTER_SCORE
    needed = [set(g.split()) - _OPTIONAL for g in golds]
    return [bool(c) or any(n and n <= set(t.split()) for n in needed) for t, c in zip(texts, close, strict=True)]


def find_mention(sentence: Sentence, names: GoldNames) -> Mention | None:
    """Where the sentence names the diagnosis, if it does."""
    spans = _spans(sentence.tokens, names)
    if not spans:
        return None
    # Shortest spans first, so the mention is the name itself, not the name and its neighbours.
    spans.sort(key=lambda s: (s[1], s[0]))
    texts = [" ".join(sentence.tokens[a : a + n]) for a, n in spans]
    keep = _could_match(texts, names)
    spans = [s for s, k in zip(spans, keep, strict=True) if k]
    texts = [t for t, k in zip(texts, keep, strict=True) if k]
    hit = grading_match(texts, names)
    if hit is None:
        return None
    a, n = spans[hit]
    return Mention(a, n, texts[hit])

"""Red-flag recognition failure: red flags present in the case that the trace never takes up."""

from __future__ import annotations

import numpy as np

from pipeline.signals._redflags import taken_up
from pipeline.signals._registry import Evidence, RedFlagHit, Signal, SignalInput, SignalResult, signal
from pipeline.signals._text import quote, sentences

RED_FLAG_FAILURE = "red_flag_failure"
# Cosine of a step to a red flag's name or terms (all-MiniLM-L6-v2) at which the step counts as taking it
# up without using its words; fixed a priori for short clinical phrases, not fitted (docs/signals.md).
EMBEDDING_TAKEN_UP = 0.6


def _lexical(item: SignalInput, hit: RedFlagHit) -> tuple[int, str] | None:
    for number, step in enumerate(item.steps, 1):
        for sent in sentences(step):
            if taken_up(sent, hit):
                return number, quote(step, sent, hit.phrase.split()[0] if hit.phrase else None)
    return None


def _semantic(item: SignalInput, hit: RedFlagHit) -> tuple[int, float] | None:
    vectors = item.flag_vectors.get(hit.id)
    if vectors is None or item.step_vectors is None or not len(item.step_vectors):
        return None
    sims = item.step_vectors @ vectors.T
    best = np.unravel_index(int(np.argmax(sims)), sims.shape)
    score = float(sims[best])
    return (int(best[0]) + 1, score) if score >= EMBEDDING_TAKEN_UP else None


@signal
class RedFlagsNotAddressed(Signal):
    name = "red_flags_ignored"
    error_mode = RED_FLAG_FAILURE
    title = "Red flags of the case not taken up"
    needs_vectors = True
    version = "2"  # step vectors from the trace's own encoder pass (late chunking), see docs/signals.md

    def compute(self, item: SignalInput) -> SignalResult:
        if not item.steps:
            return SignalResult(None, "no trace")
        found = {"present": [h.id for h in item.red_flags], "taken_up": {}, "ignored": [],
                 "sources": sorted({h.source for h in item.red_flags})}  # fmt: skip
        if not item.red_flags:
            return SignalResult(False, "no red flag of the list is present in the case", details=found)
        evidence = []
        for hit in item.red_flags:
            lexical = _lexical(item, hit)
            semantic = None if lexical else _semantic(item, hit)
            if lexical:
                found["taken_up"][hit.id] = {"step": lexical[0], "method": "words"}
            elif semantic:
                found["taken_up"][hit.id] = {
                    "step": semantic[0],
                    "method": "embedding",
                    "cosine": round(semantic[1], 3),
                }
            else:
                found["ignored"].append(hit.id)
                evidence.append(Evidence(None, "vignette", hit.quote, f"red flag never taken up: {hit.name}"))
        if not evidence:
            return SignalResult(False, f"every red flag of the case is taken up ({len(item.red_flags)})", details=found)
        names = ", ".join(h.name for h in item.red_flags if h.id in found["ignored"])
        return SignalResult(
            True, f"the trace never takes up: {names}", tuple(evidence), score=float(len(evidence)), details=found
        )

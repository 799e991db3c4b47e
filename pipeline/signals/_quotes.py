"""The quote check: evidence is shown only if its quote is an exact substring of what it claims to quote."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.signals._registry import Evidence


def quote_ok(e: Evidence, trace: str, vignette: str, steps: list[str]) -> bool:
    if not e.quote or not e.quote.strip():
        return False
    if e.source == "vignette":
        return e.step is None and e.quote in vignette
    if e.source != "trace" or e.quote not in trace:
        return False
    return e.step is None or (1 <= e.step <= len(steps) and e.quote in steps[e.step - 1])


def verified(evidence: Iterable[Evidence], trace: str, vignette: str, steps: list[str]) -> tuple[list[Evidence], int]:
    """(the evidence that passes the check, how many failed it)."""
    good, bad = [], 0
    for e in evidence:
        if quote_ok(e, trace, vignette, steps):
            good.append(e)
        else:
            bad += 1
    return good, bad

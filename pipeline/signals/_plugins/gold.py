"""Priority-inversion signals: the gold diagnosis considered and then dropped; the gold ranked below a
diagnosis the trace itself called less likely."""

from __future__ import annotations

from pipeline.signals._gold import find_mention, gold_names
from pipeline.signals._registry import Evidence, Signal, SignalInput, SignalResult, signal
from pipeline.signals._text import quote, set_aside

PRIORITY_INVERSION = "priority_inversion"


def _mentions(item: SignalInput, names) -> list[tuple[int, str, bool]]:
    """(step, quote, set aside?) of every sentence of the trace that names the diagnosis."""
    key = ("mentions", tuple(names.strings()))
    if key in item.cache:
        return item.cache[key]
    out = []
    for number, (step, sents) in enumerate(zip(item.steps, item.step_sentences(), strict=True), 1):
        for sent in sents:
            m = find_mention(sent, names)
            if m is not None:
                out.append((number, quote(step, sent, m.span.split()[0]), set_aside(sent.tokens, m.at, m.length)))
    item.cache[key] = out
    return out


@signal
class GoldDropped(Signal):
    name = "gold_dropped"
    error_mode = PRIORITY_INVERSION
    title = "Gold diagnosis considered, then dropped"

    def compute(self, item: SignalInput) -> SignalResult:
        if not item.steps:
            return SignalResult(None, "no trace")
        mentions = _mentions(item, item.gold)
        named = bool(mentions)
        details = {
            "named": named,
            "steps": sorted({s for s, _, _ in mentions}),
            "first_step": mentions[0][0] if mentions else None,
            "last_step": mentions[-1][0] if mentions else None,
            "set_aside_steps": sorted({s for s, _, aside in mentions if aside}),
            "answer_correct": item.correct,
        }
        if item.correct is None:
            return SignalResult(None, "the grade is pending or missing", details=details)
        if item.correct or not named:
            why = "the answer lists the gold diagnosis" if item.correct else "the trace never names the gold diagnosis"
            return SignalResult(False, why, details=details)
        evidence = tuple(
            Evidence(
                step,
                "trace",
                q,
                "names the gold diagnosis, then sets it aside" if aside else "names the gold diagnosis",
            )
            for step, q, aside in mentions
        )
        aside = " and sets it aside" if details["set_aside_steps"] else ""
        summary = (
            f"names the gold diagnosis in {len(details['steps'])} step(s) (first {details['first_step']}, "
            f"last {details['last_step']}){aside}, but the answer's first {item.k} do not list it"
        )
        return SignalResult(True, summary, evidence, score=float(len(details["steps"])), details=details)


@signal
class RankedBelowDismissed(Signal):
    name = "ranked_below_dismissed"
    error_mode = PRIORITY_INVERSION
    title = "Gold ranked below a diagnosis the trace called less likely"

    def compute(self, item: SignalInput) -> SignalResult:
        if not item.steps:
            return SignalResult(None, "no trace")
        if item.correct is None:
            return SignalResult(None, "the grade is pending or missing")
        if item.correct:
            above = item.diagnoses[: (item.rank or 1) - 1]
        elif _mentions(item, item.gold):
            above = item.diagnoses[: item.k]  # the trace named the gold, the answer left it out
        else:
            return SignalResult(False, "the trace never names the gold diagnosis")
        evidence = []
        for rank, diagnosis in enumerate(above, 1):
            for step, q, aside in _mentions(item, gold_names(diagnosis)):
                if aside:
                    evidence.append(Evidence(step, "trace", q, f"calls answer #{rank} ({diagnosis}) less likely"))
        if not evidence:
            return SignalResult(False, "no diagnosis ranked above the gold was called less likely")
        ranks = sorted({e.why.split("#")[1].split()[0] for e in evidence})
        return SignalResult(
            True,
            f"the answer ranks above the gold diagnosis what the trace called less likely (answer #{', #'.join(ranks)})",
            tuple(evidence),
            score=float(len(ranks)),
        )

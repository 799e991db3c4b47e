"""Reasoning drift: the trace leaves the case and does not come back; the trace goes round in a loop."""

from __future__ import annotations

from pipeline.signals._drift import case_similarity, leave_point, novelty, repeated_runs, repeated_sentences
from pipeline.signals._registry import Evidence, Signal, SignalInput, SignalResult, signal
from pipeline.signals._text import quote, sentences

REASONING_DRIFT = "reasoning_drift"


def _first_sentence(step: str) -> str:
    sents = sentences(step)
    return quote(step, sents[0]) if sents else step.strip()[:200]


@signal
class DriftOffCase(Signal):
    name = "drift_off_case"
    error_mode = REASONING_DRIFT
    title = "Trace leaves the case and does not come back"
    needs_vectors = True
    version = "2"  # step vectors from the trace's own encoder pass (late chunking), see docs/signals.md

    def compute(self, item: SignalInput) -> SignalResult:
        if not item.steps:
            return SignalResult(None, "no trace")
        if item.step_vectors is None or item.case_vectors is None:
            return SignalResult(None, "no embeddings")
        sims = case_similarity(item.step_vectors, item.case_vectors)
        lengths = [len(s) for s in item.steps]
        leave, share, threshold = leave_point(sims, lengths)
        details = {
            "similarity": [round(float(x), 3) for x in sims],
            "threshold": round(threshold, 3),
            "leave_step": None if leave is None else leave + 1,
            "share_off_case": round(share, 3),
        }
        if leave is None:
            return SignalResult(False, "the trace stays with the case", score=share, details=details)
        step = item.steps[leave]
        evidence = (Evidence(leave + 1, "trace", _first_sentence(step), "from here on the trace is off the case"),)
        summary = f"leaves the case at step {leave + 1} and does not come back ({share:.0%} of the trace)"
        return SignalResult(True, summary, evidence, score=share, details=details)


@signal
class RepetitionLoop(Signal):
    name = "repetition_loop"
    error_mode = REASONING_DRIFT
    title = "Trace goes round in a loop"

    def compute(self, item: SignalInput) -> SignalResult:
        if not item.steps:
            return SignalResult(None, "no trace")
        nov = novelty(item.steps)
        runs = repeated_runs(nov, [len(s) for s in item.steps])
        by_step = [[s.text for s in sentences(step)] for step in item.steps]
        repeats = repeated_sentences(by_step)
        details = {
            "novelty": [round(x, 3) for x in nov],
            "runs": [[i + 1 for i in run] for run in runs],
            "repeated_sentences": len(repeats),
        }
        evidence = [
            Evidence(run[0] + 1, "trace", _first_sentence(item.steps[run[0]]), f"{len(run)} steps repeat earlier text")
            for run in runs
        ]
        for key, steps in repeats.items():
            first = steps[0]
            text = next(s for s in by_step[first] if _same(s, key))
            evidence.append(Evidence(first + 1, "trace", text, f"said {len(steps)} times (steps {_steps(steps)})"))
        if not evidence:
            return SignalResult(False, "no loop", score=0.0, details=details)
        looped = sum(len(r) for r in runs)
        summary = f"{len(runs)} loop(s) over {looped} step(s), {len(repeats)} sentence(s) said 3+ times"
        return SignalResult(True, summary, tuple(evidence), score=float(len(evidence)), details=details)


def _same(sentence: str, key: str) -> bool:
    from pipeline.accuracy import normalise

    return normalise(sentence) == key


def _steps(steps: list[int]) -> str:
    shown = ", ".join(str(s + 1) for s in steps[:6])
    return shown + (", …" if len(steps) > 6 else "")

"""Drift (leaves the case and does not come back) and loops, on built traces with the real embedding model."""

from __future__ import annotations

from pipeline.annotation._steps import split_steps
from pipeline.signals import get_signal, novelty, quote_ok, repeated_runs
from pipeline.signals._vectors import vectors_of
from tests.pipeline.signals.conftest import make_input

VIGNETTE = (
    "A 58-year-old man presents with crushing central chest pain radiating to the left arm for two hours, "
    "with sweating and nausea. ECG shows ST elevation in leads II, III and aVF. Troponin is raised."
)
ON_CASE = [
    "The crushing central chest pain radiating to the left arm with sweating suggests an acute coronary syndrome.",
    "ST elevation in the inferior leads II, III and aVF with a raised troponin points to an inferior myocardial infarction.",
    "Nausea and sweating with chest pain for two hours fit an acute myocardial infarction in a 58-year-old man.",
]
OFF_CASE = [
    "Tax law in medieval Venice depended on the salt trade and on duties paid by foreign merchants at the harbour.",
    "The merchants' guilds negotiated shipping tariffs with the Doge, and the revenue financed the arsenal's galleys.",
    "Venetian glassmaking on Murano was protected by strict laws that forbade the craftsmen from leaving the island.",
]


def _vectors(model, item):
    item.step_vectors, item.case_vectors = vectors_of(model, item.trace, item.steps, item.vignette)
    return item


def test_trace_that_wanders_off_is_flagged_at_the_step_it_leaves(st_model):
    item = _vectors(st_model, make_input("\n\n".join(ON_CASE + OFF_CASE), vignette=VIGNETTE))
    result = get_signal("drift_off_case").compute(item)
    assert result.fired is True
    assert result.details["leave_step"] == 4
    assert result.score > 0.4
    (e,) = result.evidence
    assert e.step == 4 and quote_ok(e, item.trace, item.vignette, item.steps)


def test_trace_that_stays_with_the_case_or_comes_back_is_not_flagged(st_model):
    item = _vectors(st_model, make_input("\n\n".join(ON_CASE), vignette=VIGNETTE))
    assert get_signal("drift_off_case").compute(item).fired is False
    back = OFF_CASE[:2] + ON_CASE  # wanders off early, but comes back
    item = _vectors(st_model, make_input("\n\n".join(back), vignette=VIGNETTE))
    assert get_signal("drift_off_case").compute(item).fired is False


def test_drift_without_vectors_cannot_tell():
    assert get_signal("drift_off_case").compute(make_input("Some step.")).fired is None


def test_looping_trace_is_flagged_with_the_repeated_steps():
    loop = "Wait, maybe it is an inferior myocardial infarction because of the ST elevation in II, III and aVF."
    trace = "\n\n".join([*ON_CASE, loop, loop, loop, loop, "So the answer is inferior STEMI and nothing else at all."])
    item = make_input(trace, vignette=VIGNETTE)
    result = get_signal("repetition_loop").compute(item)
    assert result.fired is True
    assert result.details["runs"][0][:3] == [5, 6, 7]
    assert all(quote_ok(e, item.trace, item.vignette, item.steps) for e in result.evidence)
    assert any("said 4 times" in e.why for e in result.evidence)


def test_novel_trace_has_no_loop():
    steps = split_steps("\n\n".join(ON_CASE + OFF_CASE))
    nov = novelty(steps)
    assert min(nov) > 0.25
    assert repeated_runs(nov, [len(s) for s in steps]) == []
    assert get_signal("repetition_loop").compute(make_input("\n\n".join(ON_CASE))).fired is False
    assert novelty([ON_CASE[0], ON_CASE[0]])[1] < 0.25  # a step said again adds almost nothing

"""Gold considered then dropped, and the gold ranked below what the trace called less likely: built traces."""

from __future__ import annotations

from pipeline.signals import get_signal, quote_ok
from tests.pipeline.signals.conftest import make_input

DROPPED = """The patient has right lower quadrant pain, fever and anorexia.

Appendicitis must be considered first given the migration of pain to McBurney's point.

However the normal white cell count and the long history make Appendicitis less likely than mesenteric adenitis.

Mesenteric adenitis fits the recent viral illness. Final answer: mesenteric adenitis."""

NEVER = """The patient has right lower quadrant pain and fever.

Mesenteric adenitis fits the recent viral illness.

Ovarian torsion should be excluded by ultrasound."""


def test_gold_named_then_dropped_names_every_step_and_the_setting_aside():
    item = make_input(DROPPED)
    result = get_signal("gold_dropped").compute(item)
    assert result.fired is True
    assert result.steps == [2, 3]
    assert result.details["first_step"] == 2 and result.details["last_step"] == 3
    assert result.details["set_aside_steps"] == [3]
    for e in result.evidence:
        assert quote_ok(e, item.trace, item.vignette, item.steps)
        assert "ppendicitis" in e.quote


def test_gold_never_named_does_not_fire():
    result = get_signal("gold_dropped").compute(make_input(NEVER))
    assert result.fired is False and result.details["named"] is False


def test_a_correct_answer_does_not_fire_and_a_pending_grade_cannot_tell():
    assert get_signal("gold_dropped").compute(make_input(DROPPED, correct=True, rank=1)).fired is False
    assert get_signal("gold_dropped").compute(make_input(DROPPED, correct=None)).fired is None
    assert get_signal("gold_dropped").compute(make_input("", correct=False)).fired is None


def test_same_matchers_as_grading_qualifiers_and_synonyms():
    # "appendicitis" names "Acute appendicitis" for grading (a qualifier it may leave out) ...
    assert get_signal("gold_dropped").compute(make_input("Appendicitis is possible here.")).fired is True
    # ... but a different type is a different disease, for grading and here alike.
    item = make_input("Type 2 diabetes explains the polyuria.", gold="Type 1 diabetes mellitus")
    assert get_signal("gold_dropped").compute(item).fired is False
    item = make_input("Non-Hodgkin lymphoma is the leading thought.", gold="Hodgkin lymphoma")
    assert get_signal("gold_dropped").compute(item).fired is False


def test_comparison_is_not_setting_aside():
    trace = "Gastroenteritis is less likely than appendicitis here."
    result = get_signal("gold_dropped").compute(make_input(trace))
    assert result.fired is True and result.details["set_aside_steps"] == []


def test_gold_ranked_below_a_diagnosis_the_trace_called_less_likely():
    trace = "Gastroenteritis is less likely given the focal tenderness.\n\nAppendicitis is the leading diagnosis."
    item = make_input(trace, correct=True, rank=2, diagnoses=["Gastroenteritis", "Acute appendicitis"])
    result = get_signal("ranked_below_dismissed").compute(item)
    assert result.fired is True and result.steps == [1]
    assert "#1" in result.evidence[0].why
    item = make_input(trace, correct=True, rank=1, diagnoses=["Acute appendicitis", "Gastroenteritis"])
    assert get_signal("ranked_below_dismissed").compute(item).fired is False

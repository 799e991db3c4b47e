"""The 'specific' tier (an answer that names the gold with more detail) and the broader-answer policy.
Examples written for these tests, not taken from the shipped sets."""

from __future__ import annotations

import pytest

from pipeline.accuracy import GoldNames, match_diagnoses
from pipeline.accuracy._match import Thresholds
from pipeline.accuracy._tiers import head, narrower


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("Familial dilated cardiomyopathy", "Dilated cardiomyopathy"),  # an added modifier
        ("Squamous cell carcinoma of the esophagus", "Esophageal squamous cell carcinoma"),  # organ adjective
        ("Type 2 diabetes mellitus", "Diabetes mellitus"),  # the gold says no type: a type is narrower
        ("Chronic plaque psoriasis vulgaris", "Psoriasis vulgaris"),
    ],
)
def test_narrower_answer_is_the_gold(answer, gold):
    res = match_diagnoses([answer], GoldNames.build(gold), terminology=False)
    assert res.correct is True and res.method in ("specific", "containment")


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("Heat stroke", "Stroke"),  # one-word gold: a modifier may name another condition
        ("Hepatitis C", "Hepatitis A"),  # the gold's letter is not the answer's
        ("Hepatitis B related hepatocellular carcinoma", "Hepatitis B"),  # another head noun
        ("Lupus-like syndrome", "Lupus syndrome"),  # "like" says it is not the disease
        ("Family history of celiac disease", "Celiac disease"),
        ("Non-small cell lung carcinoma", "Small cell lung carcinoma"),  # negation guard
        ("Right renal cell carcinoma", "Left renal cell carcinoma"),  # opposed guard
        # a compound gold's complication is not the gold
        ("Postoperative small bowel obstruction", "Sigmoid volvulus with ischemia and small bowel obstruction"),
    ],
)
def test_not_narrower(answer, gold):
    res = match_diagnoses([answer], GoldNames.build(gold), terminology=False)
    assert res.correct is not True


def test_head_noun():
    assert head("small cell carcinoma of the pancreas") == "carcinoma"
    assert head("migraine with aura") == "migraine"
    assert head("hepatitis b") == "hepatitis"
    assert head("2") is None
    assert narrower("acute tubular necrosis of the kidney", "renal tubular necrosis")


def test_broader_answer_pending_or_incorrect():
    gold = GoldNames.build("Tuberculous meningitis")
    pending = match_diagnoses(["Meningitis"], gold, terminology=False, similarity=None)
    strict = match_diagnoses(["Meningitis"], gold, terminology=False, thresholds=Thresholds(broader_incorrect=True))
    assert pending.correct is not True and strict.correct is False
    if pending.correct is None:  # a candidate by default, never once broader answers are incorrect
        assert any(dict(m.evidence).get("guard") == "broader" for m in pending.candidates)
    assert strict.candidates == ()


def test_compound_gold_head_in_a_more_specific_form():
    gold = GoldNames.build("Dilated cardiomyopathy with ventricular thrombus")
    res = match_diagnoses(["Familial dilated cardiomyopathy complicated by left ventricular thrombus"], gold)
    assert res.correct is True and res.method in ("containment", "specific")
    other = match_diagnoses(["Ventricular thrombus due to myocardial infarction"], gold, terminology=False)
    assert other.correct is not True  # only the complication stated


def test_words_gathered_across_joined_parts_are_not_one_disease():
    # "abdominal tuberculosis" and "intestinal perforation" hold the words of "intestinal tuberculosis"
    assert not narrower("abdominal tuberculosis with intestinal perforation", "intestinal tuberculosis")
    assert narrower("chronic migraine with aura", "migraine with aura")  # the gold's own joiner
    assert narrower("thyroid cyst or nodule", "thyroid nodule")  # coordination: "thyroid nodule" is offered


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("21-beta-hydroxylase deficiency", "21\u03b2-hydroxylase deficiency"),
        ("Alpha-1 antitrypsin deficiency", "\u03b11-antitrypsin deficiency"),
        ("Anti-TNF-\u03b1 induced lupus", "anti TNF alpha induced lupus"),
    ],
)
def test_greek_letters_spelled_out(answer, gold):
    assert match_diagnoses([answer], GoldNames.build(gold), terminology=False).correct is True

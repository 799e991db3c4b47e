"""The grading view settles uncertain grades with the accuracy module's pending_grades/record_clinician_grade."""

from __future__ import annotations

from sqlmodel import select

from annotator.views.grade import NONE, choice_label, grade_choices
from db.engine import session_scope
from db.models import Grade
from pipeline.accuracy import incorrect_response_ids, pending_grades
from pipeline.annotation import assign, create_annotator
from tests.annotator.conftest import sign_in
from tests.factories import add_sandmann_outputs, make_study
from tests.pipeline.annotation.conftest import PASSWORD


def _pending_world(engine, **settings) -> tuple[int, list[int]]:
    with session_scope(engine) as s:
        study = make_study(s, **settings)
        responses = add_sandmann_outputs(s, study, models=["DeepSeek-R1"])[:2]
        for r in responses:
            r.diagnoses = ["Viral pharyngitis", "Acute HIV infection", "Mononucleosis"]
            s.add(r)
            s.add(
                Grade(
                    response_id=r.id,
                    correct=None,
                    method="fuzzy",
                    status="pending",
                    grader="test",
                    details={
                        "diagnoses": r.diagnoses,
                        "candidates": [
                            {"rank": 2, "diagnosis": "Acute HIV infection", "method": "fuzzy", "score": 0.71}
                        ],
                    },
                )
            )
        ann1 = create_annotator(s, "ann1", PASSWORD, "annotator")
        ann1.can_grade = True  # grading is a right a lead gives (users grading ann1 on)
        assign(s, study.id, response_ids=[r.id for r in responses], annotator_ids=[ann1.id], per_item=1)
        return study.id, [r.id for r in responses]


def test_choices_are_plain_functions():
    dx = ["A", "B"]
    assert grade_choices(dx) == [1, 2, NONE]
    assert choice_label(dx, 2) == "2. B" and choice_label(dx, NONE).startswith("None of them")


def test_clinician_grades_uncertain_matches(engine, make_app):
    study_id, ids = _pending_world(engine)
    at = sign_in(make_app(engine, "grade"), "ann1")
    assert at.title[0].value == "Grading of uncertain matches"
    assert "2 grade(s) waiting" in at.caption[0].value
    page = "\n".join(str(t.value) for t in [*at.text, *at.caption, *at.markdown])
    assert "DeepSeek-R1" not in page  # blinded by default
    radio = at.radio[0]
    assert radio.options == [
        "1. Viral pharyngitis",
        "2. Acute HIV infection",
        "3. Mononucleosis",
        "None of them matches the gold diagnosis",
    ]
    radio.set_value(2).run()
    at.button(key="grade_save").click().run()
    assert "Recorded: 2. Acute HIV infection" in at.success[0].value
    radio = at.radio[0]
    radio.set_value(NONE).run()
    at.button(key="grade_save").click().run()
    with session_scope(engine) as s:
        grades = s.exec(select(Grade).where(Grade.status == "clinician").order_by(Grade.id)).all()
        assert [(g.response_id, g.correct, g.rank, g.grader) for g in grades] == [
            (ids[0], True, 2, "ann1"),
            (ids[1], False, None, "ann1"),
        ]
        assert pending_grades(s, study_id) == []
        assert incorrect_response_ids(s, study_id) == [ids[1]]
    assert "No uncertain grades are waiting." in [x.value for x in at.success]


def test_grading_keys_cover_every_field_and_are_shown(sqlite_engine, make_app):
    from annotator.views.grade import SHORTCUTS, grade_bindings

    keys = grade_bindings(7, 3)
    assert keys["1"] == "grade_choice_7#0" and keys["3"] == "grade_choice_7#2"
    assert keys["0"] == "grade_choice_7#3" and "4" not in keys  # 0 is "none of them", the last option
    assert {keys["n"], keys["ctrl+enter"], keys["s"], keys["g"]} == {
        "grade_note_7",
        "grade_save",
        "grade_skip",
        "grade_found",
    }
    assert len(grade_bindings(7, 12)) == 9 + 5  # keys 1-9 only; 10-12 by mouse or Tab
    _pending_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine, "grade"), "ann1")
    legend = next(c.value for c in at.caption if c.value.startswith("Keys: "))
    for key, what in SHORTCUTS:
        assert f"{key} {what}" in legend
    # every binding's target is a widget on the page
    rid = int(at.radio[0].key.rsplit("_", 1)[1])
    assert at.text_input(key=f"grade_note_{rid}") is not None
    assert {b.key for b in at.button} >= {"grade_save", "grade_skip"}

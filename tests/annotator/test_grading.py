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

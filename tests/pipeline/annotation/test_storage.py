"""Accounts, assignment, saving labels with the audit trail, queue and blinding, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Annotation, AnnotationEvent, Annotator, Assignment, CodebookVersion, Study
from pipeline.annotation import (
    AnnotationInput,
    annotation_history,
    annotator_queue,
    assign,
    authenticate,
    create_annotator,
    labels_from_annotation,
    load_item,
    next_response_id,
    progress,
    save_annotation,
    set_active,
    set_password,
    skip_item,
    studies_for,
    study_progress,
    update_study_settings,
)
from pipeline.errors import DxTraceError, InputError
from tests.pipeline.annotation.conftest import PASSWORD, build_world


def test_accounts_hash_and_sign_in(engine):
    with session_scope(engine) as s:
        person = create_annotator(s, "dr.ada", PASSWORD, "annotator", display_name="Ada L.")
        assert person.password_hash.startswith("$argon2id$") and PASSWORD not in person.password_hash
        other = create_annotator(s, "dr.bo", PASSWORD, "lead")
        assert other.password_hash != person.password_hash  # salted
    with session_scope(engine) as s:
        assert authenticate(s, "dr.ada", PASSWORD).display_name == "Ada L."
        assert authenticate(s, "dr.ada", "wrong password!") is None
        assert authenticate(s, "nobody", PASSWORD) is None
        assert authenticate(s, "", "") is None
        with pytest.raises(DxTraceError, match="already exists"):
            create_annotator(s, "dr.ada", PASSWORD, "annotator")
        with pytest.raises(DxTraceError, match="at least 10 characters"):
            create_annotator(s, "dr.cy", "short", "annotator")
        with pytest.raises(DxTraceError, match="role 'admin'"):
            create_annotator(s, "dr.cy", PASSWORD, "admin")
        with pytest.raises(DxTraceError, match="username 'a b'"):
            create_annotator(s, "a b", PASSWORD, "annotator")
    with session_scope(engine) as s:
        set_password(s, "dr.ada", "a new long passphrase")
        set_active(s, "dr.bo", False)
    with session_scope(engine) as s:
        assert authenticate(s, "dr.ada", PASSWORD) is None
        assert authenticate(s, "dr.ada", "a new long passphrase") is not None
        assert authenticate(s, "dr.bo", PASSWORD) is None  # deactivated


def test_assign_balanced_random_order_and_top_up(engine):
    w = build_world(engine, n_annotators=4)
    annotators = [w.people[f"ann{i}"] for i in range(1, 5)]
    with session_scope(engine) as s:
        report = assign(
            s, w.study_id, response_ids=w.incorrect, annotator_ids=annotators, per_item=2, extra_share=0.25, seed=7
        )
    assert len(w.incorrect) == 74
    assert report.n_items == 74 and report.n_extra_items == round(0.25 * 74)
    assert report.n_new == 74 * 2 + report.n_extra_items and report.n_kept == 0 and not report.short
    assert max(report.load.values()) - min(report.load.values()) <= 1
    with session_scope(engine) as s:
        rows = s.exec(select(Assignment).where(Assignment.study_id == w.study_id)).all()
        per_item = Counter(a.response_id for a in rows)
        assert sorted(set(per_item.values())) == [2, 3]
        assert sum(1 for n in per_item.values() if n == 3) == report.n_extra_items
        queues = [[q.response_id for q in annotator_queue(s, w.study_id, a)] for a in annotators[:2]]
        # random order per annotator: not the id order, and not the same order for two people
        assert queues[0] != sorted(queues[0])
        common = [r for r in queues[0] if r in set(queues[1])]
        assert common != [r for r in queues[1] if r in set(queues[0])]
        # again with one more annotator: pairs are kept, the newcomer gets only new work on new items
        newcomer = create_annotator(s, "ann5", PASSWORD, "annotator").id
        again = assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[*annotators, newcomer], per_item=3)
        assert again.added["ann5"] > 0 and again.n_kept == 74 * 2 + report.n_extra_items
        positions = [a.position for a in s.exec(select(Assignment).where(Assignment.annotator_id == annotators[0]))]
        assert len(positions) == len(set(positions))


def test_assign_rejects_bad_input_without_writing(engine):
    w = build_world(engine, n_annotators=2, limit=40)
    with session_scope(engine) as s:
        other = Study(name="other")
        s.add(other)
        s.flush()
    with session_scope(engine) as s:
        with pytest.raises(InputError) as err:
            assign(
                s,
                other.id,
                response_ids=w.incorrect[:3],
                annotator_ids=[w.people["ann1"], 9999],
                per_item=3,
            )
        msg = str(err.value)
        assert "assignment: annotators: no account with id 9999" in msg
        assert "3 id(s) are not responses of this study" in msg
        with pytest.raises(InputError, match="per_item: 3 annotators per item, but only 2"):
            assign(
                s, w.study_id, response_ids=w.incorrect, annotator_ids=[w.people["ann1"], w.people["ann2"]], per_item=3
            )
        with pytest.raises(InputError, match="no responses to assign"):
            assign(s, w.study_id, response_ids=[], annotator_ids=[w.people["ann1"]], per_item=1)
    with session_scope(engine) as s:
        assert s.exec(select(Assignment)).all() == []


def _one_assigned(engine, w, **kw) -> tuple[int, int]:
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect[:6], annotator_ids=[w.people["ann1"], w.people["ann2"]], **kw)
        rid = annotator_queue(s, w.study_id, w.people["ann1"])[0].response_id
    return rid, w.people["ann1"]


def test_save_edit_and_audit_trail(engine):
    w = build_world(engine, n_annotators=2, limit=60)
    rid, me = _one_assigned(engine, w)
    first = AnnotationInput(
        error_modes=["red_flag_failure"],
        evidence={"red_flag_failure": [2]},
        first_error_step=2,
        severity="major",
        confidence=4,
        rationale="Missed the <b>red flag</b>.",
    )
    with session_scope(engine) as s:
        ann = save_annotation(s, study_id=w.study_id, response_id=rid, annotator_id=me, labels=first)
        assert ann.suggestion_shown is False
    with session_scope(engine) as s:
        stored = s.get(Annotation, ann.id)
        assert stored.error_modes == ["red_flag_failure"] and stored.evidence == {"red_flag_failure": [2]}
        version = s.get(CodebookVersion, stored.codebook_version_id)
        assert version.version == "1" and s.get(Study, w.study_id).codebook_version_id == version.id
        assert progress(s, w.study_id, me).done == 1
        # return to it and change it: the change is kept with before and after
        changed = AnnotationInput(
            error_modes=["red_flag_failure", "priority_inversion"],
            evidence={"red_flag_failure": [2], "priority_inversion": [3, 4]},
            first_error_step=2,
            severity="critical",
            confidence=5,
            rationale="Missed the red flag and ranked it low.",
        )
        save_annotation(
            s, study_id=w.study_id, response_id=rid, annotator_id=me, labels=changed, suggestion={"modes": ["x"]}
        )
        # saving the same labels again is no change
        save_annotation(s, study_id=w.study_id, response_id=rid, annotator_id=me, labels=changed)
    with session_scope(engine) as s:
        events = annotation_history(s, ann.id)
        assert [e.action for e in events] == ["create", "update"]
        assert events[0].before is None and events[0].after["severity"] == "major"
        assert events[1].before["error_modes"] == ["red_flag_failure"]
        assert events[1].after["error_modes"] == ["red_flag_failure", "priority_inversion"]
        assert events[1].after["evidence"] == {"red_flag_failure": [2], "priority_inversion": [3, 4]}
        assert all(e.annotator_id == me and e.at is not None for e in events)
        stored = s.get(Annotation, ann.id)
        assert stored.suggestion_shown is True and stored.suggestion == {"modes": ["x"]}
        assert labels_from_annotation(stored).error_modes == ["red_flag_failure", "priority_inversion"]


def test_bad_labels_write_nothing(engine):
    w = build_world(engine, n_annotators=2, limit=60)
    rid, me = _one_assigned(engine, w)
    with session_scope(engine) as s:
        n_steps = len(load_item(s, w.study_id, rid, me).steps)
        with pytest.raises(InputError, match=f"is not a step of this trace \\(1-{n_steps}\\)"):
            save_annotation(
                s,
                study_id=w.study_id,
                response_id=rid,
                annotator_id=me,
                labels=AnnotationInput(["reasoning_drift"], first_error_step=n_steps + 1),
            )
        unassigned = next(r for r in w.all_ids if r not in w.incorrect[:6])
        with pytest.raises(DxTraceError, match="is not assigned to this annotator"):
            save_annotation(
                s, study_id=w.study_id, response_id=unassigned, annotator_id=me, labels=AnnotationInput(["no_error"])
            )
    with session_scope(engine) as s:
        assert s.exec(select(Annotation)).all() == [] and s.exec(select(AnnotationEvent)).all() == []
        set_active(s, "ann1", False)
    with session_scope(engine) as s, pytest.raises(DxTraceError, match="deactivated"):
        save_annotation(s, study_id=w.study_id, response_id=rid, annotator_id=me, labels=AnnotationInput(["no_error"]))


def test_queue_skip_flag_and_progress(engine):
    w = build_world(engine, n_annotators=2, limit=60)
    _one_assigned(engine, w)
    me = w.people["ann1"]
    with session_scope(engine) as s:
        queue = [q.response_id for q in annotator_queue(s, w.study_id, me)]
        assert len(queue) == 6 and next_response_id(s, w.study_id, me) == queue[0]
        skip_item(s, study_id=w.study_id, response_id=queue[0], annotator_id=me)
        assert next_response_id(s, w.study_id, me, after=queue[0]) == queue[1]
        save_annotation(
            s, study_id=w.study_id, response_id=queue[1], annotator_id=me, labels=AnnotationInput(flagged=True)
        )
        for rid in queue[2:]:
            save_annotation(
                s, study_id=w.study_id, response_id=rid, annotator_id=me, labels=AnnotationInput(["reasoning_drift"])
            )
        p = progress(s, w.study_id, me)
        assert (p.assigned, p.done, p.flagged, p.skipped, p.pending) == (6, 5, 1, 1, 0)
        assert p.label() == "5 of 6 done (1 flagged, 1 skipped)"
        # only the skipped one is left; then nothing
        assert next_response_id(s, w.study_id, me, after=queue[5]) == queue[0]
        save_annotation(
            s, study_id=w.study_id, response_id=queue[0], annotator_id=me, labels=AnnotationInput(["no_error"])
        )
        assert next_response_id(s, w.study_id, me, after=queue[0]) is None
        table = study_progress(s, w.study_id).set_index("annotator")
        assert table.loc["ann1", "done"] == 6 and table.loc["ann1", "flagged"] == 1
        assert table.loc["ann2", "pending"] == 6 and table.loc["ann1", "percent_done"] == 100.0


def test_blinding_hides_model_and_other_labels_until_the_lead_lifts_it(engine):
    w = build_world(engine, n_annotators=2, limit=60)
    _one_assigned(engine, w)
    a1, a2 = w.people["ann1"], w.people["ann2"]
    with session_scope(engine) as s:
        rid = annotator_queue(s, w.study_id, a1)[0].response_id
        save_annotation(
            s,
            study_id=w.study_id,
            response_id=rid,
            annotator_id=a2,
            labels=AnnotationInput(["priority_inversion"], rationale="ranked PE low"),
        )
        item = load_item(s, w.study_id, rid, a1)
        assert item.model_name is None and item.others == []
        assert item.gold_diagnosis and item.vignette and item.steps and item.position == 1
        update_study_settings(s, w.study_id, blind_models=False, blind_annotators=False)
        item = load_item(s, w.study_id, rid, a1)
        assert item.model_name == "DeepSeek-R1"
        assert [(o.username, o.error_modes, o.rationale) for o in item.others] == [
            ("ann2", ["priority_inversion"], "ranked PE low")
        ]


def test_studies_for_people(engine):
    w = build_world(engine, n_annotators=3, limit=60)
    _one_assigned(engine, w)
    with session_scope(engine) as s:
        s.add(Study(name="second"))
        s.flush()
        lead = s.get(Annotator, w.people["lead"])
        assert [st.name for st in studies_for(s, lead)] == ["second", "test-study"]
        # an annotator sees only the studies assigned to them
        assert [st.name for st in studies_for(s, s.get(Annotator, w.people["ann1"]))] == ["test-study"]
        assert [st.name for st in studies_for(s, s.get(Annotator, w.people["ann3"]))] == []


def test_assign_defaults_to_the_incorrect_responses(engine):
    w = build_world(engine, n_annotators=2)
    with session_scope(engine) as s:
        report = assign(s, w.study_id, annotator_ids=[w.people["ann1"], w.people["ann2"]], per_item=1)
        assigned = {a.response_id for a in s.exec(select(Assignment))}
    assert report.n_items == 74 and assigned == set(w.incorrect)
    assert report.load == {"ann1": 37, "ann2": 37}

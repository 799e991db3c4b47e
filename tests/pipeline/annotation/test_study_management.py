"""A lead manages the study mid-way: items move between annotators, a newcomer joins, accounts change,
the codebook gets a new version. Each change is previewed; labels are never dropped or rewritten."""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Annotation, Annotator, Assignment, CodebookVersion, Study
from pipeline.annotation import (
    AnnotationInput,
    ItemPick,
    ModeEdit,
    Newcomer,
    Reassign,
    annotator_queue,
    apply_newcomer,
    apply_reassign,
    assign,
    authenticate,
    create_account,
    create_annotator,
    issue_token,
    new_codebook_version,
    person_for_token,
    preview_codebook_switch,
    preview_newcomer,
    preview_reassign,
    reset_password,
    save_annotation,
    set_account_active,
    study_codebook,
    switch_codebook,
    update_study_settings,
)
from pipeline.errors import DxTraceError, InputError
from tests.pipeline.annotation.conftest import build_world, split_world


def _label(engine, w, who: str, rid: int, modes=("reasoning_drift",), flagged=False) -> None:
    with session_scope(engine) as s:
        save_annotation(
            s,
            study_id=w.study_id,
            response_id=rid,
            annotator_id=w.people[who],
            labels=AnnotationInput(error_modes=list(modes), flagged=flagged),
        )


def _queue(engine, w, who: str) -> list[int]:
    with session_scope(engine) as s:
        return [q.response_id for q in annotator_queue(s, w.study_id, w.people[who])]


def test_move_refuses_labelled_items_unless_kept_and_keeps_the_labels_with_their_author(engine):
    w = split_world(engine)
    labelled = _queue(engine, w, "ann1")[0]
    _label(engine, w, "ann1", labelled)
    move = Reassign(ItemPick(annotators=("ann1",)), to="ann3")
    with session_scope(engine) as s:
        plan = preview_reassign(s, w.study_id, move)
    assert len(plan.changes) == 36 and plan.annotations_kept == 0
    [refused] = plan.refused
    assert refused.response_id == labelled and "saved labels" in refused.reason and "keep annotations" in refused.reason
    assert {r["annotator"]: (r["assigned before"], r["assigned after"]) for r in plan.load_rows()} == {
        "ann1": (37, 1),
        "ann2": (37, 37),
        "ann3": (0, 36),
    }
    assert _queue(engine, w, "ann3") == []  # a preview writes nothing
    with session_scope(engine) as s:
        apply_reassign(s, w.study_id, move, expected=plan.fingerprint)
    assert _queue(engine, w, "ann1") == [labelled]
    assert sorted(_queue(engine, w, "ann3")) == sorted(c.response_id for c in plan.changes)

    keep = Reassign(ItemPick(annotators=("ann1",)), to="ann3", keep_annotations=True)
    with session_scope(engine) as s:
        plan = preview_reassign(s, w.study_id, keep)
        assert plan.annotations_kept == 1 and not plan.refused
        assert plan.item_rows()[0]["labels"] == "kept, still ann1's"
        apply_reassign(s, w.study_id, keep, expected=plan.fingerprint)
    assert _queue(engine, w, "ann1") == [] and labelled in _queue(engine, w, "ann3")
    with session_scope(engine) as s:
        [ann] = s.exec(select(Annotation).where(Annotation.response_id == labelled)).all()
        assert ann.annotator_id == w.people["ann1"]  # still the author's
        moved = s.exec(
            select(Assignment).where(Assignment.response_id == labelled, Assignment.annotator_id == w.people["ann3"])
        ).one()
        assert moved.status == "pending"  # the newcomer labels it afresh


def test_saving_an_item_the_lead_moved_away_says_so_and_writes_nothing(sqlite_engine):
    w = split_world(sqlite_engine)
    on_screen = _queue(sqlite_engine, w, "ann1")[0]
    move = Reassign(ItemPick(response_ids=(on_screen,)), to="ann3")
    with session_scope(sqlite_engine) as s:
        apply_reassign(s, w.study_id, move, expected=preview_reassign(s, w.study_id, move).fingerprint)
    with pytest.raises(DxTraceError, match="lead may have moved it") as err:
        _label(sqlite_engine, w, "ann1", on_screen)
    assert "nothing was saved" in str(err.value)
    with session_scope(sqlite_engine) as s:
        assert s.exec(select(Annotation).where(Annotation.response_id == on_screen)).all() == []


def test_unassign_by_case_and_model_and_a_moved_back_item_keeps_its_status(engine):
    w = split_world(engine)
    mine = _queue(engine, w, "ann2")
    with session_scope(engine) as s:
        from db.models import Case, Response

        key = s.exec(
            select(Case.case_key).join(Response, Response.case_id == Case.id).where(Response.id == mine[0])
        ).one()
        pick = ItemPick(case_keys=(key,))
        plan = preview_reassign(s, w.study_id, Reassign(pick))
        assert plan.action == "unassign" and [c.response_id for c in plan.changes] == [mine[0]]
        assert plan.changes[0].target is None
        apply_reassign(s, w.study_id, Reassign(pick), expected=plan.fingerprint)
    assert mine[0] not in _queue(engine, w, "ann2")
    with session_scope(engine) as s:
        model = s.exec(select(Assignment)).first()
        from db.models import Model, Response

        name = s.exec(
            select(Model.name).join(Response, Response.model_id == Model.id).where(Response.id == model.response_id)
        ).one()
        plan = preview_reassign(s, w.study_id, Reassign(ItemPick(models=(name,), annotators=("ann2",)), to="ann1"))
    assert len(plan.changes) == 36  # every remaining item of ann2 (one model in this study)

    # a flagged item moved away with its labels and back again is flagged in the queue again
    rid = _queue(engine, w, "ann1")[0]
    _label(engine, w, "ann1", rid, flagged=True)
    there = Reassign(ItemPick(response_ids=(rid,)), to="ann3", keep_annotations=True)
    back = Reassign(ItemPick(response_ids=(rid,)), to="ann1")
    with session_scope(engine) as s:
        apply_reassign(s, w.study_id, there)
    with session_scope(engine) as s:
        plan = apply_reassign(s, w.study_id, back)
        assert plan.after["ann1"].labelled == plan.before["ann1"].labelled + 1
        row = s.exec(
            select(Assignment).where(Assignment.response_id == rid, Assignment.annotator_id == w.people["ann1"])
        ).one()
        assert row.status == "flagged"


def test_apply_refuses_a_stale_preview_and_changes_nothing(engine):
    w = split_world(engine)
    move = Reassign(ItemPick(annotators=("ann1",)), to="ann2")
    with session_scope(engine) as s:
        plan = preview_reassign(s, w.study_id, move)
    _label(engine, w, "ann1", _queue(engine, w, "ann1")[3])  # the annotator saves meanwhile
    with pytest.raises(DxTraceError, match="changed since the preview"), session_scope(engine) as s:
        apply_reassign(s, w.study_id, move, expected=plan.fingerprint)
    assert len(_queue(engine, w, "ann1")) == 37 and len(_queue(engine, w, "ann2")) == 37


def test_bad_reassignments_name_the_field(sqlite_engine):
    w = split_world(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        s.get(Annotator, w.people["ann3"]).active = False
    cases = [
        (Reassign(ItemPick()), "items"),
        (Reassign(ItemPick(annotators=("nobody",)), to="ann2"), "from"),
        (Reassign(ItemPick(annotators=("ann3",)), to="ann2"), "from"),  # holds nothing
        (Reassign(ItemPick(annotators=("ann1",)), to="ann3"), "to"),  # deactivated
        (Reassign(ItemPick(annotators=("ann1",)), to="ann1"), "to"),
        (Reassign(ItemPick(response_ids=(999999,)), to="ann2"), "responses"),
    ]
    for request, fld in cases:
        with pytest.raises(InputError) as err, session_scope(sqlite_engine) as s:
            preview_reassign(s, w.study_id, request)
        assert err.value.problems[0].field == fld, (request, err.value)
    # every item of ann1 already with ann2 too: all refused, nothing to apply
    with session_scope(sqlite_engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[w.people["ann1"], w.people["ann2"]], per_item=2)
        plan = preview_reassign(s, w.study_id, Reassign(ItemPick(annotators=("ann1",)), to="ann2"))
        assert not plan.changes and {r.reason for r in plan.refused} == {"ann2 has this item already"}
    with pytest.raises(DxTraceError, match="nothing to change: 74 refused"), session_scope(sqlite_engine) as s:
        apply_reassign(s, w.study_id, Reassign(ItemPick(annotators=("ann1",)), to="ann2"))


def test_a_newcomer_takes_an_even_share_of_what_is_still_to_do(engine):
    w = split_world(engine)
    done = _queue(engine, w, "ann1")[:5]
    for rid in done:
        _label(engine, w, "ann1", rid)
    with session_scope(engine) as s:
        plan = preview_newcomer(s, w.study_id, Newcomer("ann3"))
    to_do = {r["annotator"]: r["to do after"] for r in plan.load_rows()}
    assert max(to_do.values()) - min(to_do.values()) <= 1 and sum(to_do.values()) == 74 - 5
    assert not {c.response_id for c in plan.changes} & set(done)  # labelled items never change hands
    assert all(c.target == "ann3" and c.source in ("ann1", "ann2") for c in plan.changes)
    with session_scope(engine) as s:
        apply_newcomer(s, w.study_id, Newcomer("ann3"), expected=plan.fingerprint)
    assert len(_queue(engine, w, "ann3")) == len(plan.changes) == to_do["ann3"]
    assert set(done) <= set(_queue(engine, w, "ann1"))
    # a fixed count
    with session_scope(engine) as s:
        create_annotator(s, "ann4", "correct horse battery", "annotator")
        plan = preview_newcomer(s, w.study_id, Newcomer("ann4", count=4))
    assert len(plan.changes) == 4


def test_a_newcomer_as_an_extra_rater_leaves_the_others_queues_alone(engine):
    w = split_world(engine)
    _label(engine, w, "ann2", _queue(engine, w, "ann2")[0])
    with session_scope(engine) as s:
        plan = preview_newcomer(s, w.study_id, Newcomer("ann3", mode="extra", share=0.2))
        assert len(plan.changes) == round(0.2 * 74) and all(c.source is None for c in plan.changes)
        assert plan.before["ann1"] == plan.after["ann1"] and plan.before["ann2"] == plan.after["ann2"]
        apply_newcomer(s, w.study_id, Newcomer("ann3", mode="extra", share=0.2), expected=plan.fingerprint)
    assert len(_queue(engine, w, "ann1")) == 37 and len(_queue(engine, w, "ann3")) == 15
    # the labelled item is among the first picked (agreement can be measured sooner)
    assert _queue(engine, w, "ann2")[0] in _queue(engine, w, "ann3")
    for bad, fld in [
        (Newcomer("ann3", mode="extra"), "count"),
        (Newcomer("ann3", mode="sideways"), "mode"),
        (Newcomer("ann3", count=0), "count"),
        (Newcomer("ann3", mode="extra", share=1.5), "share"),
        (Newcomer("nobody"), "annotator"),
    ]:
        with pytest.raises(InputError) as err, session_scope(engine) as s:
            preview_newcomer(s, w.study_id, bad)
        assert err.value.problems[0].field == fld


def test_accounts_made_reset_and_deactivated_by_a_lead(engine):
    w = build_world(engine, n_annotators=1)
    with session_scope(engine) as s:
        person, temporary = create_account(s, "dr.meyer", "annotator", display_name="Dr. Meyer")
        assert temporary and len(temporary) >= 10
        assert person.password_hash != temporary and temporary not in person.password_hash
    with session_scope(engine) as s:
        assert authenticate(s, "dr.meyer", temporary).username == "dr.meyer"
        token = issue_token(s, person.id)
        typed = reset_password(s, "dr.meyer", "a new long password")
        assert typed is None
    with session_scope(engine) as s:
        assert person_for_token(s, token) is None  # a reset signs the person out everywhere
        assert authenticate(s, "dr.meyer", "a new long password") is not None
        token = issue_token(s, person.id)
        set_account_active(s, w.people["lead"], "dr.meyer", False)
    with session_scope(engine) as s:
        assert person_for_token(s, token) is None and authenticate(s, "dr.meyer", "a new long password") is None
        set_account_active(s, w.people["lead"], "dr.meyer", True)
        assert authenticate(s, "dr.meyer", "a new long password") is not None
    for call, fld in [
        (lambda s: create_account(s, "x", "annotator"), "username"),
        (lambda s: create_account(s, "dr.meyer", "annotator"), "username"),
        (lambda s: create_account(s, "newbie", "boss"), "role"),
        (lambda s: create_account(s, "newbie", "annotator", password="short"), "password"),
        (lambda s: reset_password(s, "dr.meyer", "dr.meyer"), "password"),
        (lambda s: set_account_active(s, w.people["lead"], "lead", False), "account"),  # oneself
    ]:
        with pytest.raises(InputError) as err, session_scope(engine) as s:
            call(s)
        assert err.value.problems[0].field == fld
    with session_scope(engine) as s:
        create_annotator(s, "lead2", "correct horse battery", "lead")
    with session_scope(engine) as s:
        set_account_active(s, w.people["lead"], "lead2", False)
        with pytest.raises(InputError, match="last active lead"):
            set_account_active(
                s, s.exec(select(Annotator.id).where(Annotator.username == "lead2")).one(), "lead", False
            )


def test_codebook_edits_make_a_new_version_and_never_change_a_used_one(engine):
    w = split_world(engine)
    rid = _queue(engine, w, "ann1")[0]
    _label(engine, w, "ann1", rid, modes=("red_flag_failure",))
    with session_scope(engine) as s:
        _, v1 = study_codebook(s, s.get(Study, w.study_id))
        v1_row = s.exec(select(CodebookVersion).where(CodebookVersion.version == "1")).one()
        v1_hash, v1_modes = v1_row.content_hash, list(v1_row.error_modes)
    edits = [ModeEdit(m.code, m.name, m.definition, m.example) for m in v1.error_modes]
    edits[0] = ModeEdit("reasoning_drift", "Drift from the case", "The reasoning leaves the case as presented.", "")
    edits.insert(3, ModeEdit("", "Premature closure", "Stops at the first fitting diagnosis.", "Stops at step 2."))
    with session_scope(engine) as s:
        row = new_codebook_version(s, w.study_id, edits)
        assert row.version == "2"
        assert [m["code"] for m in row.error_modes][3] == "premature_closure"
    with session_scope(engine) as s:
        again = s.exec(select(CodebookVersion).where(CodebookVersion.version == "1")).one()
        assert (again.content_hash, again.error_modes) == (v1_hash, v1_modes)  # never changed in place
        preview = preview_codebook_switch(s, w.study_id, "2")
        text = "\n".join(preview.lines())
        assert "1 existing annotation(s) keep the version they were made under (1 under version 1)" in text
        assert "new mode: premature_closure" in text and "Reasoning drift → Drift from the case" in text
        assert not preview.blocked
        switch_codebook(s, w.study_id, "2")
        assert study_codebook(s, s.get(Study, w.study_id))[1].version == "2"
        assert s.exec(select(Annotation)).one().codebook_version_id == v1_row.id  # the label keeps its version

    bad = [
        ([*edits[:1], ModeEdit("", "drift from the CASE", "x")], "mode 2 name"),  # duplicate name (any case)
        ([ModeEdit("reasoning_drift", " ", "x")], "mode 1 name"),
        ([ModeEdit("reasoning_drift", "A", "")], "mode 1 (A) definition"),
    ]
    for modes, fld in bad:
        with pytest.raises(InputError) as err, session_scope(engine) as s:
            new_codebook_version(s, w.study_id, modes)
        assert fld in {p.field for p in err.value.problems}, err.value
    # removing a mode the study's labels use, or one the app relies on, is refused
    without = [e for e in edits if e.code not in ("red_flag_failure", "no_error")]
    with pytest.raises(InputError) as err, session_scope(engine) as s:
        new_codebook_version(s, w.study_id, without)
    messages = str(err.value)
    assert "1 label(s) of this study use it" in messages and "the app relies on it" in messages
    with pytest.raises(InputError, match="exists already"), session_scope(engine) as s:
        new_codebook_version(s, w.study_id, edits[:-1] + [edits[-1]], version="1")
    with pytest.raises(InputError, match="nothing changed from version 2"), session_scope(engine) as s:
        edits2 = [ModeEdit(m["code"], m["name"], m["definition"], m["example"]) for m in row.error_modes]
        new_codebook_version(s, w.study_id, edits2)

    # a version without a mode that labels use: the switch is refused, also from the settings
    unused = [e for e in edits2 if e.code != "priority_inversion"]
    with session_scope(engine) as s:
        v3 = new_codebook_version(s, w.study_id, unused).version
    _label(engine, w, "ann1", _queue(engine, w, "ann1")[1], modes=("priority_inversion",))
    with session_scope(engine) as s:
        assert preview_codebook_switch(s, w.study_id, v3).blocked
    for call in (switch_codebook, lambda s, i, v: update_study_settings(s, i, codebook_version=v)):
        with pytest.raises(InputError, match="'priority_inversion', which version 3 lacks"), session_scope(engine) as s:
            call(s, w.study_id, v3)


def test_rows_picked_in_the_table_move_exactly_those_items(sqlite_engine):
    w = build_world(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[w.people["ann1"], w.people["ann2"]], per_item=2)
    a, b = w.incorrect[:2]
    # (a, ann1) and (b, ann2): not the cross product, which would also take (a, ann2) and (b, ann1)
    pick = ItemPick(pairs=((a, "ann1"), (b, "ann2")))
    with session_scope(sqlite_engine) as s:
        plan = apply_reassign(s, w.study_id, Reassign(pick, to="ann3"))
    assert sorted((c.response_id, c.source) for c in plan.changes) == [(a, "ann1"), (b, "ann2")]
    assert sorted(_queue(sqlite_engine, w, "ann3")) == [a, b]
    assert b in _queue(sqlite_engine, w, "ann1") and a in _queue(sqlite_engine, w, "ann2")


def test_an_apply_during_an_annotators_save_waits_for_it_and_refuses(engine):
    """The annotator's save holds its assignment row; the lead's apply takes the same lock first, so it
    reads the plan again after the save commits, sees the new labels and changes nothing."""
    import threading

    w = split_world(engine)
    rid = _queue(engine, w, "ann1")[0]
    move = Reassign(ItemPick(annotators=("ann1",)), to="ann2")
    with session_scope(engine) as s:
        fingerprint = preview_reassign(s, w.study_id, move).fingerprint
    saving, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def annotator() -> None:
        with session_scope(engine) as s:
            save_annotation(
                s,
                study_id=w.study_id,
                response_id=rid,
                annotator_id=w.people["ann1"],
                labels=AnnotationInput(error_modes=["reasoning_drift"]),
            )
            saving.set()
            release.wait(timeout=60)  # commit only once the lead's apply has started

    def lead() -> None:
        try:
            with session_scope(engine) as s:
                apply_reassign(s, w.study_id, move, expected=fingerprint)
            outcome["applied"] = True
        except DxTraceError as exc:
            outcome["error"] = str(exc)

    first = threading.Thread(target=annotator)
    first.start()
    assert saving.wait(timeout=120)
    second = threading.Thread(target=lead)
    second.start()
    release.set()
    first.join(timeout=120)
    second.join(timeout=120)
    assert "changed since the preview" in str(outcome.get("error")), outcome
    assert len(_queue(engine, w, "ann1")) == 37 and rid in _queue(engine, w, "ann1")

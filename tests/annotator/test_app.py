"""The app as clinicians and leads use it, under Streamlit's AppTest."""

from __future__ import annotations

import pytest
from sqlmodel import select

from annotator import registry
from db.engine import session_scope
from db.models import AnnotationEvent, Annotator, Assignment, Model, Response, Study
from pipeline.annotation import AnnotationInput, create_annotator, save_annotation, split_steps
from tests.annotator.conftest import annotations_of, assigned_world, first_item, sign_in
from tests.pipeline.annotation.conftest import PASSWORD


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _texts(at) -> list[str]:
    kinds = ("text", "markdown", "caption", "subheader", "title", "header", "info", "success", "error", "warning")
    out = []
    for kind in kinds:
        out.extend(str(e.value) for e in getattr(at, kind))
    return out


def test_every_page_needs_sign_in_and_there_is_no_default_account(sqlite_engine, make_app):
    at = make_app(sqlite_engine, "overview").run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert not at.checkbox and not at.dataframe  # nothing of any page before sign-in
    for user, password in (("admin", "admin"), ("lead", ""), ("", "")):
        at.text_input(key="sign_in_username").input(user)
        at.text_input(key="sign_in_password").input(password)
        at.button[0].click().run()
        assert "Unknown username or wrong password" in at.error[0].value
    with session_scope(sqlite_engine) as s:
        assert s.exec(select(Annotator)).all() == []


def test_sign_in_shows_the_first_item_and_progress(sqlite_engine, make_app):
    w = assigned_world(sqlite_engine)
    at = make_app(sqlite_engine)
    at.run()
    at.text_input(key="sign_in_username").input("ann1")
    at.text_input(key="sign_in_password").input("wrong password here")
    at.button[0].click().run()
    assert at.error and not at.checkbox
    at = sign_in(make_app(sqlite_engine), "ann1")
    assert any(p.proto.text == "0 of 74 done" for p in at.sidebar.get("progress"))
    assert "#### Item 1 of 74 · to do" in [m.value for m in at.markdown]
    rid = first_item(sqlite_engine, w)
    with session_scope(sqlite_engine) as s:
        response = s.get(Response, rid)
        n = len(split_steps(response.trace))
    assert f"Reasoning trace · {n} steps" in [h.value for h in at.subheader]
    shown = [t.value for t in at.text]
    assert split_steps(response.trace)[0] in shown  # steps are drawn as text
    # the sign-out button forgets the person
    at.sidebar.button(key="sign_out").click().run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_label_an_item_and_save(engine, make_app):
    w = assigned_world(engine)
    rid = first_item(engine, w)
    at = sign_in(make_app(engine), "ann1")
    at.checkbox(key="lbl_mode_red_flag_failure").check().run()
    at.text_input(key="lbl_evtext_red_flag_failure").input("2").run()
    at.button(key="mark_3").click().run()  # a click on the step marks it for the only ticked mode
    at.checkbox(key="lbl_mode_priority_inversion").check().run()
    at.number_input(key="lbl_first_step").set_value(2)
    at.radio(key="lbl_severity").set_value("major")
    at.radio(key="lbl_confidence").set_value(4)
    at.text_area(key="lbl_rationale").input("Dismissed the raised PTH as lab error.")
    at.button(key="save").click().run()
    assert not at.exception and not at.error
    [ann] = annotations_of(engine, "ann1")
    assert ann.response_id == rid and ann.study_id == w.study_id
    assert ann.error_modes == ["red_flag_failure", "priority_inversion"]
    assert ann.evidence == {"red_flag_failure": [2, 3]}
    assert (ann.first_error_step, ann.severity, ann.confidence) == (2, "major", 4)
    assert ann.rationale == "Dismissed the raised PTH as lab error." and ann.suggestion_shown is False
    assert ann.codebook_version_id is not None
    # the view moved on to the next item, with an empty form and progress updated
    assert "#### Item 2 of 74 · to do" in [m.value for m in at.markdown]
    assert at.checkbox(key="lbl_mode_red_flag_failure").value is False
    assert any(p.proto.text == "1 of 74 done" for p in at.sidebar.get("progress"))


def test_return_to_an_item_change_it_and_the_audit_trail_keeps_both(sqlite_engine, make_app):
    w = assigned_world(sqlite_engine)
    rid = first_item(sqlite_engine, w)
    at = sign_in(make_app(sqlite_engine), "ann1")
    at.checkbox(key="lbl_mode_reasoning_drift").check().run()
    at.button(key="save").click().run()
    at.selectbox(key="queue_pick").set_value(rid).run()
    assert "#### Item 1 of 74 · labelled" in [m.value for m in at.markdown]
    assert at.checkbox(key="lbl_mode_reasoning_drift").value is True  # the saved labels come back
    at.checkbox(key="lbl_mode_reasoning_drift").uncheck().run()
    at.checkbox(key="lbl_mode_no_error").check().run()
    at.radio(key="lbl_no_error_why").set_value("grade_stands").run()
    at.text_area(key="lbl_rationale").input("Synonym of the gold diagnosis.")
    at.button(key="save").click().run()
    assert not at.error
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.error_modes == ["no_error"]
    with session_scope(sqlite_engine) as s:
        events = s.exec(
            select(AnnotationEvent).where(AnnotationEvent.annotation_id == ann.id).order_by(AnnotationEvent.id)
        ).all()
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].before["error_modes"] == ["reasoning_drift"] and events[1].after["error_modes"] == ["no_error"]
    assert events[1].after["rationale"] == "Synonym of the gold diagnosis."
    assert {e.annotator_id for e in events} == {w.people["ann1"]}
    # the history of the item is on the page
    at.selectbox(key="queue_pick").set_value(rid).run()
    assert any("History of your labels (2 changes)" in e.label for e in at.expander)


def test_bad_labels_show_one_message_and_save_nothing(sqlite_engine, make_app):
    assigned_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine), "ann1")
    at.button(key="save").click().run()
    assert "choose at least one error mode" in at.error[0].value
    at.checkbox(key="lbl_mode_other").check().run()
    at.button(key="save").click().run()
    assert "describe the 'Other' error" in at.error[0].value
    assert annotations_of(sqlite_engine, "ann1") == []
    assert "#### Item 1 of 74 · to do" in [m.value for m in at.markdown]  # still on the same item
    at.text_input(key="lbl_other").input("dose miscalculated")
    at.button(key="save").click().run()
    assert not at.error and annotations_of(sqlite_engine, "ann1")[0].other_description == "dose miscalculated"


def test_skip_and_flag(sqlite_engine, make_app):
    w = assigned_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine), "ann1")
    at.button(key="skip").click().run()
    assert "#### Item 2 of 74 · to do" in [m.value for m in at.markdown]
    at.button(key="flag").click().run()  # flag without labels: the clinician is unsure
    with session_scope(sqlite_engine) as s:
        statuses = sorted(
            a.status for a in s.exec(select(Assignment).where(Assignment.annotator_id == w.people["ann1"]))
        )
    assert statuses.count("skipped") == 1 and statuses.count("flagged") == 1
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.flagged and ann.error_modes == []
    assert any(p.proto.text == "1 of 74 done (1 flagged, 1 skipped)" for p in at.sidebar.get("progress"))


def test_blinding_until_the_lead_lifts_it(sqlite_engine, make_app):
    w = assigned_world(sqlite_engine)
    rid = first_item(sqlite_engine, w, "ann1")
    with session_scope(sqlite_engine) as s:
        labels = AnnotationInput(["priority_inversion"], rationale="ann2 says inversion")
        save_annotation(s, study_id=w.study_id, response_id=rid, annotator_id=w.people["ann2"], labels=labels)
    at = sign_in(make_app(sqlite_engine), "ann1")
    page = "\n".join(_texts(at)) + "\n".join(e.label for e in at.expander)
    assert "DeepSeek-R1" not in page and "ann2 says inversion" not in page and "Other annotators" not in page
    # the lead lifts both blinds on the settings page
    lead = sign_in(make_app(sqlite_engine, "settings"), "lead")
    lead.toggle(key="set_blind_models").set_value(False)
    lead.toggle(key="set_blind_annotators").set_value(False)
    button(lead, "Save settings").click().run()
    assert "Settings saved." in [s.value for s in lead.success]
    with session_scope(sqlite_engine) as s:
        study = s.get(Study, w.study_id)
        assert not study.blind_models and not study.blind_annotators
    at.run()
    page = "\n".join(_texts(at))
    assert "model DeepSeek-R1" in page and "ann2 says inversion" in page


def test_hostile_trace_is_shown_as_inert_text(sqlite_engine, make_app):
    w = assigned_world(sqlite_engine)
    rid = first_item(sqlite_engine, w)
    hostile = [
        "<script>window.__pwned = 1; document.title = 'pwned'</script> The patient is stable.",
        '<img src=x onerror="window.__pwned = 2"> Consider anaemia.',
        "![track](http://198.51.100.7/pixel.png) and [click](javascript:alert(1)) then **bold** claims.",
    ]
    with session_scope(sqlite_engine) as s:
        r = s.get(Response, rid)
        r.trace = "\n\n".join(hostile)
        r.answer = "<script>alert('answer')</script>"
        r.diagnoses = ["<img src=x onerror=alert(1)>"]
        s.add(r)
    at = sign_in(make_app(sqlite_engine), "ann1")
    texts = [t.value for t in at.text]
    for step in hostile:
        assert step in texts  # shown character for character, as text elements
    assert "<script>alert('answer')</script>" in texts
    assert "1. <img src=x onerror=alert(1)>" in texts
    # no markdown, caption or html element carries any of it
    rich = [str(m.value) for m in [*at.markdown, *at.caption]] + [str(h.proto) for h in at.get("html")]
    assert not any("pwned" in r or "198.51.100.7" in r or "onerror" in r for r in rich)


def test_lead_assigns_from_the_app(sqlite_engine, make_app):
    w = assigned_world(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        create_annotator(s, "ann3", PASSWORD, "annotator")
    at = sign_in(make_app(sqlite_engine, "assignment"), "lead")
    assert at.title[0].value == "Assignment"
    at.radio(key="assign_choice").set_value("ids")
    ids = [r for r in w.all_ids if r not in w.incorrect][:10]
    at.text_area(key="assign_ids").input(", ".join(map(str, ids)))
    at.number_input(key="assign_per").set_value(3)
    button(at, "Assign").click().run()
    assert not at.error, at.error[0].value
    assert "10 item(s): 30 assignment(s) added" in at.success[0].value
    with session_scope(sqlite_engine) as s:
        rows = s.exec(select(Assignment).where(Assignment.response_id.in_(ids))).all()
    assert len(rows) == 30
    # bad input: one clear message, nothing written
    at.text_area(key="assign_ids").input("12, abc")
    button(at, "Assign").click().run()
    assert "not a response id or range: 'abc'" in at.error[0].value


def test_overview_for_leads_only(sqlite_engine, make_app):
    assigned_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine, "overview"), "lead")
    assert at.title[0].value.startswith("Study overview")
    table = at.dataframe[0].value
    assert set(table["annotator"]) == {"ann1", "ann2"} and set(table["assigned"]) == {74}
    # an annotator asking for a lead page gets the annotation page
    at = sign_in(make_app(sqlite_engine, "overview"), "ann1")
    assert not any(t.value.startswith("Study overview") for t in at.title)
    assert at.checkbox(key="lbl_mode_reasoning_drift") is not None


@pytest.fixture
def extra_view():
    """A page added by dropping a module with @view: it shows up for the right roles."""

    @registry.view("Plug-in page", slug="plugin-test", roles=registry.ROLES_LEAD, order=99)
    def render(ctx):
        import streamlit as st

        st.title(f"plug-in for study {ctx.study_id} as {ctx.username}")

    yield
    registry._VIEWS.pop("plugin-test", None)


def test_views_registered_elsewhere_plug_in(sqlite_engine, make_app, extra_view):
    w = assigned_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine, "plugin-test"), "lead")
    assert at.title[0].value == f"plug-in for study {w.study_id} as lead"
    assert "plugin-test" not in {v.slug for v in registry.views_for("annotator")}


def test_study_selector_for_leads_with_several_studies(sqlite_engine, make_app):
    w = assigned_world(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        other = Study(name="zz-second-study")
        s.add(other)
        s.flush()
        s.add(Model(study_id=other.id, name="m", backend="import"))
    at = sign_in(make_app(sqlite_engine, "overview"), "lead")
    box = at.sidebar.selectbox(key="dx_study_id")
    assert set(box.options) == {"test-study", "zz-second-study"}
    box.set_value(w.study_id).run()
    assert at.title[0].value == "Study overview · test-study"


@pytest.mark.parametrize("role,user", [("lead", "lead"), ("annotator", "ann1")])
def test_every_registered_page_opens_for_its_role(sqlite_engine, make_app, role, user):
    assigned_world(sqlite_engine)
    views = registry.views_for(role)
    assert {"annotate", "grade", "codebook"} <= {v.slug for v in views}
    if role == "annotator":
        assert not {"overview", "assignment", "settings"} & {v.slug for v in views}
    for v in views:
        at = sign_in(make_app(sqlite_engine, v.slug), user)
        assert not at.exception, (v.slug, at.exception)

"""The lead's study management in the app (AppTest): preview then apply, refusals, bad input, permissions."""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Annotation, Annotator, CodebookVersion, SessionToken, Study
from pipeline.annotation import (
    AnnotationInput,
    annotator_queue,
    assign,
    authenticate,
    issue_token,
    person_for_token,
    save_annotation,
    study_codebook,
)
from tests.annotator.conftest import sign_in
from tests.pipeline.annotation.conftest import build_world, split_world


def _queue(engine, w, who):
    with session_scope(engine) as s:
        return [q.response_id for q in annotator_queue(s, w.study_id, w.people[who])]


def _label(engine, w, who, rid, modes=("reasoning_drift",)):
    with session_scope(engine) as s:
        save_annotation(
            s,
            study_id=w.study_id,
            response_id=rid,
            annotator_id=w.people[who],
            labels=AnnotationInput(error_modes=list(modes)),
        )


def _texts(at) -> str:
    kinds = ("markdown", "caption", "info", "success", "error", "warning", "title", "subheader")
    # markup escapes undone: the page escapes data text (e.g. "premature\\_closure")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind)).replace("\\", "")


def _frame(at, column: str):
    """The first table on the page with this column (AppTest gives plain tables no key)."""
    return next(d.value for d in [*at.table, *at.dataframe] if column in d.value.columns)


def _load(at) -> dict[str, int]:
    table = _frame(at, "labelled")
    return dict(zip(table["annotator"], table["assigned"], strict=True))


def test_lead_moves_items_with_a_preview_and_a_labelled_one_is_refused(sqlite_engine, make_app):
    w = split_world(sqlite_engine)
    labelled = _queue(sqlite_engine, w, "ann1")[0]
    _label(sqlite_engine, w, "ann1", labelled)
    at = sign_in(make_app(sqlite_engine, "assignment"), "lead")
    assert _load(at) == {"ann1": 37, "ann2": 37}
    at.multiselect(key="mv_from").set_value(["ann1"]).run()
    at.selectbox(key="mv_to").set_value("ann3").run()
    at.button(key="mv_preview").click().run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "36 item(s) moved" in text and "1 refused" in text
    refused = _frame(at, "why")
    assert list(refused["response"]) == [labelled] and "saved labels" in refused["why"][0]
    preview = _frame(at, "assigned after")
    assert dict(zip(preview["annotator"], preview["assigned after"], strict=True)) == {
        "ann1": 1,
        "ann2": 37,
        "ann3": 36,
    }
    assert _queue(sqlite_engine, w, "ann3") == []  # the preview wrote nothing
    at.button(key="mv_apply").click().run()
    assert "Applied: 36 item(s) moved" in _texts(at)
    assert _load(at) == {"ann1": 1, "ann2": 37, "ann3": 36}  # the page shows the new counts
    assert _queue(sqlite_engine, w, "ann1") == [labelled]

    # with 'keep annotations' the labelled item moves too, and its labels stay ann1's
    at.checkbox(key="mv_keep").check().run()
    at.button(key="mv_preview").click().run()
    assert "1 annotation(s) kept under their author's name" in _texts(at)
    at.button(key="mv_apply").click().run()
    assert _load(at) == {"ann2": 37, "ann3": 37}
    with session_scope(sqlite_engine) as s:
        assert (
            s.exec(select(Annotation.annotator_id).where(Annotation.response_id == labelled)).one() == w.people["ann1"]
        )


def test_a_stale_preview_is_not_applied(sqlite_engine, make_app):
    w = split_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine, "assignment"), "lead")
    at.multiselect(key="mv_from").set_value(["ann2"]).run()
    at.radio(key="mv_action").set_value("unassign").run()
    at.button(key="mv_preview").click().run()
    assert "37 item(s) unassigned" in _texts(at)
    _label(sqlite_engine, w, "ann2", _queue(sqlite_engine, w, "ann2")[5])  # meanwhile, ann2 labels an item
    at.button(key="mv_apply").click().run()
    assert "changed since the preview" in at.error[0].value
    assert len(_queue(sqlite_engine, w, "ann2")) == 37
    # bad input names the field, next to the form
    at.text_input(key="mv_ids").input("12, abc").run()
    assert "response ids: not a response id or range: 'abc'" in at.error[0].value


def test_lead_adds_an_annotator_mid_study(sqlite_engine, make_app):
    w = split_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine, "assignment"), "lead")
    at.selectbox(key="nc_who").set_value("ann3").run()
    at.button(key="nc_preview").click().run()
    assert not at.exception, at.exception
    preview = _frame(at, "to do after")
    after = dict(zip(preview["annotator"], preview["to do after"], strict=True))
    assert sum(after.values()) == 74 and max(after.values()) - min(after.values()) <= 1 and after["ann3"] >= 24
    at.button(key="nc_apply").click().run()
    assert _load(at)["ann3"] == len(_queue(sqlite_engine, w, "ann3")) == after["ann3"]
    # an extra rater: the others keep their queues
    at.selectbox(key="nc_who").set_value("ann3").run()
    at.radio(key="nc_mode").set_value("extra").run()
    at.number_input(key="nc_share").set_value(0.1).run()
    before = _load(at)
    at.button(key="nc_preview").click().run()
    at.button(key="nc_apply").click().run()
    now = _load(at)
    assert now["ann1"] == before["ann1"] and now["ann3"] == before["ann3"] + round(0.1 * 74)


def test_lead_manages_accounts_and_errors_name_the_field(sqlite_engine, make_app):
    w = build_world(sqlite_engine, n_annotators=1)
    at = sign_in(make_app(sqlite_engine, "accounts"), "lead")
    assert at.title[0].value == "Accounts"
    # bad input: the message is by the button and names the field; nothing is made
    at.text_input(key="acc_new_username").input("x")
    at.button(key="FormSubmitter:acc_new-Create account").click().run()
    assert at.error[0].value.startswith("username:")
    at.text_input(key="acc_new_username").input("dr.meyer")
    at.text_input(key="acc_new_password").input("short")
    at.button(key="FormSubmitter:acc_new-Create account").click().run()
    assert at.error[0].value.startswith("password:") and "10 characters" in at.error[0].value
    with session_scope(sqlite_engine) as s:
        assert s.exec(select(Annotator).where(Annotator.username == "dr.meyer")).first() is None
    # an account with a temporary password, shown once
    at.text_input(key="acc_new_password").input("")
    at.button(key="FormSubmitter:acc_new-Create account").click().run()
    assert "Created annotator account dr.meyer" in at.success[0].value
    [temporary] = [c.value for c in at.code]
    with session_scope(sqlite_engine) as s:
        person = authenticate(s, "dr.meyer", temporary)
        assert person is not None and temporary not in person.password_hash
        token = issue_token(s, person.id)
    assert "dr.meyer" in list(_frame(at, "sign-in")["username"])
    at.run()
    assert not at.code  # not shown again

    # deactivate: the person's sessions end
    with session_scope(sqlite_engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect[:3], annotator_ids=[person.id], per_item=1)
    at.selectbox(key="acc_who").set_value("dr.meyer").run()
    at.button(key="acc_deactivate").click().run()
    assert "dr.meyer deactivated" in at.success[0].value
    with session_scope(sqlite_engine) as s:
        assert person_for_token(s, token) is None
    other = sign_in(make_app(sqlite_engine, "assignment"), "lead")
    assert _load(other)["dr.meyer (deactivated)"] == 3
    at.button(key="acc_activate").click().run()
    # a lockout after failed sign-ins is lifted here
    with session_scope(sqlite_engine) as s:
        for _ in range(5):
            authenticate(s, "dr.meyer", "wrong password!")
    at.run()
    assert "locked after failed sign-ins" in _texts(at)
    at.button(key="acc_unlock").click().run()
    assert "dr.meyer can sign in again" in at.success[0].value
    with session_scope(sqlite_engine) as s:
        assert authenticate(s, "dr.meyer", temporary) is not None
    # reset with a typed password; the lead cannot deactivate themself
    with session_scope(sqlite_engine) as s:
        token = issue_token(s, person.id)
    at.text_input(key="acc_reset_password").input("a brand new password")
    at.button(key="FormSubmitter:acc_reset-Reset password").click().run()
    assert "New password set for dr.meyer" in at.success[0].value and not at.code
    with session_scope(sqlite_engine) as s:
        assert person_for_token(s, token) is None
        assert authenticate(s, "dr.meyer", "a brand new password") is not None
        assert s.exec(select(SessionToken).where(SessionToken.revoked_at == None)).all()  # noqa: E711 - the lead's own
    at.selectbox(key="acc_who").set_value("lead").run()
    at.button(key="acc_deactivate").click().run()
    assert "account: you cannot deactivate your own account" in at.error[0].value
    assert w.people["lead"]


def test_lead_edits_the_codebook_as_a_new_version_and_switches_after_a_preview(sqlite_engine, make_app):
    w = split_world(sqlite_engine)
    _label(sqlite_engine, w, "ann1", _queue(sqlite_engine, w, "ann1")[0], modes=("red_flag_failure",))
    at = sign_in(make_app(sqlite_engine, "codebook"), "lead")
    assert at.title[0].value == "Codebook · version 1"
    save = "FormSubmitter:cb_edit-Save as a new version"
    # refusals: an empty name, a duplicate name, dropping a mode the labels use
    at.text_input(key="cb_1_name_reasoning_drift").input(" ")
    at.button(key=save).click().run()
    assert "mode 1 name: must not be empty" in at.error[0].value
    at.text_input(key="cb_1_name_reasoning_drift").input("DIAGNOSTIC priority INVERSION")
    at.checkbox(key="cb_1_drop_red_flag_failure").check()
    at.button(key=save).click().run()
    error = at.error[0].value
    assert "is already the name of mode 1" in error and "1 label(s) of this study use it" in error
    with session_scope(sqlite_engine) as s:
        assert [v.version for v in s.exec(select(CodebookVersion))] == ["1"]
    # a good edit: a new version; version 1 is untouched and the study keeps it until switched
    at.checkbox(key="cb_1_drop_red_flag_failure").uncheck()
    at.text_input(key="cb_1_name_reasoning_drift").input("Drift from the case")
    at.text_input(key="cb_1_new_name").input("Premature closure")
    at.text_area(key="cb_1_new_def").input("Stops at the first diagnosis that fits.")
    at.button(key=save).click().run()
    assert "Saved as version 2" in at.success[0].value
    at.button(key="cb_switch_preview_btn").click().run()
    text = _texts(at)
    assert "1 existing annotation(s) keep the version they were made under" in text
    assert "new mode: premature_closure" in text and "Reasoning drift → Drift from the case" in text
    with session_scope(sqlite_engine) as s:
        assert study_codebook(s, s.get(Study, w.study_id))[1].version == "1"
    at.button(key="cb_switch_apply").click().run()
    assert at.title[0].value == "Codebook · version 2"
    with session_scope(sqlite_engine) as s:
        _, book = study_codebook(s, s.get(Study, w.study_id))
        v1 = s.exec(select(CodebookVersion).where(CodebookVersion.version == "1")).one()
    assert book.name_of("reasoning_drift") == "Drift from the case" and "premature_closure" in book.codes
    assert v1.error_modes[0]["name"] == "Reasoning drift"


@pytest.mark.parametrize("slug", ["assignment", "accounts"])
def test_an_annotator_cannot_reach_the_leads_pages(sqlite_engine, make_app, slug):
    split_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine, slug), "ann1")
    assert not any(t.value in ("Assignment", "Accounts") for t in at.title)
    assert all(b.key not in ("mv_preview", "nc_preview", "acc_deactivate") for b in at.button)
    # the codebook is readable, but not editable
    at = sign_in(make_app(sqlite_engine, "codebook"), "ann1")
    assert at.title[0].value.startswith("Codebook")
    assert not [b for b in at.button if b.key and b.key.startswith("FormSubmitter:cb_edit")]
    assert not at.tabs


def test_after_a_switch_the_editor_suggests_the_next_version_and_settings_keep_it(sqlite_engine, make_app):
    w = split_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine, "codebook"), "lead")
    at.text_area(key="cb_1_ex_other").input("A dose is miscalculated tenfold.")
    at.button(key="FormSubmitter:cb_edit-Save as a new version").click().run()
    assert "Saved as version 2" in at.success[0].value
    assert at.text_input(key="cb_1_version_").value == "3"  # the next save would not collide
    at.button(key="cb_switch_preview_btn").click().run()
    assert "definition or example changed: other" in _texts(at)
    at.button(key="cb_switch_apply").click().run()
    at = sign_in(make_app(sqlite_engine, "settings"), "lead")
    box = at.selectbox(key="set_codebook")
    assert box.value == "2" and list(box.options) == ["1", "2"]
    at.button(key="FormSubmitter:settings_form-Save settings").click().run()  # saving keeps version 2
    assert at.success[0].value == "Settings saved."
    with session_scope(sqlite_engine) as s:
        assert study_codebook(s, s.get(Study, w.study_id))[1].version == "2"

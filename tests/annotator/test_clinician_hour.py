"""Issue 16 under AppTest: answer-only items, the assignment's default choice, why-wrong, flags, time."""

from __future__ import annotations

from sqlmodel import select

from db.engine import session_scope
from db.models import Assignment
from pipeline.annotation import assign
from tests.annotator.conftest import annotations_of, sign_in
from tests.pipeline.annotation.conftest import build_world
from tests.pipeline.annotation.test_selection import strip_traces


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_answer_only_item_asks_for_no_error_modes(sqlite_engine, make_app):
    w = build_world(sqlite_engine, n_annotators=1)
    strip_traces(sqlite_engine, w.incorrect[:3])
    with session_scope(sqlite_engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect[:3], annotator_ids=[w.people["ann1"]], per_item=1)
    at = sign_in(make_app(sqlite_engine), "ann1")
    assert "This response has no reasoning trace" in at.info[0].value
    assert not [c for c in at.checkbox if c.key and c.key.startswith("lbl_mode_")]
    assert not [b for b in at.button if b.key == "save"]
    at.text_area(key="ao_note").input("Answer names the gold in other words.")
    at.button(key="flag").click().run()
    assert not at.exception and not at.error
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.error_modes == [] and ann.flagged and ann.rationale == "Answer names the gold in other words."
    at.button(key="skip").click().run()
    with session_scope(sqlite_engine) as s:
        statuses = sorted(a.status for a in s.exec(select(Assignment)))
    assert statuses == ["flagged", "pending", "skipped"]


def test_assignment_page_leaves_out_answer_only_by_default(sqlite_engine, make_app):
    w = build_world(sqlite_engine, n_annotators=2)
    strip_traces(sqlite_engine, w.incorrect[:6])
    at = sign_in(make_app(sqlite_engine, "assignment"), "lead")
    button(at, "Assign").click().run()
    assert not at.error, at.error[0].value
    assert "68 item(s)" in at.success[0].value
    assert "6 left out: answer only, no reasoning trace to label" in at.info[0].value
    with session_scope(sqlite_engine) as s:
        assert {a.response_id for a in s.exec(select(Assignment))} == set(w.incorrect[6:])
    at.checkbox(key="assign_answer_only").check()
    button(at, "Assign").click().run()
    assert "74 item(s)" in at.success[0].value and not at.info
    with session_scope(sqlite_engine) as s:
        assert {a.response_id for a in s.exec(select(Assignment))} == set(w.incorrect)


def test_item_says_why_wrong_and_takes_actually_correct(sqlite_engine, make_app):
    from pipeline.accuracy import incorrect_response_ids
    from tests.annotator.conftest import first_item
    from tests.pipeline.annotation.test_regrade import add_auto_grade

    w = build_world(sqlite_engine, n_annotators=1)
    with session_scope(sqlite_engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect[:3], annotator_ids=[w.people["ann1"]], per_item=1)
    rid = first_item(sqlite_engine, w)
    add_auto_grade(sqlite_engine, rid)
    at = sign_in(make_app(sqlite_engine), "ann1")
    shown = [t.value for t in at.text]
    assert any("Closest candidate: #1 'Stable angina'" in t and "score 0.71" in t for t in shown)
    assert at.selectbox(key=f"ww_rank_{rid}").value == 1
    at.button(key="answer_correct").click().run()
    assert not at.exception and not at.error
    with session_scope(sqlite_engine) as s:
        assert rid not in incorrect_response_ids(s, w.study_id)
        assert rid not in {a.response_id for a in s.exec(select(Assignment))}
    assert "#### Item 1 of 2 · to do" in [m.value for m in at.markdown]


def test_evidence_marked_on_the_step_and_typed_exactly(sqlite_engine, make_app):
    from db.models import Response
    from pipeline.annotation import load_codebook, split_steps
    from tests.annotator.conftest import assigned_world, first_item

    w = assigned_world(sqlite_engine)
    rid = first_item(sqlite_engine, w)
    with session_scope(sqlite_engine) as s:
        n = len(split_steps(s.get(Response, rid).trace))
    assert n >= 8
    at = sign_in(make_app(sqlite_engine), "ann1")
    assert at.button(key="mark_2").disabled  # no mode ticked: nothing to mark for
    at.checkbox(key="lbl_mode_reasoning_drift").check().run()
    at.checkbox(key="lbl_mode_red_flag_failure").check().run()
    # two modes ticked: a click marks for the chosen one, shown on the step itself
    at.radio(key="lbl_mark_mode").set_value("red_flag_failure").run()
    at.button(key="mark_2").click().run()
    assert at.text_input(key="lbl_evtext_red_flag_failure").value == "2"
    assert at.button(key="mark_2").label.startswith("✓ ")
    at.text_input(key="lbl_evtext_reasoning_drift").input("8").run()  # exactly step 8, never 8 and 18
    at.button(key="first_8").click().run()
    assert at.number_input(key="lbl_first_step").value == 8
    heads = [m.value for m in at.markdown if str(m.value).startswith("**Step ")]
    cb = load_codebook()
    assert f"**Step 2** · {cb.name_of('red_flag_failure')}" in heads  # highlighted where it stands
    assert f"**Step 8** · {cb.name_of('reasoning_drift')} · first error" in heads
    at.text_input(key="lbl_evtext_reasoning_drift").input(f"8, {n + 1}").run()
    assert any(f"not a step of this trace (1-{n}): {n + 1}" in e.value for e in at.error)
    at.text_input(key="lbl_evtext_reasoning_drift").input("8").run()
    at.button(key="save").click().run()
    assert not at.exception and not at.error
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.evidence == {"reasoning_drift": [8], "red_flag_failure": [2]} and ann.first_error_step == 8


def test_lead_lands_on_the_overview_and_sees_flags_and_time(sqlite_engine, make_app):
    from tests.annotator.conftest import assigned_world, first_item

    w = assigned_world(sqlite_engine)
    rid = first_item(sqlite_engine, w)
    at = sign_in(make_app(sqlite_engine), "ann1")
    at.checkbox(key="lbl_mode_reasoning_drift").check().run()
    at.text_area(key="lbl_rationale").input("Not sure the codebook covers this.").run()
    at.button(key="flag").click().run()
    assert not at.exception and not at.error
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.response_id == rid and ann.flagged
    assert ann.opened_at is not None and ann.saved_at is not None and ann.active_seconds is not None
    lead = sign_in(make_app(sqlite_engine), "lead")  # no page asked for: a lead lands on the overview
    assert lead.title[0].value.startswith("Study overview")
    timing = next(d.value for d in lead.dataframe if "items timed" in d.value.columns)
    assert list(timing["annotator"]) == ["ann1"] and int(timing["items timed"].iloc[0]) == 1
    flags = sign_in(make_app(sqlite_engine, "flags"), "lead")
    assert flags.title[0].value == "Flagged items"
    table = flags.dataframe[0].value
    assert list(table["note"]) == ["Not sure the codebook covers this."]
    assert list(table["response"]) == [rid] and list(table["status"]) == ["open"]


def test_pair_page_shows_both_models_on_one_case(sqlite_engine, make_app):
    from tests.pipeline.annotation.test_pairs import build_pair

    p = build_pair(sqlite_engine)
    at = sign_in(make_app(sqlite_engine, "pair"), "lead")
    assert at.title[0].value == "Pair side by side"
    assert at.selectbox(key="pair_case_0").value == p["cases"][0]  # the discordant case first
    assert [h.value for h in at.subheader] == ["Reasoner-8B", "Base-8B"]
    shown = [t.value for t in at.text]
    assert "Then I weigh anaemia." in shown and "1. Anaemia" in shown
    assert any("Grade: wrong (exact)" in t and "Labels by ann1: Reasoning drift" in t for t in shown)
    assert any(t.startswith("Grade: correct (exact)") and "No labels yet." in t for t in shown)
    assert "No reasoning trace." in [c.value for c in at.caption]
    annotator = sign_in(make_app(sqlite_engine, "pair"), "ann1")  # leads only
    assert not annotator.title or annotator.title[0].value != "Pair side by side"


def test_task_instruction_until_dismissed(sqlite_engine, make_app):
    from tests.annotator.conftest import assigned_world

    assigned_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine), "ann1")
    shown = [m.value for m in at.markdown if str(m.value).startswith("**Your task**")]
    assert shown and "Judge its reasoning trace" in shown[0] and "Reasoning drift" in shown[0]
    at.button(key="dismiss_instruction").click().run()
    assert not [m for m in at.markdown if str(m.value).startswith("**Your task**")]
    at.checkbox(key="lbl_mode_reasoning_drift").check().run()
    at.button(key="save").click().run()
    assert "#### Item 2 of 74 · to do" in [m.value for m in at.markdown]
    assert not [m for m in at.markdown if str(m.value).startswith("**Your task**")]  # stays dismissed


def test_every_key_of_the_annotate_page_is_shown(sqlite_engine, make_app):
    from annotator.views.annotate import SHORTCUTS
    from tests.annotator.conftest import assigned_world

    assigned_world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine), "ann1")
    legend = next(c.value for c in at.caption if c.value.startswith("Keys: "))
    for key, what in SHORTCUTS:
        assert f"{key} {what}" in legend
    assert "M mark the step in view as evidence" in legend and "E mark the step in view as the first error" in legend

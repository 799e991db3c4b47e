"""Automatic signals in the annotation view (only when the lead turns suggestions on, recorded per
annotation) and on the lead's agreement page."""

from __future__ import annotations

from db.engine import session_scope
from db.models import ErrorSignal, Response
from pipeline.annotation import AnnotationInput, annotator_queue, assign, save_annotation, update_study_settings
from pipeline.annotation._steps import split_steps
from pipeline.signals import quote_ok
from pipeline.signals._registry import Evidence
from tests.annotator.conftest import annotations_of, sign_in
from tests.pipeline.annotation.conftest import build_world


def _world_with_a_signal(engine):
    w = build_world(engine, n_annotators=1, limit=30)
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[w.people["ann1"]], per_item=1)
        first = annotator_queue(s, w.study_id, w.people["ann1"])[0].response_id
        steps = split_steps(s.get(Response, first).trace)
        quote = steps[1].split(". ")[0]
        assert quote_ok(Evidence(2, "trace", quote, ""), s.get(Response, first).trace, "", steps)
        s.add(
            ErrorSignal(
                study_id=w.study_id, response_id=first, signal="gold_dropped", error_mode="priority_inversion",
                version="1", fired=True, steps=[2], evidence=[{"step": 2, "source": "trace", "quote": quote,
                "why": "names the gold diagnosis"}], summary="names the gold diagnosis in 1 step(s)", input_hash="t",
            )
        )  # fmt: skip
    return w, first


def _page(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_signals_hidden_when_suggestions_are_off_and_that_is_recorded(sqlite_engine, make_app):
    w, first = _world_with_a_signal(sqlite_engine)
    at = sign_in(make_app(sqlite_engine), "ann1")
    assert "Automatic signals" not in _page(at) and "◆" not in _page(at)
    at.checkbox(key="lbl_mode_reasoning_drift").check().run()
    at.button(key="save").click().run()
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.response_id == first and ann.signals_shown is False and ann.signals is None


def test_signals_shown_with_a_jump_when_suggestions_are_on_and_recorded(sqlite_engine, make_app):
    w, first = _world_with_a_signal(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        update_study_settings(s, w.study_id, show_suggestions=True)
    at = sign_in(make_app(sqlite_engine), "ann1")
    page = _page(at)
    assert "**Automatic signals** · evidence to weigh, not labels" in page
    assert "names the gold diagnosis in 1 step(s)" in page
    assert ":orange[◆ Gold diagnosis considered, then dropped]" in page and "**Step 2**" in page
    at.button(key="sig_jump_0_2").click().run()
    assert not at.exception
    at.checkbox(key="lbl_mode_priority_inversion").check().run()
    at.button(key="save").click().run()
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.signals_shown is True and ann.signals == {"gold_dropped": [2]}


def test_agreement_page_shows_signals_against_final_labels(sqlite_engine, make_app):
    w, first = _world_with_a_signal(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        save_annotation(s, study_id=w.study_id, response_id=first, annotator_id=w.people["ann1"],
                        labels=AnnotationInput(["priority_inversion"]))  # fmt: skip
    at = sign_in(make_app(sqlite_engine, "agreement"), "lead")
    assert not at.exception, at.exception
    assert "Automatic signals against the final labels" in [h.value for h in at.subheader]
    table = next(d.value for d in at.dataframe if "sensitivity" in d.value.columns)
    assert list(table["signal"]) == ["gold_dropped"]
    assert "not enough labels" in table.iloc[0]["sensitivity"]

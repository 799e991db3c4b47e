"""Flags reach the lead and are never settled automatically; time per item is stored and summed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from db.engine import session_scope
from db.models import Annotation, AnnotationEvent, FinalLabel
from pipeline.agreement import disagreements, settle_final_labels
from pipeline.annotation import (
    IDLE_CAP_S,
    AnnotationInput,
    ItemClock,
    assign,
    flagged_items,
    save_annotation,
    time_per_annotator,
)
from tests.pipeline.annotation.conftest import build_world

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_clock_counts_gaps_between_actions_capped():
    clock = ItemClock.start(T0)
    clock = clock.tick(T0 + timedelta(seconds=30)).tick(T0 + timedelta(seconds=50))
    assert clock.active_seconds == 50
    idle = clock.tick(T0 + timedelta(hours=2))  # a tab left open counts the cap, not two hours
    assert idle.active_seconds == 50 + IDLE_CAP_S
    assert idle.tick(T0).active_seconds == idle.active_seconds  # a clock going back adds nothing
    assert idle.opened_at == T0


def _label(s, w, who, rid, *, flagged=False, modes=("reasoning_drift",), clock=None, note=None):
    return save_annotation(
        s,
        study_id=w.study_id,
        response_id=rid,
        annotator_id=w.people[who],
        labels=AnnotationInput(error_modes=list(modes), flagged=flagged, rationale=note),
        clock=clock,
    )


def test_a_flagged_item_reaches_the_lead_and_is_never_settled_automatically(engine):
    w = build_world(engine, n_annotators=2)
    a, b, c = w.incorrect[:3]
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=[a, b, c], annotator_ids=[w.people["ann1"], w.people["ann2"]])
        for rid in (a, b):  # both agree on both items
            _label(s, w, "ann1", rid)
        _label(s, w, "ann2", a)
        _label(s, w, "ann2", b, flagged=True, note="is this drift or a knowledge gap?")
        _label(s, w, "ann1", c, flagged=True, modes=(), note="trace cut off")
    with session_scope(engine) as s:
        summary = settle_final_labels(s, w.study_id)
        assert summary.by_response[a] == "unanimous" and summary.by_response[b] == "flagged"
        assert summary.flagged == 2 and "2 flagged for a lead" in summary.summary()
        finals = {f.response_id for f in s.exec(select(FinalLabel))}
        assert finals == {a}
        assert b in {d.response_id for d in disagreements(s, w.study_id)}  # waits for a lead
        items = flagged_items(s, w.study_id)
        assert {(i.response_id, i.annotator, i.note) for i in items} == {
            (b, "ann2", "is this drift or a knowledge gap?"),
            (c, "ann1", "trace cut off"),
        }
        assert all(i.open for i in items)


def test_time_is_stored_with_the_annotation_and_summed_per_annotator(engine):
    w = build_world(engine, n_annotators=1)
    rid, other = w.incorrect[:2]
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=[rid, other], annotator_ids=[w.people["ann1"]], per_item=1)
        first = ItemClock.start(T0).tick(T0 + timedelta(seconds=90))
        _label(s, w, "ann1", rid, clock=first)
        _label(s, w, "ann1", other)  # saved without a clock (e.g. by a script): no time recorded
    later = T0 + timedelta(days=1)
    with session_scope(engine) as s:  # a second visit adds its time and keeps the first opening
        _label(s, w, "ann1", rid, clock=ItemClock.start(later).tick(later + timedelta(seconds=30)))
    with session_scope(engine) as s:
        ann = s.exec(select(Annotation).where(Annotation.response_id == rid)).one()
        opened = ann.opened_at if ann.opened_at.tzinfo else ann.opened_at.replace(tzinfo=UTC)
        assert opened == T0 and ann.active_seconds == 120.0 and ann.saved_at is not None
        n_events = len(s.exec(select(AnnotationEvent).where(AnnotationEvent.annotation_id == ann.id)).all())
        assert n_events == 1  # time is not a change of the labels
        table = time_per_annotator(s, w.study_id)
    assert table.to_dict("records") == [
        {"annotator": "ann1", "items timed": 1, "median min per item": 2.0, "total active min": 2.0}
    ]

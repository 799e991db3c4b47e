"""A study of real DeepSeek-R1 traces (the 74 incorrect ones of the shipped 400), with accounts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Grade, Response
from pipeline.annotation import create_annotator
from tests.factories import add_medrbench_r1, make_study

PASSWORD = "correct horse battery"


@dataclass
class World:
    engine: object
    study_id: int
    incorrect: list[int]
    all_ids: list[int]
    people: dict[str, int]


def build_world(engine, *, n_annotators: int = 3, limit: int | None = None, **study_settings) -> World:
    with session_scope(engine) as s:
        study = make_study(s, **study_settings)
        responses = add_medrbench_r1(s, study, limit=limit)
        ids = [r.id for r in responses]
        incorrect = list(
            s.exec(
                select(Response.id)
                .join(Grade, Grade.response_id == Response.id)
                .where(Grade.correct == False, Grade.method != "imported")  # noqa: E712
                .order_by(Response.id)
            )
        )
        people = {}
        for i in range(n_annotators):
            people[f"ann{i + 1}"] = create_annotator(s, f"ann{i + 1}", PASSWORD, "annotator").id
        people["lead"] = create_annotator(s, "lead", PASSWORD, "lead").id
        return World(engine, study.id, incorrect, ids, people)


@pytest.fixture
def world(engine) -> World:
    return build_world(engine)


@pytest.fixture
def sqlite_world(sqlite_engine) -> World:
    return build_world(sqlite_engine)


def split_world(engine) -> World:
    """74 incorrect items, one annotator each: ann1 and ann2 hold 37 each; ann3 holds nothing yet."""
    from pipeline.annotation import assign

    w = build_world(engine)
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[w.people["ann1"], w.people["ann2"]], per_item=1)
    return w

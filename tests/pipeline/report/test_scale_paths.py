"""The report's paths for large studies (issue 15) give what the plain reads give: the effective grades read
once and handed to every table, responses read without their texts, grading settings aggregated in SQL, and
the cluster overview reading only the texts it shows."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Grade, Response
from pipeline.accuracy import effective_grades, study_accuracy, study_case_sets
from pipeline.report import build_report, render_markdown
from pipeline.report._build import _TRACE_HEAD, _light_responses, _Study
from pipeline.report._methods import methods_paragraphs
from tests.pipeline.export.study import build_labelled_study

# Blank and not blank, around the length of the head the SQL reads: the report must decide as str.strip() does.
TRACES = [
    None,
    "",
    "   \n\t ",
    " " * (_TRACE_HEAD + 50),  # blank, longer than the head: read whole
    "\u2003" * (_TRACE_HEAD + 10) + "x",  # blank head (Unicode space), text after it
    " " * (_TRACE_HEAD - 1) + "y",
    "Step 1: fever and neck stiffness.",
]


@pytest.fixture
def labelled(engine):
    with session_scope(engine) as s:
        study = build_labelled_study(s, n_r1=12)
        study_id = study.id
    return engine, study_id


def test_blank_traces_are_told_apart_as_strip_does(labelled):
    engine, study_id = labelled
    with session_scope(engine) as s:
        responses = list(s.exec(select(Response).order_by(Response.id)))
        for resp, trace in zip(responses, TRACES, strict=False):
            resp.trace = trace
        s.add_all(responses)
    with session_scope(engine) as s:
        light = _light_responses(s, study_id)
        full = {r.id: r for r in s.exec(select(Response))}
        assert set(light) == set(full)
        for rid, r in light.items():
            assert r.has_trace == bool(full[rid].trace and full[rid].trace.strip()), full[rid].trace
            assert (r.model_id, r.case_id) == (full[rid].model_id, full[rid].case_id)
        assert sum(1 for r in light.values() if not r.has_trace) >= 4


def test_grading_settings_read_in_sql_are_those_of_the_grades(labelled):
    engine, study_id = labelled
    with session_scope(engine) as s:
        from pipeline.annotation import get_study

        data = _Study(s, get_study(s, study_id))
        text = next(p for p in methods_paragraphs(data, conf_level=0.95, n_boot=10) if "counted as correct" in p)
        details = [g.details or {} for g in s.exec(select(Grade))]
        ks = sorted({g.k for g in s.exec(select(Grade))})
    th = next(d["thresholds"] for d in details if d.get("thresholds"))
    assert ks == [5] and "among its first 5 diagnoses" in text
    assert f"a fuzzy score of at least {th['fuzzy_confident']:g}" in text
    assert f"or {th['embedding_uncertain']:g} (cosine) waited for a clinician" in text
    # build_labelled_study grades without the embedding tier, as its grades' details record
    assert {d.get("embedding_tier") for d in details if "embedding_tier" in d} == {False}
    assert "the embedding tier was switched off" in text


def test_study_accuracy_on_a_given_frame_is_the_same(labelled):
    engine, study_id = labelled
    with session_scope(engine) as s:
        grades = effective_grades(s, study_id)
        before = grades.copy()
        for case_set in study_case_sets(s, study_id):
            for options in ({}, {"pairs": (), "subgroups": (), "pending": "incorrect"}):
                own = study_accuracy(s, study_id, case_set=case_set, correction="holm", **options)
                given = study_accuracy(s, study_id, case_set=case_set, correction="holm", grades=grades, **options)
                assert given.to_dict() == own.to_dict()
                assert own.models  # something was compared
    pd.testing.assert_frame_equal(grades, before)  # the frame handed in is not changed


def test_cluster_overview_reads_only_the_snippets_asked_for(clustered_study):
    from pipeline.cluster import cluster_overview, latest_clustering

    with session_scope(clustered_study) as s:
        study_id = latest_clustering_study(s)
        clustering = latest_clustering(s, study_id)
        full = cluster_overview(s, clustering.id)
        grades = effective_grades(s, study_id)
        correct = {
            int(r): (None if pd.isna(ok) else bool(ok))
            for r, ok in zip(grades["response_id"], grades["correct"], strict=True)
        }
        shown = full.clusters[0].typical[:2]
        light = cluster_overview(s, clustering.id, snippet_ids=shown, correct=correct)
    assert len(full.points) > 10 and full.points["snippet"].str.len().gt(0).all()
    rest = [c for c in full.points.columns if c != "snippet"]
    pd.testing.assert_frame_equal(light.points[rest], full.points[rest])
    snippets = dict(zip(light.points["response_id"], light.points["snippet"], strict=True))
    assert {r for r, text in snippets.items() if text} == set(shown)
    assert all(snippets[r] == full.points.set_index("response_id").loc[r, "snippet"] for r in shown)
    assert light.clusters == full.clusters


def latest_clustering_study(session) -> int:
    from db.models import Clustering

    return session.exec(select(Clustering.study_id)).first()


def test_report_markdown_is_the_same_on_every_database(labelled, tmp_path):
    """The SQL aggregates (text heads, JSON paths) give the same report on SQLite and PostgreSQL; the markdown
    is pinned against the values read through the ORM in the tests above and in test_consistency.py."""
    engine, study_id = labelled
    with session_scope(engine) as s:
        report = build_report(s, study_id, n_boot=20)
    text = render_markdown(report)
    assert "Flow of responses" in text and "Diagnostic accuracy" in text
    flow = report.section("flow")
    table = next(b for b in flow.blocks if getattr(b, "data", None) is not None)
    with session_scope(engine) as s:
        traced = {r.id for r in s.exec(select(Response)) if r.trace and r.trace.strip()}
        grades = effective_grades(s, study_id)
    wrong = grades[grades["correct"].eq(False).fillna(False).astype(bool)]
    expected = wrong.assign(t=wrong["response_id"].isin(traced)).groupby("model")["t"].sum()
    got = table.data.set_index("model")
    for model, n in expected.items():
        assert int(got.loc[model, "with_trace"]) == int(n)
    assert int(got.loc["All models", "with_trace"]) == int(expected.sum()) > 0


def test_grader_validation_looks_for_a_reference_first(labelled):
    from pipeline.accuracy import report_grade_check
    from pipeline.annotation import get_study
    from pipeline.report._accuracy import _has_reference, grader_validation

    engine, study_id = labelled
    with session_scope(engine) as s:
        data = _Study(s, get_study(s, study_id))
        # build_labelled_study has imported reference labels and clinicians' grades
        assert _has_reference(data) and report_grade_check(s, study_id) is not None
        assert grader_validation(data)
        for g in s.exec(select(Grade)):
            if g.status == "clinician" or g.method == "imported":
                s.delete(g)
        s.flush()
        assert not _has_reference(data)
        assert report_grade_check(s, study_id) is None and grader_validation(data) == []

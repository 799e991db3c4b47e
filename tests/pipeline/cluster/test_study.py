"""Clustering a study of real DeepSeek-R1 traces: stored clusters, map, keywords, neighbours, suggestions, queues."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Annotation, Assignment, ClusterAssignment, Clustering, FinalLabel, Grade, Response, Study
from pipeline.annotation import AnnotationInput, assign, create_annotator, ensure_codebook, save_annotation
from pipeline.cluster import (
    cluster_overview,
    cluster_study,
    embed_responses,
    evaluate_clustering,
    human_labels,
    latest_clustering,
    order_queue_by_cluster,
    order_queues_by_cluster,
    similar_responses,
    suggest_labels,
)
from pipeline.errors import DxTraceError
from tests.factories import add_medrbench_r1, make_study

pytestmark = pytest.mark.model


def test_a_clustering_is_stored_with_map_keywords_and_typical_traces(engine, st_model):
    with session_scope(engine) as s:
        study = make_study(s)
        ids = [r.id for r in add_medrbench_r1(s, study, limit=12)]
        study_id = study.id
    with session_scope(engine) as s:
        embed_responses(s, study_id, progress=False, model=st_model)
    with session_scope(engine) as s:
        c = cluster_study(s, study_id, method="kmeans", n_clusters=3)
        cid = c.id
    with session_scope(engine) as s:
        c = s.get(Clustering, cid)
        assert (c.method, c.n_clusters, c.field) == ("kmeans", 3, "trace")
        assert -1.0 <= c.silhouette <= 1.0
        rows = s.exec(select(ClusterAssignment).where(ClusterAssignment.clustering_id == cid)).all()
        assert sorted(r.response_id for r in rows) == sorted(ids)
        assert {r.cluster for r in rows} == {0, 1, 2}
        assert all(np.isfinite([r.x, r.y]).all() and 0.0 <= r.distance <= 1.0 for r in rows)
        clusters = c.summary["clusters"]
        assert set(clusters) == {"0", "1", "2"}
        assert sum(v["size"] for v in clusters.values()) == 12
        for key, info in clusters.items():
            members = {r.response_id for r in rows if r.cluster == int(key)}
            assert info["keywords"] and set(info["typical"]) <= members
            nearest = min((r for r in rows if r.cluster == int(key)), key=lambda r: r.distance)
            assert info["typical"][0] == nearest.response_id
        assert c.params["map"] == "tsne" and c.summary["n_missing"] == 0
        assert latest_clustering(s, study_id).id == cid


def test_overview_has_one_point_per_trace_with_model_correctness_and_label(embedded):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        c = cluster_study(s, study_id)  # k by silhouette
        ov = cluster_overview(s, c.id)
        graded = {g.response_id: g.correct for g in s.exec(select(Grade))}
    assert 2 <= c.n_clusters <= 12 and c.summary["silhouette_by_k"]
    assert c.silhouette == pytest.approx(max(c.summary["silhouette_by_k"].values()), abs=1e-4)
    pts = ov.points
    assert sorted(pts["response_id"]) == sorted(ids)
    assert set(pts["model"]) == {"DeepSeek-R1"} and pts["case_key"].str.startswith("PMC").all()
    assert (pts["correct"] == pts["response_id"].map(graded)).all()
    assert set(pts["correctness"]) <= {"correct", "incorrect"} and set(pts["human_label"]) == {"unlabeled"}
    assert sum(i.size for i in ov.clusters) == len(ids)
    for info in ov.clusters:
        members = pts[pts["cluster"] == info.cluster]
        assert info.correct_rate == pytest.approx(members["correct"].astype(bool).mean())
        assert len(info.keywords) == 10 and info.models == {"DeepSeek-R1": info.size}
    assert ov.evaluation is None  # nothing labeled yet
    # The clusters follow the clinical content: keywords of different clusters differ.
    all_kw = [tuple(i.keywords[:3]) for i in ov.clusters]
    assert len(set(all_kw)) == len(all_kw)


@pytest.mark.parametrize("method", ["agglomerative", "hdbscan"])
def test_other_methods(embedded, method):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        c = cluster_study(s, study_id, method=method, min_cluster_size=3, map_method="pca")
        rows = s.exec(select(ClusterAssignment).where(ClusterAssignment.clustering_id == c.id)).all()
    assert len(rows) == len(ids) and c.params["map"] == "pca"
    found = {r.cluster for r in rows} - {-1}
    assert len(found) == c.n_clusters
    assert c.summary["n_noise"] == sum(r.cluster == -1 for r in rows)
    assert all(r.distance is None for r in rows if r.cluster == -1)


def _copy_response(s, original_id: int, repeat: int) -> int:
    orig = s.get(Response, original_id)
    twin = Response(
        run_id=orig.run_id,
        case_id=orig.case_id,
        model_id=orig.model_id,
        repeat=repeat,
        trace=orig.trace.replace("Okay,", "OK,", 1),  # a rerun that came out nearly word for word the same
        answer=orig.answer,
    )
    s.add(twin)
    s.flush()
    return twin.id


def test_similar_traces_and_near_duplicates(embedded, st_model):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        twin = _copy_response(s, ids[0], repeat=1)
        summary = embed_responses(s, study_id, progress=False, model=st_model)
        assert summary.n_embedded == 1  # only the new response
        similar = similar_responses(s, study_id, ids[0], n=5)
        c = cluster_study(s, study_id)
        dup = dict(
            s.exec(
                select(ClusterAssignment.response_id, ClusterAssignment.near_duplicate_of).where(
                    ClusterAssignment.clustering_id == c.id
                )
            ).all()
        )
        after = similar_responses(s, study_id, ids[1], n=3)
    assert [r.response_id for r in similar][0] == twin
    assert similar[0].similarity > 0.98 and similar[0].same_case
    assert all(r.response_id != ids[0] for r in similar)
    sims = [r.similarity for r in similar]
    assert sims == sorted(sims, reverse=True) and len(similar) == 5
    assert all(not r.same_case for r in similar[1:])
    assert similar[0].snippet.startswith("OK,") and similar[0].model == "DeepSeek-R1"
    assert dup[twin] == ids[0] and c.summary["n_near_duplicates"] == 1
    assert all(v is None for k, v in dup.items() if k != twin)
    assert len(after) == 3 and all(r.cluster is not None for r in after)


def _people(s, study_id: int):
    study = s.get(Study, study_id)
    study.codebook_version_id = ensure_codebook(s).id
    a = create_annotator(s, "ann", "correct horse battery", "annotator")
    b = create_annotator(s, "bob", "correct horse battery", "annotator")
    lead = create_annotator(s, "lead", "correct horse battery", "lead")
    return a, b, lead


def test_suggestions_come_from_the_nearest_labeled_neighbours(embedded, st_model):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        twin = _copy_response(s, ids[0], repeat=1)
        embed_responses(s, study_id, progress=False, model=st_model)
        a, b, lead = _people(s, study_id)
        assert suggest_labels(s, study_id, ids[0]) is None  # nothing labeled yet
        # The near-copy gets a settled label; a far response an annotator's label.
        cb = s.get(Study, study_id).codebook_version_id
        s.add(FinalLabel(study_id=study_id, response_id=twin, error_modes=["red_flag_failure"], method="adjudicated"))
        far = similar_responses(s, study_id, ids[0], n=len(ids))[-1].response_id
        s.add(
            Annotation(
                study_id=study_id,
                response_id=far,
                annotator_id=b.id,
                codebook_version_id=cb,
                error_modes=["priority_inversion"],
            )
        )
        s.flush()
        suggestion = suggest_labels(s, study_id, ids[0], k=2)
        assert suggestion.neighbours[0] == twin and suggestion.error_modes == ("red_flag_failure",)
        assert suggestion.similarities[0] > suggestion.similarities[1]
        assert suggestion.scores["red_flag_failure"] > suggestion.scores["priority_inversion"]
        assert suggest_labels(s, study_id, ids[0], k=1).neighbours == (twin,)
        # A response without an embedding gets no suggestion rather than a wrong one.
        assert suggest_labels(s, study_id, 10_000) is None and similar_responses(s, study_id, 10_000) == []

        # What the annotation view does: record the suggestion it showed with the labels.
        assign(s, study_id, response_ids=[ids[0]], annotator_ids=[a.id], per_item=1)
        saved = save_annotation(
            s,
            study_id=study_id,
            response_id=ids[0],
            annotator_id=a.id,
            labels=AnnotationInput(error_modes=["red_flag_failure"]),
            suggestion=suggestion.to_dict(),
        )
        assert saved.suggestion_shown and saved.suggestion["error_modes"] == ["red_flag_failure"]
        assert saved.suggestion["neighbours"][0] == twin


def test_evaluation_against_human_labels_prefers_final_labels(embedded):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        a, b, _ = _people(s, study_id)
        cb = s.get(Study, study_id).codebook_version_id
        c = cluster_study(s, study_id, n_clusters=2)
        cluster_of = dict(
            s.exec(
                select(ClusterAssignment.response_id, ClusterAssignment.cluster).where(
                    ClusterAssignment.clustering_id == c.id
                )
            ).all()
        )
        mode = {0: ["reasoning_drift"], 1: ["priority_inversion"]}
        for i, rid in enumerate(ids):
            right = mode[cluster_of[rid]]
            if i % 2:
                s.add(FinalLabel(study_id=study_id, response_id=rid, error_modes=right, method="majority"))
                # An annotator disagreed, but the settled label wins.
                s.add(Annotation(study_id=study_id, response_id=rid, annotator_id=a.id, codebook_version_id=cb,
                                 error_modes=["other"]))  # fmt: skip
            else:
                for person in (a, b):
                    s.add(Annotation(study_id=study_id, response_id=rid, annotator_id=person.id,
                                     codebook_version_id=cb, error_modes=right))  # fmt: skip
        s.flush()
        labels = human_labels(s, study_id)
        ev = evaluate_clustering(s, c.id)
        ov = cluster_overview(s, c.id)
    assert labels[ids[1]] == tuple(mode[cluster_of[ids[1]]])
    assert ev.n_labeled == len(ids)
    assert ev.adjusted_rand == pytest.approx(1.0) and ev.nmi == pytest.approx(1.0) and ev.purity == pytest.approx(1.0)
    assert 0.5 < ev.suggestion_hit_rate <= 1.0 and ev.suggestion_n == len(ids)
    assert set(ov.points["human_label"]) == {"reasoning_drift", "priority_inversion"}
    assert ov.evaluation == ev


def test_human_labels_from_annotations_keep_modes_of_at_least_half(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        study = make_study(s)
        rid = add_medrbench_r1(s, study, limit=1)[0].id
        a, b, lead = _people(s, study.id)
        cb = s.get(Study, study.id).codebook_version_id
        for person, modes in (
            (a, ["reasoning_drift", "other"]),
            (b, ["reasoning_drift"]),
            (lead, ["priority_inversion"]),
        ):
            s.add(Annotation(study_id=study.id, response_id=rid, annotator_id=person.id, codebook_version_id=cb,
                             error_modes=modes))  # fmt: skip
        s.flush()
        assert human_labels(s, study.id) == {rid: ("reasoning_drift",)}


def test_queues_are_ordered_cluster_by_cluster(embedded):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        a, b, _ = _people(s, study_id)
        assign(s, study_id, response_ids=ids, annotator_ids=[a.id, b.id], per_item=2, seed=3)
        first = s.exec(select(Assignment).where(Assignment.annotator_id == a.id).order_by(Assignment.position)).first()
        first.status = "done"
        s.add(first)
        with pytest.raises(DxTraceError, match="no clustering yet"):
            order_queue_by_cluster(s, study_id, a.id)
        c = cluster_study(s, study_id, n_clusters=4)
        placed = {
            r.response_id: (r.cluster, r.distance)
            for r in s.exec(select(ClusterAssignment).where(ClusterAssignment.clustering_id == c.id))
        }
        counts = order_queues_by_cluster(s, study_id)
        queue = s.exec(select(Assignment).where(Assignment.annotator_id == a.id).order_by(Assignment.position)).all()
    assert counts == {a.id: len(ids) - 1, b.id: len(ids)}
    assert [q.position for q in queue] == list(range(len(ids)))
    assert queue[0].response_id == first.response_id  # finished work keeps its place
    pending = [placed[q.response_id] for q in queue[1:]]
    seen: list[int] = []
    for cl, _ in pending:
        if not seen or seen[-1] != cl:
            assert cl not in seen, "a cluster's traces must come together"
            seen.append(cl)
    sizes = [sum(1 for c_, _ in pending if c_ == cl) for cl in seen]
    assert sizes == sorted(sizes, reverse=True)
    for cl in seen:  # most typical first within a cluster
        d = [dist for c_, dist in pending if c_ == cl]
        assert d == sorted(d)


def test_clear_messages_for_what_cannot_be_done(sqlite_engine, embedded):
    with session_scope(sqlite_engine) as s:
        study = make_study(s)
        add_medrbench_r1(s, study, limit=3)
        with pytest.raises(DxTraceError, match="0 embedded trace.*python -m pipeline embed"):
            cluster_study(s, study.id)
        with pytest.raises(DxTraceError, match="no study 99"):
            cluster_study(s, 99)
        with pytest.raises(DxTraceError, match="no clustering with id 5"):
            cluster_overview(s, 5)
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        with pytest.raises(DxTraceError, match="number of clusters must be between 1 and 30"):
            cluster_study(s, study_id, n_clusters=31)
        with pytest.raises(DxTraceError, match="method must be one of"):
            cluster_study(s, study_id, method="spectral")
        with pytest.raises(DxTraceError, match="duplicate threshold"):
            cluster_study(s, study_id, duplicate_threshold=1.5)
    with session_scope(engine) as s:  # nothing half-written by the failures
        assert s.exec(select(Clustering)).all() == []


def test_nearest_reads_no_study_texts_and_never_uses_a_vector_of_a_changed_text(embedded, st_model):
    from pipeline.cluster import load_vectors
    from pipeline.cluster._neighbours import nearest

    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        rids, X, _ = load_vectors(s, study_id)
        q = int(np.flatnonzero(rids == ids[0])[0])
        sims = X @ X[q]
        sims[q] = -np.inf
        expected = [int(rids[i]) for i in np.argsort(-sims, kind="stable")[:3]]
        assert [r for r, _ in nearest(s, study_id, ids[0], 3)] == expected  # the same as reading every text
        # The nearest one's text changed and is not embedded again yet: it is left out, the others move up.
        changed = s.get(Response, expected[0])
        changed.trace += " A sentence added later."
        s.add(changed)
        s.flush()
        got = [r for r, _ in nearest(s, study_id, ids[0], 3)]
        assert expected[0] not in got and got[:2] == expected[1:]
        embed_responses(s, study_id, progress=False, model=st_model)  # a new vector: the cache is refreshed
        assert expected[0] in [r for r, _ in nearest(s, study_id, ids[0], 5)]
        own = s.get(Response, ids[0])
        own.trace += " Edited."
        s.add(own)
        s.flush()
        assert nearest(s, study_id, ids[0], 3) == []  # its own vector is of an older text

"""Large studies are clustered on a sample and the rest assigned (issue 15); small ones stay as they were.

The threshold is lowered by a parameter so the sampled path runs on a small study.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sqlmodel import select

from db.engine import session_scope
from db.models import ClusterAssignment
from pipeline.cluster import cluster_study
from pipeline.cluster._algorithms import (
    NOISE,
    SAMPLE_ABOVE,
    assign_nearest,
    fit_sampled,
    near_duplicates,
    near_duplicates_within,
)


def _blobs(sizes=(60, 45, 30), dim=32, spread=0.08, seed=1):
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(dim, len(sizes))))[0].T
    X = np.vstack([centres[c] + spread * rng.normal(size=(n, dim)) for c, n in enumerate(sizes)])
    y = np.repeat(np.arange(len(sizes)), sizes)
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_a_sample_finds_k_and_every_point_is_assigned_to_its_blob(method):
    X, y = _blobs()
    sample = np.sort(np.random.default_rng(0).choice(len(X), 40, replace=False))
    fit = fit_sampled(X, sample, method)
    assert fit.n_clusters == 3
    assert adjusted_rand_score(y, fit.labels) == pytest.approx(1.0)
    assert fit.params["sample"] == 40 and fit.params["assigned"] == len(X) - 40
    assert fit.silhouette is not None and fit.silhouette > 0.5


def test_a_fixed_k_on_a_sample():
    X, y = _blobs()
    fit = fit_sampled(X, np.arange(0, len(X), 3), "kmeans", n_clusters=3)
    assert adjusted_rand_score(y, fit.labels) == pytest.approx(1.0)


def test_assignment_keeps_the_sample_labels_and_its_noise():
    X, _ = _blobs()
    sample = np.array([0, 1, 60, 61, 105, 106])
    labels = np.array([0, 0, 1, NOISE, 2, 2])
    out = assign_nearest(X, sample, labels)
    assert out[sample].tolist() == labels.tolist()
    assert (out[np.setdiff1d(np.arange(len(X)), sample)] != NOISE).all()
    assert set(out[2:60].tolist()) == {0}


def test_near_duplicates_within_clusters_match_the_global_search_when_duplicates_share_a_cluster():
    X, y = _blobs()
    X = np.vstack([X, X[5], X[70]])  # two exact copies, each in its source's blob
    y = np.concatenate([y, [y[5], y[70]]])
    assert near_duplicates_within(X, y, 0.99).tolist() == near_duplicates(X, 0.99).tolist()


def test_cluster_study_below_the_threshold_is_unchanged(embedded):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        a = cluster_study(s, study_id, seed=0)
        b = cluster_study(s, study_id, seed=0, sample_above=len(ids))
        assert len(ids) <= SAMPLE_ABOVE
        assert "sample" not in a.params and "sample" not in b.params
        assert a.n_clusters == b.n_clusters and a.silhouette == b.silhouette
        assert a.summary["clusters"] == b.summary["clusters"]


def test_cluster_study_samples_above_the_threshold(embedded):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        c = cluster_study(s, study_id, seed=0, sample_above=12)
        assert c.params["sample"] == 12 and c.params["assigned"] == len(ids) - 12
        rows = s.exec(select(ClusterAssignment).where(ClusterAssignment.clustering_id == c.id)).all()
        assert sorted(r.response_id for r in rows) == sorted(ids)  # every trace gets a cluster
        assert {r.cluster for r in rows} <= set(range(c.n_clusters))
        assert sum(v["size"] for v in c.summary["clusters"].values()) == len(ids)
        assert all(v["keywords"] for v in c.summary["clusters"].values())
        again = cluster_study(s, study_id, seed=0, sample_above=12)
        assert again.summary["clusters"] == c.summary["clusters"]  # the same seed, the same sample


def test_a_sample_threshold_below_three_is_refused(embedded):
    from pipeline.errors import DxTraceError

    engine, study_id, _ = embedded
    with session_scope(engine) as s, pytest.raises(DxTraceError, match="sample_above"):
        cluster_study(s, study_id, sample_above=2)

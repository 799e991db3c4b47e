"""The pure clustering functions on vectors with a known structure (synthetic on purpose: the answer is known)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.cluster import (
    NOISE,
    class_tfidf_keywords,
    evaluate,
    fit_clusters,
    map_2d,
    near_duplicates,
    purity,
    typical_members,
    vote,
)


def _blobs(sizes=(20, 15, 10), dim=32, spread=0.08, seed=1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(dim, len(sizes))))[0].T  # orthogonal directions
    X, y = [], []
    for c, n in enumerate(sizes):
        X.append(centres[c] + spread * rng.normal(size=(n, dim)))
        y += [c] * n
    X = np.vstack(X)
    return X / np.linalg.norm(X, axis=1, keepdims=True), np.asarray(y)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(a, b) == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_k_is_chosen_by_silhouette(method):
    X, y = _blobs()
    fit = fit_clusters(X, method)
    assert fit.n_clusters == 3
    assert _same_partition(fit.labels, y)
    assert fit.silhouette == pytest.approx(max(fit.silhouette_by_k.values()))
    assert set(fit.silhouette_by_k) == set(range(2, 13))
    assert fit.params["chosen_by"] == "silhouette"


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_a_given_k_is_used(method):
    X, _ = _blobs()
    fit = fit_clusters(X, method, n_clusters=5)
    assert fit.n_clusters == 5 and len(set(fit.labels.tolist())) == 5
    assert fit.silhouette_by_k == {}


def test_hdbscan_finds_the_dense_groups_and_leaves_outliers_as_noise():
    X, y = _blobs(sizes=(30, 30, 30))
    rng = np.random.default_rng(7)
    outliers = rng.normal(size=(4, X.shape[1]))
    X = np.vstack([X, outliers / np.linalg.norm(outliers, axis=1, keepdims=True)])
    fit = fit_clusters(X, "hdbscan", min_cluster_size=8)
    assert fit.n_clusters == 3
    assert _same_partition(fit.labels[:90], y)
    assert (fit.labels[90:] == NOISE).all()
    assert fit.params["min_cluster_size"] == 8


def test_bad_arguments():
    X, _ = _blobs()
    with pytest.raises(ValueError, match="method"):
        fit_clusters(X, "spectral")
    with pytest.raises(ValueError, match="n_clusters"):
        fit_clusters(X, "kmeans", n_clusters=0)
    with pytest.raises(ValueError, match="at least 3"):
        fit_clusters(X[:2], "kmeans")
    with pytest.raises(ValueError, match="map"):
        map_2d(X, "umap")


@pytest.mark.parametrize("method", ["auto", "tsne", "pca"])
def test_the_map_keeps_clusters_apart(method):
    X, y = _blobs()
    coords, used = map_2d(X, method)
    assert coords.shape == (len(X), 2) and np.isfinite(coords).all()
    assert used == ("tsne" if method == "auto" else method)
    # Every point is nearer its own cluster's centre on the map than any other cluster's.
    centres = np.vstack([coords[y == c].mean(axis=0) for c in range(3)])
    nearest = np.argmin(((coords[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    assert (nearest == y).mean() > 0.95


def test_typical_members_are_nearest_the_centre():
    X, y = _blobs()
    dist, typical = typical_members(X, y, n=3)
    assert set(typical) == {0, 1, 2}
    for c, members in typical.items():
        assert len(members) == 3 and all(y[i] == c for i in members)
        own = np.flatnonzero(y == c)
        assert dist[members[0]] == pytest.approx(dist[own].min())
        assert list(dist[members]) == sorted(dist[members])


def test_near_duplicates_point_to_the_first_of_their_group():
    X, _ = _blobs(spread=0.3)
    X = np.vstack([X, X[3] + 1e-3, X[3] + 2e-3])
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    dup = near_duplicates(X, 0.99)
    n = len(X)
    assert dup[n - 1] == 3 and dup[n - 2] == 3 and dup[3] == -1
    assert (dup[: n - 2] == -1).all()


def test_class_tfidf_keywords_name_what_sets_a_cluster_apart():
    texts = (
        ["Troponin rise and ST elevation: myocardial infarction, call cardiology for the infarction."] * 4
        + ["Neck stiffness, fever and photophobia: meningitis until proven otherwise; lumbar puncture."] * 4
        + ["Okay, let me think. Wait, maybe the patient has a fever?"] * 2
    )
    labels = np.asarray([0] * 4 + [1] * 4 + [NOISE] * 2)
    kw = class_tfidf_keywords(texts, labels, n=5)
    assert set(kw) == {0, 1}
    assert "infarction" in kw[0] and "meningitis" in kw[1]
    assert not {"okay", "think", "wait", "patient"} & set(kw[0] + kw[1])
    assert not set(kw[0]) & set(kw[1])


def test_vote_weighs_neighbours_by_similarity():
    modes, scores = vote(
        np.array([0.9, 0.8, 0.2]),
        [("reasoning_drift",), ("reasoning_drift", "red_flag_failure"), ("priority_inversion",)],
    )
    assert modes == ("reasoning_drift",)
    assert list(scores)[0] == "reasoning_drift" and scores["reasoning_drift"] == pytest.approx(1.7 / 1.9)
    # No mode reaches half the weight: the best-supported one is offered alone.
    modes, _ = vote(np.array([0.5, 0.4, 0.3]), [("a",), ("b",), ("c",)])
    assert modes == ("a",)


def test_evaluation_against_labels():
    X, y = _blobs()
    names = {0: ("reasoning_drift",), 1: ("red_flag_failure",), 2: ("priority_inversion",)}
    labels = [names[int(c)] for c in y]
    labels[0] = None  # unlabeled responses are left out
    perfect = evaluate(X, y, labels)
    assert perfect.n_labeled == len(y) - 1
    assert perfect.adjusted_rand == pytest.approx(1.0) and perfect.nmi == pytest.approx(1.0)
    assert perfect.purity == pytest.approx(1.0)
    assert perfect.suggestion_hit_rate == pytest.approx(1.0) and perfect.suggestion_exact_rate == pytest.approx(1.0)
    one_cluster = evaluate(X, np.zeros(len(y), dtype=int), labels)
    assert one_cluster.adjusted_rand == pytest.approx(0.0)
    assert one_cluster.purity == pytest.approx(19 / 44)  # the largest label group, less the unlabeled one
    assert evaluate(X, y, [None] * len(y)) is None


def test_purity():
    assert purity(np.array([0, 0, 1, 1]), ["a", "a", "a", "b"]) == pytest.approx(0.75)

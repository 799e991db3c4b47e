"""The faster forms of the clustering steps (issue 15) give what the plain forms give."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from pipeline.cluster import _algorithms as alg
from pipeline.cluster._evaluate import _neighbours_of_labeled, nearest_labeled
from pipeline.threads import one_thread


def _groups(n_groups=12, per=30, dim=24, spread=0.25, seed=3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, dim))
    X = np.repeat(centres, per, axis=0) + spread * rng.normal(size=(n_groups * per, dim))
    return X / np.linalg.norm(X, axis=1, keepdims=True), np.repeat(np.arange(n_groups), per)


def _reference_duplicates(X: np.ndarray, threshold: float) -> np.ndarray:
    """The search as it was: sklearn's radius-neighbour graph, its components, the first of each."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import radius_neighbors_graph

    graph = radius_neighbors_graph(X, radius=1.0 - threshold, metric="cosine", include_self=False)
    _, comp = connected_components(graph, directed=False)
    out, first = np.full(len(X), -1), {}
    for i, c in enumerate(comp.tolist()):
        if c in first:
            out[i] = first[c]
        else:
            first[c] = i
    return out


@pytest.mark.parametrize("threshold", [0.99, 0.95, 0.9, 0.8])
def test_near_duplicates_by_blocks_match_the_radius_graph(threshold):
    X, _ = _groups(spread=0.12)
    got = alg.near_duplicates(X, threshold, block=97)  # blocks that do not divide the rows
    assert got.tolist() == _reference_duplicates(X, threshold).tolist()


def test_an_exact_copy_is_a_duplicate_even_at_threshold_one():
    X, _ = _groups(n_groups=3, per=5)
    X = np.vstack([X, X[4]])
    dup = alg.near_duplicates(X, 1.0)
    assert dup[-1] == 4 and (dup[:-1] == -1).all()


@pytest.mark.parametrize("n", [400, alg.SILHOUETTE_SAMPLE + 300])
def test_shared_silhouette_distances_give_sklearns_score(n):
    X, y = _groups(n_groups=8, per=n // 8 + 1)
    X, y = X[:n], y[:n]
    score = alg.silhouette_scorer(X, seed=2)
    sample = alg.SILHOUETTE_SAMPLE if n > alg.SILHOUETTE_SAMPLE else None
    for labels in (y, y % 3, (y + np.arange(n)) % 5):
        want = silhouette_score(X, labels, metric="cosine", sample_size=sample, random_state=2)
        assert score(labels) == pytest.approx(want, abs=1e-12)
    noisy = y.copy()
    noisy[::7] = alg.NOISE  # noise left out: another set of points
    keep = noisy != alg.NOISE
    s2 = alg.SILHOUETTE_SAMPLE if keep.sum() > alg.SILHOUETTE_SAMPLE else None
    want = silhouette_score(X[keep], noisy[keep], metric="cosine", sample_size=s2, random_state=2)
    assert score(noisy) == pytest.approx(want, abs=1e-12)
    assert score(np.zeros(n, dtype=np.int64)) is None


def _full_sort_neighbours(X: np.ndarray, labeled: np.ndarray, k: int, block: int):
    """The search as it was: every row of the block sorted whole (stable), itself left out."""
    XL = X[labeled]
    for start in range(0, len(labeled), block):
        rows = labeled[start : start + block]
        sims = XL[start : start + block] @ XL.T
        order = np.argsort(-sims, axis=1, kind="stable")
        for r, i in enumerate(rows.tolist()):
            pos = order[r][labeled[order[r]] != i][:k]
            yield i, labeled[pos], sims[r, pos]


@pytest.mark.parametrize("k", [1, 5, 400])
def test_neighbours_by_partition_are_those_of_the_full_sort(k):
    X, _ = _groups(n_groups=6, per=20)
    X = np.vstack([X, X[3], X[3], X[10]])  # exact ties: the earlier point comes first
    labeled = np.flatnonzero(np.arange(len(X)) % 4 != 1)
    got = list(_neighbours_of_labeled(X, labeled, k, block=16))
    want = list(_full_sort_neighbours(X, labeled, k, block=16))
    assert [i for i, _, _ in got] == labeled.tolist()
    for (i, idx, sims), (wi, widx, wsims) in zip(got, want, strict=True):
        assert i == wi and idx.tolist() == widx.tolist() and sims.tolist() == wsims.tolist()
        # and the single-query search finds the same similarities (ties may round either way there)
        np.testing.assert_allclose(sims, nearest_labeled(X, i, labeled, k)[1], atol=1e-12)


def test_a_single_labeled_point_has_no_neighbours():
    X, _ = _groups(n_groups=2, per=4)
    [(i, idx, sims)] = list(_neighbours_of_labeled(X, np.array([3]), 5))
    assert i == 3 and len(idx) == 0 and len(sims) == 0


def test_placing_by_neighbours_keeps_the_sample_and_puts_a_copy_on_its_original():
    X, _ = _groups(n_groups=4, per=10)
    sample = np.arange(0, 40, 2)
    coords = np.zeros((len(X), 2))
    coords[sample] = np.random.default_rng(1).normal(size=(len(sample), 2))
    X = np.vstack([X, X[6]])  # a copy of sample point 6
    coords = np.vstack([coords, [0.0, 0.0]])
    out = alg.place_by_neighbours(X, sample, coords, k=1)
    assert np.array_equal(out[sample], coords[sample])
    assert out[-1].tolist() == coords[6].tolist()
    # With k neighbours a point lands inside their hull: between the extremes of the sample.
    out5 = alg.place_by_neighbours(X, sample, coords, k=5)
    rest = np.setdiff1d(np.arange(len(X)), sample)
    assert (out5[rest] >= coords[sample].min(axis=0) - 1e-12).all()
    assert (out5[rest] <= coords[sample].max(axis=0) + 1e-12).all()


def test_maps_above_the_sample_size_come_from_a_sample(monkeypatch):
    from sklearn.decomposition import PCA

    monkeypatch.setattr(alg, "SAMPLE_ABOVE", 60)
    X, _ = _groups(n_groups=4, per=30)
    coords, used = alg.map_2d(X, "pca", seed=0)
    sample = np.sort(np.random.default_rng(0).choice(len(X), 60, replace=False))
    assert used == "pca"
    np.testing.assert_allclose(coords, PCA(n_components=2, random_state=0).fit(X[sample]).transform(X), atol=1e-9)
    coords, used = alg.map_2d(X, "tsne", seed=0)
    assert used == "tsne-sample" and coords.shape == (len(X), 2) and np.isfinite(coords).all()
    small, used = alg.map_2d(X[:50], "tsne", seed=0)  # at or below the sample size: t-SNE of every point
    assert used == "tsne" and small.shape == (50, 2)


def test_one_thread_limits_blas_and_openmp_inside_and_restores_them():
    from threadpoolctl import threadpool_info

    before = {d["filepath"]: d["num_threads"] for d in threadpool_info()}

    @one_thread("sklearn.cluster")
    def inside() -> dict:
        return {d["filepath"]: d["num_threads"] for d in threadpool_info()}

    seen = inside()
    assert seen and set(seen.values()) == {1}
    after = {d["filepath"]: d["num_threads"] for d in threadpool_info()}
    assert {p: after[p] for p in before} == before

"""Pure functions on unit vectors: clusters, the number of clusters, the 2-D map, keywords, typical members, duplicates."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pipeline.cluster._types import MAP_METHODS, METHODS
from pipeline.threads import one_thread as _one_thread

NOISE = -1
# Above this many points sklearn's t-SNE takes minutes on two cores (2-4 min for 10,000, see docs/benchmarks.md);
# "auto" then draws the PCA map, which is instant, and `--map tsne` still asks for t-SNE.
TSNE_MAX_POINTS = 3000
SILHOUETTE_SAMPLE = 3000
# Above this many traces the clusters are fitted on a random sample of this size and every other trace
# is assigned to its nearest cluster: k-means on 100,000 traces for each candidate k would take many
# minutes on two cores, and a sample of thousands already fixes the centres. Smaller studies are
# clustered whole, exactly as before.
SAMPLE_ABOVE = 5000
KEYWORD_SAMPLE = 2000  # texts read for the keywords of a sampled clustering (word counts settle long before)

# Filler of reasoning traces ("Okay, let's see... wait, maybe") that would otherwise top every cluster's keywords.
# fmt: off
TRACE_STOP_WORDS = frozenset([
    "okay", "ok", "let", "lets", "let's", "wait", "hmm", "maybe", "think", "thinking", "thought", "actually",
    "probably", "perhaps", "alternatively", "like", "likely", "also", "need", "needs", "check", "consider",
    "considering", "considered", "given", "say", "says", "said", "right", "sure", "yes", "just", "really", "mean",
    "means", "possible", "possibly", "points", "point", "another", "key", "option", "options", "answer", "answers",
    "question", "first", "second", "third", "next", "based", "make", "makes", "made", "could", "would", "should",
    "might", "must", "one", "two", "three", "case", "patient", "patients", "diagnosis", "diagnoses", "differential",
])
# fmt: on


# sklearn.cluster loads the OpenMP runtime and scipy's BLAS, so the limit reaches them.
one_thread = _one_thread("sklearn.cluster")


@dataclass(frozen=True)
class ClusterFit:
    labels: np.ndarray  # cluster per point; NOISE for HDBSCAN's outliers
    n_clusters: int
    silhouette: float | None
    silhouette_by_k: dict[int, float] = field(default_factory=dict)
    params: dict = field(default_factory=dict)


@one_thread
def silhouette(X: np.ndarray, labels: np.ndarray, seed: int = 0) -> float | None:
    """Mean cosine silhouette of the clustered points (noise left out); None when undefined."""
    return silhouette_scorer(X, seed)(labels)


def silhouette_scorer(X: np.ndarray, seed: int = 0) -> Callable[[np.ndarray], float | None]:
    """silhouette(X, labels, seed) as a function of labels, for scoring many clusterings of the same X.

    The cosine distances of the points scored (all, or the SILHOUETTE_SAMPLE that sklearn's
    silhouette_score draws with this seed: the same points for every labelling) are computed once,
    on the first labelling without noise, instead of once per candidate k. Same values."""
    from sklearn.metrics import silhouette_score
    from sklearn.metrics.pairwise import cosine_distances
    from sklearn.utils import check_random_state

    n = len(X)
    sample = SILHOUETTE_SAMPLE if n > SILHOUETTE_SAMPLE else None
    idx = check_random_state(seed).permutation(n)[:sample] if sample else np.arange(n)
    cache: list[np.ndarray] = []

    def score(labels: np.ndarray) -> float | None:
        keep = labels != NOISE
        lab = labels[keep]
        n_labels = len(np.unique(lab))
        if n_labels < 2 or n_labels >= len(lab):
            return None
        if not keep.all():  # noise left out: another set of points, no shared distances
            s = SILHOUETTE_SAMPLE if len(lab) > SILHOUETTE_SAMPLE else None
            return float(silhouette_score(X[keep], lab, metric="cosine", sample_size=s, random_state=seed))
        if not cache:
            cache.append(cosine_distances(X[idx]))
        return float(silhouette_score(cache[0], labels[idx], metric="precomputed"))

    return score


def _kmeans(X: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    # Several restarts guard small studies against a poor start; on thousands of traces one
    # k-means++ start is stable enough and choosing k (11 fits) stays well under a minute.
    return KMeans(n_clusters=k, n_init=4 if len(X) <= 2000 else 1, random_state=seed).fit_predict(X)


@one_thread
def fit_clusters(
    X: np.ndarray,
    method: str = "kmeans",
    n_clusters: int | None = None,
    *,
    k_min: int = 2,
    k_max: int = 12,
    min_cluster_size: int | None = None,
    seed: int = 0,
) -> ClusterFit:
    """Cluster unit vectors; k-means and agglomerative pick k by silhouette when n_clusters is None."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    n = len(X)
    if n < 3:
        raise ValueError(f"need at least 3 vectors to cluster, got {n}")
    if method == "hdbscan":
        return _hdbscan(X, min_cluster_size, seed)
    if n_clusters is not None and not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be between 1 and {n}, got {n_clusters}")

    if method == "kmeans":

        def cut(k: int) -> np.ndarray:
            return _kmeans(X, k, seed)
    else:
        # Ward on unit vectors; one tree serves every k, so choosing k costs one fit.
        from scipy.cluster.hierarchy import fcluster, ward

        tree = ward(X.astype(np.float64))

        def cut(k: int) -> np.ndarray:
            return fcluster(tree, t=k, criterion="maxclust").astype(np.int64) - 1

    params: dict = {"seed": seed}
    if n_clusters is not None:
        labels = cut(n_clusters)
        return ClusterFit(labels, int(len(np.unique(labels))), silhouette(X, labels, seed), {}, params)
    hi = min(k_max, n - 1)
    lo = min(max(2, k_min), hi)
    scores: dict[int, float] = {}
    fits: dict[int, np.ndarray] = {}
    score = silhouette_scorer(X, seed)
    for k in range(lo, hi + 1):
        labels = cut(k)
        s = score(labels)
        if s is not None:
            scores[k], fits[k] = s, labels
    if not scores:
        labels = np.zeros(n, dtype=np.int64)
        return ClusterFit(labels, 1, None, {}, {**params, "k_range": [lo, hi]})
    best = max(scores, key=lambda k: (scores[k], -k))  # ties: fewer clusters
    return ClusterFit(
        fits[best], best, scores[best], scores, {**params, "k_range": [lo, hi], "chosen_by": "silhouette"}
    )


def _minibatch(X: np.ndarray, k: int, seed: int):
    from sklearn.cluster import MiniBatchKMeans

    return MiniBatchKMeans(n_clusters=k, batch_size=2048, n_init=1, random_state=seed).fit(X)


def assign_nearest(X: np.ndarray, sample: np.ndarray, sample_labels: np.ndarray) -> np.ndarray:
    """Each point's cluster: the sample's own labels for sample points, else the nearest cluster centre (cosine)."""
    clusters = sorted(set(sample_labels.tolist()) - {NOISE})
    labels = np.full(len(X), NOISE, dtype=np.int64)
    if clusters:
        centres = np.vstack([X[sample[sample_labels == c]].mean(axis=0) for c in clusters])
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
        names = np.asarray(clusters, dtype=np.int64)
        for i in range(0, len(X), 20_000):  # blocks keep the similarity matrix small
            labels[i : i + 20_000] = names[np.argmax(X[i : i + 20_000] @ centres.T, axis=1)]
    labels[sample] = sample_labels
    return labels


@one_thread
def fit_sampled(
    X: np.ndarray,
    sample: np.ndarray,
    method: str = "kmeans",
    n_clusters: int | None = None,
    *,
    k_max: int = 12,
    min_cluster_size: int | None = None,
    seed: int = 0,
) -> ClusterFit:
    """Clusters fitted on X[sample] (MiniBatchKMeans for k-means; k and the silhouette from the sample),
    every other point assigned to the nearest cluster centre."""
    Xs = X[sample]
    extra = {"sample": len(sample), "assigned": len(X) - len(sample)}
    if method != "kmeans":
        fit = fit_clusters(Xs, method, n_clusters, k_max=k_max, min_cluster_size=min_cluster_size, seed=seed)
        labels = assign_nearest(X, sample, fit.labels)
        return ClusterFit(labels, fit.n_clusters, fit.silhouette, fit.silhouette_by_k, {**fit.params, **extra})
    if n_clusters is not None:
        model = _minibatch(Xs, n_clusters, seed)
        s = silhouette(Xs, model.labels_.astype(np.int64), seed)
        labels = model.predict(X).astype(np.int64)
        return ClusterFit(labels, int(len(np.unique(labels))), s, {}, {"seed": seed, **extra})
    hi = min(k_max, len(Xs) - 1)
    lo = min(2, hi)
    scores: dict[int, float] = {}
    models = {}
    score = silhouette_scorer(Xs, seed)
    for k in range(lo, hi + 1):
        model = _minibatch(Xs, k, seed)
        s = score(model.labels_.astype(np.int64))
        if s is not None:
            scores[k], models[k] = s, model
    if not scores:
        return ClusterFit(np.zeros(len(X), dtype=np.int64), 1, None, {}, {"seed": seed, **extra})
    best = max(scores, key=lambda k: (scores[k], -k))  # ties: fewer clusters
    labels = models[best].predict(X).astype(np.int64)
    params = {"seed": seed, "k_range": [lo, hi], "chosen_by": "silhouette", "fit": "minibatch-kmeans", **extra}
    return ClusterFit(labels, best, scores[best], scores, params)


def _reduce(X: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    d = min(dims, X.shape[0] - 1, X.shape[1])
    return X if d >= X.shape[1] else PCA(n_components=d, random_state=seed).fit_transform(X)


def _hdbscan(X: np.ndarray, min_cluster_size: int | None, seed: int) -> ClusterFit:
    from sklearn.cluster import HDBSCAN

    mcs = min_cluster_size or max(5, len(X) // 100)
    if mcs < 2:
        raise ValueError(f"min_cluster_size must be at least 2, got {mcs}")
    mcs = min(mcs, len(X))
    # Density in 384 dimensions is nearly flat; 50 principal components keep the structure and the speed.
    Z = _reduce(X, 50, seed)
    labels = HDBSCAN(min_cluster_size=mcs, copy=True).fit_predict(Z).astype(np.int64)
    n_found = int(len(set(labels.tolist()) - {NOISE}))
    return ClusterFit(
        labels, n_found, silhouette(X, labels, seed), {}, {"min_cluster_size": mcs, "pca_dims": Z.shape[1]}
    )


# OpenMP only: t-SNE's threads spin like k-means', but the PCA before it rounds with the BLAS thread
# count, and t-SNE magnifies that last bit into a different (equally valid) map: keep the maps as before.
@_one_thread("sklearn.cluster", user_api="openmp")
def map_2d(X: np.ndarray, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates for the map, and the method used (t-SNE, or PCA for very many points).

    Above SAMPLE_ABOVE points the map is made from a seeded random sample of that many: PCA's axes
    fitted on the sample, every point projected ("pca"); or t-SNE of the sample with every other point
    placed among its nearest sample points ("tsne-sample", see place_by_neighbours)."""
    if method not in MAP_METHODS:
        raise ValueError(f"map must be one of {', '.join(MAP_METHODS)}, got {method!r}")
    n = len(X)
    if method == "auto":
        method = "tsne" if 10 <= n <= TSNE_MAX_POINTS else "pca"
    if n < 3:
        return np.zeros((n, 2)), "pca"
    sample = np.sort(np.random.default_rng(seed).choice(n, SAMPLE_ABOVE, replace=False)) if n > SAMPLE_ABOVE else None
    if method == "pca":
        from sklearn.decomposition import PCA

        if sample is None:
            return PCA(n_components=2, random_state=seed).fit_transform(X), "pca"
        return PCA(n_components=2, random_state=seed).fit(X[sample]).transform(X), "pca"
    if sample is not None:
        coords = np.zeros((n, 2))
        coords[sample] = _tsne(X[sample], seed)
        return place_by_neighbours(X, sample, coords), "tsne-sample"
    return _tsne(X, seed), "tsne"


def _tsne(X: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    Z = _reduce(X, 50, seed)
    perplexity = float(min(30.0, max(2.0, (len(X) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine").fit_transform(Z)


def place_by_neighbours(X: np.ndarray, sample: np.ndarray, coords: np.ndarray, k: int = 5) -> np.ndarray:
    """coords with every point outside the sample put at the similarity-weighted mean of the map
    positions of its k most similar sample points (cosine); the sample's own positions are kept."""
    out = coords.astype(np.float64, copy=True)
    rest = np.setdiff1d(np.arange(len(X)), sample)
    if len(rest) == 0:
        return out
    S = X[sample].astype(np.float32)
    k = min(k, len(sample))
    for i in range(0, len(rest), 2048):
        part = rest[i : i + 2048]
        sims = X[part].astype(np.float32) @ S.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sims, top, axis=1), 1e-6, None).astype(np.float64)
        out[part] = np.einsum("ij,ijd->id", w / w.sum(axis=1, keepdims=True), coords[sample][top])
    return out


_TOKEN = r"(?u)\b[a-zA-Z][a-zA-Z\-]{2,}\b"


def class_tfidf_keywords(texts: list[str], labels: np.ndarray, n: int = 10) -> dict[int, list[str]]:
    """Class-based TF-IDF (as in BERTopic): terms frequent in one cluster and rare across the others."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    clusters = sorted(set(labels.tolist()) - {NOISE})
    if not clusters:
        return {}
    stop = sorted(ENGLISH_STOP_WORDS | TRACE_STOP_WORDS)
    min_df = 2 if len(texts) >= 20 else 1
    vec = CountVectorizer(
        stop_words=stop, token_pattern=_TOKEN, ngram_range=(1, 2), min_df=min_df, max_features=50_000, lowercase=True
    )
    try:
        counts = vec.fit_transform(texts)
    except ValueError:  # every text was stop words
        return {c: [] for c in clusters}
    from scipy.sparse import csr_matrix

    index = {c: i for i, c in enumerate(clusters)}
    rows = [i for i, lab in enumerate(labels.tolist()) if lab != NOISE]
    member = csr_matrix(
        (np.ones(len(rows)), ([index[int(labels[i])] for i in rows], rows)), shape=(len(clusters), len(texts))
    )
    per_class = np.asarray((member @ counts).todense(), dtype=np.float64)  # clusters x terms
    tf = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1.0)
    avg_words = per_class.sum() / len(clusters)
    idf = np.log1p(avg_words / np.maximum(per_class.sum(axis=0), 1.0))
    scores = tf * idf
    terms = vec.get_feature_names_out()
    out: dict[int, list[str]] = {}
    for c, i in index.items():
        top = np.argsort(-scores[i], kind="stable")
        words: list[str] = []
        for t in top:
            if scores[i, t] <= 0 or len(words) >= n:
                break
            term = terms[t]
            # A bigram adds nothing when both its words are already listed.
            if " " in term and all(w in words for w in term.split()):
                continue
            words.append(term)
        out[c] = words
    return out


@one_thread
def typical_members(X: np.ndarray, labels: np.ndarray, n: int = 5) -> tuple[np.ndarray, dict[int, list[int]]]:
    """Cosine distance of each point to its cluster's centre, and each cluster's n nearest points (indices)."""
    dist = np.full(len(X), np.nan)
    typical: dict[int, list[int]] = {}
    for c in sorted(set(labels.tolist()) - {NOISE}):
        idx = np.flatnonzero(labels == c)
        centre = X[idx].mean(axis=0)
        norm = np.linalg.norm(centre)
        centre = centre / norm if norm > 0 else centre
        d = 1.0 - X[idx] @ centre
        dist[idx] = d
        typical[c] = idx[np.argsort(d, kind="stable")[:n]].tolist()
    return dist, typical


# float32 products round at about 1e-7; pairs this close below the threshold still count, so an exact
# copy is found at threshold 1.0 too.
_DUPLICATE_TOLERANCE = 1e-6


@one_thread
def near_duplicates(X: np.ndarray, threshold: float = 0.95, block: int = 2048) -> np.ndarray:
    """For each point, the index of the first point of its near-duplicate group (cosine >= threshold), else -1.

    Groups are the connected components of the pairs at or above the threshold, found by blocks of
    the similarity matrix (upper triangle only, float32)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(X)
    out = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return out
    Y = np.asarray(X, dtype=np.float32)
    Y = Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-12)
    rows, cols = [], []
    for start in range(0, n, block):
        i, j = np.nonzero(Y[start : start + block] @ Y[start:].T >= threshold - _DUPLICATE_TOLERANCE)
        keep = j > i  # pairs within the block row appear twice, and every point matches itself
        rows.append(i[keep] + start)
        cols.append(j[keep] + start)
    r, c = np.concatenate(rows), np.concatenate(cols)
    if len(r) == 0:
        return out
    _, comp = connected_components(coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)), directed=False)
    first = np.unique(comp, return_index=True)[1][comp]  # components are numbered 0.. in order
    grouped = first != np.arange(n)
    out[grouped] = first[grouped]
    return out


@one_thread
def near_duplicates_within(X: np.ndarray, labels: np.ndarray, threshold: float = 0.95) -> np.ndarray:
    """near_duplicates searched inside each cluster only (near duplicates share a cluster): for large studies,
    where comparing every pair would take minutes."""
    out = np.full(len(X), -1, dtype=np.int64)
    for c in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == c)
        sub = near_duplicates(X[idx], threshold)
        hit = sub >= 0
        out[idx[hit]] = idx[sub[hit]]
    return out


def clean_snippet(text: str, n: int = 240) -> str:
    s = re.sub(r"\s+", " ", text).strip()
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"

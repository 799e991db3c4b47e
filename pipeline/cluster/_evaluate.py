"""Human labels, neighbour suggestions, and how well clusters and suggestions match the labels."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
from sqlmodel import Session, select

from db.models import Annotation, FinalLabel
from pipeline.cluster._algorithms import one_thread
from pipeline.cluster._types import ClusterEvaluation

Label = tuple[str, ...]  # sorted error-mode codes of one response


def human_labels(session: Session, study_id: int) -> dict[int, Label]:
    """The settled label of each response: its FinalLabel, else the modes at least half its annotators chose."""
    out: dict[int, Label] = {}
    for rid, modes in session.exec(
        select(FinalLabel.response_id, FinalLabel.error_modes).where(FinalLabel.study_id == study_id)
    ):
        if modes:
            out[rid] = tuple(sorted(set(modes)))
    votes: dict[int, list[list[str]]] = defaultdict(list)
    for rid, modes in session.exec(
        select(Annotation.response_id, Annotation.error_modes).where(Annotation.study_id == study_id)
    ):
        if rid not in out and modes:
            votes[rid].append(list(modes))
    for rid, sets in votes.items():
        counts = Counter(m for s in sets for m in set(s))
        chosen = tuple(sorted(m for m, c in counts.items() if 2 * c >= len(sets)))
        if chosen:
            out[rid] = chosen
    return out


def label_name(label: Label | None) -> str:
    return " + ".join(label) if label else "unlabeled"


def vote(similarities: np.ndarray, labels: list[Label], share: float = 0.5) -> tuple[Label, dict[str, float]]:
    """Similarity-weighted vote of neighbours' labels: modes carried by at least `share` of the weight.

    When no mode reaches the share, the single best-supported mode is offered.
    """
    w = np.clip(np.asarray(similarities, dtype=np.float64), 1e-6, None)
    total = w.sum()
    scores: dict[str, float] = defaultdict(float)
    for weight, label in zip(w, labels, strict=True):
        for mode in label:
            scores[mode] += weight / total
    if not scores:
        return (), {}
    ranked = dict(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))
    chosen = tuple(sorted(m for m, s in ranked.items() if s >= share - 1e-9)) or (next(iter(ranked)),)
    return chosen, ranked


def nearest_labeled(X: np.ndarray, query: int, labeled: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into X) and similarities of the k labeled points nearest to point `query`, itself excluded."""
    cand = labeled[labeled != query]
    if len(cand) == 0:
        return cand, np.zeros(0)
    sims = X[cand] @ X[query]
    top = np.argsort(-sims, kind="stable")[:k]
    return cand[top], sims[top]


def _neighbours_of_labeled(X: np.ndarray, labeled: np.ndarray, k: int, block: int = 512):
    """(i, nearest_labeled(X, i, labeled, k)...) for every labeled i, a block of rows at a time, without
    copying X[labeled] per query or sorting whole rows: a partition finds each row's k-th highest
    similarity and only the points at or above it (its ties included) are sorted, stably, so the
    neighbours and their order are those of a full stable sort of the row (ties: the earlier point)."""
    XL = X[labeled]
    m = len(labeled)
    take = min(k, m - 1)
    for start in range(0, m, block):
        rows = labeled[start : start + block]
        sims = XL[start : start + block] @ XL.T
        if take <= 0:
            for i in rows.tolist():
                yield i, labeled[:0], sims[0, :0]
            continue
        ranked = sims.copy()
        ranked[np.arange(len(rows)), np.arange(start, start + len(rows))] = -np.inf  # itself excluded
        kth = np.partition(ranked, m - take, axis=1)[:, m - take]
        for r, i in enumerate(rows.tolist()):
            cand = np.flatnonzero(ranked[r] >= kth[r])
            pos = cand[np.argsort(-ranked[r, cand], kind="stable")][:take]
            yield i, labeled[pos], sims[r, pos]


def purity(clusters: np.ndarray, labels: list[str]) -> float:
    table: dict[int, Counter] = defaultdict(Counter)
    for c, lab in zip(clusters.tolist(), labels, strict=True):
        table[c][lab] += 1
    return sum(max(cnt.values()) for cnt in table.values()) / len(labels)


@one_thread
def evaluate(
    X: np.ndarray, clusters: np.ndarray, labels: list[Label | None], *, k: int = 5
) -> ClusterEvaluation | None:
    """Adjusted Rand index, NMI and purity of the clusters against the labels, and a leave-one-out
    test of the neighbour suggestion: for each labeled response, vote its k nearest other labeled responses."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labeled = np.asarray([i for i, lab in enumerate(labels) if lab], dtype=np.int64)
    if len(labeled) == 0:
        return None
    names = [label_name(labels[i]) for i in labeled]
    cl = clusters[labeled]
    agree = len(labeled) >= 2
    hits = exact = tried = 0
    for i, idx, sims in _neighbours_of_labeled(X, labeled, k):
        if len(idx) == 0:
            continue
        suggested, scores = vote(sims, [labels[j] for j in idx])
        tried += 1
        top = next(iter(scores))
        hits += top in labels[i]
        exact += suggested == labels[i]
    return ClusterEvaluation(
        n_labeled=len(labeled),
        adjusted_rand=float(adjusted_rand_score(names, cl)) if agree else None,
        nmi=float(normalized_mutual_info_score(names, cl)) if agree else None,
        purity=float(purity(cl, names)),
        suggestion_n=tried,
        suggestion_hit_rate=hits / tried if tried else None,
        suggestion_exact_rate=exact / tried if tried else None,
        k=k,
    )

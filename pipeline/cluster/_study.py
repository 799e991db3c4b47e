"""Clustering a study, reading a clustering back, neighbours, suggestions and queue order (database side)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import delete, insert
from sqlmodel import Session, select

from db.models import Assignment, Case, ClusterAssignment, Clustering, Model, Response
from pipeline.cluster._algorithms import (
    KEYWORD_SAMPLE,
    NOISE,
    SAMPLE_ABOVE,
    class_tfidf_keywords,
    clean_snippet,
    fit_clusters,
    fit_sampled,
    map_2d,
    near_duplicates,
    near_duplicates_within,
    typical_members,
)
from pipeline.cluster._embed import check_field, get_study, load_vectors, study_embedding
from pipeline.cluster._evaluate import evaluate, human_labels, label_name, vote
from pipeline.cluster._neighbours import nearest
from pipeline.cluster._types import (
    MAP_METHODS,
    METHODS,
    ClusterEvaluation,
    ClusterInfo,
    ClusterOverview,
    LabelSuggestion,
    SimilarResponse,
)
from pipeline.errors import DxTraceError

DUPLICATE_THRESHOLD = 0.95  # cosine; the closest two of 60 shipped R1 traces of different cases: 0.73
_IN_CHUNK = 500


def _correctness(session: Session, study_id: int) -> dict[int, bool | None]:
    """Each response's effective grade (a clinician's grade wins), as pipeline.accuracy defines it."""
    import pandas as pd

    from pipeline.accuracy import effective_grades

    grades = effective_grades(session, study_id)
    return {
        int(rid): (None if pd.isna(ok) else bool(ok))
        for rid, ok in zip(grades["response_id"], grades["correct"], strict=True)
    }


def _meta(session: Session, ids: list[int]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        rows = session.exec(
            select(Response.id, Response.case_id, Case.case_key, Case.specialty, Case.incidence, Model.name)
            .join(Case, Case.id == Response.case_id)
            .join(Model, Model.id == Response.model_id)
            .where(Response.id.in_(ids[i : i + _IN_CHUNK]))
        ).all()
        for rid, case_id, key, spec, inc, model in rows:
            out[rid] = {"case_id": case_id, "case_key": key, "specialty": spec, "incidence": inc, "model": model}
    return out


def cluster_study(
    session: Session,
    study_id: int,
    *,
    method: str = "kmeans",
    n_clusters: int | None = None,
    field: str = "trace",
    k_max: int = 12,
    min_cluster_size: int | None = None,
    map_method: str = "auto",
    duplicate_threshold: float = DUPLICATE_THRESHOLD,
    n_keywords: int = 10,
    n_typical: int = 5,
    seed: int = 0,
    sample_above: int = SAMPLE_ABOVE,
) -> Clustering:
    """Cluster the study's embedded responses and store the clusters, the 2-D map, keywords,
    typical traces and near-duplicate flags as a new Clustering. Run embed_responses first.

    Above sample_above traces the clusters are fitted on a random sample of that many (fit_sampled),
    the rest assigned to the nearest centre; keywords and the suggestion test then read that sample,
    and near duplicates are searched within each cluster."""
    check_field(field)
    get_study(session, study_id)
    if method not in METHODS:
        raise DxTraceError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if map_method not in MAP_METHODS:
        raise DxTraceError(f"map must be one of {', '.join(MAP_METHODS)}, got {map_method!r}")
    if not 0.0 < duplicate_threshold <= 1.0:
        raise DxTraceError(f"duplicate threshold must be in (0, 1], got {duplicate_threshold}")
    key = study_embedding(session, study_id).key
    ids, X, texts = load_vectors(session, study_id, field=field, key=key)
    if len(ids) < 3:
        raise DxTraceError(
            f"study {study_id} has {len(ids)} embedded {field}(s) (at least 3 needed); "
            f"run first: python -m pipeline embed --study ..."
        )
    if n_clusters is not None and not 1 <= n_clusters <= len(ids):
        raise DxTraceError(
            f"the number of clusters must be between 1 and {len(ids)} (the embedded {field}s), got {n_clusters}"
        )
    from pipeline.cluster._embed import study_texts

    n_missing = len(study_texts(session, study_id, field)) - len(ids)
    if sample_above < 3:
        raise DxTraceError(f"sample_above must be at least 3, got {sample_above}")
    sampled = len(ids) > sample_above
    # Sample indices in id order, so a rerun with the same seed gives the same sample.
    part = np.sort(np.random.default_rng(seed).choice(len(ids), sample_above, replace=False)) if sampled else None
    try:
        if sampled:
            fit = fit_sampled(X, part, method, n_clusters, k_max=k_max, min_cluster_size=min_cluster_size, seed=seed)
        else:
            fit = fit_clusters(X, method, n_clusters, k_max=k_max, min_cluster_size=min_cluster_size, seed=seed)
    except ValueError as exc:
        raise DxTraceError(str(exc)) from None
    labels = fit.labels
    coords, used_map = map_2d(X, map_method, seed)
    dist, typical = typical_members(X, labels, n_typical)
    read = part if sampled else np.arange(len(ids))
    words = (
        np.sort(np.random.default_rng(seed).choice(part, KEYWORD_SAMPLE, replace=False))
        if (sampled and len(part) > KEYWORD_SAMPLE)
        else read
    )
    keywords = class_tfidf_keywords([texts[int(ids[i])] for i in words], labels[words], n_keywords)
    dup = near_duplicates_within(X, labels, duplicate_threshold) if sampled else near_duplicates(X, duplicate_threshold)
    correct = _correctness(session, study_id)
    human = human_labels(session, study_id)
    evaluation = evaluate(X[read], labels[read], [human.get(int(ids[i])) for i in read])

    clusters: dict[str, dict] = {}
    for c in sorted(set(labels.tolist())):
        members = ids[labels == c].tolist()
        graded = [correct[r] for r in members if correct.get(r) is not None]
        clusters[str(c)] = {
            "size": len(members),
            "keywords": keywords.get(c, []),
            "typical": [int(ids[i]) for i in typical.get(c, [])],
            "correct_rate": (sum(graded) / len(graded)) if graded else None,
        }
    clustering = Clustering(
        study_id=study_id,
        method=method,
        embedding_model=key,
        field=field,
        n_clusters=fit.n_clusters,
        silhouette=fit.silhouette,
        params={
            **fit.params,
            "n_clusters_requested": n_clusters,
            "k_max": k_max,
            "map": used_map,
            "duplicate_threshold": duplicate_threshold,
            "n_keywords": n_keywords,
            "n_typical": n_typical,
            "sample_above": sample_above,
        },
        summary={
            "clusters": clusters,
            "silhouette_by_k": {str(k): round(v, 5) for k, v in fit.silhouette_by_k.items()},
            "n_responses": len(ids),
            "n_missing": n_missing,
            "n_noise": int((labels == NOISE).sum()),
            "n_near_duplicates": int((dup >= 0).sum()),
            "evaluation": evaluation.as_dict() if evaluation else None,
        },
        created_at=datetime.now(UTC),
    )
    session.add(clustering)
    session.flush()
    # Rows as one bulk insert, not ORM objects: 76,000 of them took 15 s as objects (docs/benchmarks.md).
    rows = [
        {
            "clustering_id": clustering.id,
            "response_id": int(rid),
            "cluster": int(labels[i]),
            "x": float(coords[i, 0]),
            "y": float(coords[i, 1]),
            "distance": None if np.isnan(dist[i]) else float(dist[i]),
            "near_duplicate_of": int(ids[dup[i]]) if dup[i] >= 0 else None,
        }
        for i, rid in enumerate(ids)
    ]
    for i in range(0, len(rows), 5000):
        session.execute(insert(ClusterAssignment), rows[i : i + 5000])
    session.flush()
    return clustering


def latest_clustering(session: Session, study_id: int, *, field: str | None = None) -> Clustering | None:
    q = select(Clustering).where(Clustering.study_id == study_id)
    if field:
        q = q.where(Clustering.field == field)
    return session.exec(q.order_by(Clustering.id.desc())).first()


def list_clusterings(session: Session, study_id: int) -> list[Clustering]:
    return list(session.exec(select(Clustering).where(Clustering.study_id == study_id).order_by(Clustering.id.desc())))


def _get_clustering(session: Session, clustering_id: int) -> Clustering:
    clustering = session.get(Clustering, clustering_id)
    if clustering is None:
        raise DxTraceError(f"no clustering with id {clustering_id}")
    return clustering


def evaluate_clustering(session: Session, clustering_id: int, *, k: int = 5) -> ClusterEvaluation | None:
    """Agreement of a stored clustering with today's human labels; None while nothing is labeled."""
    clustering = _get_clustering(session, clustering_id)
    assigned = dict(
        session.exec(
            select(ClusterAssignment.response_id, ClusterAssignment.cluster).where(
                ClusterAssignment.clustering_id == clustering_id
            )
        ).all()
    )
    ids, X, _ = load_vectors(session, clustering.study_id, field=clustering.field, key=clustering.embedding_model)
    keep = np.asarray([int(r) in assigned for r in ids], dtype=bool)
    ids, X = ids[keep], X[keep]
    human = human_labels(session, clustering.study_id)
    clusters = np.asarray([assigned[int(r)] for r in ids], dtype=np.int64)
    return evaluate(X, clusters, [human.get(int(r)) for r in ids], k=k)


def cluster_overview(
    session: Session,
    clustering_id: int,
    *,
    snippet_chars: int = 240,
    snippet_ids: Collection[int] | None = None,
    correct: Mapping[int, bool | None] | None = None,
) -> ClusterOverview:
    """A stored clustering with its clusters, one row per response for the map, and the evaluation.

    snippet_ids: read the text snippet of these responses only (the others get ""); None reads every one,
    which at 100,000 traces is most of the time and memory. correct: each response's effective correctness
    when the caller already has it (the report reads the effective grades once)."""
    import pandas as pd

    clustering = _get_clustering(session, clustering_id)
    # One query for the placement and the response's case and model (not one per chunk of ids).
    rows = session.exec(
        select(
            ClusterAssignment.response_id,
            ClusterAssignment.cluster,
            ClusterAssignment.x,
            ClusterAssignment.y,
            ClusterAssignment.distance,
            ClusterAssignment.near_duplicate_of,
            Response.case_id,
            Case.case_key,
            Case.specialty,
            Case.incidence,
            Model.name,
        )
        .join(Response, Response.id == ClusterAssignment.response_id, isouter=True)
        .join(Case, Case.id == Response.case_id, isouter=True)
        .join(Model, Model.id == Response.model_id, isouter=True)
        .where(ClusterAssignment.clustering_id == clustering_id)
        .order_by(ClusterAssignment.id)
    ).all()
    if correct is None:
        correct = _correctness(session, clustering.study_id)
    human = human_labels(session, clustering.study_id)
    column = Response.trace if clustering.field == "trace" else Response.answer
    wanted = [r[0] for r in rows] if snippet_ids is None else sorted(set(snippet_ids))
    texts: dict[int, str] = {}
    for i in range(0, len(wanted), _IN_CHUNK):
        texts.update(session.exec(select(Response.id, column).where(Response.id.in_(wanted[i : i + _IN_CHUNK]))).all())
    records = []
    for rid, cluster, x, y, distance, duplicate_of, case_id, case_key, specialty, incidence, model in rows:
        ok = correct.get(rid)
        records.append(
            {
                "response_id": rid,
                "cluster": cluster,
                "x": x,
                "y": y,
                "distance": distance,
                "near_duplicate_of": duplicate_of,
                "model": model,
                "case_id": case_id,
                "case_key": case_key,
                "specialty": specialty,
                "incidence": incidence,
                "correct": ok,
                "correctness": "correct" if ok else ("incorrect" if ok is False else "ungraded"),
                "human_label": label_name(human.get(rid)),
                "snippet": clean_snippet(texts.get(rid) or "", snippet_chars),
            }
        )
    columns = ["response_id", "cluster", "x", "y", "distance", "near_duplicate_of", "model", "case_id", "case_key",
               "specialty", "incidence", "correct", "correctness", "human_label", "snippet"]  # fmt: skip
    points = pd.DataFrame.from_records(records, columns=columns)
    stored = (clustering.summary or {}).get("clusters", {})
    infos = []
    for c, group in points.groupby("cluster", sort=True) if len(points) else ():
        s = stored.get(str(c), {})
        graded = group["correct"].dropna()
        labels = Counter(lab for lab in group["human_label"] if lab != "unlabeled")
        infos.append(
            ClusterInfo(
                cluster=int(c),
                size=len(group),
                keywords=list(s.get("keywords", [])),
                typical=list(s.get("typical", [])),
                correct_rate=float(graded.astype(bool).mean()) if len(graded) else None,
                models=dict(Counter(group["model"].dropna())),
                labels=dict(labels.most_common()),
            )
        )
    return ClusterOverview(clustering, infos, points, evaluate_clustering(session, clustering_id))


def similar_responses(
    session: Session, study_id: int, response_id: int, n: int = 5, *, field: str = "trace", snippet_chars: int = 240
) -> list[SimilarResponse]:
    """The n responses of the study whose embedded text is nearest to this response's (itself excluded)."""
    from pipeline.accuracy import effective_correct

    get_study(session, study_id)
    check_field(field)
    found = nearest(session, study_id, response_id, n, field=field)
    if not found:
        return []
    chosen = [rid for rid, _ in found]
    sims = dict(found)
    correct = effective_correct(session, chosen)
    human = human_labels(session, study_id)
    meta = _meta(session, [response_id, *chosen])
    latest = latest_clustering(session, study_id, field=field)
    cluster_of: dict[int, int] = {}
    if latest is not None:
        cluster_of = dict(
            session.exec(
                select(ClusterAssignment.response_id, ClusterAssignment.cluster).where(
                    ClusterAssignment.clustering_id == latest.id, ClusterAssignment.response_id.in_(chosen)
                )
            ).all()
        )
    column = Response.trace if field == "trace" else Response.answer
    texts = dict(session.exec(select(Response.id, column).where(Response.id.in_(chosen))).all())
    own_case = meta.get(response_id, {}).get("case_id")
    return [
        SimilarResponse(
            response_id=rid,
            similarity=sims[rid],
            case_id=meta[rid]["case_id"],
            case_key=meta[rid]["case_key"],
            model=meta[rid]["model"],
            same_case=meta[rid]["case_id"] == own_case,
            correct=correct.get(rid),
            cluster=cluster_of.get(rid),
            error_modes=human.get(rid),
            snippet=clean_snippet(texts.get(rid) or "", snippet_chars),
        )
        for rid in chosen
    ]


def suggest_labels(
    session: Session, study_id: int, response_id: int, *, k: int = 5, field: str = "trace"
) -> LabelSuggestion | None:
    """Error modes voted by the k nearest labeled responses (similarity-weighted); None when there are none."""
    get_study(session, study_id)
    check_field(field)
    human = human_labels(session, study_id)
    found = nearest(session, study_id, response_id, k, field=field, among=set(human) - {response_id})
    if not found:
        return None
    neighbours = [rid for rid, _ in found]
    sims = np.asarray([s for _, s in found], dtype=np.float64)
    modes, scores = vote(sims, [human[rid] for rid in neighbours])
    return LabelSuggestion(
        response_id=response_id,
        error_modes=modes,
        scores=scores,
        neighbours=tuple(neighbours),
        similarities=tuple(float(s) for s in sims),
    )


def order_queue_by_cluster(
    session: Session, study_id: int, annotator_id: int, *, clustering_id: int | None = None
) -> int:
    """Reorder an annotator's pending assignments cluster by cluster (largest first, most typical first).

    Finished assignments keep their place at the front; responses outside the
    clustering go last in their old order. Returns the number of pending assignments ordered.
    """
    get_study(session, study_id)
    clustering = (
        _get_clustering(session, clustering_id)
        if clustering_id
        else latest_clustering(session, study_id, field="trace")
    )
    if clustering is None or clustering.study_id != study_id:
        raise DxTraceError(f"study {study_id} has no clustering yet; run: python -m pipeline cluster --study ...")
    assignments = list(
        session.exec(
            select(Assignment)
            .where(Assignment.study_id == study_id, Assignment.annotator_id == annotator_id)
            .order_by(Assignment.position, Assignment.id)
        )
    )
    placed = {
        a.response_id: (a.cluster, a.distance)
        for a in session.exec(select(ClusterAssignment).where(ClusterAssignment.clustering_id == clustering.id))
    }
    sizes = Counter(c for c, _ in placed.values())
    done = [a for a in assignments if a.status != "pending"]
    pending = [a for a in assignments if a.status == "pending"]

    def key(item: tuple[int, Assignment]) -> tuple:
        old, a = item
        if a.response_id not in placed or placed[a.response_id][0] == NOISE:
            return (1, 0, 0, 0.0, old)
        c, d = placed[a.response_id]
        return (0, -sizes[c], c, d if d is not None else 1.0, old)

    ordered = [a for _, a in sorted(enumerate(pending), key=key)]
    now = datetime.now(UTC)
    for pos, a in enumerate(done + ordered):
        if a.position != pos:
            a.position = pos
            a.updated_at = now
            session.add(a)
    session.flush()
    return len(ordered)


def order_queues_by_cluster(session: Session, study_id: int, *, clustering_id: int | None = None) -> dict[int, int]:
    """order_queue_by_cluster for every annotator with assignments in the study: {annotator id: pending ordered}."""
    annotators = sorted(set(session.exec(select(Assignment.annotator_id).where(Assignment.study_id == study_id))))
    return {a: order_queue_by_cluster(session, study_id, a, clustering_id=clustering_id) for a in annotators}


def delete_clustering(session: Session, clustering_id: int) -> None:
    _get_clustering(session, clustering_id)
    session.exec(delete(ClusterAssignment).where(ClusterAssignment.clustering_id == clustering_id))
    session.exec(delete(Clustering).where(Clustering.id == clustering_id))


def embedding_status(session: Session, study_id: int, *, field: str = "trace") -> tuple[int, int]:
    """(responses whose current text has a vector, responses with a text to embed)."""
    get_study(session, study_id)
    from pipeline.cluster._embed import study_texts

    ids, _, _ = load_vectors(session, study_id, field=field)
    return len(ids), len(study_texts(session, study_id, field))

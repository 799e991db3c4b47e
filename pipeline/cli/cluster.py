"""Subcommands: embed, cluster."""

from __future__ import annotations

import argparse

from db.engine import session_scope
from pipeline.cli import command
from pipeline.cli._common import add_progress_argument, console, open_db, print_table, progress_bar
from pipeline.errors import DxTraceError
from pipeline.studies import resolve_study


def _positive(name: str, minimum: int = 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def _embed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--study", help="study name or id (default: the only study)")
    p.add_argument("--field", choices=["trace", "answer"], default="trace", help="what to embed (default: trace)")
    p.add_argument(
        "--backend",
        help="embedding backend: local (the shipped MiniLM, here) or openai (a /v1/embeddings server); "
        "the choice is kept in the study's settings (default: the study's, else local)",
    )
    p.add_argument("--base-url", help="openai backend: the server, e.g. http://gpu-box:8080/v1")
    p.add_argument("--model", help="openai backend: the served embedding model id")
    p.add_argument(
        "--api-key-env", help="openai backend: the environment variable holding the API key (the key is never stored)"
    )
    p.add_argument("--concurrency", type=_positive("--concurrency"), help="openai backend: requests in flight (4)")
    p.add_argument("--max-chars", type=_positive("--max-chars", 16), help="openai backend: characters per chunk (1000)")
    p.add_argument("--overlap", type=_positive("--overlap", 0), help="local backend: word pieces shared by chunks (32)")
    p.add_argument("--batch-size", type=_positive("--batch-size"), help="chunks per model call or request (32)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


_CONFIG_FLAGS = {
    "backend": "backend",
    "base_url": "base_url",
    "model": "model",
    "api_key_env": "api_key_env",
    "concurrency": "concurrency",
    "max_chars": "max_chars",
    "overlap": "overlap",
    "batch_size": "batch_size",
}


def _embedding_config(args: argparse.Namespace, current):
    """The study's embedding with the flags given on top; a new --backend starts from that backend's defaults."""
    from dataclasses import replace

    from pipeline.cluster import EmbeddingConfig

    given = {field: getattr(args, flag) for flag, field in _CONFIG_FLAGS.items() if getattr(args, flag) is not None}
    if not given:
        return current
    base = current if given.get("backend", current.backend) == current.backend else EmbeddingConfig()
    config = replace(base, **given)
    if config.backend != "openai" and any(given.get(k) for k in ("base_url", "api_key_env", "max_chars")):
        raise DxTraceError("--base-url, --api-key-env and --max-chars are for --backend openai")
    return config


@command(
    "embed",
    help="Embed the study's traces (or answers), with the shipped MiniLM or a /v1/embeddings server; "
    "only new or changed texts are embedded.",
    arguments=_embed_args,
    order=60,
)
def embed_cmd(args: argparse.Namespace) -> int:
    from pipeline.cluster import embed_responses, set_study_embedding, study_embedding

    engine = open_db(args)
    with session_scope(engine) as session:
        study = resolve_study(session, args.study)
        config = _embedding_config(args, study_embedding(session, study.id))
        previous = set_study_embedding(session, study.id, config)
        if previous is not None:
            console.print(
                f"note: the study's embeddings change from {previous.key} to {config.key}: every {args.field} is "
                "embedded again, and clustering uses only the new vectors (vectors of different models are never "
                "mixed; the old ones stay stored)"
            )
        # No commit here: the new setting is stored with the first batch of vectors, or not at all.
        summary = embed_responses(session, study.id, field=args.field, progress=not args.no_progress, config=config)
    console.print(f"{study.name}: {summary.summary()}")
    return 0


def _cluster_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--study", help="study name or id (default: the only study)")
    p.add_argument(
        "--method", choices=["kmeans", "agglomerative", "hdbscan"], default="kmeans", help="clustering algorithm"
    )
    p.add_argument("--k", type=_positive("--k"), help="number of clusters (default: chosen by silhouette)")
    p.add_argument("--k-max", type=_positive("--k-max", 2), default=12, help="largest k tried (default: 12)")
    p.add_argument("--min-cluster-size", type=_positive("--min-cluster-size", 2), help="HDBSCAN (default: N/100, >=5)")
    p.add_argument("--field", choices=["trace", "answer"], default="trace", help="which embeddings to cluster")
    p.add_argument("--map", choices=["auto", "tsne", "pca"], default="auto", help="2-D map (default: t-SNE)")
    p.add_argument("--duplicate-threshold", type=_fraction, default=0.95, help="cosine for near duplicates")
    p.add_argument("--seed", type=int, default=0, help="random seed of the clustering and the map")
    p.add_argument("--order-queues", action="store_true", help="then order every annotator's queue by cluster")
    p.add_argument("--show", action="store_true", help="show the latest clustering instead of making a new one")
    add_progress_argument(p)


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.0f}%" if pct else f"{value:.3f}"


@command(
    "cluster",
    help="Cluster the embedded traces: k-means, agglomerative or HDBSCAN, with a map, keywords and typical traces.",
    arguments=_cluster_args,
    order=61,
)
def cluster_cmd(args: argparse.Namespace) -> int:
    from pipeline.cluster import cluster_overview, cluster_study, latest_clustering, order_queues_by_cluster

    engine = open_db(args)
    with session_scope(engine) as session:
        study = resolve_study(session, args.study)
        if args.show:
            clustering = latest_clustering(session, study.id, field=args.field)
            if clustering is None:
                raise DxTraceError(f"study {study.name!r} has no clustering yet; run: python -m pipeline cluster")
        else:
            with progress_bar(args, f"clustering with {args.method}"):
                clustering = cluster_study(
                    session,
                    study.id,
                    method=args.method,
                    n_clusters=args.k,
                    field=args.field,
                    k_max=args.k_max,
                    min_cluster_size=args.min_cluster_size,
                    map_method=args.map,
                    duplicate_threshold=args.duplicate_threshold,
                    seed=args.seed,
                )
        overview = cluster_overview(session, clustering.id)
        ordered = order_queues_by_cluster(session, study.id, clustering_id=clustering.id) if args.order_queues else {}

    c = overview.clustering
    summary = c.summary or {}
    console.print(
        f"{study.name}: clustering {c.id}, {c.method} on {summary.get('n_responses', len(overview.points))} "
        f"{c.field}s: {c.n_clusters} clusters, silhouette {_fmt(c.silhouette)}, "
        f"{summary.get('n_noise', 0)} noise, {summary.get('n_near_duplicates', 0)} near duplicates, "
        f"map {(c.params or {}).get('map', '?')}"
    )
    if summary.get("n_missing"):
        console.print(f"note: {summary['n_missing']} {c.field}(s) changed or not embedded yet; run embed first")
    rows = [
        [
            "noise" if info.cluster == -1 else info.cluster,
            info.size,
            _fmt(info.correct_rate, pct=True),
            ", ".join(info.keywords[:8]),
            " ".join(str(r) for r in info.typical[:3]),
        ]
        for info in sorted(overview.clusters, key=lambda i: (i.cluster == -1, -i.size))
    ]
    print_table(None, ["Cluster", "Traces", "Correct", "Keywords", "Typical responses"], rows)
    ev = overview.evaluation
    if ev is not None:
        console.print(
            f"against {ev.n_labeled} human labels: adjusted Rand {_fmt(ev.adjusted_rand)}, NMI {_fmt(ev.nmi)}, "
            f"purity {_fmt(ev.purity)}; neighbour suggestion (k={ev.k}) top mode right "
            f"{_fmt(ev.suggestion_hit_rate, pct=True)}, exact {_fmt(ev.suggestion_exact_rate, pct=True)} "
            f"of {ev.suggestion_n}"
        )
    if ordered:
        console.print(f"ordered the queues of {len(ordered)} annotator(s): {sum(ordered.values())} pending items")
    elif args.order_queues:
        console.print("no annotator has assignments in this study yet; nothing to order")
    return 0

"""Embedding-based pre-clustering of reasoning traces.

Embed each response's trace (or answer) with the shipped all-MiniLM-L6-v2,
chunked to the model's input and pooled so the whole trace counts; cache the
vectors by text hash; cluster them (k-means, agglomerative, HDBSCAN) with a 2-D
map, keywords, typical traces and near-duplicate flags; find similar traces,
suggest labels from labeled neighbours, order annotators' queues by cluster,
and measure how well all of it agrees with the human labels.
"""

from pipeline.cluster._algorithms import (
    NOISE,
    ClusterFit,
    class_tfidf_keywords,
    fit_clusters,
    map_2d,
    near_duplicates,
    silhouette,
    typical_members,
)
from pipeline.cluster._chunk import chunk_capacity, chunk_text, pool
from pipeline.cluster._embed import DEFAULT_SPEC, embed_responses, embed_texts, load_vectors, text_hash
from pipeline.cluster._evaluate import evaluate, human_labels, purity, vote
from pipeline.cluster._figure import COLOUR_BY, cluster_map_figure
from pipeline.cluster._study import (
    DUPLICATE_THRESHOLD,
    cluster_overview,
    cluster_study,
    delete_clustering,
    embedding_status,
    evaluate_clustering,
    latest_clustering,
    list_clusterings,
    order_queue_by_cluster,
    order_queues_by_cluster,
    similar_responses,
    suggest_labels,
)
from pipeline.cluster._types import (
    FIELDS,
    MAP_METHODS,
    METHODS,
    Chunk,
    ClusterEvaluation,
    ClusterInfo,
    ClusterOverview,
    EmbeddingSpec,
    EmbedSummary,
    LabelSuggestion,
    SimilarResponse,
)

__all__ = [
    "COLOUR_BY",
    "cluster_map_figure",
    "DEFAULT_SPEC",
    "DUPLICATE_THRESHOLD",
    "FIELDS",
    "MAP_METHODS",
    "METHODS",
    "NOISE",
    "Chunk",
    "ClusterEvaluation",
    "ClusterFit",
    "ClusterInfo",
    "ClusterOverview",
    "EmbedSummary",
    "EmbeddingSpec",
    "LabelSuggestion",
    "SimilarResponse",
    "chunk_capacity",
    "chunk_text",
    "class_tfidf_keywords",
    "cluster_overview",
    "cluster_study",
    "delete_clustering",
    "embedding_status",
    "embed_responses",
    "embed_texts",
    "evaluate",
    "evaluate_clustering",
    "fit_clusters",
    "human_labels",
    "latest_clustering",
    "list_clusterings",
    "load_vectors",
    "map_2d",
    "near_duplicates",
    "order_queue_by_cluster",
    "order_queues_by_cluster",
    "pool",
    "purity",
    "silhouette",
    "similar_responses",
    "suggest_labels",
    "text_hash",
    "typical_members",
    "vote",
]

"""Typed results of embedding, clustering, neighbours and evaluation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from db.models import Clustering

FIELDS = ("trace", "answer")
METHODS = ("kmeans", "agglomerative", "hdbscan")
MAP_METHODS = ("auto", "tsne", "pca")


@dataclass(frozen=True)
class Chunk:
    """A piece of a text that fits the embedding model, with its place in the text."""

    text: str
    start: int  # character offsets into the whole text
    end: int
    n_tokens: int  # word pieces, without the special tokens


@dataclass(frozen=True)
class EmbeddingSpec:
    """How a text becomes one vector; its key names the vectors in the Embedding table."""

    model: str = "all-MiniLM-L6-v2"
    overlap: int = 32  # word pieces shared by consecutive chunks
    pooling: str = "mean"  # token-weighted mean of the chunk vectors

    @property
    def key(self) -> str:
        # Vectors made with other chunking settings are different vectors: they get their own key.
        return f"{self.model}/overlap{self.overlap}-{self.pooling}"


@dataclass(frozen=True)
class EmbedSummary:
    study_id: int
    field: str
    embedding_model: str
    n_responses: int  # responses of the study with a non-empty text in `field`
    n_embedded: int  # embedded in this run
    n_cached: int  # unchanged since the last run: not embedded again
    n_replaced: int  # embedded again because the text changed
    n_empty: int  # no text to embed (e.g. base models have no trace)
    n_chunks: int
    seconds: float

    def summary(self) -> str:
        rate = f", {self.n_chunks / self.seconds:.1f} chunks/s" if self.n_embedded and self.seconds > 0 else ""
        return (
            f"embedded {self.n_embedded} {self.field}(s) ({self.n_chunks} chunks, {self.n_replaced} changed), "
            f"{self.n_cached} unchanged, {self.n_empty} without a {self.field}; "
            f"model {self.embedding_model}; {self.seconds:.1f} s{rate}"
        )


@dataclass(frozen=True)
class SimilarResponse:
    response_id: int
    similarity: float  # cosine similarity of the pooled vectors
    case_id: int
    case_key: str
    model: str
    same_case: bool
    correct: bool | None
    cluster: int | None
    error_modes: tuple[str, ...] | None  # human label, when there is one
    snippet: str


@dataclass(frozen=True)
class LabelSuggestion:
    """Error modes offered from the labels of the nearest labeled neighbours."""

    response_id: int
    error_modes: tuple[str, ...]
    scores: dict[str, float]  # similarity-weighted share of neighbours that carry each mode
    neighbours: tuple[int, ...]  # the labeled responses it came from, nearest first
    similarities: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """What Annotation.suggestion records."""
        d = asdict(self)
        d["error_modes"] = list(self.error_modes)
        d["neighbours"] = list(self.neighbours)
        d["similarities"] = [round(s, 4) for s in self.similarities]
        d["scores"] = {k: round(v, 4) for k, v in self.scores.items()}
        d["source"] = "nearest-labeled-neighbours"
        return d


@dataclass(frozen=True)
class ClusterEvaluation:
    """How the clusters line up with the human labels (label = the set of error modes)."""

    n_labeled: int
    adjusted_rand: float | None
    nmi: float | None
    purity: float | None
    suggestion_n: int  # labeled responses with at least one labeled neighbour
    suggestion_hit_rate: float | None  # the top suggested mode is among the final modes
    suggestion_exact_rate: float | None  # the suggested set equals the final set
    k: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClusterInfo:
    cluster: int
    size: int
    keywords: list[str]
    typical: list[int]  # response ids, most typical first
    correct_rate: float | None
    models: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)  # human label -> count


@dataclass
class ClusterOverview:
    clustering: Clustering
    clusters: list[ClusterInfo]
    points: pd.DataFrame  # one row per clustered response
    evaluation: ClusterEvaluation | None

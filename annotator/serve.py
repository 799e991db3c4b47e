"""Starting the annotation app on 127.0.0.1: the command line, and a context manager that waits until it answers.

The demo, the real-browser tests, the screenshot script and the app benchmark all start it this way;
a lead starts it with `python -m annotator.serve [--db URL] [--port N]`.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    """`python -m annotator.serve`: the app on the study database, until Ctrl-C."""
    from db.engine import ENV_VAR, database_url, redact

    parser = argparse.ArgumentParser(
        prog="python -m annotator.serve",
        description="Start the DxTrace annotation app on 127.0.0.1 (sign-in required).",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help=f"study database: a SQLite path or a SQLAlchemy URL (default: ${ENV_VAR} or ./dxtrace.db)",
    )
    parser.add_argument("--port", type=int, default=8501, help="port on 127.0.0.1 (default: 8501)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port}: must be between 1 and 65535", file=sys.stderr)
        return 2
    url = database_url(args.db)  # resolved here: the app runs from the repository root
    print(f"annotation app on http://127.0.0.1:{args.port} (database {redact(url)}); Ctrl-C stops it", file=sys.stderr)
    # Become the app (exec): Ctrl-C and a service manager's SIGTERM reach Streamlit itself, no orphan is left.
    os.chdir(REPO)
    command = app_command(args.port)
    os.execve(command[0], command, app_env(url))
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())

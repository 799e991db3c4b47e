"""Local servers for the tests, the benchmarks and the demo: start one on 127.0.0.1 and wait until it answers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pipeline.errors import DxTraceError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _name(cmd: Sequence[str]) -> str:
    return cmd[cmd.index("-m") + 1] if "-m" in cmd[:-1] else Path(cmd[0]).name


@contextmanager
def running(
    cmd: Sequence[str],
    ready_url: str,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    log: IO | None = None,
    timeout_s: float = 180,
) -> Iterator[None]:
    """Run `cmd` until the block ends; enter the block once `ready_url` answers 200."""
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise DxTraceError(f"{_name(cmd)} exited with {proc.returncode} before {ready_url} answered")
            if time.time() > deadline:
                raise DxTraceError(f"{ready_url} did not answer within {timeout_s:.0f} s")
            time.sleep(0.5)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

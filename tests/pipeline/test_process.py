"""Local servers: a real process that answers is entered; one that dies is named, never waited on forever."""

from __future__ import annotations

import sys

import pytest

from pipeline._process import free_port, running
from pipeline.errors import DxTraceError


def test_a_real_http_server_is_entered_once_it_answers_and_stopped_after(tmp_path):
    port = free_port()
    (tmp_path / "ok").write_text("ok")
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    import urllib.request

    with running(cmd, f"http://127.0.0.1:{port}/ok", timeout_s=60):
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/ok", timeout=5).read() == b"ok"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/ok", timeout=2)


def test_a_server_that_exits_is_reported():
    port = free_port()
    with (
        pytest.raises(DxTraceError, match="exited with 3"),
        running([sys.executable, "-c", "raise SystemExit(3)"], f"http://127.0.0.1:{port}/", timeout_s=60),
    ):
        pass

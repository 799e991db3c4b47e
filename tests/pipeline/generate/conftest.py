"""Real servers for the generation tests: llama-cpp-python's OpenAI-compatible server, and a replay server.

The replay server is a real HTTP server on 127.0.0.1 answering with recorded
response bodies (tests/pipeline/generate/replies/) for the reasoning formats a
local llama.cpp server cannot produce; the openai client talks to it over HTTP.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.errors import DxTraceError
from pipeline.local_models import serve_gguf

REPLIES = Path(__file__).parent / "replies"


def write_study(
    folder: Path,
    *,
    name: str,
    backend: str,
    cases: list[str],
    model: str = "default",
    base_url: str | None = None,
    max_tokens: int = 48,
    repeats: int = 1,
    extra: str = "",
) -> Path:
    """A study file with one model, as a research lead would write it."""
    lines = [
        "[study]",
        f'name = "{name}"',
        'case_set = "sandmann125"',
        'template = "five_diagnoses"',
        f"repeats = {repeats}",
        "cases = [" + ", ".join(f'"{c}"' for c in cases) + "]",
        "",
        "[[models]]",
        'name = "M"',
        f'backend = "{backend}"',
        f'model = "{model}"',
        "temperature = 0.0",
        f"max_tokens = {max_tokens}",
        "seed = 1",
    ]
    if base_url:
        lines.append(f'base_url = "{base_url}"')
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


@dataclass
class Reply:
    status: int = 200
    body: str | bytes = ""
    delay_s: float = 0.0


@dataclass
class ReplayServer:
    """Answers POST /v1/chat/completions with queued replies (the last one repeats)."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def serve(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def next_reply(self) -> Reply:
        with self.lock:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def recorded(name: str) -> str:
    return (REPLIES / f"{name}.json").read_text(encoding="utf-8")


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    state = ReplayServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with state.lock:
                state.requests.append(body)
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                reply = state.next_reply()
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                data = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)
            finally:
                with state.lock:
                    state.in_flight -= 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the shipped GGUF; yields its base URL."""
    try:
        with serve_gguf(threads=2) as url:
            yield url
    except DxTraceError as exc:
        pytest.fail(f"llama_cpp.server: {exc}")

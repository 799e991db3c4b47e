"""Embedding backends: a real llama.cpp server's /v1/embeddings, and a real HTTP server that answers badly.

The llama-cpp-python server serves embeddings from the shipped SmolLM2 GGUF (a decoder without pooling,
so it sends one vector per token, which the backend mean-pools). The bad-reply server is a real
http.server on 127.0.0.1 whose reply each test sets; the openai client talks to it over HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from sqlmodel import select

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.models import Embedding, Study
from pipeline.cli import main
from pipeline.cluster import EmbeddingConfig, embed_responses, load_vectors, study_embedding
from pipeline.cluster._openai_embed import char_chunks, parse_embeddings_reply
from pipeline.errors import DxTraceError
from pipeline.generate._backend import BackendError
from pipeline.local_models import serve_gguf
from tests.factories import add_medrbench_r1, make_study

N = 4  # shipped DeepSeek-R1 traces: each is several chunks, so pooling and batching are exercised


def _db(tmp_path, name: str = "study.db", n: int = N):
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    with session_scope(engine) as s:
        study = make_study(s, "emb")
        add_medrbench_r1(s, study, limit=n)
        study_id = study.id
    return engine, study_id, engine.url.render_as_string(hide_password=False)


def _rows(engine) -> list[Embedding]:
    with session_scope(engine) as s:
        return list(s.exec(select(Embedding).order_by(Embedding.id)))


# --- pure parts ---------------------------------------------------------------------------------------------


def test_char_chunks_cover_the_text_cut_at_spaces_and_overlap():
    text = " ".join(f"word{i}" for i in range(400))
    chunks = char_chunks(text, 200, 20)
    assert len(chunks) > 10 and all(len(c) <= 200 for c in chunks)
    assert all(c in text for c in chunks)
    assert chunks[0].startswith("word0 ") and chunks[-1].endswith("word399")
    words = {w for c in chunks for w in c.split()}
    assert words == set(text.split())  # nothing lost, no word cut in two
    assert chunks[1].split()[0] in chunks[0]  # consecutive chunks share words
    assert char_chunks("x" * 50, 16) == ["x" * 16, "x" * 16, "x" * 16, "x" * 2]


def test_a_reply_is_read_in_index_order_and_token_vectors_are_mean_pooled():
    reply = {"data": [{"index": 1, "embedding": [0.0, 2.0]}, {"index": 0, "embedding": [[1.0, 0.0], [3.0, 0.0]]}]}
    v = parse_embeddings_reply(reply, 2, "srv")
    assert np.allclose(v, [[1.0, 0.0], [0.0, 1.0]])


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"data": [{"embedding": [1.0, 0.0]}]}, "1 embedding(s) for 2 input(s)"),
        ({"data": [{"embedding": [1.0, 0.0]}, {"embedding": [1.0, 0.0, 0.0]}]}, "embeddings of different lengths"),
        ({"data": [{"embedding": [1.0, "a"]}, {"embedding": [1.0, 0.0]}]}, "embedding 0 holds a value that is not"),
        ({"data": [{"embedding": [1.0, 0.0]}, {"embedding": "AAAA"}]}, "embedding 1 is not a list of numbers"),
        ({"data": [{"embedding": [1.0, 0.0]}, {"embedding": [float("nan"), 0.0]}]}, "NaN or infinity"),
        ({"data": [{"embedding": [0.0, 0.0]}, {"embedding": [1.0, 0.0]}]}, "all zeros"),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]}, "indexes are not 0..1"),
        ({"error": {"message": "model not loaded"}}, "answered with an error: model not loaded"),
        ([1, 2], "no `data` list"),
    ],
)
def test_malformed_replies_are_refused_by_name(reply, message):
    with pytest.raises(BackendError, match="srv") as err:
        parse_embeddings_reply(reply, 2, "srv")
    assert message in str(err.value)


def test_the_study_settings_keep_the_choice_but_never_a_key():
    config = EmbeddingConfig(backend="openai", model="m", base_url="http://h:1/v1", api_key_env="K", concurrency=8)
    assert config.to_settings() == {
        "backend": "openai",
        "model": "m",
        "base_url": "http://h:1/v1",
        "api_key_env": "K",
        "concurrency": 8,
    }
    assert EmbeddingConfig.from_settings(config.to_settings()) == config
    assert config.key == "openai:m/chars1000-mean" != EmbeddingConfig().key
    with pytest.raises(Exception, match="unknown key"):
        EmbeddingConfig.from_settings({"backend": "openai", "api_key": "secret"})
    for bad, message in (
        ({"concurrency": "8"}, "concurrency must be a whole number of at least 1"),
        ({"max_chars": 3}, "max_chars must be a whole number of at least 16"),
        ({"base_url": "gpu-box:8080"}, "must be an http:// or https:// URL"),
        ({"model": ""}, "model must be a non-empty text"),
        ({"timeout_s": 0}, "timeout_s must be a positive number"),
    ):
        with pytest.raises(DxTraceError, match=message):
            EmbeddingConfig.from_settings({"backend": "openai", **bad})


# --- a real llama.cpp server ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedding_server() -> Iterator[str]:
    with serve_gguf(threads=2, n_ctx=2048, embedding=True, alias="smol-embed") as url:
        yield url


@pytest.mark.model
def test_embed_on_a_real_llamacpp_server_records_backend_and_model_and_never_mixes(
    tmp_path, embedding_server, capsys, monkeypatch
):
    engine, study_id, db = _db(tmp_path)
    monkeypatch.setenv("DXT_TEST_EMBED_KEY", "not-a-real-secret")
    args = ["--db", db, "embed", "--no-progress", "--backend", "openai", "--base-url", embedding_server]
    args += ["--model", "smol-embed", "--max-chars", "600", "--batch-size", "4", "--concurrency", "2"]
    args += ["--api-key-env", "DXT_TEST_EMBED_KEY"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"embedded {N} trace(s)" in out and "openai:smol-embed/chars600-mean" in out
    rows = _rows(engine)
    assert len(rows) == N and {(r.backend, r.model_name) for r in rows} == {("openai", "smol-embed")}
    assert {r.embedding_model for r in rows} == {"openai:smol-embed/chars600-mean"}
    assert all(r.n_chunks > 1 for r in rows)  # whole traces, cut into pieces the server takes
    dim = rows[0].dim
    vectors = np.vstack([np.frombuffer(r.vector, dtype="<f4") for r in rows])
    assert vectors.shape == (N, dim) and dim > 100
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len({v.tobytes() for v in vectors}) == N  # different traces, different vectors
    with session_scope(engine) as s:
        settings = s.get(Study, study_id).settings
        assert settings["embedding"]["backend"] == "openai" and settings["embedding"]["model"] == "smol-embed"
        assert "not-a-real-secret" not in json.dumps(settings)
        ids, X, _ = load_vectors(s, study_id)  # the study's key: the server's vectors
        assert len(ids) == N and X.shape[1] == dim

    # The same texts again: nothing to do; the server's answer for a text does not change.
    with session_scope(engine) as s:
        again = embed_responses(s, study_id, progress=False)
        assert again.n_embedded == 0 and again.n_cached == N
        config = study_embedding(s, study_id)
    from pipeline.cluster._backends import open_embedding_backend

    backend = open_embedding_backend(config)
    try:
        first = rows[0]
        with session_scope(engine) as s:
            from db.models import Response

            text = s.get(Response, first.response_id).trace
        fresh = backend.embed([text]).vectors[0]
    finally:
        backend.close()
    assert float(fresh @ np.frombuffer(first.vector, dtype="<f4")) > 0.999

    # Back to the shipped model: said clearly, everything embedded again, the two kinds never mixed.
    assert main(["--db", db, "embed", "--no-progress", "--backend", "local"]) == 0
    out = capsys.readouterr().out
    assert "change from openai:smol-embed/chars600-mean to all-MiniLM-L6-v2" in out and "embedded again" in out
    assert f"embedded {N} trace(s)" in out
    rows = [r for r in _rows(engine) if r.field == "trace"]
    assert len(rows) == 2 * N
    assert {r.backend for r in rows} == {"openai", "local"}
    steps = [r for r in _rows(engine) if r.field == "steps"]  # only the shipped model's pass makes step vectors
    assert len(steps) == N and {r.backend for r in steps} == {"local"}
    with session_scope(engine) as s:
        ids, X, _ = load_vectors(s, study_id)
        assert len(ids) == N and X.shape[1] == 384  # the study now reads only MiniLM vectors


# --- a real HTTP server that answers badly -------------------------------------------------------------------


@dataclass
class BadServer:
    url: str
    status: int = 200
    body: str = "{}"
    first: str | None = None  # the body of the first reply only, when set
    requests: list[dict] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


@pytest.fixture
def bad_server() -> Iterator[BadServer]:
    state = BadServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            state.requests.append(json.loads(self.rfile.read(length) or b"{}"))
            state.auth.append(self.headers.get("Authorization"))
            first = state.first is not None and len(state.requests) == 1
            data = (state.first if first else state.body).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _vec(n: int, dim: int = 3) -> list[dict]:
    return [{"index": i, "embedding": [1.0] + [0.0] * (dim - 1)} for i in range(n)]


BAD_REPLIES = [
    pytest.param(200, json.dumps({"data": _vec(1)}), "embedding(s) for", id="wrong-count"),
    pytest.param(200, json.dumps({"data": _vec(1, 3) + _vec(1, 4)}), "indexes are not", id="bad-index"),
    pytest.param(
        200,
        json.dumps({"data": [{"embedding": [1.0, 0.0]}, {"embedding": [1.0, 0.0, 0.0]}]}),
        "different lengths",
        id="wrong-dimension",
    ),
    pytest.param(200, json.dumps({"data": [{"embedding": ["x", "y"]}] * 2}), "not a number", id="non-numeric"),
    pytest.param(200, '{"data": [', "not JSON", id="not-json"),
    pytest.param(400, json.dumps({"error": {"message": "input too long"}}), "HTTP 400: input too long", id="http-400"),
    pytest.param(401, json.dumps({"error": {"message": "bad key"}}), "HTTP 401: bad key", id="http-401"),
]


@pytest.mark.parametrize(("status", "body", "message"), BAD_REPLIES)
def test_a_bad_reply_is_one_error_line_and_nothing_is_written(tmp_path, bad_server, capsys, status, body, message):
    engine, study_id, db = _db(tmp_path, n=2)
    bad_server.status, bad_server.body = status, body
    args = ["--db", db, "embed", "--no-progress", "--backend", "openai", "--base-url", bad_server.url]
    assert main([*args, "--model", "m", "--batch-size", "2", "--max-chars", "100000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert "Traceback" not in err[0]
    assert bad_server.requests and bad_server.requests[0]["model"] == "m"
    assert _rows(engine) == []  # no vectors ...
    with session_scope(engine) as s:
        assert "embedding" not in (s.get(Study, study_id).settings or {})  # ... and the study's choice unchanged


def test_server_errors_are_retried_then_reported(tmp_path, bad_server):
    engine, study_id, _ = _db(tmp_path, n=1)
    bad_server.status, bad_server.body = 503, json.dumps({"error": {"message": "loading"}})
    config = EmbeddingConfig(backend="openai", model="m", base_url=bad_server.url, max_retries=2, max_chars=100000)
    with session_scope(engine) as s, pytest.raises(BackendError, match="HTTP 503: loading"):
        embed_responses(s, study_id, progress=False, config=config)
    assert len(bad_server.requests) == 3  # the first try and two retries with backoff
    assert _rows(engine) == []


def test_the_key_comes_from_the_environment_and_a_missing_one_is_refused(tmp_path, bad_server, capsys, monkeypatch):
    engine, study_id, db = _db(tmp_path, n=2)
    args = ["--db", db, "embed", "--no-progress", "--backend", "openai", "--base-url", bad_server.url, "--model", "m"]
    args += ["--api-key-env", "DXT_TEST_MISSING_KEY", "--max-chars", "100000"]
    monkeypatch.delenv("DXT_TEST_MISSING_KEY", raising=False)
    assert main(args) == 2
    assert "DXT_TEST_MISSING_KEY (api_key_env) is not set" in capsys.readouterr().err
    assert bad_server.requests == []
    monkeypatch.setenv("DXT_TEST_MISSING_KEY", "s3cret")
    bad_server.body = json.dumps({"data": _vec(2)})
    assert main(args) == 0
    assert bad_server.auth == ["Bearer s3cret"]
    assert bad_server.requests[0]["encoding_format"] == "float" and len(bad_server.requests[0]["input"]) == 2
    rows = _rows(engine)
    assert [(r.backend, r.model_name, r.dim) for r in rows] == [("openai", "m", 3)] * 2
    with session_scope(engine) as s:
        assert "s3cret" not in json.dumps(s.get(Study, study_id).settings)


def test_flags_for_the_wrong_backend_and_unknown_backends_are_refused(tmp_path, capsys):
    _, _, db = _db(tmp_path, n=1)
    assert main(["--db", db, "embed", "--no-progress", "--base-url", "http://h:1/v1"]) == 2
    assert "are for --backend openai" in capsys.readouterr().err
    assert main(["--db", db, "embed", "--no-progress", "--backend", "nope"]) == 2
    assert "unknown embedding backend 'nope'; known: local, openai" in capsys.readouterr().err
    assert main(["--db", db, "embed", "--no-progress", "--backend", "openai"]) == 2
    assert "needs a model" in capsys.readouterr().err
    assert main(["--db", db, "embed", "--no-progress", "--model", "other-model"]) == 2
    assert "runs the shipped all-MiniLM-L6-v2 only" in capsys.readouterr().err


def test_a_bad_reply_later_keeps_the_whole_batches_before_it_and_the_rerun_goes_on(tmp_path, bad_server):
    engine, study_id, _ = _db(tmp_path, n=3)
    bad_server.first = json.dumps({"data": _vec(1)})  # one good reply: the first response's batch
    bad_server.body = json.dumps({"data": [{"embedding": [1.0, None, 0.0]}]})
    config = EmbeddingConfig(backend="openai", model="m", base_url=bad_server.url, max_chars=100000, concurrency=1)
    with session_scope(engine) as s, pytest.raises(BackendError, match="not a number"):
        embed_responses(s, study_id, progress=False, config=config, commit_every=1)
    kept = _rows(engine)
    assert len(kept) == 1 and kept[0].dim == 3  # the first batch, whole; nothing of the failed one
    bad_server.body = json.dumps({"data": _vec(1)})
    with session_scope(engine) as s:
        summary = embed_responses(s, study_id, progress=False, config=config, commit_every=1)
    assert (summary.n_cached, summary.n_embedded) == (1, 2)
    assert len({r.response_id for r in _rows(engine)}) == 3 == len(_rows(engine))

"""The embedded llama.cpp backend end to end on the real SmolLM2 GGUF: runs, resume, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from sqlmodel import select

from db.engine import session_scope
from db.models import Model, Response, Run, Study
from pipeline.generate import generate, get_backend, load_study_file
from pipeline.generate._llamacpp import load_llama
from pipeline.local_models import cpu_threads, default_gguf_path
from tests.conftest import REPO
from tests.pipeline.generate.conftest import write_study


def test_embedded_model_end_to_end_on_shipped_cases(engine, tmp_path):
    study = write_study(tmp_path, name="embedded", backend="llamacpp", cases=["S001", "S005"], max_tokens=32, repeats=2)
    summary = generate(engine, study, progress=False)
    (m,) = summary.models
    assert (m.planned, m.completed, m.failed) == (4, 4, 0)
    assert m.completion_tokens > 0 and m.tokens_per_s > 0
    with session_scope(engine) as session:
        rows = session.exec(select(Response).order_by(Response.case_id, Response.repeat)).all()
        assert [(r.repeat) for r in rows] == [0, 1, 0, 1]
        for r in rows:
            assert r.error is None and r.raw_output is not None
            assert 0 < r.completion_tokens <= 32 and r.prompt_tokens > 20
            assert r.finish_reason in ("stop", "length")
            # SmolLM2 is not a reasoning model: no reasoning field; the format reader is recorded.
            assert r.parse_reader and "reasoning_field" not in r.parse_reader and r.answer in r.raw_output
            # Whatever the tiny model says is recorded and parsed, or flagged with the reason.
            assert r.parse_ok == (bool(r.diagnoses) and r.parse_error is None)
            assert r.parse_ok or r.parse_error
            messages = json.loads(r.prompt)
            assert messages[0]["role"] == "user" and "five preliminary diagnoses" in messages[0]["content"]
        run = session.exec(select(Run)).one()
        assert run.status == "complete" and run.finished_at is not None
        assert run.params == {"temperature": 0.0, "max_tokens": 32, "seed": 1}
        assert run.meta["n_threads"] == cpu_threads() and run.meta["gguf"] == default_gguf_path().name
        assert run.template_name == "five_diagnoses" and run.template_version == "1" and len(run.template_hash) == 64


def test_uses_the_ggufs_own_chat_template_and_all_cores():
    backend = get_backend("llamacpp")(load_study_file_config())
    llm = backend.llm
    assert llm.chat_format == "chat_template.default"  # the template stored in the GGUF, not a guess
    assert "tokenizer.chat_template" in llm.metadata
    assert llm.context_params.n_threads == cpu_threads()
    assert llm is load_llama(str(default_gguf_path()), backend.n_ctx, cpu_threads())  # loaded once per process


def load_study_file_config():
    spec = load_study_file("demo")
    (model,) = spec.generated_models()
    return model.backend_config()


def test_the_demo_study_runs_the_embedded_model_on_a_sample(sqlite_engine):
    summary = generate(sqlite_engine, "demo", limit=1, progress=False)
    (m,) = summary.models
    assert m.model == "SmolLM2-135M-Instruct" and m.completed == 1
    with session_scope(sqlite_engine) as session:
        study = session.exec(select(Study).where(Study.name == "demo")).one()
        models = {x.name: x for x in session.exec(select(Model).where(Model.study_id == study.id))}
        # The demo study also holds the shipped real responses, imported once.
        assert {"DeepSeek-R1", "DeepSeek-V3", "GPT-4o", "SmolLM2-135M-Instruct"} <= set(models)
        n = len(session.exec(select(Response.id)).all())
        assert n == 720 + 400 + 1
    again = generate(sqlite_engine, "demo", limit=1, progress=False)
    assert again.completed == 0
    with session_scope(sqlite_engine) as session:
        assert len(session.exec(select(Response.id)).all()) == 1121


def _count(db: str) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as con:
        try:
            return con.execute("SELECT id, model_id, case_id, repeat, raw_output FROM response ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return []


def test_kill_9_mid_run_then_rerun_leaves_exactly_one_response_each(tmp_path):
    db = str(tmp_path / "kill.db")
    cases = ["S001", "S002", "S003", "S004"]
    study = write_study(tmp_path, name="kill", backend="llamacpp", cases=cases, max_tokens=40)
    cmd = [sys.executable, "-m", "pipeline", "--db", db, "generate", "--study", str(study), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    before: list[tuple] = []
    while time.time() < deadline:
        before = _count(db)
        if before or proc.poll() is not None:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-run: at least one response committed, others pending
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    before = _count(db)
    assert 1 <= len(before) < len(cases), "the kill must land mid-run"

    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    after = _count(db)
    keys = [(model_id, case_id, repeat) for _, model_id, case_id, repeat, _ in after]
    assert len(keys) == len(set(keys)) == len(cases)  # exactly one per (model, case, repeat)
    assert set(before) <= set(after)  # nothing completed was lost or rewritten
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT status FROM run").fetchall() == [("complete",)]

"""`embed` commits in batches: killed with SIGKILL mid-run, the rerun embeds only what is missing."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from pipeline.cluster import embed_responses
from pipeline.cluster._embed import COMMIT_EVERY
from tests.conftest import REPO
from tests.factories import add_medrbench_r1, make_study

N = 3 * COMMIT_EVERY - 10  # three batches


def _stored(path, field: str = "trace") -> int:
    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute("select count(*) from embedding where field = ?", (field,)).fetchone()[0]


def _per_response(path) -> dict[tuple[int, str], int]:
    """(response id, field) -> number of vectors stored."""
    with sqlite3.connect(path, timeout=30) as conn:
        rows = conn.execute("select response_id, field, count(*) from embedding group by response_id, field").fetchall()
    return {(rid, field): n for rid, field, n in rows}


def test_kill_9_mid_run_then_the_rerun_embeds_only_what_is_missing(tmp_path, st_model):
    path = tmp_path / "study.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(engine) as s:
        study = make_study(s)
        add_medrbench_r1(s, study, limit=N)
        study_id, name = study.id, study.name
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--db", str(path), "embed", "--study", name, "--no-progress"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 900
    while _stored(path) == 0:  # the first batch is committed: kill the run in the middle of the next one
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    kept = _stored(path)
    assert 0 < kept < N and kept % COMMIT_EVERY == 0  # whole batches only
    assert _stored(path, "steps") == kept  # each trace's step vectors are committed with it
    before = set(_per_response(path))
    with session_scope(engine) as s:
        summary = embed_responses(s, study_id, progress=False, model=st_model)
    assert summary.n_cached == kept and summary.n_embedded == summary.n_responses - kept == N - kept
    stored = _per_response(path)
    # Every trace embedded exactly once, no duplicates, and what the killed run committed left as it was.
    assert stored == {(rid, f): 1 for rid, _ in stored for f in ("trace", "steps")}
    assert len(stored) == 2 * N and before <= set(stored)
    engine.dispose()

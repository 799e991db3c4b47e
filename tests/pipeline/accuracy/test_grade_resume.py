"""A `grade` killed with SIGKILL midway keeps its finished batches; the next run grades only the rest.

Real subprocesses of `python -m pipeline` on a SQLite file with the shipped responses imported.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
GRADE = ["grade", "--study", "s", "--no-embeddings", "--no-judge"]


def _cli(db: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--db", f"sqlite:///{db}", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _run(db: Path, *args: str) -> str:
    proc = _cli(db, *args)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    return out


def _study(db: Path) -> None:
    _run(db, "import-responses", "sandmann125", "--study", "s")
    _run(db, "import-responses", "medrbench", "--study", "s")


def _ours(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT response_id, correct, rank, k, method, status, matched_diagnosis, json_extract(details, '$.gold') "
            "FROM grade WHERE grader LIKE 'dxtrace-grader%' ORDER BY response_id"
        ).fetchall()


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=0.2) as conn:
            return conn.execute("SELECT count(*) FROM grade WHERE grader LIKE 'dxtrace-grader%'").fetchone()[0]
    except sqlite3.OperationalError:  # locked for a moment by the writer
        return 0


def _n_responses(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM response").fetchone()[0]


def test_grade_killed_midway_resumes_where_it_stopped(tmp_path):
    db = tmp_path / "study.db"
    _study(db)
    reference = tmp_path / "reference.db"
    reference.write_bytes(db.read_bytes())
    total = _n_responses(db)

    proc = _cli(db, *GRADE, "--batch-size", "20")
    deadline = time.monotonic() + 600
    while _count(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = _count(db)
    assert 0 < done < total, f"the kill should land midway: {done} of {total} graded"
    assert done % 20 == 0  # whole batches only: nothing half-written

    out = _run(db, *GRADE, "--batch-size", "20")
    assert f"{done} already graded" in out.replace("\n", " ")
    resumed = _ours(db)
    ids = [r[0] for r in resumed]
    assert len(ids) == len(set(ids)), "a response has two grades of ours"

    _run(reference, *GRADE)  # the same grading, never interrupted
    expected = _ours(reference)
    assert len(expected) == len(resumed)
    assert resumed == expected

    again = _run(db, *GRADE, "--batch-size", "20")
    assert "graded 0 response(s)" in again.replace("\n", " ")
    assert _ours(db) == expected


def test_grade_batch_size_must_be_positive(tmp_path):
    db = tmp_path / "study.db"
    proc = _cli(db, *GRADE, "--batch-size", "0")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2
    assert "error:" in err and "--batch-size" in err
    assert "Traceback" not in err

"""The main job, end to end on the embedded defaults, as `./run demo` runs it (without opening the app)."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
from sqlmodel import Session, func, select

from db.engine import make_engine
from db.models import Annotator, Assignment, ClusterAssignment, Clustering, Embedding, Grade, Response, Study
from pipeline.annotation import authenticate
from tests.conftest import REPO

pytestmark = pytest.mark.model


def test_demo_runs_end_to_end_and_resumes(tmp_path):
    db = tmp_path / "demo.db"
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pipeline", "--db", str(db), "demo", "--sample", "2", "--no-app", "--no-progress",
           "--out", str(out)]  # fmt: skip
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Traceback" not in first.stderr

    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Diagnostic accuracy" in report and "DeepSeek-R1 vs DeepSeek-V3" in report
    creds = out / "credentials.txt"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    accounts = dict(line.split("\t") for line in creds.read_text().splitlines())
    assert set(accounts) == {"lead", "clinician1"}

    engine = make_engine(str(db))
    with Session(engine) as s:
        study = s.exec(select(Study).where(Study.name == "demo")).one()
        n_responses = s.exec(select(func.count()).select_from(Response)).one()
        assert n_responses == 720 + 400 + 2  # shipped answers, shipped R1 traces, the embedded model's sample
        traces = select(func.count()).select_from(Embedding).where(Embedding.field == "trace")
        assert s.exec(traces).one() == 400  # every trace, once (its step vectors beside it, field "steps")
        assert s.exec(select(func.count()).select_from(ClusterAssignment)).one() == 400
        assert s.exec(select(func.count()).select_from(Grade)).one() >= n_responses
        assigned = s.exec(select(func.count()).select_from(Assignment).where(Assignment.study_id == study.id)).one()
        assert assigned > 74  # at least the 74 incorrect R1 traces, plus incorrect answers of other models
        lead = authenticate(s, "lead", accounts["lead"])
        assert lead is not None and lead.role == "lead"

    # Running it again resumes: nothing is added twice, no new passwords are made.
    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "0 new" in second.stderr and "embedded 0 trace(s)" in second.stderr
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Response)).one() == n_responses
        assert s.exec(select(func.count()).select_from(Annotator)).one() == 2
        assert s.exec(select(func.count()).select_from(Assignment)).one() == assigned
        assert s.exec(select(func.count()).select_from(Clustering)).one() == 1
    assert creds.read_text().count("\n") == 2
    engine.dispose()

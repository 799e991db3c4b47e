"""The CLI conventions at work: the only study is taken without --study, a second one must be named; progress
bars stay on our own lines; one interval format; `python -m annotator.serve` starts the app."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request

import pytest

from db.engine import get_engine, session_scope
from pipeline._process import free_port, running
from pipeline.accuracy import Difference, proportion_ci
from pipeline.agreement import Estimate
from pipeline.cli import main
from pipeline.intervals import estimate_interval, interval
from pipeline.report import prevalence
from tests.conftest import REPO
from tests.factories import add_sandmann_outputs, make_study

# "62.5% (40.9 to 79.9)", "0.52 (0.40 to 0.61)", "+3.0 pp (-2.0 to +8.0)": estimate, then (lower to upper).
INTERVAL = re.compile(r"^[+-]?\d+(\.\d+)?(%| pp)? \([+-]?\d+(\.\d+)? to [+-]?\d+(\.\d+)?\)")


def test_the_only_study_is_the_default(tmp_path, capsys):
    db = str(tmp_path / "one.db")
    assert main(["--db", db, "init"]) == 0
    with session_scope(get_engine(db)) as s:
        add_sandmann_outputs(s, make_study(s, "only"), models=["GPT-4o"])
    capsys.readouterr()
    assert main(["--db", db, "grade", "--no-embeddings", "--no-progress"]) == 0
    assert "grades written in study only" in " ".join(capsys.readouterr().out.split())
    assert main(["--db", db, "accuracy", "--no-subgroups"]) == 0
    assert "GPT-4o" in capsys.readouterr().out
    with session_scope(get_engine(db)) as s:
        make_study(s, "second")
    for command in (["grade", "--no-embeddings"], ["accuracy"], ["adjudicate", "--list"], ["agreement"], ["report"]):
        assert main(["--db", db, *command]) == 2, command
        assert "--study: name the study (studies: only, second)" in capsys.readouterr().err, command


def test_one_interval_format():
    acc = proportion_ci(15, 24, conf_level=0.95)
    assert INTERVAL.match(acc.format()) and acc.format().endswith(" 15/24")
    assert INTERVAL.match(prevalence(3, 10).format()) and prevalence(3, 10).format().endswith(" 3/10")
    diff = Difference(0.03, -0.02, 0.08, "newcombe", 0.95)
    assert diff.format() == "+3.0 pp (-2.0 to +8.0)"
    est = Estimate("alpha", value=0.52, ci_low=0.4, ci_high=0.61)
    assert est.formatted() == "0.52 (0.40 to 0.61)"
    assert estimate_interval(0.625, 0.409, 0.799, percent=True, digits=1) == "62.5% (40.9 to 79.9)"
    assert estimate_interval(0.5, None, None) == "0.50" and interval(None, 1) == ""
    assert estimate_interval(None, None, None) == "n/a"


def test_report_progress_and_no_stray_lines(tmp_path):
    """A progress bar on stderr while the report is written; nothing but our own lines on either stream."""
    db = str(tmp_path / "p.db")
    assert main(["--db", db, "init"]) == 0
    with session_scope(get_engine(db)) as s:
        add_sandmann_outputs(s, make_study(s, "p"), models=["GPT-4o"])
    cmd = [sys.executable, "-m", "pipeline", "--db", db, "report", "--out", str(tmp_path / "r"), "--format", "html,md"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("report written: ")
    assert "it/s]" not in out.stderr and "%|" not in out.stderr  # no tqdm bars of third-party libraries
    assert "Warning" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.model
def test_grading_with_embeddings_prints_no_third_party_progress(tmp_path):
    db = str(tmp_path / "g.db")
    assert main(["--db", db, "init"]) == 0
    with session_scope(get_engine(db)) as s:
        add_sandmann_outputs(s, make_study(s, "g"), models=["GPT-4o"])
    cmd = [sys.executable, "-m", "pipeline", "--db", db, "grade"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr
    assert "it/s]" not in out.stderr and "%|" not in out.stderr and "Batches" not in out.stderr, out.stderr[-2000:]


def test_annotator_serve_is_an_entry_point(tmp_path):
    help_ = subprocess.run(
        [sys.executable, "-m", "annotator.serve", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert help_.returncode == 0 and "--port" in help_.stdout and "default: 8501" in help_.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "annotator.serve", "--port", "0"], cwd=REPO, capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: --port 0")
    port = free_port()
    db = tmp_path / "serve.db"
    cmd = [sys.executable, "-m", "annotator.serve", "--db", str(db), "--port", str(port)]
    health = f"http://127.0.0.1:{port}/_stcore/health"
    with running(cmd, health, cwd=REPO, timeout_s=120), urllib.request.urlopen(health, timeout=10) as reply:
        assert reply.status == 200

"""grade-check on the command line: figures printed, JSON written; bad input is one line, exit 2, db unchanged."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from db.models import Grade
from pipeline.accuracy import grade_study
from pipeline.cli import main
from tests.pipeline.accuracy.test_check import build


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_grade_check_cli(engine, tmp_path, capsys):
    with Session(engine) as session:
        study, _ = build(session)
        grade_study(session, study.id, embeddings=False, judge=False)
        session.commit()
        n_grades = len(session.exec(select(Grade)).all())
    out = tmp_path / "check.json"
    assert main(["--db", _url(engine), "grade-check", "--study", "check", "--reference", "bench-judge",
                 "--json", str(out)]) == 0  # fmt: skip
    screen = capsys.readouterr().out
    assert "agreement 75.0%" in screen and "Cohen's kappa 0.500" in screen and "terminology" in screen
    data = json.loads(out.read_text())
    assert data["agreement"] == 0.75 and data["pending_share"] == 0 and data["by_model"][0]["model"] == "m1"

    assert main(["--db", _url(engine), "grade-check", "--study", "check", "--reference", "nope"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "no reference 'nope'" in lines[0]
    assert "Traceback" not in err
    with Session(engine) as session:
        assert len(session.exec(select(Grade)).all()) == n_grades  # nothing written
    assert main(["--db", _url(engine), "grade-check", "--study", "nostudy", "--reference", "imported"]) == 2
    assert main(["--db", _url(engine), "grade-check", "--study", "check", "--reference", "imported",
                 "--conf-level", "95"]) == 2  # fmt: skip

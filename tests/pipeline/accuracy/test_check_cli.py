"""grade-check on the command line: figures printed, JSON written; bad input is one line, exit 2, db unchanged."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from db.models import Grade
from pipeline.accuracy import grade_study
from pipeline.cli import main
from tests.pipeline.accuracy.test_check import CASES, build


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


def test_import_cases_update_says_grades_went_stale(engine, tmp_path, capsys):
    cases = tmp_path / "mini.jsonl"

    def write(gold_c1: str) -> None:
        rows = [{"case_id": key, "vignette": f"vignette {key}", "gold_diagnosis": gold_c1 if key == "c1" else gold,
                 "systems": systems} for key, gold, _, _, systems in CASES]  # fmt: skip
        cases.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")

    write("Acute appendicitis")
    url = _url(engine)
    assert main(["--db", url, "import-cases", str(cases), "--name", "mini"]) == 0
    with Session(engine) as session:
        study, _ = build(session)  # the case set exists already: build adds the study and responses
        grade_study(session, study.id, embeddings=False, judge=False)
        session.commit()
    capsys.readouterr()
    write("Gastroenteritis")
    assert main(["--db", url, "import-cases", str(cases), "--name", "mini"]) == 2  # changed: refused without --update
    assert main(["--db", url, "import-cases", str(cases), "--name", "mini", "--update"]) == 0
    out = capsys.readouterr().out
    assert "1 automatic grade(s) are stale" in out and "python -m pipeline grade" in out

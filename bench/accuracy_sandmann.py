"""Grade the 720 shipped Sandmann answers and print what docs/accuracy.md reports.

    .venv/bin/python bench/accuracy_sandmann.py [--db sqlite:///tmp/x.db] [--out DIR]

Imports the answers into a fresh SQLite study (tests/factories.py, the same path the tests use),
grades them with the default thresholds, and prints: graded automatically / pending, accuracy per
model, DeepSeek-R1 vs DeepSeek-V3 (exact McNemar), agreement with the clinicians' Likert scores,
and the wall-clock time of grading.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from sqlmodel import select  # noqa: E402

from db.engine import make_engine, session_scope  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Response  # noqa: E402
from pipeline.accuracy import effective_grades, grade_study, study_accuracy  # noqa: E402
from tests.factories import add_sandmann_outputs, make_study  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'sandmann.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        study = make_study(session, "sandmann125-answers")
        add_sandmann_outputs(session, study)
        study_id = study.id
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        summary = grade_study(session, study_id)
    elapsed = time.perf_counter() - t0
    print(summary.summary())
    print(f"grading time: {elapsed:.1f} s")
    print("by method:", dict(summary.by_method))
    with session_scope(engine) as session:
        frame = effective_grades(session, study_id)
        likert = {
            r.id: float(r.extra["human_likert_1to5"])
            for r in session.exec(select(Response))
            if r.extra and str(r.extra.get("human_likert_1to5") or "").strip()
        }
        report = study_accuracy(
            session, study_id, pairs=[("DeepSeek-R1", "DeepSeek-V3")], subgroups=("incidence", "specialty", "cohort")
        )
    by_model = frame.groupby("model").agg(
        n=("response_id", "size"),
        correct=("correct", lambda s: int(s.eq(True).sum())),
        incorrect=("correct", lambda s: int(s.eq(False).sum())),
        pending=("status", lambda s: int((s == "pending").sum())),
    )
    print(by_model.to_string())
    cols, rows = report.model_table_rows()
    print(pd.DataFrame([r for r in rows if r[0] == "Overall"], columns=cols).to_string(index=False))
    cols, rows = report.pair_table_rows()
    print(pd.DataFrame(rows, columns=cols).to_string(index=False))
    frame["likert"] = frame["response_id"].map(likert)
    graded = frame[frame["correct"].notna() & frame["likert"].notna()].copy()
    graded["likert_ge4"] = graded["likert"] >= 4
    agree = (graded["likert_ge4"] == graded["correct"].astype(bool)).mean()
    table = pd.crosstab(graded["correct"].astype(bool), graded["likert_ge4"], margins=True)
    print(f"agreement with Likert >= 4 on {len(graded)} automatically graded answers: {agree:.3f}")
    print(table.to_string())
    print("mean Likert by grade:", graded.groupby(graded["correct"].astype(bool))["likert"].mean().round(2).to_dict())
    pend = frame[frame["status"] == "pending"]
    print("mean Likert of pending:", round(pend["response_id"].map(likert).mean(), 2))
    if args.out:
        for p in report.write(args.out):
            print("wrote", p)


if __name__ == "__main__":
    main()

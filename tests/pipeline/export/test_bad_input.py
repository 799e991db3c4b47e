"""A broken export is refused with file, line and field, and an import is all or nothing."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Annotator, Case, CodebookVersion, Response, Study
from pipeline.cli import main
from pipeline.errors import DxTraceError, InputError
from pipeline.export import MANIFEST_FILE, RECORDS_FILE, export_study, import_export
from tests.factories import shipped_case_set
from tests.pipeline.export.study import build_labelled_study


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from db.engine import make_engine
    from db.migrate import upgrade

    root = tmp_path_factory.mktemp("export")
    eng = make_engine(f"sqlite:///{root / 'src.db'}")
    upgrade(eng)
    with session_scope(eng) as s:
        study = build_labelled_study(s, n_r1=20)
        export_study(s, study.id, root / "ok", formats=["jsonl"])
    eng.dispose()
    return root / "ok"


def _copy(exported, tmp_path):
    return shutil.copytree(exported, tmp_path / "export")


def _lines(folder) -> list[str]:
    return (folder / RECORDS_FILE).read_text("utf-8").splitlines(keepends=True)


def _write(folder, lines: list[str], *, rehash: bool = True) -> None:
    (folder / RECORDS_FILE).write_text("".join(lines), "utf-8")
    if rehash:  # as if someone edited the file and its manifest consistently
        manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
        entry = manifest["files"][RECORDS_FILE]
        entry["sha256"] = hashlib.sha256((folder / RECORDS_FILE).read_bytes()).hexdigest()
        entry["rows"] = sum(1 for line in lines if line.strip())
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest), "utf-8")


def _import_fails(engine, folder) -> InputError:
    with pytest.raises(InputError) as err, session_scope(engine) as s:
        import_export(s, folder)
    with session_scope(engine) as s:  # nothing was written
        assert s.exec(select(Study)).all() == []
        assert s.exec(select(Response)).all() == []
        assert s.exec(select(Annotator)).all() == []
    return err.value


def test_broken_json_line_names_file_and_line(exported, tmp_path, sqlite_engine):
    folder = _copy(exported, tmp_path)
    lines = _lines(folder)
    lines[2] = lines[2][:40] + "\n"
    _write(folder, lines)
    err = _import_fails(sqlite_engine, folder)
    assert f"{RECORDS_FILE}:3: not valid JSON" in str(err)
    assert err.problems[0].line == 3


def test_wrong_field_names_the_field(exported, tmp_path, sqlite_engine):
    folder = _copy(exported, tmp_path)
    lines = _lines(folder)
    record = json.loads(lines[1])
    record["repeat"] = "zero"
    record["annotations"] = [{"annotator": "A1", "codebook_version": "1", "error_modes": "drift"}]
    lines[1] = json.dumps(record) + "\n"
    _write(folder, lines)
    err = _import_fails(sqlite_engine, folder)
    fields = {(p.line, p.field) for p in err.problems}
    assert (2, "repeat") in fields and (2, "annotations[0].error_modes") in fields
    assert "'zero' is not of type 'integer'" in str(err)


def test_unknown_annotator_and_duplicate_key(exported, tmp_path, sqlite_engine):
    folder = _copy(exported, tmp_path)
    lines = _lines(folder)
    n = next(i for i, line in enumerate(lines) if json.loads(line)["annotations"])
    record = json.loads(lines[n])
    record["annotations"][0]["annotator"] = "A99"
    lines[n] = json.dumps(record) + "\n"
    lines.append(lines[0])
    _write(folder, lines)
    err = _import_fails(sqlite_engine, folder)
    text = str(err)
    assert f"{RECORDS_FILE}:{n + 1}: annotations[0].annotator: annotator 'A99' is not listed in study.json" in text
    assert f":{len(lines)}: key: duplicate key" in text


def test_changed_or_truncated_file_is_refused(exported, tmp_path, sqlite_engine):
    folder = _copy(exported, tmp_path)
    lines = _lines(folder)
    _write(folder, lines[:-1], rehash=False)
    assert "file changed since export" in str(_import_fails(sqlite_engine, folder))
    manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    manifest["files"][RECORDS_FILE]["sha256"] = hashlib.sha256((folder / RECORDS_FILE).read_bytes()).hexdigest()
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest), "utf-8")
    assert "file is truncated" in str(_import_fails(sqlite_engine, folder))


def test_manifest_problems(exported, tmp_path, sqlite_engine):
    folder = _copy(exported, tmp_path)
    manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    manifest["annotators"][0]["role"] = "boss"
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest), "utf-8")
    err = _import_fails(sqlite_engine, folder)
    assert err.problems[0].field == "annotators[0].role" and err.problems[0].file.endswith(MANIFEST_FILE)
    (folder / MANIFEST_FILE).write_text("{not json", "utf-8")
    assert "not valid JSON" in str(_import_fails(sqlite_engine, folder))
    (folder / MANIFEST_FILE).unlink()
    assert "missing" in str(_import_fails(sqlite_engine, folder))


def test_conflict_with_the_database_writes_nothing(exported, engine):
    """Found only while writing (a case differs from the stored one): the whole import is rolled back."""
    first = json.loads(_lines(exported)[0])
    assert first["case"]["case_set"] == "medrbench"
    key = first["case"]["case_key"]
    with session_scope(engine) as s:
        shipped_case_set(s, "medrbench")
        case = s.exec(select(Case).where(Case.case_key == key)).one()
        case.content_hash = "edited-elsewhere"
    with session_scope(engine) as s:
        before = len(s.exec(select(Case)).all())
    with pytest.raises(InputError) as err, session_scope(engine) as s:
        import_export(s, exported)
    assert f"case {key!r} of case set 'medrbench' differs from the one in the database" in str(err.value)
    with session_scope(engine) as s:
        assert s.exec(select(Study)).all() == [] and s.exec(select(CodebookVersion)).all() == []
        assert len(s.exec(select(Case)).all()) == before


def test_study_name_taken_and_import_as(exported, sqlite_engine):
    with session_scope(sqlite_engine) as s:
        import_export(s, exported)
    taken = "already in this database; import under another name with --as"
    with pytest.raises(DxTraceError, match=taken), session_scope(sqlite_engine) as s:
        import_export(s, exported)
    with session_scope(sqlite_engine) as s:
        summary = import_export(s, exported, study_name="copy")
    # Pseudonyms never merge with existing accounts: the copy's people are new accounts.
    assert summary.annotators_created and all("@copy" in u for u in summary.annotators_created)
    with session_scope(sqlite_engine) as s:
        assert {x.name for x in s.exec(select(Study))} == {"labelled-study", "copy"}


def test_cli_reports_one_line_and_exit_2(exported, tmp_path, capsys):
    folder = _copy(exported, tmp_path)
    lines = _lines(folder)
    lines[0] = "{}\n"
    _write(folder, lines)
    db = tmp_path / "cli.db"
    assert main(["--db", str(db), "import-export", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"{RECORDS_FILE}:1: 'key' is a required property" in err
    assert "Traceback" not in err
    assert main(["--db", str(db), "import-export", str(exported)]) == 0
    assert "imported study 'labelled-study'" in capsys.readouterr().out
    out = tmp_path / "cli-export"
    code = main(["--db", str(db), "export", "--out", str(out), "--model", "DeepSeek-V3", "--format", "jsonl,csv"])
    assert code == 0
    records = [json.loads(x) for x in (out / RECORDS_FILE).read_text("utf-8").splitlines()]
    assert records and {r["model"]["name"] for r in records} == {"DeepSeek-V3"}
    assert (out / "tables" / "responses.csv").exists() and not (out / "tables" / "responses.parquet").exists()
    assert main(["--db", str(db), "export", "--out", str(out), "--model", "GPT-9"]) == 2
    assert "no model 'GPT-9' in this study" in capsys.readouterr().err
    assert main(["--db", str(db), "export", "--out", str(tmp_path), "--adjudication", "maybe"]) == 2
    assert "adjudication filter maybe: choose from" in capsys.readouterr().err

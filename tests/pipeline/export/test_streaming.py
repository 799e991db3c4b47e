"""The streamed export writes the files the whole-study path writes, and a chunked import reads them back.

The export reads and writes `chunk` responses at a time (issue 15); whatever the chunk, the files must be the
ones the earlier code wrote from one in-memory list of records: JSONL and CSV byte for byte, Parquet the same
table (its row groups follow the chunks).
"""

from __future__ import annotations

import copy
import json

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from jsonschema import Draft202012Validator

from db.engine import session_scope
from pipeline.export import (
    RECORDS_FILE,
    TABLES,
    TABLES_DIR,
    build_tables,
    collect_export,
    export_study,
    import_export,
    record_schema,
)
from pipeline.export._import import _fast_record_check
from pipeline.export._tables import _csv_ready
from pipeline.export._write import record_line
from tests.pipeline.export.study import build_labelled_study


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    from db.engine import make_engine
    from db.migrate import upgrade

    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'study.db'}")
    upgrade(eng)
    with session_scope(eng) as s:
        build_labelled_study(s, n_r1=30)
    yield eng
    eng.dispose()


def _study_id(engine) -> int:
    from sqlmodel import select

    from db.models import Study

    with session_scope(engine) as s:
        return s.exec(select(Study.id)).one()


def test_chunks_write_the_files_of_the_whole_study_path(study_db, tmp_path):
    sid = _study_id(study_db)
    with session_scope(study_db) as s:
        whole = collect_export(s, sid, raw_json=True)  # every record in memory, as written
        small = export_study(s, sid, tmp_path / "small", chunk=7)
        one = export_study(s, sid, tmp_path / "one", chunk=100_000)
    assert small.counts == one.counts == whole.manifest["counts"]
    assert whole.manifest["counts"]["annotations"] > 0 and whole.manifest["counts"]["final_labels"] > 0

    expected_jsonl = b"".join(record_line(r) for r in whole.records)
    assert (tmp_path / "small" / RECORDS_FILE).read_bytes() == expected_jsonl
    assert (tmp_path / "one" / RECORDS_FILE).read_bytes() == expected_jsonl

    tables = build_tables(whole.manifest, whole.records)
    for name in TABLES:
        pacsv.write_csv(_csv_ready(tables[name]), tmp_path / f"{name}.csv")
        expected_csv = (tmp_path / f"{name}.csv").read_bytes()
        for folder in ("small", "one"):
            assert (tmp_path / folder / TABLES_DIR / f"{name}.csv").read_bytes() == expected_csv, (folder, name)
            assert pq.read_table(tmp_path / folder / TABLES_DIR / f"{name}.parquet").equals(tables[name])
    assert tables["evidence"].num_rows > 0 and tables["grades"].num_rows > 0
    # The small chunks did make several row groups: the test exercised the streaming.
    assert pq.ParquetFile(tmp_path / "small" / TABLES_DIR / "responses.parquet").num_row_groups > 1

    manifests = [json.loads((tmp_path / f / "study.json").read_text("utf-8")) for f in ("small", "one")]
    for m in manifests:
        m.pop("exported_at")
        for rel in [r for r in m["files"] if r.endswith(".parquet")]:
            m["files"][rel].pop("sha256")  # row groups differ, contents do not (checked above)
    assert manifests[0] == manifests[1]


def test_chunked_import_gives_the_same_export_back(study_db, fresh_engine, tmp_path):
    sid = _study_id(study_db)
    with session_scope(study_db) as s:
        export_study(s, sid, tmp_path / "a", formats=["jsonl"])
    with session_scope(fresh_engine) as s:
        summary = import_export(s, tmp_path / "a", chunk=4)
    assert summary.responses > 8 and summary.annotations > 0
    with session_scope(fresh_engine) as s:
        export_study(s, _study_id(fresh_engine), tmp_path / "b", formats=["jsonl"], chunk=5)
    assert (tmp_path / "b" / RECORDS_FILE).read_bytes() == (tmp_path / "a" / RECORDS_FILE).read_bytes()


def _wrong_values():
    return [None, True, 0, -1, 1.5, "", "x", [], ["x"], [1], {}, {"x": 1}]


def test_the_compiled_check_never_passes_what_jsonschema_refuses(study_db, tmp_path):
    """The import's quick check may only say yes where jsonschema says yes (jsonschema words the errors)."""
    sid = _study_id(study_db)
    with session_scope(study_db) as s:
        records = collect_export(s, sid).records
    judge = Draft202012Validator(record_schema())
    fast = _fast_record_check()

    def fast_ok(doc) -> bool:
        try:
            fast(doc)
            return True
        except Exception:
            return False

    sample = [r for r in records if r["annotations"]][:2] + [r for r in records if r.get("steps") == []][:1]
    refused = 0
    for record in sample:
        assert fast_ok(record) and judge.is_valid(record)
        paths = [(k,) for k in record]
        paths += [("annotations", 0, k) for k in (record["annotations"][0] if record["annotations"] else {})]
        paths += [("grades", 0, k) for k in (record["grades"][0] if record["grades"] else {})]
        paths += [("case", k) for k in record["case"]] + [("run", k) for k in record["run"]]
        for path in paths:
            for value in _wrong_values():
                doc = copy.deepcopy(record)
                target = doc
                for part in path[:-1]:
                    target = target[part]
                target[path[-1]] = value
                if not judge.is_valid(doc):
                    refused += 1
                    assert not fast_ok(doc), (path, value)
            doc = copy.deepcopy(record)
            target = doc
            for part in path[:-1]:
                target = target[part]
            del target[path[-1]]
            if not judge.is_valid(doc):
                assert not fast_ok(doc), (path, "missing")
    assert refused > 100  # the mutations did hit the schema

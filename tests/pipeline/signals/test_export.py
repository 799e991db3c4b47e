"""Signals in the export: records, table columns, and the round trip through import."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from pipeline.export import RECORDS_FILE, export_study, import_export
from pipeline.signals import compute_study_signals
from tests.factories import add_medrbench_r1, make_study


def _engine(path):
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def test_signals_are_exported_as_records_and_columns_and_survive_the_round_trip(tmp_path):
    engine = _engine(tmp_path / "a.db")
    with session_scope(engine) as s:
        add_medrbench_r1(s, make_study(s, "exp"), limit=5)
    compute_study_signals(engine, "exp", signals=["gold_dropped", "repetition_loop"])
    with session_scope(engine) as s:
        export_study(s, "exp", tmp_path / "first")
    records = [json.loads(line) for line in (tmp_path / "first" / RECORDS_FILE).read_text("utf-8").splitlines()]
    assert all({s["signal"] for s in r["signals"]} == {"gold_dropped", "repetition_loop"} for r in records)
    table = pq.read_table(tmp_path / "first" / "tables" / "responses.parquet")
    assert {"signal_gold_dropped", "signal_gold_dropped_steps", "signal_repetition_loop"} <= set(table.column_names)
    fired = table["signal_gold_dropped"].to_pylist()
    assert fired == [next(s["fired"] for s in r["signals"] if s["signal"] == "gold_dropped") for r in records]

    fresh = _engine(tmp_path / "b.db")
    with session_scope(fresh) as s:
        import_export(s, tmp_path / "first")
    with session_scope(fresh) as s:
        export_study(s, "exp", tmp_path / "second")
    assert (tmp_path / "first" / RECORDS_FILE).read_bytes() == (tmp_path / "second" / RECORDS_FILE).read_bytes()
    # Imported signals are recomputed by the next run (their input hash is "imported").
    again = compute_study_signals(fresh, "exp", signals=["gold_dropped", "repetition_loop"])
    assert again.computed == 5

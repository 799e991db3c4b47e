"""Flat tables of an export (responses, grades, annotations, evidence, final labels) as CSV and Parquet.

Lists are Parquet list<string> columns and JSON arrays in CSV; free-form dicts are JSON text in both.
Every error mode of the codebook also gets a 0/1 column, so a spreadsheet can count it directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.export._format import parse_ts
from pipeline.safe_text import _FORMULA_START

TABLES = ("responses", "grades", "annotations", "evidence", "final_labels")
_TS = pa.timestamp("us", tz="UTC")
_STRS = pa.list_(pa.string())
_INTS = pa.list_(pa.int64())


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def error_mode_codes(manifest: dict, records: list[dict]) -> list[str]:
    codes: list[str] = []
    for book in manifest.get("codebooks", []):
        codes.extend(m["code"] for m in book["error_modes"])
    for r in records:
        for ann in r["annotations"]:
            codes.extend(ann["error_modes"])
        if r["final_label"]:
            codes.extend(r["final_label"]["error_modes"])
    return list(dict.fromkeys(codes))


Column = tuple[str, pa.DataType, Callable[[dict], object]]


def _mode_columns(codes: list[str], prefix: str, modes_of: Callable[[dict], list[str] | None]) -> list[Column]:
    def has(code: str) -> Callable[[dict], bool | None]:
        def get(row: dict) -> bool | None:
            modes = modes_of(row)
            return None if modes is None else code in modes

        return get

    return [(f"{prefix}{code}", pa.bool_(), has(code)) for code in codes]


def _case_columns(get: Callable[[dict], dict]) -> list[Column]:
    return [
        ("key", pa.string(), lambda x: get(x)["key"]),
        ("model", pa.string(), lambda x: get(x)["model"]["name"]),
        ("case_set", pa.string(), lambda x: get(x)["case"]["case_set"]),
        ("case_key", pa.string(), lambda x: get(x)["case"]["case_key"]),
    ]


def signal_names(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(s["signal"] for r in records for s in r.get("signals", [])))


def _signal_columns(names: list[str]) -> list[Column]:
    """signal_<name> (fired: true, false, or null when it cannot tell) and signal_<name>_steps, per stored signal."""

    def pick(name: str, key: str):
        def get(r: dict):
            found = next((s for s in r.get("signals", []) if s["signal"] == name), None)
            return None if found is None else found[key]

        return get

    out: list[Column] = []
    for name in names:
        out.append((f"signal_{name}", pa.bool_(), pick(name, "fired")))
        out.append((f"signal_{name}_steps", _INTS, pick(name, "steps")))
    return out


def _table(columns: list[Column], rows: list[dict]) -> pa.Table:
    arrays = {}
    for name, typ, getter in columns:
        values = [getter(row) for row in rows]
        if typ == _TS:
            values = [parse_ts(v) for v in values]
        arrays[name] = pa.array(values, type=typ)
    return pa.table(arrays, schema=schema_of(columns))


def schema_of(columns: list[Column]) -> pa.Schema:
    return pa.schema([(n, t) for n, t, _ in columns])


def build_tables(manifest: dict, records: list[dict]) -> dict[str, pa.Table]:
    columns = table_columns(error_mode_codes(manifest, records), signal_names(records))
    return tables_of(columns, records)


def tables_of(columns: dict[str, list[Column]], records: list[dict]) -> dict[str, pa.Table]:
    """The tables' rows for these records (all of an export, or one chunk of it)."""
    rows = table_rows(records)
    return {name: _table(columns[name], rows[name]) for name in TABLES}


def table_columns(codes: list[str], signals: list[str]) -> dict[str, list[Column]]:
    """Every table's columns; the error-mode and signal columns depend on the whole export, so they are given."""
    grade = lambda r: r.get("grade") or {}  # noqa: E731 - tiny accessor
    final = lambda r: r["final_label"] or {}  # noqa: E731
    responses: list[Column] = [
        *_case_columns(lambda r: r),
        ("backend", pa.string(), lambda r: r["model"]["backend"]),
        ("is_reasoning", pa.bool_(), lambda r: r["model"]["is_reasoning"]),
        ("paired_model", pa.string(), lambda r: r["model"]["paired_model"]),
        ("specialty", pa.string(), lambda r: r["case"]["specialty"]),
        ("incidence", pa.string(), lambda r: r["case"]["incidence"]),
        ("task", pa.string(), lambda r: r["case"]["task"]),
        ("gold_diagnosis", pa.string(), lambda r: r["case"]["gold_diagnosis"]),
        ("repeat", pa.int64(), lambda r: r["repeat"]),
        ("run", pa.int64(), lambda r: r["run"]["ordinal"]),
        ("template_name", pa.string(), lambda r: r["run"]["template_name"]),
        ("template_version", pa.string(), lambda r: r["run"]["template_version"]),
        ("prompt", pa.string(), lambda r: r["prompt"]),
        ("trace", pa.string(), lambda r: r["trace"]),
        ("n_steps", pa.int64(), lambda r: len(r["steps"]) if "steps" in r else None),
        ("answer", pa.string(), lambda r: r["answer"]),
        ("diagnoses", _STRS, lambda r: r["diagnoses"]),
        ("chosen_option", pa.string(), lambda r: r["chosen_option"]),
        ("parse_ok", pa.bool_(), lambda r: r["parse_ok"]),
        ("prompt_tokens", pa.int64(), lambda r: r["prompt_tokens"]),
        ("completion_tokens", pa.int64(), lambda r: r["completion_tokens"]),
        ("reasoning_tokens", pa.int64(), lambda r: r["reasoning_tokens"]),
        ("latency_s", pa.float64(), lambda r: r["latency_s"]),
        ("finish_reason", pa.string(), lambda r: r["finish_reason"]),
        ("error", pa.string(), lambda r: r["error"]),
        ("correct", pa.bool_(), lambda r: grade(r).get("correct")),
        ("rank", pa.int64(), lambda r: grade(r).get("rank")),
        ("grade_method", pa.string(), lambda r: grade(r).get("method")),
        ("grade_status", pa.string(), lambda r: grade(r).get("status")),
        ("n_annotations", pa.int64(), lambda r: len(r["annotations"])),
        ("final_error_modes", _STRS, lambda r: final(r).get("error_modes")),
        ("final_method", pa.string(), lambda r: final(r).get("method")),
        ("final_first_error_step", pa.int64(), lambda r: final(r).get("first_error_step")),
        ("final_adjudicator", pa.string(), lambda r: final(r).get("adjudicator")),
        *_mode_columns(codes, "final_", lambda r: final(r).get("error_modes")),
        *_signal_columns(signals),
        ("created_at", _TS, lambda r: r["created_at"]),
    ]
    grades = [
        *_case_columns(lambda x: x["r"]),
        ("correct", pa.bool_(), lambda x: x["g"]["correct"]),
        ("rank", pa.int64(), lambda x: x["g"]["rank"]),
        ("k", pa.int64(), lambda x: x["g"]["k"]),
        ("method", pa.string(), lambda x: x["g"]["method"]),
        ("score", pa.float64(), lambda x: x["g"]["score"]),
        ("matched_diagnosis", pa.string(), lambda x: x["g"]["matched_diagnosis"]),
        ("status", pa.string(), lambda x: x["g"]["status"]),
        ("grader", pa.string(), lambda x: x["g"]["grader"]),
        ("annotator", pa.string(), lambda x: x["g"]["annotator"]),
        ("details", pa.string(), lambda x: _json(x["g"]["details"])),
        ("created_at", _TS, lambda x: x["g"]["created_at"]),
    ]
    annotations = [
        *_case_columns(lambda x: x["r"]),
        ("annotator", pa.string(), lambda x: x["a"]["annotator"]),
        ("codebook_version", pa.string(), lambda x: x["a"]["codebook_version"]),
        ("error_modes", _STRS, lambda x: x["a"]["error_modes"]),
        *_mode_columns(codes, "", lambda x: x["a"]["error_modes"]),
        ("evidence", pa.string(), lambda x: _json(x["a"]["evidence"])),
        ("first_error_step", pa.int64(), lambda x: x["a"]["first_error_step"]),
        ("severity", pa.string(), lambda x: x["a"]["severity"]),
        ("confidence", pa.int64(), lambda x: x["a"]["confidence"]),
        ("rationale", pa.string(), lambda x: x["a"]["rationale"]),
        ("other_description", pa.string(), lambda x: x["a"]["other_description"]),
        ("flagged", pa.bool_(), lambda x: x["a"]["flagged"]),
        ("suggestion_shown", pa.bool_(), lambda x: x["a"]["suggestion_shown"]),
        ("signals_shown", pa.bool_(), lambda x: x["a"].get("signals_shown")),
        ("n_events", pa.int64(), lambda x: len(x["a"]["events"])),
        ("created_at", _TS, lambda x: x["a"]["created_at"]),
        ("updated_at", _TS, lambda x: x["a"]["updated_at"]),
        ("opened_at", _TS, lambda x: x["a"].get("opened_at")),
        ("saved_at", _TS, lambda x: x["a"].get("saved_at")),
        ("active_seconds", pa.float64(), lambda x: x["a"].get("active_seconds")),
    ]
    evidence = [
        *_case_columns(lambda x: x["r"]),
        ("annotator", pa.string(), lambda x: x["a"]["annotator"]),
        ("error_mode", pa.string(), lambda x: x["mode"]),
        ("step", pa.int64(), lambda x: x["step"]),
        ("step_text", pa.string(), lambda x: x["text"]),
    ]
    finals = [
        *_case_columns(lambda x: x),
        ("error_modes", _STRS, lambda r: r["final_label"]["error_modes"]),
        *_mode_columns(codes, "", lambda r: r["final_label"]["error_modes"]),
        ("method", pa.string(), lambda r: r["final_label"]["method"]),
        ("first_error_step", pa.int64(), lambda r: r["final_label"]["first_error_step"]),
        ("adjudicator", pa.string(), lambda r: r["final_label"]["adjudicator"]),
        ("rationale", pa.string(), lambda r: r["final_label"]["rationale"]),
        ("codebook_version", pa.string(), lambda r: r["final_label"]["codebook_version"]),
        ("n_annotations", pa.int64(), lambda r: len(r["annotations"])),
        ("updated_at", _TS, lambda r: r["final_label"]["updated_at"]),
    ]

    return {
        "responses": responses,
        "grades": grades,
        "annotations": annotations,
        "evidence": evidence,
        "final_labels": finals,
    }


def table_rows(records: list[dict]) -> dict[str, list[dict]]:
    grade_rows = [{"r": r, "g": g} for r in records for g in r["grades"]]
    ann_rows = [{"r": r, "a": a} for r in records for a in r["annotations"]]
    evidence_rows = []
    for r in records:
        steps = r.get("steps")
        for a in r["annotations"]:
            for mode, numbers in (a["evidence"] or {}).items():
                for step in numbers:
                    text = steps[step - 1] if steps and 0 < step <= len(steps) else None
                    evidence_rows.append({"r": r, "a": a, "mode": mode, "step": step, "text": text})
    return {
        "responses": records,
        "grades": grade_rows,
        "annotations": ann_rows,
        "evidence": evidence_rows,
        "final_labels": [r for r in records if r["final_label"]],
    }


# A cell starting so is one a spreadsheet would run as a formula (the characters of pipeline.safe_text.csv_cell).
_FORMULA = "^[" + re.escape("".join(_FORMULA_START)) + "]"


def _csv_ready(table: pa.Table) -> pa.Table:
    """CSV has no lists: list columns become JSON arrays. A text cell a spreadsheet would run as a formula
    (= + - @ first) gets a leading apostrophe (docs/export-format.md); JSONL and Parquet keep the text as is."""
    columns = []
    for name in table.column_names:
        col = table[name]
        if pa.types.is_list(col.type):
            col = pa.array([_json(v) for v in col.to_pylist()], type=pa.string())
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            # Vectorised csv_cell: the same cells, without a Python call per cell.
            quoted = pc.binary_join_element_wise("'", col, "")
            col = pc.if_else(pc.match_substring_regex(col, _FORMULA), quoted, col)
        columns.append(col)
    return pa.table(columns, names=table.column_names)


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([(f.name, pa.string() if pa.types.is_list(f.type) else f.type) for f in schema])


class TableWriter:
    """One table file written chunk by chunk (Parquet row groups, CSV batches): the export never holds it whole."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        self.fmt, self.rows = fmt, 0
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        elif fmt == "csv":
            self._writer = pacsv.CSVWriter(path, _csv_schema(schema))
        else:  # pragma: no cover - callers check formats
            raise ValueError(fmt)

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(_csv_ready(table) if self.fmt == "csv" else table)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()


def write_table(table: pa.Table, path: Path, fmt: str) -> None:
    writer = TableWriter(path, table.schema, fmt)
    try:
        writer.write(table)
    finally:
        writer.close()

"""Flat tables of an export (responses, grades, annotations, evidence, final labels) as CSV and Parquet.

Lists are Parquet list<string> columns and JSON arrays in CSV; free-form dicts are JSON text in both.
Every error mode of the codebook also gets a 0/1 column, so a spreadsheet can count it directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.safe_text import _FORMULA_START

TABLES = ("responses", "grades", "annotations", "evidence", "final_labels")
_TS = pa.timestamp("us", tz="UTC")
_STRS = pa.list_(pa.string())
_INTS = pa.list_(pa.int64())


def _json(value) -> str | None:
    """JSON text of a list or free-form dict in a table cell (keys sorted; a stored JSON fragment as stored)."""
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True)
class At:
    """A column read at these keys of each row (nested dicts); a missing key or a None on the way is null."""

    keys: tuple[str, ...]


@dataclass(frozen=True)
class Has:
    """Whether `code` is in the list at `path`: true / false, or null when there is no list."""

    path: At
    code: str


def P(*keys: str) -> At:
    return At(keys)


# A column's value: a path (read by pyarrow from all rows at once: most columns), a membership test, or a
# function of the row (the few derived columns).
Getter = At | Has | Callable[[dict], object]


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


Column = tuple[str, pa.DataType, Getter]


def _mode_columns(codes: list[str], prefix: str, modes: At) -> list[Column]:
    return [(f"{prefix}{code}", pa.bool_(), Has(modes, code)) for code in codes]


def _case_columns(*at: str) -> list[Column]:
    return [
        ("key", pa.string(), P(*at, "key")),
        ("model", pa.string(), P(*at, "model", "name")),
        ("case_set", pa.string(), P(*at, "case", "case_set")),
        ("case_key", pa.string(), P(*at, "case", "case_key")),
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


def _leaf_type(typ: pa.DataType) -> pa.DataType:
    return pa.string() if typ == _TS else typ  # rows hold timestamps as ISO 8601 text


def _struct_of(paths: dict[tuple[str, ...], pa.DataType]) -> pa.StructType:
    tree: dict = {}
    for keys, typ in paths.items():
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = typ

    def build(node: dict) -> pa.StructType:
        return pa.struct([(k, build(v) if isinstance(v, dict) else v) for k, v in node.items()])

    return build(tree)


def _has(lists: pa.Array, code: str) -> pa.Array:
    parents = pc.list_parent_indices(lists).to_numpy()
    equal = pc.fill_null(pc.equal(pc.list_flatten(lists), code), False).to_numpy(zero_copy_only=False)
    hit = np.zeros(len(lists), dtype=bool)
    hit[parents[equal]] = True
    return pa.array(hit, mask=lists.is_null().to_numpy(zero_copy_only=False))


def _table(columns: list[Column], rows: list[dict]) -> pa.Table:
    """The table of these rows. Every path column is read in one pass by pyarrow (the rows converted to one
    struct array), not one Python call per cell: at 100,000 responses this was most of an export's time."""
    paths: dict[tuple[str, ...], pa.DataType] = {}
    for _name, typ, getter in columns:
        if isinstance(getter, At):
            paths[getter.keys] = _leaf_type(typ)
        elif isinstance(getter, Has):
            paths[getter.path.keys] = _STRS
    rows_array = pa.array(rows, type=_struct_of(paths)) if paths else None
    arrays = {}
    for name, typ, getter in columns:
        if isinstance(getter, At):
            values = pc.struct_field(rows_array, list(getter.keys))
            arrays[name] = values.cast(typ) if typ == _TS else values
        elif isinstance(getter, Has):
            arrays[name] = _has(pc.struct_field(rows_array, list(getter.path.keys)), getter.code)
        else:
            arrays[name] = pa.array([getter(row) for row in rows], type=typ)
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
    responses: list[Column] = [
        *_case_columns(),
        ("backend", pa.string(), P("model", "backend")),
        ("is_reasoning", pa.bool_(), P("model", "is_reasoning")),
        ("paired_model", pa.string(), P("model", "paired_model")),
        ("specialty", pa.string(), P("case", "specialty")),
        ("incidence", pa.string(), P("case", "incidence")),
        ("task", pa.string(), P("case", "task")),
        ("gold_diagnosis", pa.string(), P("case", "gold_diagnosis")),
        ("repeat", pa.int64(), P("repeat")),
        ("run", pa.int64(), P("run", "ordinal")),
        ("template_name", pa.string(), P("run", "template_name")),
        ("template_version", pa.string(), P("run", "template_version")),
        ("prompt", pa.string(), P("prompt")),
        ("trace", pa.string(), P("trace")),
        ("n_steps", pa.int64(), lambda r: len(r["steps"]) if "steps" in r else None),
        ("answer", pa.string(), P("answer")),
        ("diagnoses", _STRS, P("diagnoses")),
        ("chosen_option", pa.string(), P("chosen_option")),
        ("parse_ok", pa.bool_(), P("parse_ok")),
        ("prompt_tokens", pa.int64(), P("prompt_tokens")),
        ("completion_tokens", pa.int64(), P("completion_tokens")),
        ("reasoning_tokens", pa.int64(), P("reasoning_tokens")),
        ("latency_s", pa.float64(), P("latency_s")),
        ("finish_reason", pa.string(), P("finish_reason")),
        ("error", pa.string(), P("error")),
        ("correct", pa.bool_(), P("grade", "correct")),
        ("rank", pa.int64(), P("grade", "rank")),
        ("grade_method", pa.string(), P("grade", "method")),
        ("grade_status", pa.string(), P("grade", "status")),
        ("n_annotations", pa.int64(), lambda r: len(r["annotations"])),
        ("final_error_modes", _STRS, P("final_label", "error_modes")),
        ("final_method", pa.string(), P("final_label", "method")),
        ("final_first_error_step", pa.int64(), P("final_label", "first_error_step")),
        ("final_adjudicator", pa.string(), P("final_label", "adjudicator")),
        *_mode_columns(codes, "final_", P("final_label", "error_modes")),
        *_signal_columns(signals),
        ("created_at", _TS, P("created_at")),
    ]
    grades = [
        *_case_columns("r"),
        ("correct", pa.bool_(), P("g", "correct")),
        ("rank", pa.int64(), P("g", "rank")),
        ("k", pa.int64(), P("g", "k")),
        ("method", pa.string(), P("g", "method")),
        ("score", pa.float64(), P("g", "score")),
        ("matched_diagnosis", pa.string(), P("g", "matched_diagnosis")),
        ("status", pa.string(), P("g", "status")),
        ("grader", pa.string(), P("g", "grader")),
        ("annotator", pa.string(), P("g", "annotator")),
        ("details", pa.string(), lambda x: _json(x["g"]["details"])),
        ("created_at", _TS, P("g", "created_at")),
    ]
    annotations = [
        *_case_columns("r"),
        ("annotator", pa.string(), P("a", "annotator")),
        ("codebook_version", pa.string(), P("a", "codebook_version")),
        ("error_modes", _STRS, P("a", "error_modes")),
        *_mode_columns(codes, "", P("a", "error_modes")),
        ("evidence", pa.string(), lambda x: _json(x["a"]["evidence"])),
        ("first_error_step", pa.int64(), P("a", "first_error_step")),
        ("severity", pa.string(), P("a", "severity")),
        ("confidence", pa.int64(), P("a", "confidence")),
        ("rationale", pa.string(), P("a", "rationale")),
        ("other_description", pa.string(), P("a", "other_description")),
        ("flagged", pa.bool_(), P("a", "flagged")),
        ("suggestion_shown", pa.bool_(), P("a", "suggestion_shown")),
        ("signals_shown", pa.bool_(), P("a", "signals_shown")),
        ("n_events", pa.int64(), lambda x: len(x["a"]["events"])),
        ("created_at", _TS, P("a", "created_at")),
        ("updated_at", _TS, P("a", "updated_at")),
        ("opened_at", _TS, P("a", "opened_at")),
        ("saved_at", _TS, P("a", "saved_at")),
        ("active_seconds", pa.float64(), P("a", "active_seconds")),
    ]
    evidence = [
        *_case_columns("r"),
        ("annotator", pa.string(), P("a", "annotator")),
        ("error_mode", pa.string(), P("mode")),
        ("step", pa.int64(), P("step")),
        ("step_text", pa.string(), P("text")),
    ]
    finals = [
        *_case_columns(),
        ("error_modes", _STRS, P("final_label", "error_modes")),
        *_mode_columns(codes, "", P("final_label", "error_modes")),
        ("method", pa.string(), P("final_label", "method")),
        ("first_error_step", pa.int64(), P("final_label", "first_error_step")),
        ("adjudicator", pa.string(), P("final_label", "adjudicator")),
        ("rationale", pa.string(), P("final_label", "rationale")),
        ("codebook_version", pa.string(), P("final_label", "codebook_version")),
        ("n_annotations", pa.int64(), lambda r: len(r["annotations"])),
        ("updated_at", _TS, P("final_label", "updated_at")),
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

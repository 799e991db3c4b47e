"""Exports of labelled traces: JSONL (one record per response), flat CSV and Parquet tables, and import.

An export is a folder:

    study.json          the study, models, case sets, codebooks, annotator refs, filters, checksums
    responses.jsonl     one record per response (docs/export-format.md, export.schema.json)
    tables/*.csv|.parquet  responses, grades, annotations, evidence, final_labels
    hf/                 on request (--format hf): the tables as a Hugging Face datasets folder + card

Importing it into a fresh database and exporting again gives the same records, so an export
is also a backup. Both directions stream: a study is read and written a chunk of responses at a time.
"""

from __future__ import annotations

from pipeline.export._collect import (
    CollectedExport,
    ExportPlan,
    collect_export,
    export_choices,
    iter_records,
    plan_export,
)
from pipeline.export._filters import ADJUDICATION, CORRECTNESS, ExportFilters
from pipeline.export._format import (
    DEFAULT_FORMATS,
    FORMAT,
    FORMAT_VERSION,
    FORMATS,
    MANIFEST_FILE,
    MANIFEST_SCHEMA_FILE,
    RECORD_SCHEMA_FILE,
    RECORDS_FILE,
    TABLES_DIR,
    manifest_schema,
    record_schema,
)
from pipeline.export._import import ImportSummary, import_export, read_export
from pipeline.export._tables import TABLES, build_tables
from pipeline.export._write import ExportSummary, export_archive, export_study

__all__ = [
    "ADJUDICATION",
    "CORRECTNESS",
    "DEFAULT_FORMATS",
    "FORMAT",
    "FORMATS",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "MANIFEST_SCHEMA_FILE",
    "RECORDS_FILE",
    "RECORD_SCHEMA_FILE",
    "TABLES",
    "TABLES_DIR",
    "CollectedExport",
    "ExportPlan",
    "ExportFilters",
    "ExportSummary",
    "ImportSummary",
    "build_tables",
    "collect_export",
    "export_archive",
    "export_choices",
    "export_study",
    "import_export",
    "iter_records",
    "manifest_schema",
    "plan_export",
    "read_export",
    "record_schema",
]

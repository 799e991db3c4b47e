"""Writing an export folder: responses.jsonl, tables/*.csv|parquet and study.json, all or nothing."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlmodel import Session

import pipeline
from pipeline.errors import DxTraceError
from pipeline.export._collect import CHUNK, ExportPlan, iter_records, plan_export
from pipeline.export._filters import ExportFilters
from pipeline.export._format import DEFAULT_FORMATS, FORMATS, MANIFEST_FILE, RECORDS_FILE, TABLES_DIR, ts
from pipeline.export._hf import CARD_FILE, HfWriter
from pipeline.export._tables import TABLES, TableWriter, schema_of, table_columns, tables_of


@dataclass
class ExportSummary:
    out_dir: Path
    study: str
    files: list[Path] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    pseudonymised: bool = True
    filters: str = "all responses"

    def summary(self) -> str:
        c = self.counts
        who = "pseudonymised annotators" if self.pseudonymised else "real annotator names"
        return (
            f"exported study {self.study!r} ({self.filters}): {c.get('responses', 0)} responses, "
            f"{c.get('annotations', 0)} annotations, {c.get('final_labels', 0)} final labels, {who} -> {self.out_dir}"
        )


def record_line(record: dict) -> bytes:
    """One JSONL line, UTF-8. orjson: a third of the json module's time on 100,000 records; a number JSON
    cannot hold (NaN, infinity) is written as null."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise DxTraceError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST_FILE).exists():
        # Never mix an export into (or overwrite) a folder of something else.
        raise DxTraceError(f"{out_dir}: folder is not empty and holds no DxTrace export; choose an empty folder")


class _Behind:
    """Writes one chunk in a second thread while the next is read and built: file writes, hashing and
    pyarrow's CSV and Parquet encoders release the GIL, so they take the other core. One chunk at most
    waits (memory stays flat); a failed write is raised at the next chunk or at the end."""

    def __enter__(self) -> _Behind:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dxtrace-export")
        self._pending: Future | None = None
        return self

    def then(self, job: Callable[[], None]) -> None:
        self._wait()
        self._pending = self._pool.submit(job)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._wait()
            elif self._pending is not None:
                wait([self._pending])  # the writers are closed after a failure: not while one writes
        finally:
            self._pool.shutdown(wait=True)


def _chunk_writer(data: bytes, built: dict, records: list[dict], jsonl, digest, tables: dict, hf) -> Callable:
    def write() -> None:
        if jsonl is not None:
            jsonl.write(data)
            digest.update(data)
        for rel, writer in tables.items():
            writer.write(built[rel.split("/")[1].rsplit(".", 1)[0]])
        if hf is not None:
            hf.write(built, records)

    return write


def _write_files(
    session: Session, plan: ExportPlan, staging: Path, formats: tuple[str, ...], writers: list, chunk: int
) -> tuple[list[str], dict[str, int], dict[str, str]]:
    """Stream the records into every requested file, one chunk of responses at a time.

    Returns the files written (relative), their row counts and the digests known without rereading.
    `writers` collects open writers so the caller can close them if this fails.
    """
    table_formats = [f for f in formats if f in ("csv", "parquet")]
    columns = table_columns(plan.codes, plan.signals)
    schemas = {name: schema_of(columns[name]) for name in TABLES}
    written: list[str] = []
    tables: dict[str, TableWriter] = {}
    if table_formats:
        (staging / TABLES_DIR).mkdir()
        for name in TABLES:
            for fmt in table_formats:
                rel = f"{TABLES_DIR}/{name}.{fmt}"
                tables[rel] = TableWriter(staging / rel, schemas[name], fmt)
                writers.append(tables[rel])
                written.append(rel)
    hf = HfWriter(staging, schemas) if "hf" in formats else None
    if hf is not None:
        writers.append(hf)
    jsonl = (staging / RECORDS_FILE).open("wb") if "jsonl" in formats else None
    if jsonl is not None:
        writers.append(jsonl)
    digest = hashlib.sha256()
    n_records = 0
    with _Behind() as behind:
        for records in iter_records(session, plan, chunk, raw_json=True):
            n_records += len(records)
            data = b"".join(map(record_line, records)) if jsonl is not None else b""
            built = tables_of(columns, records) if tables or hf is not None else {}
            behind.then(_chunk_writer(data, built, records, jsonl, digest, tables, hf))
    rows: dict[str, int] = {RECORDS_FILE: n_records}
    digests: dict[str, str] = {}
    out: list[str] = []
    if jsonl is not None:
        jsonl.close()
        out.append(RECORDS_FILE)
        digests[RECORDS_FILE] = digest.hexdigest()
    if hf is not None:
        hf_rows = hf.finish(plan.manifest)
        out += [*hf_rows, CARD_FILE]
        rows.update(hf_rows)
    for rel, writer in tables.items():
        writer.close()
        rows[rel] = writer.rows
    return out + written, rows, digests


def export_study(
    session: Session,
    study_id: int | str,
    out_dir: Path | str,
    *,
    formats: Iterable[str] = DEFAULT_FORMATS,
    filters: ExportFilters | None = None,
    models: Iterable[str] | str | None = None,
    case_sets: Iterable[str] | str | None = None,
    correctness: Iterable[str] | str | None = None,
    adjudication: Iterable[str] | str | None = None,
    annotated_only: bool = False,
    pseudonymise: bool = True,
    chunk: int = CHUNK,
) -> ExportSummary:
    """Write the study's labelled responses to `out_dir` (see docs/export-format.md).

    Files appear only when all were written: a failure leaves out_dir as it was.
    A folder holding an earlier export is replaced. The records are read and written `chunk` responses
    at a time, so memory does not grow with the study.
    """
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise DxTraceError(f"export format {', '.join(unknown) or '(none)'}: choose from {', '.join(FORMATS)}")
    if filters is None:
        filters = ExportFilters.make(
            models=models,
            case_sets=case_sets,
            correctness=correctness,
            adjudication=adjudication,
            annotated_only=annotated_only,
        )
    out_dir = Path(out_dir)
    _check_target(out_dir)
    plan = plan_export(session, study_id, filters, pseudonymise=pseudonymise)
    manifest = plan.manifest

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    writers: list = []
    try:
        written, rows, digests = _write_files(session, plan, staging, formats, writers, chunk)
        manifest = {
            "format": manifest["format"],
            "format_version": manifest["format_version"],
            "dxtrace_version": pipeline.__version__,
            "exported_at": ts(datetime.now(UTC)),
            **{k: v for k, v in manifest.items() if k not in ("format", "format_version")},
            "files": {
                rel: {
                    "sha256": digests.get(rel) or _sha256(staging / rel),
                    **({"rows": rows[rel]} if rel in rows else {}),
                }
                for rel in written
            },
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
        written.append(MANIFEST_FILE)

        # Swap in: the old export (if any) goes only once the new one is complete.
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.replace(out_dir, old)
            os.replace(staging, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        for writer in writers:
            with contextlib.suppress(Exception):
                writer.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(
        out_dir=out_dir,
        study=manifest["study"]["name"],
        files=[out_dir / rel for rel in written],
        counts=manifest["counts"],
        pseudonymised=pseudonymise,
        filters=filters.describe(),
    )


def export_archive(session: Session, study_id: int | str, **options) -> tuple[bytes, ExportSummary]:
    """The export as one zip (for a download button): its folder zipped, nothing left on disk."""
    with tempfile.TemporaryDirectory(prefix="dxtrace-export-") as tmp:
        summary = export_study(session, study_id, Path(tmp) / "export", **options)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in summary.files:
                zf.write(path, path.relative_to(summary.out_dir).as_posix())
    return buffer.getvalue(), summary

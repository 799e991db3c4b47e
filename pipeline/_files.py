"""Reading the rows of input files (JSONL, CSV, TSV), each with the line it starts on.

Pure but for the path checks in resolve_source: every problem is collected as a
Problem(file, line, field, message) so that one import reports all of them at once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.errors import InputError, Problem

ROW_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")


def decode(data: bytes, filename: str) -> str:
    """UTF-8 text (a BOM is allowed); a wrong encoding is reported with its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            Problem(filename, line, None, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8")
        ) from None


def iter_jsonl_rows(text: str, filename: str, problems: list[Problem]) -> Iterator[tuple[int, dict]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(filename, lineno, None, f"broken JSON (column {exc.colno}): {exc.msg}"))
            continue
        if not isinstance(row, dict):
            problems.append(Problem(filename, lineno, None, "each line must be a JSON object"))
            continue
        yield lineno, row


def iter_csv_rows(text: str, filename: str, problems: list[Problem]) -> Iterator[tuple[int, dict]]:
    """Rows as {header: cell}; a quoted cell may span lines, so each row carries its first line."""
    dialect = "excel-tab" if filename.lower().endswith(".tsv") else "excel"
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        problems.append(Problem(filename, 1, None, f"broken CSV header: {exc}"))
        return
    header = [h.strip() for h in header]
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(Problem(filename, start, None, f"broken CSV: {exc}"))
            return
        lineno, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(filename, lineno, None, f"{len(cells)} cells, the header has {len(header)}"))
            continue
        yield lineno, dict(zip(header, cells, strict=True))


def iter_rows(text: str, filename: str, problems: list[Problem]) -> Iterator[tuple[int, dict]]:
    """CSV/TSV by the file's suffix, else JSON lines."""
    if filename.lower().endswith((".csv", ".tsv")):
        return iter_csv_rows(text, filename, problems)
    return iter_jsonl_rows(text, filename, problems)


def resolve_source(
    source: str | Path, shipped_dir: Path, mapping_file: str, kind: str, shipped: Callable[[], list[str]]
) -> tuple[Path, Path | None]:
    """A data file and its mapping, from a file path, a folder, or the name of a shipped set in shipped_dir."""
    path = Path(source)
    if not path.exists() and (shipped_dir / str(source)).is_dir():
        path = shipped_dir / str(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in ROW_SUFFIXES)
        if len(files) != 1:
            raise InputError(
                Problem(str(path), None, None, f"a {kind} folder must hold exactly one .jsonl or .csv file")
            )
        mapping = path / mapping_file
        return files[0], mapping if mapping.exists() else None
    if not path.exists():
        known = ", ".join(shipped())
        raise InputError(Problem(str(source), None, None, f"no such file, folder or shipped {kind} (shipped: {known})"))
    return path, None

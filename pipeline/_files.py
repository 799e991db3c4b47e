"""Reading the records of input files, each with the line (or row) it starts on.

One reader per file shape, registered by suffix: JSON lines, a `.json` array (or an object holding
one), CSV/TSV and Parquet. Every problem is collected as a Problem(file, line, field, message) so
that one import reports all of them at once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.errors import InputError, Problem

Rows = Iterator[tuple[int, dict]]
Reader = Callable[[bytes, str, list[Problem]], Rows]

_READERS: dict[str, Reader] = {}


def reader(*suffixes: str):
    """Register `fn(data, filename, problems) -> (line, record)...` for files ending in one of suffixes."""

    def register(fn: Reader) -> Reader:
        for suffix in suffixes:
            _READERS[suffix] = fn
        return fn

    return register


def row_suffixes() -> tuple[str, ...]:
    return tuple(_READERS)


def decode(data: bytes, filename: str) -> str:
    """UTF-8 text (a BOM is allowed); a wrong encoding is reported with its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            Problem(filename, line, None, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8")
        ) from None


def iter_jsonl_rows(text: str, filename: str, problems: list[Problem]) -> Rows:
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


def iter_csv_rows(text: str, filename: str, problems: list[Problem]) -> Rows:
    """Rows as {header: cell}; a quoted cell may span lines, so each row carries its first line."""
    dialect = "excel-tab" if filename.lower().endswith(".tsv") else "excel"
    reader_ = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = next(reader_)
    except StopIteration:
        return
    except csv.Error as exc:
        problems.append(Problem(filename, 1, None, f"broken CSV header: {exc}"))
        return
    header = [h.strip() for h in header]
    start = reader_.line_num + 1
    while True:
        try:
            cells = next(reader_)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(Problem(filename, start, None, f"broken CSV: {exc}"))
            return
        lineno, start = start, reader_.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(filename, lineno, None, f"{len(cells)} cells, the header has {len(header)}"))
            continue
        yield lineno, dict(zip(header, cells, strict=True))


def _json_array(text: str, filename: str, problems: list[Problem]) -> Rows:
    """The objects of a JSON array, each with the line it starts on (json.loads would lose the lines)."""
    decoder = json.JSONDecoder()
    i = _skip_space(text, 0)
    if i >= len(text) or text[i] != "[":
        problems.append(Problem(filename, 1, None, "expected a JSON array of records"))
        return
    i = _skip_space(text, i + 1)
    if i < len(text) and text[i] == "]":
        return
    while i < len(text):
        line = text.count("\n", 0, i) + 1
        try:
            record, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            problems.append(Problem(filename, exc.lineno, None, f"broken JSON (column {exc.colno}): {exc.msg}"))
            return
        if isinstance(record, dict):
            yield line, record
        else:
            problems.append(Problem(filename, line, None, "each item of the array must be a JSON object"))
        i = _skip_space(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip_space(text, i + 1)
            continue
        if i < len(text) and text[i] == "]":
            return
        problems.append(Problem(filename, text.count("\n", 0, i) + 1, None, "broken JSON: expected ',' or ']'"))
        return


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


@reader(".jsonl", ".ndjson")
def _read_jsonl(data: bytes, filename: str, problems: list[Problem]) -> Rows:
    return iter_jsonl_rows(decode(data, filename), filename, problems)


@reader(".csv", ".tsv")
def _read_csv(data: bytes, filename: str, problems: list[Problem]) -> Rows:
    return iter_csv_rows(decode(data, filename), filename, problems)


@reader(".json")
def _read_json(data: bytes, filename: str, problems: list[Problem]) -> Rows:
    """A `.json` file: an array of records; one object per line (JSONL named .json) is accepted too."""
    text = decode(data, filename)
    if text.lstrip().startswith("["):
        return _json_array(text, filename, problems)
    whole = _one_object(text)
    if whole is not None:
        lists = [f"{k} ({len(v)} items)" for k, v in whole.items() if isinstance(v, list) and v]
        where = f"; the records may be under: {', '.join(lists)}" if lists else ""
        problems.append(
            Problem(filename, 1, None, f"one JSON object, not an array of records{where}; save the records as an array")
        )
        return iter(())
    return iter_jsonl_rows(text, filename, problems)


def _one_object(text: str) -> dict | None:
    """The file's one JSON object when it spans several lines (pretty-printed), else None."""
    if "\n" not in text.strip() or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


@reader(".parquet")
def _read_parquet(data: bytes, filename: str, problems: list[Problem]) -> Rows:
    """Parquet rows as dicts (nested structs and lists as Python objects); the 'line' is the row number."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        problems.append(Problem(filename, None, None, f"not a readable Parquet file: {exc}"))
        return iter(())
    return enumerate(table.to_pylist(), start=1)


def read_records(path: Path, problems: list[Problem], data: bytes | None = None) -> list[tuple[int, dict]]:
    """Every record of a file, read by its suffix; unreadable records are added to problems."""
    filename = str(path)
    fn = _READERS.get(path.suffix.lower())
    if fn is None:
        known = ", ".join(row_suffixes())
        raise InputError(Problem(filename, None, None, f"unknown file type {path.suffix!r}; use one of {known}"))
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(Problem(filename, None, None, f"cannot read: {exc.strerror or exc}")) from None
    return list(fn(data, filename, problems))


def iter_rows(text: str, filename: str, problems: list[Problem]) -> Rows:
    """CSV/TSV by the file's suffix, else JSON lines (kept for callers that hold text)."""
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
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in row_suffixes() or p.suffix == ".eval")
        if len(files) != 1:
            raise InputError(
                Problem(
                    str(path),
                    None,
                    None,
                    f"a {kind} folder must hold exactly one data file ({', '.join(row_suffixes())})",
                )
            )
        mapping = path / mapping_file
        return files[0], mapping if mapping.exists() else None
    if not path.exists():
        known = ", ".join(shipped())
        raise InputError(Problem(str(source), None, None, f"no such file, folder or shipped {kind} (shipped: {known})"))
    return path, None

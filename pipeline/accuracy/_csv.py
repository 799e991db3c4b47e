"""Reading results graded elsewhere: a plain CSV of case, model, correct and optional subgroup columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError, Problem

TRUE = {"1", "true", "yes", "y", "correct", "t"}
FALSE = {"0", "false", "no", "n", "incorrect", "wrong", "f"}
PENDING = {"", "na", "n/a", "pending", "none", "null"}
CASE_ALIASES = ("case", "case_id", "case_key")


def read_results_csv(path: Path) -> pd.DataFrame:
    """A frame with columns case, model, correct (boolean, NA = not graded) and the other columns as strings.

    Every problem is reported with file, line and field; nothing is returned unless the whole file is valid.
    """
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(Problem(name, None, None, "no such file")) from None
    except OSError as exc:
        raise InputError(Problem(name, None, None, f"cannot read: {exc.strerror}")) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(Problem(name, line, None, "not UTF-8 text")) from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(
            Problem(name, None, None, "the file is empty; expected a header: case,model,correct")
        ) from None
    header = [h.strip() for h in header]
    lower = [h.lower() for h in header]
    case_col = next((lower.index(a) for a in CASE_ALIASES if a in lower), None)
    problems = []
    if case_col is None:
        problems.append(Problem(name, 1, "case", "missing column (also accepted: case_id, case_key)"))
    for required in ("model", "correct"):
        if required not in lower:
            problems.append(Problem(name, 1, required, "missing column"))
    dupes = sorted({h for h in lower if lower.count(h) > 1})
    if dupes:
        problems.append(Problem(name, 1, dupes[0], "column appears more than once"))
    if problems:
        raise InputError(problems)
    model_col, correct_col = lower.index("model"), lower.index("correct")
    extra = [(i, header[i]) for i in range(len(header)) if i not in (case_col, model_col, correct_col)]
    records = []
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(Problem(name, line, None, f"expected {len(header)} fields, found {len(row)}"))
            continue
        case, model, value = row[case_col].strip(), row[model_col].strip(), row[correct_col].strip().lower()
        if not case:
            problems.append(Problem(name, line, header[case_col], "empty"))
        if not model:
            problems.append(Problem(name, line, "model", "empty"))
        if value in TRUE:
            correct: bool | None = True
        elif value in FALSE:
            correct = False
        elif value in PENDING:
            correct = None
        else:
            problems.append(
                Problem(name, line, "correct", f"{row[correct_col]!r} is not 1/0, true/false, yes/no or empty")
            )
            continue
        if case and model:
            if (case, model) in seen:
                problems.append(
                    Problem(
                        name,
                        line,
                        header[case_col],
                        f"case {case!r} for model {model!r} already on line {seen[(case, model)]}",
                    )
                )
                continue
            seen[(case, model)] = line
        rec = {"case": case, "model": model, "correct": correct}
        for i, col in extra:
            rec[col] = row[i].strip() or None
        records.append(rec)
    if problems:
        raise InputError(problems)
    if not records:
        raise InputError(Problem(name, None, None, "no result rows under the header"))
    frame = pd.DataFrame.from_records(records)
    frame["correct"] = frame["correct"].astype("boolean")
    return frame

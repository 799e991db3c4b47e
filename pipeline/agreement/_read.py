"""Ratings from the study database and from a plain CSV of (item, rater, label) rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from db.models import Annotation, Annotator, CodebookVersion, Response, Study
from pipeline.agreement._model import DEFAULT_ERROR_MODES, NO_ERROR, Rating, Ratings, normalise_labels
from pipeline.cases import decode
from pipeline.errors import DxTraceError, InputError, Problem

ITEM_COLUMNS = ("item", "unit", "response_id", "response", "subject")
RATER_COLUMNS = ("rater", "annotator", "coder", "observer")
LABEL_COLUMNS = ("label", "error_mode", "code", "category", "value")
CASE_COLUMNS = ("case", "case_id", "case_key")
STEP_COLUMNS = ("first_error_step", "step")


def study_error_modes(session: Session, study: Study) -> tuple[str, ...]:
    """The error-mode codes of the study's codebook, in codebook order, without "no_error"."""
    if study.codebook_version_id is not None:
        row = session.get(CodebookVersion, study.codebook_version_id)
        if row is not None:
            codes = [m["code"] for m in row.error_modes if isinstance(m, dict) and "code" in m]
            return tuple(c for c in codes if c != NO_ERROR)
    return DEFAULT_ERROR_MODES


def ratings_from_db(session: Session, study_id: int, *, pseudonymise: bool = False) -> Ratings:
    """Every saved annotation of the study as a rating: item = response, case = its case.

    An annotation whose only mode is "no_error" is the empty label set. An annotation flagged for
    discussion without any mode is not a rating yet and is left out (counted in the warnings).
    """
    study = session.get(Study, study_id)
    if study is None:
        raise DxTraceError(f"no study with id {study_id}")
    # Columns, not ORM objects: 30,000 annotations load in a fraction of the time.
    rows = session.exec(
        select(
            Annotation.id,
            Annotation.response_id,
            Annotation.annotator_id,
            Annotation.error_modes,
            Annotation.first_error_step,
            Annotator.username,
            Response.case_id,
        )
        .join(Annotator, Annotator.id == Annotation.annotator_id)
        .join(Response, Response.id == Annotation.response_id)
        .where(Annotation.study_id == study_id)
        .order_by(Annotation.response_id, Annotation.id)
    ).all()
    names: dict[int, str] = {}
    if pseudonymise:
        for i, aid in enumerate(sorted({row.annotator_id for row in rows})):
            names[aid] = rater_alias(i)
    ratings, warnings = [], []
    undecided = 0
    for ann_id, response_id, annotator_id, error_modes, first_error_step, username, case_id in rows:
        codes = [str(c) for c in (error_modes or [])]
        if not codes:
            undecided += 1
            continue
        if NO_ERROR in codes and len(codes) > 1:
            warnings.append(
                f"response {response_id}: annotation {ann_id} has 'no_error' with other modes; 'no_error' was ignored"
            )
        labels = normalise_labels(codes)
        ratings.append(
            Rating(
                item=str(response_id),
                rater=names.get(annotator_id, username),
                labels=labels,
                first_error_step=first_error_step if labels else None,
                case=str(case_id),
            )
        )
    if undecided:
        warnings.append(f"{undecided} annotation(s) flagged for discussion without an error mode were left out")
    return Ratings.build(ratings, study_error_modes(session, study), source=f"study {study.name}", warnings=warnings)


def rater_alias(i: int) -> str:
    """A, B, ..., Z, AA, AB, ...: how annotators are shown to each other."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _find(header: list[str], names: Sequence[str]) -> int | None:
    low = [h.strip().lower() for h in header]
    for n in names:
        if n in low:
            return low.index(n)
    return None


@dataclass
class _Acc:
    line: int
    labels: set[str] = field(default_factory=set)
    no_error_line: int | None = None
    step: int | None = None
    step_line: int | None = None
    case: str | None = None


def read_ratings_csv(path: Path | str, *, labels: Sequence[str] | None = None) -> Ratings:
    """Ratings from a CSV (or .tsv) with one row per (item, rater, label).

    Columns (case-insensitive): item, rater, label; optional case (the resampling unit) and
    first_error_step. A rater who found no error writes "no_error" or leaves the label empty.
    Several rows of one item and rater make a label set. Any problem is reported by file, line and
    field, and nothing is read.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError(Problem(name, None, None, "no such file"))
    text = decode(path.read_bytes(), name)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    problems: list[Problem] = []
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(Problem(name, None, None, "the file is empty; expected a header: item,rater,label")) from None
    except csv.Error as exc:
        raise InputError(Problem(name, 1, None, f"broken CSV header: {exc}")) from None
    cols = {
        "item": _find(header, ITEM_COLUMNS),
        "rater": _find(header, RATER_COLUMNS),
        "label": _find(header, LABEL_COLUMNS),
        "case": _find(header, CASE_COLUMNS),
        "first_error_step": _find(header, STEP_COLUMNS),
    }
    for key, names in (("item", ITEM_COLUMNS), ("rater", RATER_COLUMNS), ("label", LABEL_COLUMNS)):
        if cols[key] is None:
            problems.append(Problem(name, 1, key, f"missing column (accepted names: {', '.join(names)})"))
    if problems:
        raise InputError(problems)

    acc: dict[tuple[str, str], _Acc] = {}
    case_of: dict[str, tuple[str, int]] = {}
    n_rows = 0
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(name, reader.line_num, None, f"broken CSV: {exc}"))
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        n_rows += 1

        def get(key: str, cells=cells) -> str:
            i = cols[key]
            return cells[i].strip() if i is not None and i < len(cells) else ""

        item, rater, label = get("item"), get("rater"), get("label")
        if not item:
            problems.append(Problem(name, line, "item", "empty"))
        if not rater:
            problems.append(Problem(name, line, "rater", "empty"))
        if not item or not rater:
            continue
        a = acc.setdefault((item, rater), _Acc(line))
        if label and label != NO_ERROR:
            if a.no_error_line is not None:
                problems.append(
                    Problem(name, line, "label", f"{label!r} contradicts 'no_error' on line {a.no_error_line}")
                )
            a.labels.add(label)
        else:
            if a.labels:
                problems.append(
                    Problem(name, line, "label", f"'no_error' contradicts {sorted(a.labels)[0]!r} on line {a.line}")
                )
            a.no_error_line = a.no_error_line or line
        step_text = get("first_error_step")
        if step_text:
            try:
                step = int(step_text)
                if step < 1:
                    raise ValueError
            except ValueError:
                problems.append(
                    Problem(name, line, "first_error_step", f"{step_text!r} is not a step number (1, 2, ...)")
                )
            else:
                if a.step is not None and a.step != step:
                    problems.append(
                        Problem(name, line, "first_error_step", f"{step} differs from {a.step} on line {a.step_line}")
                    )
                a.step, a.step_line = step, line
        case = get("case")
        if case:
            prev = case_of.get(item)
            if prev and prev[0] != case:
                problems.append(Problem(name, line, "case", f"item {item!r} is in case {prev[0]!r} on line {prev[1]}"))
            case_of.setdefault(item, (case, line))
    if n_rows == 0 and not problems:
        problems.append(Problem(name, None, None, "no rating rows below the header"))
    if problems:
        raise InputError(problems)
    ratings = [
        Rating(
            item=item,
            rater=rater,
            labels=normalise_labels(a.labels),
            first_error_step=a.step if a.labels else None,
            case=case_of[item][0] if item in case_of else None,
        )
        for (item, rater), a in acc.items()
    ]
    seen = {lab for r in ratings for lab in r.labels}
    if labels is None:
        known = [c for c in DEFAULT_ERROR_MODES if c in seen]
        labels = (*DEFAULT_ERROR_MODES, *sorted(seen - set(DEFAULT_ERROR_MODES))) if known else sorted(seen)
    return Ratings.build(ratings, labels, source=name)


def _sniff(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def ratings_to_csv_rows(ratings: Ratings) -> list[dict]:
    """The (item, rater, label) rows of ratings, the format read_ratings_csv reads."""
    out = []
    for r in ratings.ratings:
        for lab in sorted(r.labels) or [NO_ERROR]:
            out.append(
                {
                    "item": r.item,
                    "rater": r.rater,
                    "label": lab,
                    "case": r.case or "",
                    "first_error_step": r.first_error_step or "",
                }
            )
    return out

"""Field paths in a mapping: a column name, or a JMESPath expression into nested records.

`history` reads the column `history`; `patient.history`, `answers[0].text` or
`answers[?correct].text | [0]` reach into nested JSON (https://jmespath.org). A name that is a
column of the record always wins, so CSV headers with spaces or dots work as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from pipeline.errors import Problem


@dataclass(frozen=True)
class FieldPath:
    """Where one field of a mapping is read from."""

    field: str  # the canonical field, e.g. "vignette"
    spec: str  # as written in the mapping, e.g. "patient.history"
    expr: Any = None  # the compiled JMESPath expression, None for a plain name
    syntax_error: str | None = None  # why spec is not an expression (then it can only be a column)

    @classmethod
    def of(cls, field: str, spec: str) -> FieldPath:
        try:
            return cls(field, spec, jmespath.compile(spec))
        except JMESPathError as exc:
            return cls(field, spec, None, str(exc).splitlines()[0])

    @property
    def where(self) -> str:
        """How a message names the field: `vignette` or `vignette (column 'history')`."""
        return self.field if self.spec == self.field else f"{self.field} (column {self.spec!r})"

    def get(self, record: dict) -> Any:
        if self.spec in record:
            return record[self.spec]
        if self.expr is None:
            return None
        try:
            return self.expr.search(record)
        except JMESPathError:
            return None

    def found_in(self, records: Iterable[dict]) -> bool:
        """Whether any record has the column (even empty), or gives the expression a value."""
        return any(self.spec in r or (self.expr is not None and self.get(r) is not None) for r in records)


def columns_of(records: Sequence[dict], limit: int = 40) -> list[str]:
    """The top-level keys of the records, in order of first appearance."""
    seen: dict[str, None] = {}
    for record in records:
        for key in record:
            seen.setdefault(str(key), None)
    return list(seen)[:limit]


def absent(path: FieldPath, records: Sequence[dict], filename: str, hint: str = "") -> Problem:
    """One problem for a mapped field that no record has: it names the field and lists the file's columns."""
    cols = columns_of(records)
    listing = ", ".join(cols) if cols else "(none)"
    what = "column" if path.expr is None or path.spec.isidentifier() else "path"
    message = f"{what} {path.spec!r} is not in the file; its columns: {listing}"
    if path.syntax_error and not path.spec.isidentifier():
        message += f" (and it is not a valid JMESPath expression: {path.syntax_error})"
    return Problem(filename, None, path.field, message + hint)


def kind_of(value: Any) -> str | None:
    """'a JSON object' / 'a list' for values that are not text, else None."""
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list | tuple):
        return "a list"
    return None


def scalar_text(value: Any) -> str | None:
    """Text of a scalar value (str, number, bool), stripped; None when empty. Caller checks kind_of first."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def not_text(path: FieldPath, value: Any, filename: str, line: int | None) -> Problem:
    """A dict or list mapped onto a text field: storing its printout could leak other fields (even the gold)."""
    hint = "map one text field inside it"
    if isinstance(value, dict) and value:
        first = next(iter(value))
        hint += f" (e.g. {path.spec}.{first})" if str(first).isidentifier() else ""
    return Problem(
        filename,
        line,
        path.where,
        f"is {kind_of(value)}, not text; {hint}, or build the text from several fields with a template",
    )


__all__ = ["FieldPath", "absent", "columns_of", "kind_of", "not_text", "scalar_text"]

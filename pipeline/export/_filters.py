"""Which responses an export holds: by model, case set, correctness and adjudication state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from pipeline.errors import DxTraceError

CORRECTNESS = ("correct", "incorrect", "uncertain", "ungraded")
ADJUDICATION = ("unsettled", "unanimous", "majority", "adjudicated")
# Shorthand accepted on the command line and in the app.
ADJUDICATION_ALIASES = {"settled": ("unanimous", "majority", "adjudicated"), "any": ADJUDICATION}


def _tuple(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


@dataclass(frozen=True)
class ExportFilters:
    """Empty means no filter. Values within one filter are alternatives (OR); filters combine with AND.

    correctness: correct / incorrect / uncertain (graded, waiting for a clinician) / ungraded.
    adjudication: unsettled (no final label) / unanimous / majority / adjudicated; "settled" = the last three.
    """

    models: tuple[str, ...] = ()
    case_sets: tuple[str, ...] = ()
    correctness: tuple[str, ...] = ()
    adjudication: tuple[str, ...] = ()
    annotated_only: bool = False

    @classmethod
    def make(
        cls,
        *,
        models: Iterable[str] | str | None = None,
        case_sets: Iterable[str] | str | None = None,
        correctness: Iterable[str] | str | None = None,
        adjudication: Iterable[str] | str | None = None,
        annotated_only: bool = False,
    ) -> ExportFilters:
        corr = _tuple(correctness)
        bad = [c for c in corr if c not in CORRECTNESS]
        if bad:
            raise DxTraceError(f"correctness filter {', '.join(bad)!s}: choose from {', '.join(CORRECTNESS)}")
        adj: list[str] = []
        for value in _tuple(adjudication):
            if value in ADJUDICATION_ALIASES:
                adj.extend(ADJUDICATION_ALIASES[value])
            elif value in ADJUDICATION:
                adj.append(value)
            else:
                choices = ", ".join((*ADJUDICATION, *ADJUDICATION_ALIASES))
                raise DxTraceError(f"adjudication filter {value}: choose from {choices}")
        return cls(
            models=_tuple(models),
            case_sets=_tuple(case_sets),
            correctness=corr,
            adjudication=tuple(dict.fromkeys(adj)),
            annotated_only=annotated_only,
        )

    @property
    def active(self) -> bool:
        return bool(self.models or self.case_sets or self.correctness or self.adjudication or self.annotated_only)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def describe(self) -> str:
        parts = []
        for name, value in self.to_dict().items():
            if value:
                parts.append(f"{name}={','.join(value) if isinstance(value, list) else value}")
        return "; ".join(parts) or "all responses"


def correctness_of(correct: bool | None, graded: bool) -> str:
    if not graded:
        return "ungraded"
    if correct is None:
        return "uncertain"
    return "correct" if correct else "incorrect"

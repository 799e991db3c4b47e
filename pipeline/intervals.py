"""The one way an estimate and its confidence interval are written, in the report, the CLI and the exports' text.

"62.5% (40.9 to 79.9)": " to " rather than a dash, because a dash is ambiguous beside negative bounds
(a difference of -3 with bounds -8 and 1 would read "-3 (-8--1)").
"""

from __future__ import annotations


def interval(
    lower: float | None, upper: float | None, *, digits: int = 2, scale: float = 1.0, signed: bool = False
) -> str:
    """'(lo to hi)', or '' when a bound is missing."""
    if lower is None or upper is None:
        return ""
    sign = "+" if signed else ""
    return f"({scale * lower:{sign}.{digits}f} to {scale * upper:{sign}.{digits}f})"


def estimate_interval(
    estimate: float | None,
    lower: float | None,
    upper: float | None,
    *,
    digits: int = 2,
    percent: bool = False,
    signed: bool = False,
    missing: str = "n/a",
) -> str:
    """'0.52 (0.40 to 0.61)', or with percent=True '62.5% (40.9 to 79.9)'; the estimate alone without bounds."""
    if estimate is None:
        return missing
    scale, unit = (100.0, "%") if percent else (1.0, "")
    sign = "+" if signed else ""
    head = f"{scale * estimate:{sign}.{digits}f}{unit}"
    ci = interval(lower, upper, digits=digits, scale=scale, signed=signed)
    return f"{head} {ci}" if ci else head

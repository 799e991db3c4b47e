"""Errors that reach the user as one clear message, never as a traceback."""

from __future__ import annotations

from dataclasses import dataclass


class DxTraceError(Exception):
    """A problem the user can fix; the CLI and the app show its message as is."""


@dataclass(frozen=True)
class Problem:
    """One problem in an input file, located by file, line and field."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class InputError(DxTraceError):
    """One or more problems in an input; nothing was written."""

    def __init__(self, problems: list[Problem] | Problem, max_shown: int = 20):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        shown = [str(p) for p in self.problems[:max_shown]]
        more = len(self.problems) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more problem(s)")
        super().__init__("\n".join(shown))

"""The report as data: sections of paragraphs, tables, charts and exemplars, rendered to HTML and Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Paragraph:
    text: str
    kind: str = "text"  # "text", "note" (smaller), "command" (a shell line to run)


@dataclass
class Heading:
    text: str


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]  # the cells as shown
    caption: str | None = None
    id: str | None = None
    data: Any = None  # a pandas DataFrame of the same figures as numbers, for the paper folder's *_data.csv


@dataclass
class Chart:
    """A plotly figure; the HTML embeds it interactively, the Markdown names it."""

    title: str
    figure: Any  # plotly.graph_objects.Figure
    id: str


@dataclass
class ExemplarStep:
    number: int  # 1-based, as split_steps numbers the trace
    text: str
    evidence: bool  # an evidence step of this error mode
    cited_by: int  # how many annotators cited it for this mode
    first_error: bool  # the first erroneous step of the final label
    truncated: bool = False


@dataclass
class Gap:
    """Steps left out between shown steps."""

    n_steps: int


@dataclass
class Exemplar:
    error_mode: str
    mode_name: str
    title: str  # model, case
    case_line: str  # specialty, incidence, gold diagnosis
    vignette: str
    answer: str
    final: str  # how the final label was reached, with all its modes
    steps: list[ExemplarStep | Gap]
    n_steps: int
    rationales: list[str] = field(default_factory=list)


@dataclass
class Section:
    id: str
    title: str
    available: bool = True
    reason: str | None = None  # why it is not available yet
    blocks: list[Paragraph | Heading | Table | Chart | Exemplar] = field(default_factory=list)

    def add(self, block) -> None:
        self.blocks.append(block)

    @classmethod
    def missing(cls, id: str, title: str, reason: str, *, how: str | None = None) -> Section:
        section = cls(id=id, title=title, available=False, reason=reason)
        if how:
            section.add(Paragraph(how, "command"))
        return section


@dataclass
class Report:
    study: str
    title: str
    generated_at: str
    dxtrace_version: str
    sections: list[Section]
    summary: list[str] = field(default_factory=list)  # key findings for the top of the report

    def section(self, id: str) -> Section:
        return next(s for s in self.sections if s.id == id)

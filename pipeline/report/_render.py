"""Rendering the report: one self-contained HTML file (plotly.js inlined once, no fetches) and Markdown.

Both templates autoescape: traces, answers and rationales are untrusted text.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pipeline.report._model import Chart, Exemplar, ExemplarStep, Gap, Heading, Paragraph, Report, Table
from pipeline.safe_text import clean, md_escape

TEMPLATES = Path(__file__).resolve().parent / "templates"
# No logo link: the file must not point anywhere outside itself.
_PLOT_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "svg"}}


def _md_cell(value: object) -> Markup:
    """Untrusted text as one table cell: every Markdown character escaped (images, links, HTML, pipes)."""
    return Markup(md_escape(value, one_line=True))


def _md_text(value: object) -> Markup:
    """Untrusted text as one Markdown paragraph: HTML neutralised, emphasis, code, links, images escaped."""
    return Markup(md_escape(value, one_line=True))


def _md_code(value: object) -> Markup:
    """A fenced code block that the text cannot close early; invisible characters made visible."""
    text = clean(value)
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return Markup(f"{fence}\n{text}\n{fence}")


def _kind(block: object) -> str:
    for cls, name in (
        (Paragraph, "paragraph"),
        (Heading, "heading"),
        (Table, "table"),
        (Chart, "chart"),
        (Exemplar, "exemplar"),
        (ExemplarStep, "step"),
        (Gap, "gap"),
    ):
        if isinstance(block, cls):
            return name
    raise TypeError(type(block))


@cache
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md_cell"] = _md_cell
    env.filters["md_text"] = _md_text
    env.filters["md_code"] = _md_code
    env.globals["kind"] = _kind
    return env


def _plotly_js() -> Markup:
    from plotly.offline import get_plotlyjs

    return Markup(get_plotlyjs())


def _chart_html(chart: Chart) -> Markup:
    html = chart.figure.to_html(
        full_html=False, include_plotlyjs=False, include_mathjax=False, div_id=chart.id, config=_PLOT_CONFIG
    )
    return Markup(html)


def render_html(report: Report) -> str:
    has_charts = any(isinstance(b, Chart) for s in report.sections for b in s.blocks)
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            report=report,
            plotly_js=_plotly_js() if has_charts else Markup(""),
            chart_html=_chart_html,
        )
    )


def render_markdown(report: Report) -> str:
    return _env().get_template("report.md.j2").render(report=report)

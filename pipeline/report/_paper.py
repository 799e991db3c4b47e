"""The paper folder beside report.html: every table as CSV and LaTeX (booktabs), every figure as SVG and PNG,
and the generated methods text, so that a lead can drop them into a manuscript.

Names are stable (`<section>-<nn>-<caption words>`), so a rerun replaces the same files. Figures are drawn
by plotly's static export (kaleido), which drives the Debian Chromium; nothing is downloaded.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.report._model import Chart, Paragraph, Report, Table

PNG_SCALE = 3  # about 300 dpi at the figures' print width
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "α": r"$\alpha$",
    "κ": r"$\kappa$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "–": "--",
    "—": "---",
    "−": "-",
    "…": r"\dots{}",
    "·": r"\textperiodcentered{}",
    "◆": r"$\diamond$",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def latex_escape(text: object) -> str:
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], "" if text is None else str(text))


def _slug(text: str, limit: int = 48) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:limit].rstrip("-") or "table"


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue()


def table_latex(table: Table, label: str) -> str:
    """A booktabs table: \\toprule, \\midrule, \\bottomrule; first column left, the rest right-aligned."""
    spec = "l" + "r" * (len(table.columns) - 1)
    lines = [
        r"% needs \usepackage{booktabs}",
        r"\begin{table}[htbp]",
        r"\centering",
    ]
    if table.caption:
        lines.append(rf"\caption{{{latex_escape(table.caption)}}}")
    lines += [
        rf"\label{{tab:{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in table.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_escape(" ".join(str(v).split())) for v in row) + r" \\" for row in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


@dataclass
class PaperFiles:
    files: dict[str, bytes] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _figures(charts: list[tuple[str, Chart]], out: PaperFiles, on_chart: Callable[[int, int], None] | None) -> None:
    """SVG and PNG of each chart through one headless Chromium; a missing browser is said, not hidden."""
    if not charts:
        return
    try:
        import kaleido

        kaleido.start_sync_server(silence_warnings=True)
    except Exception as exc:  # no kaleido, or no Chromium on this machine
        out.warnings.append(
            f"figures not written as SVG/PNG ({type(exc).__name__}: {exc}); install Chromium "
            "(Debian: apt-get install chromium) and kaleido; the charts are still in report.html"
        )
        return
    try:
        for i, (name, chart) in enumerate(charts):
            if on_chart:
                on_chart(i, len(charts))
            fig = type(chart.figure)(chart.figure)  # a copy: the HTML report keeps its own layout
            if not fig.layout.title.text:
                fig.update_layout(title=chart.title)  # the standalone file carries its own title
            with warnings.catch_warnings():
                # plotly passes browser options that a running kaleido server ignores, and says so each time.
                warnings.filterwarnings("ignore", message="The kopts argument is ignored")
                out.files[f"{name}.svg"] = fig.to_image(format="svg")
                out.files[f"{name}.png"] = fig.to_image(format="png", scale=PNG_SCALE)
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def paper_files(
    report: Report, methods: list[str], *, on_chart: Callable[[int, int], None] | None = None
) -> PaperFiles:
    """The paper folder's files as {name: bytes}: nothing is written here."""
    out = PaperFiles()
    index = ["# Paper tables and figures", "", f"Study {report.study}, generated {report.generated_at}.", ""]
    charts: list[tuple[str, Chart]] = []
    for section in report.sections:
        n = 0
        for block in section.blocks:
            if isinstance(block, Table):
                n += 1
                name = f"{section.id}-{n:02d}-{_slug(block.caption or section.title)}"
                out.files[f"{name}.csv"] = table_csv(block).encode("utf-8")
                out.files[f"{name}.tex"] = table_latex(block, name).encode("utf-8")
                extra = ""
                if block.data is not None:
                    out.files[f"{name}_data.csv"] = block.data.to_csv(index=False, lineterminator="\n").encode("utf-8")
                    extra = f", `{name}_data.csv` (numbers)"
                index.append(f"- `{name}.csv`, `{name}.tex`{extra}: {block.caption or section.title}")
            elif isinstance(block, Chart):
                name = f"{section.id}-{_slug(block.id, 60)}"
                charts.append((name, block))
                index.append(f"- `{name}.svg`, `{name}.png`: {block.title}")
    _figures(charts, out, on_chart)
    if methods:
        out.files["methods.md"] = ("\n\n".join(methods) + "\n").encode("utf-8")
        index.append("- `methods.md`: the methods paragraph generated from the study")
    for warning in out.warnings:
        index += ["", f"Note: {warning}"]
    out.files["README.md"] = ("\n".join(index) + "\n").encode("utf-8")
    return out


def methods_text(report: Report) -> list[str]:
    """The methods section's paragraphs (not its notes)."""
    try:
        section = report.section("methods")
    except StopIteration:
        return []
    return [b.text for b in section.blocks if isinstance(b, Paragraph) and b.kind == "text"]

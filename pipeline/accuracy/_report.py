"""The study table: per model accuracy, per pair McNemar, overall and per subgroup.

accuracy_report() is pure: it takes a frame of (case, model, correct, subgroup columns) and
returns an AccuracyReport. study_accuracy() feeds it the effective grades of a study.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from db.models import INCIDENCES
from pipeline.accuracy._stats import (
    DEFAULT_ALPHA,
    EMPTY,
    Difference,
    McNemarResult,
    PairedCounts,
    Proportion,
    adjust_p_values,
    mcnemar_test,
    paired_counts,
    paired_difference,
    proportion_ci,
)
from pipeline.errors import DxTraceError

OVERALL = "overall"
MISSING_LEVEL = "(unspecified)"
PENDING_POLICIES = ("exclude", "incorrect", "correct")
FORMATS = ("csv", "json", "md", "html")


@dataclass(frozen=True)
class ModelRow:
    subgroup: str
    level: str
    model: str
    accuracy: Proportion
    pending: int  # responses still waiting for a clinician (handled per the pending policy)


@dataclass(frozen=True)
class PairRow:
    subgroup: str
    level: str
    model_a: str
    model_b: str
    accuracy_a: Proportion
    accuracy_b: Proportion
    counts: PairedCounts
    test: McNemarResult
    difference: Difference
    p_adjusted: float | None
    significant: bool | None
    note: str | None

    @property
    def n(self) -> int:
        return self.counts.n


@dataclass(frozen=True)
class AccuracyReport:
    alpha: float
    correction: str | None
    test: str
    ci_method: str
    conf_level: float
    difference_method: str
    pending_policy: str
    subgroups: tuple[str, ...]
    models: tuple[ModelRow, ...]
    pairs: tuple[PairRow, ...]
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    # ------------------------------------------------------------------ frames
    def to_frame(self, kind: str = "pairs") -> pd.DataFrame:
        """The pair table (default) or the model table, one row per (subgroup, level, ...)."""
        if kind == "models":
            return pd.DataFrame(
                [
                    {
                        "subgroup": r.subgroup,
                        "level": r.level,
                        "model": r.model,
                        "n": r.accuracy.n,
                        "correct": r.accuracy.successes,
                        "accuracy": r.accuracy.estimate,
                        "ci_lower": r.accuracy.lower,
                        "ci_upper": r.accuracy.upper,
                        "pending": r.pending,
                    }
                    for r in self.models
                ]
            )
        if kind != "pairs":
            raise DxTraceError(f"unknown table {kind!r}; choose pairs or models")
        return pd.DataFrame(
            [
                {
                    "subgroup": r.subgroup,
                    "level": r.level,
                    "model_a": r.model_a,
                    "model_b": r.model_b,
                    "n": r.n,
                    "correct_a": r.accuracy_a.successes,
                    "accuracy_a": r.accuracy_a.estimate,
                    "ci_a_lower": r.accuracy_a.lower,
                    "ci_a_upper": r.accuracy_a.upper,
                    "correct_b": r.accuracy_b.successes,
                    "accuracy_b": r.accuracy_b.estimate,
                    "ci_b_lower": r.accuracy_b.lower,
                    "ci_b_upper": r.accuracy_b.upper,
                    "both_correct": r.counts.both,
                    "b": r.counts.b,
                    "c": r.counts.c,
                    "both_wrong": r.counts.neither,
                    "test": r.test.method,
                    "statistic": r.test.statistic,
                    "z": r.test.z,  # signed McNemar z, positive when A is right more often
                    "p": r.test.p_value,
                    "p_adjusted": r.p_adjusted,
                    "significant": r.significant,
                    "difference": r.difference.estimate,
                    "difference_lower": r.difference.lower,
                    "difference_upper": r.difference.upper,
                    "note": r.note,
                }
                for r in self.pairs
            ]
        )

    # ------------------------------------------------------------------ text
    def pair_table_rows(self) -> tuple[list[str], list[list[str]]]:
        """The study table as printed: pair, accuracy A with CI, accuracy B with CI, b, c, p, significant."""
        level_pct = f"{round(100 * self.conf_level):g}% CI"
        p_col = "p" if self.correction is None else f"p ({self.correction})"
        cols = ["Subgroup", "Pair (A vs B)", "n", f"Accuracy A ({level_pct})", f"Accuracy B ({level_pct})",
                "b", "c", p_col, f"Significant (alpha={self.alpha:g})", f"Difference A-B ({level_pct})"]  # fmt: skip
        rows = []
        for r in self.pairs:
            p = r.p_adjusted if r.p_adjusted is not None else r.test.p_value
            sig = "n/a" if r.significant is None else ("yes" if r.significant else "no")
            rows.append(
                [
                    _label(r.subgroup, r.level),
                    f"{r.model_a} vs {r.model_b}",
                    str(r.n),
                    r.accuracy_a.format(),
                    r.accuracy_b.format(),
                    str(r.counts.b),
                    str(r.counts.c),
                    (_fmt_p(p) + (f" ({r.note})" if r.note else "")),
                    sig,
                    r.difference.format(),
                ]
            )
        return cols, rows

    def model_table_rows(self) -> tuple[list[str], list[list[str]]]:
        level_pct = f"{round(100 * self.conf_level):g}% CI"
        cols = ["Subgroup", "Model", f"Accuracy ({level_pct}, {self.ci_method})", "Pending"]
        rows = [[_label(r.subgroup, r.level), r.model, r.accuracy.format(), str(r.pending)] for r in self.models]
        return cols, rows

    def to_markdown(self) -> str:
        out = ["# Diagnostic accuracy", ""]
        out.append(self.describe())
        out.append("")
        if self.pairs:
            out += ["## Paired comparisons", ""]
            cols, rows = self.pair_table_rows()
            out.append(_markdown_table(cols, rows))
            out.append("")
        out += ["## Accuracy per model", ""]
        cols, rows = self.model_table_rows()
        out.append(_markdown_table(cols, rows))
        if self.notes:
            out += ["", "## Notes", "", *[f"- {n}" for n in self.notes]]
        return "\n".join(out) + "\n"

    def describe(self) -> str:
        corr = {"holm": "Holm", "bh": "Benjamini-Hochberg"}.get(self.correction or "", "none")
        test = {"exact": "exact (binomial)", "mid-p": "mid-p", "chi2": "chi-square", "chi2-cc": "chi-square with continuity correction"}[self.test]  # fmt: skip
        return (
            f"Correct = the gold diagnosis is among the model's diagnoses. McNemar's test: {test}, two-sided; "
            f"significance level {self.alpha:g}; correction across pairs: {corr}. Intervals: "
            f"{round(100 * self.conf_level):g}% {self.ci_method} for accuracies, {self.difference_method} for the paired "
            f"difference. b = cases only A got right, c = cases only B got right. Pending grades: {self.pending_policy}."
            + (f" Source: {self.source}." if self.source else "")
        )

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, float) and math.isnan(v):
                return None
            return v

        return {
            "settings": {
                "alpha": self.alpha,
                "correction": self.correction,
                "test": self.test,
                "ci_method": self.ci_method,
                "conf_level": self.conf_level,
                "difference_method": self.difference_method,
                "pending_policy": self.pending_policy,
                "subgroups": list(self.subgroups),
                "source": self.source,
            },
            "pairs": [{k: clean(v) for k, v in asdict(r).items()} for r in self.pairs],
            "models": [{k: clean(v) for k, v in asdict(r).items()} for r in self.models],
            "notes": list(self.notes),
        }

    def write(self, out_dir: Path, formats: Sequence[str] = FORMATS, stem: str = "accuracy") -> list[Path]:
        """Write the tables: <stem>_pairs.csv, <stem>_models.csv, <stem>.json, <stem>.md, <stem>_forest.html."""
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown:
            raise DxTraceError(f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        if "csv" in formats:
            for kind in ("pairs", "models"):
                path = out_dir / f"{stem}_{kind}.csv"
                self.to_frame(kind).to_csv(path, index=False)
                written.append(path)
        if "json" in formats:
            path = out_dir / f"{stem}.json"
            path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
            written.append(path)
        if "md" in formats:
            path = out_dir / f"{stem}.md"
            path.write_text(self.to_markdown(), encoding="utf-8")
            written.append(path)
        if "html" in formats:
            from pipeline.accuracy._plot import forest_plot

            path = out_dir / f"{stem}_forest.html"
            # The plotly library is embedded: the file opens offline, nothing is fetched.
            forest_plot(self).write_html(path, include_plotlyjs=True, full_html=True)
            written.append(path)
        return written


def _label(subgroup: str, level: str) -> str:
    return "Overall" if subgroup == OVERALL else f"{subgroup}: {level}"


def _fmt_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _markdown_table(cols: list[str], rows: list[list[str]]) -> str:
    def esc(s: str) -> str:
        return str(s).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _levels(frame: pd.DataFrame, subgroup: str) -> list[str]:
    values = frame[subgroup].fillna(MISSING_LEVEL).astype(str)
    present = sorted(set(values))
    if subgroup == "incidence":
        order = [v for v in INCIDENCES if v in present]
        return order + [v for v in present if v not in order]
    return present


def _is_list(value) -> bool:
    return isinstance(value, list | tuple | set | frozenset)


def _level_masks(frame: pd.DataFrame, subgroup: str) -> list[tuple[str, pd.Series]]:
    """(level, rows in it) of a subgroup. A list-valued attribute (MedR-Bench's body_category,
    checked_rare_disease) puts a case in every level it lists, so levels may overlap; an empty list is
    the missing level."""
    column = frame[subgroup]
    if not column.map(_is_list).any():
        labels = column.fillna(MISSING_LEVEL).astype(str)
        return [(level, labels == level) for level in _levels(frame, subgroup)]
    sets = column.map(
        lambda v: frozenset(str(x) for x in v) if _is_list(v) else (frozenset() if pd.isna(v) else frozenset([str(v)]))
    )
    sets = sets.map(lambda s: s or frozenset([MISSING_LEVEL]))
    levels = sorted(set().union(*sets)) if len(sets) else []
    return [(level, sets.map(lambda s, lv=level: lv in s)) for level in levels]


def _apply_pending(correct: pd.Series, policy: str) -> pd.Series:
    if policy == "exclude":
        return correct
    return correct.fillna(policy == "correct")


def accuracy_report(
    frame: pd.DataFrame,
    pairs: Sequence[tuple[str, str]] = (),
    *,
    alpha: float | None = None,
    correction: str | None = None,
    subgroups: Sequence[str] = ("incidence", "specialty"),
    test: str = "exact",
    ci_method: str = "wilson",
    conf_level: float | None = None,
    difference: str = "newcombe",
    pending: str = "exclude",
    source: str = "",
) -> AccuracyReport:
    """Per model accuracy and per pair McNemar, overall and within each level of each subgroup.

    frame: columns case, model, correct (True/False/NA = pending) and the subgroup columns; one row
    per (case, model). pairs: (A, B) model names; A is usually the reasoning model, B its base.
    Intervals default to 1 - alpha so that a difference interval excluding 0 matches the test.
    """
    alpha = DEFAULT_ALPHA if alpha is None else float(alpha)
    conf = 1 - alpha if conf_level is None else float(conf_level)
    if pending not in PENDING_POLICIES:
        raise DxTraceError(f"unknown pending policy {pending!r}; choose one of {', '.join(PENDING_POLICIES)}")
    for col in ("case", "model", "correct"):
        if col not in frame.columns:
            raise DxTraceError(f"the accuracy table needs a {col!r} column")
    missing = [s for s in subgroups if s not in frame.columns]
    if missing:
        known = sorted(set(frame.columns) - {"case", "model", "correct"})
        raise DxTraceError(f"no case attribute {', '.join(missing)} to group by (known: {', '.join(known) or 'none'})")
    dup = frame.duplicated(["case", "model"])
    if dup.any():
        first = frame.loc[dup].iloc[0]
        raise DxTraceError(f"case {first['case']!r} has more than one row for model {first['model']!r}")
    models_present = list(dict.fromkeys(frame["model"].astype(str)))
    for a, b in pairs:
        for m in (a, b):
            if m not in models_present:
                raise DxTraceError(f"pair {a} vs {b}: no model {m!r} (models: {', '.join(models_present)})")
    work = frame.copy()
    work["model"] = work["model"].astype(str)
    work["pending"] = work["correct"].isna()
    work["correct"] = _apply_pending(work["correct"].astype("boolean"), pending)

    groups: list[tuple[str, str, pd.DataFrame]] = [(OVERALL, "all", work)]
    for sg in subgroups:
        for level, mask in _level_masks(work, sg):
            groups.append((sg, level, work[mask]))

    model_rows: list[ModelRow] = []
    pair_rows: list[PairRow] = []
    for sg, level, part in groups:
        for m in models_present:
            sub = part[part["model"] == m]
            graded = sub["correct"].dropna()
            acc = proportion_ci(int(graded.sum()), int(len(graded)), conf_level=conf, method=ci_method)  # type: ignore[arg-type]
            model_rows.append(ModelRow(sg, level, m, acc, int(sub["pending"].sum())))
        raw = []
        for a, b in pairs:
            wide = part[part["model"].isin([a, b])].pivot(index="case", columns="model", values="correct")
            both = wide[[a, b]].dropna() if a in wide and b in wide else pd.DataFrame(columns=[a, b])
            counts = paired_counts(both[a].astype(bool).tolist(), both[b].astype(bool).tolist())
            res = mcnemar_test(counts.b, counts.c, method=test)  # type: ignore[arg-type]
            note = EMPTY if counts.n == 0 else res.degenerate
            raw.append((a, b, counts, res, note))
        testable = [i for i, (*_, note) in enumerate(raw) if note is None]
        adjusted = adjust_p_values([raw[i][3].p_value for i in testable], alpha=alpha, method=correction)  # type: ignore[arg-type]
        adj_by_index = {i: (adjusted.p_values[j], adjusted.reject[j]) for j, i in enumerate(testable)}
        for i, (a, b, counts, res, note) in enumerate(raw):
            p_adj, sig = adj_by_index.get(i, (None, None))
            pair_rows.append(
                PairRow(
                    subgroup=sg,
                    level=level,
                    model_a=a,
                    model_b=b,
                    accuracy_a=proportion_ci(counts.correct_a, counts.n, conf_level=conf, method=ci_method),  # type: ignore[arg-type]
                    accuracy_b=proportion_ci(counts.correct_b, counts.n, conf_level=conf, method=ci_method),  # type: ignore[arg-type]
                    counts=counts,
                    test=res,
                    difference=paired_difference(counts, conf_level=conf, method=difference),  # type: ignore[arg-type]
                    p_adjusted=p_adj if correction else None,
                    significant=sig,
                    note=note,
                )
            )
    notes = []
    n_pending = int(work["pending"].sum())
    if n_pending:
        verb = {"exclude": "left out", "incorrect": "counted as incorrect", "correct": "counted as correct"}[pending]
        notes.append(f"{n_pending} response(s) still wait for a clinician's grade and are {verb}.")
    if pairs:
        notes.append("Pair accuracies use only the cases both models answered and were graded on (paired n).")
    return AccuracyReport(
        alpha=alpha,
        correction=correction,
        test=test,
        ci_method=ci_method,
        conf_level=conf,
        difference_method=difference,
        pending_policy=pending,
        subgroups=tuple(subgroups),
        models=tuple(model_rows),
        pairs=tuple(pair_rows),
        source=source,
        notes=tuple(notes),
    )

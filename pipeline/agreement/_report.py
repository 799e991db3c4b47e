"""The agreement report: tables for the screen, the CLI, JSON/CSV files and the study report."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from pipeline.agreement._model import STATISTIC_TITLES, Estimate, LabelAgreement
from pipeline.intervals import estimate_interval

FRAME_COLUMNS = [
    "scope",
    "label",
    "statistic",
    "rater_a",
    "rater_b",
    "value",
    "ci_low",
    "ci_high",
    "n_cases",
    "n_items",
    "n_ratings",
    "prevalence",
    "undefined_reason",
    "note",
    "se",
    "z",
    "p_value",
    "ase_ci_low",
    "ase_ci_high",
    "se_method",
]

ANALYTIC_COLUMNS = ["variable", "statistic", "value", "se", "z", "p_value", "ase_ci_low", "ase_ci_high",
                    "boot_ci_low", "boot_ci_high", "items", "se_method"]  # fmt: skip

# Columns of the summary table, per scope: the headline statistic first.
SUMMARY_STATISTICS = {
    "error_mode": ("alpha", "fleiss_kappa", "gwet_ac1", "percent_agreement"),
    "label_set": ("alpha_masi", "alpha_nominal", "fleiss_kappa", "gwet_ac1", "percent_agreement"),
    "first_error_step": ("alpha_interval", "alpha_ordinal", "percent_agreement"),
}


def too_few(n_items: int) -> str:
    """What a pair's cell shows when the two raters share fewer items than --min-items."""
    return f"too few items ({n_items})"


def pair_percent_text(e: Estimate, digits: int = 2) -> str:
    """A pair's % agreement, or why there is none (never 'nan')."""
    if e.value is None or (isinstance(e.value, float) and math.isnan(e.value)):
        return too_few(e.n_items)
    return f"{e.value:.{digits}f}"


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


@dataclass(frozen=True)
class AgreementReport:
    """Every agreement figure of a study or a ratings file, with intervals and the data behind them."""

    source: str
    variables: tuple[LabelAgreement, ...]  # error modes (incl. no_error), then label set, then first error step
    raters: tuple[str, ...]
    n_cases: int
    n_items: int
    n_ratings: int
    n_boot: int
    seed: int
    level: float
    min_items: int
    warnings: tuple[str, ...] = ()

    # --- access --------------------------------------------------------------------------------------
    @property
    def error_modes(self) -> list[LabelAgreement]:
        return [v for v in self.variables if v.scope == "error_mode"]

    @property
    def label_set(self) -> LabelAgreement:
        return next(v for v in self.variables if v.scope == "label_set")

    @property
    def first_error_step(self) -> LabelAgreement:
        return next(v for v in self.variables if v.scope == "first_error_step")

    def __getitem__(self, label: str) -> LabelAgreement:
        for v in self.variables:
            if v.label == label:
                return v
        raise KeyError(label)

    # --- tables --------------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One tidy row per figure: scope, label, statistic, raters (pairwise), value, interval, counts."""
        rows = []

        def add(v: LabelAgreement, e: Estimate, a: str | None = None, b: str | None = None) -> None:
            rows.append(
                {
                    "scope": "pair" if a else v.scope,
                    "label": v.label,
                    "statistic": e.statistic,
                    "rater_a": a,
                    "rater_b": b,
                    "value": e.value,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "n_cases": e.n_cases,
                    "n_items": e.n_items,
                    "n_ratings": e.n_ratings,
                    "prevalence": v.prevalence,
                    "undefined_reason": e.reason,
                    "note": e.note,
                    "se": e.se,
                    "z": e.z,
                    "p_value": e.p_value,
                    "ase_ci_low": e.ase_low,
                    "ase_ci_high": e.ase_high,
                    "se_method": e.se_method,
                }
            )

        for v in self.variables:
            for e in v.estimates.values():
                add(v, e)
        for v in self.variables:
            for p in v.pairs:
                add(v, p.kappa, p.rater_a, p.rater_b)
                add(v, p.percent_agreement, p.rater_a, p.rater_b)
        return pd.DataFrame(rows, columns=FRAME_COLUMNS)

    def summary_frame(self, digits: int = 2) -> pd.DataFrame:
        """One row per variable; each statistic as 'value [low, high]' or 'undefined'."""
        rows = []
        for v in self.variables:
            row = {
                "variable": v.label,
                "prevalence": None if v.prevalence is None else round(v.prevalence, 3),
                "cases": v.n_cases,
                "items": v.n_items,
                "ratings": v.n_ratings,
            }
            for name in ("alpha", "fleiss_kappa", "gwet_ac1", "percent_agreement"):
                e = v.estimates.get(_headline(v.scope, name))
                row[STATISTIC_TITLES[name]] = e.formatted(digits) if e else ""
            kappas = [p.kappa.value for p in v.pairs if p.kappa.value is not None]
            row["Cohen's κ (pairs)"] = f"{min(kappas):.{digits}f} to {max(kappas):.{digits}f}" if kappas else ""
            rows.append(row)
        return pd.DataFrame(rows)

    def analytic_frame(self) -> pd.DataFrame:
        """One row per defined figure with an analytic SE: value, SE, z, p, asymptotic and bootstrap intervals."""
        rows = []

        def add(label: str, e: Estimate) -> None:
            if e.value is None or e.se is None:
                return
            rows.append([label, e.statistic, e.value, e.se, e.z, e.p_value, e.ase_low, e.ase_high,
                         e.ci_low, e.ci_high, e.n_items, e.se_method])  # fmt: skip

        for v in self.variables:
            for e in v.estimates.values():
                add(v.label, e)
            for p in v.pairs:
                add(f"{v.label} ({p.rater_a}–{p.rater_b})", p.kappa)
        return pd.DataFrame(rows, columns=ANALYTIC_COLUMNS)

    def pairwise_frame(self) -> pd.DataFrame:
        rows = []
        for v in self.variables:
            for p in v.pairs:
                rows.append(
                    {
                        "variable": v.label,
                        "rater_a": p.rater_a,
                        "rater_b": p.rater_b,
                        "items": p.kappa.n_items,
                        "cohen_kappa": p.kappa.value,
                        "ci_low": p.kappa.ci_low,
                        "ci_high": p.kappa.ci_high,
                        "percent_agreement": p.percent_agreement.value,
                        "percent_agreement_text": pair_percent_text(p.percent_agreement),
                        "se": p.kappa.se,
                        "p_value": p.kappa.p_value,
                        "undefined_reason": p.kappa.reason,
                    }
                )
        return pd.DataFrame(rows)

    def pairwise_matrix(self, label: str, statistic: str = "cohen_kappa") -> pd.DataFrame:
        """Raters x raters matrix of a pairwise figure for a heatmap (NaN: undefined or no shared item)."""
        v = self[label]
        m = pd.DataFrame(float("nan"), index=list(self.raters), columns=list(self.raters))
        for p in v.pairs:
            e = p.kappa if statistic == "cohen_kappa" else p.percent_agreement
            if e.value is not None:
                m.loc[p.rater_a, p.rater_b] = m.loc[p.rater_b, p.rater_a] = e.value
        return m

    def undefined(self) -> list[tuple[str, str, str]]:
        """(variable, statistic, reason) of every undefined figure (pairs included)."""
        out = []
        for v in self.variables:
            for e in v.estimates.values():
                if e.reason:
                    out.append((v.label, e.statistic, e.reason))
            for p in v.pairs:
                if p.kappa.reason:
                    out.append((v.label, f"Cohen's κ {p.rater_a}–{p.rater_b}", p.kappa.reason))
        return out

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "raters": list(self.raters),
            "n_cases": self.n_cases,
            "n_items": self.n_items,
            "n_ratings": self.n_ratings,
            "bootstrap": {"resamples": self.n_boot, "seed": self.seed, "level": self.level, "unit": "case"},
            "min_items": self.min_items,
            "warnings": list(self.warnings),
            "variables": [
                {
                    "label": v.label,
                    "scope": v.scope,
                    "prevalence": v.prevalence,
                    "n_cases": v.n_cases,
                    "n_items": v.n_items,
                    "n_ratings": v.n_ratings,
                    "estimates": {k: asdict(e) for k, e in v.estimates.items()},
                    "pairs": [
                        {
                            "rater_a": p.rater_a,
                            "rater_b": p.rater_b,
                            "cohen_kappa": asdict(p.kappa),
                            "percent_agreement": asdict(p.percent_agreement),
                        }
                        for p in v.pairs
                    ],
                }
                for v in self.variables
            ],
        }

    def to_markdown(self, digits: int = 2) -> str:
        pct = round(self.level * 100)
        lines = [
            f"Agreement of {len(self.raters)} raters on {self.n_items} items from {self.n_cases} cases "
            f"({self.n_ratings} ratings). Intervals: {pct}% percentile bootstrap over cases, "
            f"{self.n_boot} resamples (seed {self.seed}).",
            "",
        ]
        lines.append(markdown_table(self.summary_frame(digits)))
        pf = self.pairwise_frame()
        if len(pf):
            lines += ["", "Cohen's κ per pair of raters:", ""]
            shown = pf.assign(
                **{
                    "Cohen's κ": [
                        _fmt(r.cohen_kappa, r.ci_low, r.ci_high, digits) if pd.isna(r.undefined_reason) else "undefined"
                        for r in pf.itertuples()
                    ],
                    "% agreement": [
                        pair_percent_text(p.percent_agreement, digits) for v in self.variables for p in v.pairs
                    ],
                }
            )[["variable", "rater_a", "rater_b", "items", "Cohen's κ", "% agreement"]]
            lines.append(markdown_table(shown))
        af = self.analytic_frame()
        if len(af):
            lines += ["", f"Analytic standard errors, z, p (H0: no agreement beyond chance) and {pct}% asymptotic "
                      "intervals (Gwet 2014 / irrCAC; Cohen's κ: Fleiss, Cohen & Everitt 1969, as SAS):", ""]  # fmt: skip
            lines.append(markdown_table(analytic_text(af, digits)))
        und = self.undefined()
        if und:
            lines += ["", "Undefined figures:", ""]
            lines += [f"- {label}, {STATISTIC_TITLES.get(s, s)}: {reason}" for label, s, reason in und]
        if self.warnings:
            lines += ["", "Warnings:", ""] + [f"- {w}" for w in self.warnings]
        return "\n".join(lines) + "\n"


def _p_text(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def analytic_text(frame: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """The analytic figures formatted for a table: value, SE, z, p, asymptotic CI."""
    d = digits

    def num(x, k=d) -> str:
        return "" if x is None or pd.isna(x) else f"{x:.{k}f}"

    return pd.DataFrame(
        {
            "variable": frame["variable"],
            "statistic": [STATISTIC_TITLES.get(s, s) for s in frame["statistic"]],
            "value": [num(x) for x in frame["value"]],
            "SE": [num(x, d + 1) for x in frame["se"]],
            "z": [num(x) for x in frame["z"]],
            "p": [_p_text(x) for x in frame["p_value"]],
            "asymptotic CI": [
                "" if pd.isna(lo) else f"[{lo:.{d}f}, {hi:.{d}f}]"
                for lo, hi in zip(frame["ase_ci_low"], frame["ase_ci_high"], strict=True)
            ],
            "items": frame["items"],
        }
    )


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-style markdown table (pandas' to_markdown needs an extra package)."""

    def cell(x) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return ""
        return str(x).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(x) for x in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _headline(scope: str, name: str) -> str:
    if name == "alpha":
        return {"label_set": "alpha_masi", "first_error_step": "alpha_interval"}.get(scope, "alpha")
    return name


def _fmt(value, lo, hi, digits: int) -> str:
    value, lo, hi = _num(value), _num(lo), _num(hi)
    if value is None:
        return "undefined"
    if lo is None or hi is None:
        return f"{value:.{digits}f}"
    return estimate_interval(value, lo, hi, digits=digits)

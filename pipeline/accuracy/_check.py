"""Grader validation: automatic grades against a reference label per response.

A reference is a label the study keeps beside the grades, never as one: an imported judge's verdict
(Grade.method "imported", e.g. MedR-Bench's `correct`), a clinician's grade, or a field of the
response's imported extras (e.g. Sandmann's `human_likert_1to5`, with a threshold). Each kind of
reference is a plug-in registered with @reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from sqlmodel import Session

from pipeline.accuracy._grade import STATUS_CLINICIAN, _grade_keys, _is_ours, _rows, is_imported, is_stale
from pipeline.errors import DxTraceError
from pipeline.studies import get_study

_TRUE = {"true", "1", "yes", "y", "correct"}
_FALSE = {"false", "0", "no", "n", "incorrect"}

Resolver = Callable[[list, dict, str, float | None], dict[int, bool] | None]
REFERENCES: list[tuple[str, Resolver]] = []


def reference(name: str):
    """Register a reference kind: resolver(rows, grades, column, threshold) -> {response_id: bool} or None."""

    def register(fn: Resolver) -> Resolver:
        REFERENCES.append((name, fn))
        return fn

    return register


def _as_bool(value, threshold: float | None) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if threshold is not None:
        try:
            return float(value) >= threshold
        except (TypeError, ValueError):
            return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


@reference("clinician")
def _clinician(rows, grades, column, threshold):
    if column != "clinician":
        return None
    out = {}
    for resp, case, *_ in rows:
        own = [g for g in grades.get(resp.id, []) if g.status == STATUS_CLINICIAN and not is_stale(g, case)]
        if own:
            out[resp.id] = bool(max(own, key=lambda g: g.id).correct)
    return out


@reference("imported")
def _imported(rows, grades, column, threshold):
    out = {}
    found = False
    for resp, *_ in rows:
        labels = [g for g in grades.get(resp.id, []) if is_imported(g) and column in ("imported", g.grader)]
        found = found or bool(labels)
        labels = [g for g in labels if g.correct is not None]
        if labels:
            out[resp.id] = bool(max(labels, key=lambda g: g.id).correct)
    return out if found else None


@reference("extra")
def _extra(rows, grades, column, threshold):
    key = column.removeprefix("extra.")
    if not any(key in (resp.extra or {}) for resp, *_ in rows):
        return None
    out = {}
    for resp, *_ in rows:
        value = _as_bool((resp.extra or {}).get(key), threshold)
        if value is not None:
            out[resp.id] = value
    return out


def known_references(rows, grades) -> list[str]:
    names = {"clinician"} if any(g.status == STATUS_CLINICIAN for gs in grades.values() for g in gs) else set()
    names |= {g.grader for gs in grades.values() for g in gs if is_imported(g)}
    names |= {f"extra.{k}" for resp, *_ in rows for k in (resp.extra or {})}
    return sorted(names)


@dataclass(frozen=True)
class Kappa:
    kappa: float | None
    low: float | None
    high: float | None


@dataclass
class GradeCheck:
    study: str
    reference: str
    frame: pd.DataFrame  # response_id, model, tier, auto (True/False/NA = pending), reference (bool)
    no_reference: int  # responses without a reference label (left out)
    ungraded: int  # responses with a reference but no automatic grade (left out)
    conf_level: float = 0.95
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def graded(self) -> pd.DataFrame:
        return self.frame[self.frame["auto"].notna()]

    @property
    def pending_share(self) -> float | None:
        return None if self.n == 0 else float(self.frame["auto"].isna().mean())

    @property
    def agreement(self) -> float | None:
        g = self.graded
        return None if g.empty else float((g["auto"].astype(bool) == g["reference"]).mean())

    def kappa(self) -> Kappa:
        return cohen_kappa(
            self.graded["auto"].astype(bool).tolist(), self.graded["reference"].tolist(), self.conf_level
        )

    def confusion(self) -> pd.DataFrame:
        """Rows: automatic grade (correct, incorrect, pending); columns: reference (correct, incorrect)."""
        auto = self.frame["auto"].map(lambda v: "pending" if pd.isna(v) else ("correct" if v else "incorrect"))
        ref = self.frame["reference"].map(lambda v: "correct" if v else "incorrect")
        table = pd.crosstab(auto, ref).reindex(
            index=["correct", "incorrect", "pending"], columns=["correct", "incorrect"], fill_value=0
        )
        table.index.name, table.columns.name = "automatic", f"reference {self.reference}"
        return table

    def breakdown(self, by: str) -> pd.DataFrame:
        """Per tier ('tier') or per model ('model'): n, pending share, agreement on the graded."""
        rows = []
        for key, part in self.frame.groupby(by, sort=True):
            g = part[part["auto"].notna()]
            agree = float((g["auto"].astype(bool) == g["reference"]).mean()) if len(g) else None
            rows.append({by: key, "n": len(part), "graded": len(g), "pending": int(part["auto"].isna().sum()),
                         "agreement": agree})  # fmt: skip
        return pd.DataFrame(rows, columns=[by, "n", "graded", "pending", "agreement"])

    def summary(self) -> str:
        k = self.kappa()
        agree = "n/a" if self.agreement is None else f"{self.agreement:.1%}"
        pend = "n/a" if self.pending_share is None else f"{self.pending_share:.1%}"
        kap = "n/a" if k.kappa is None else f"{k.kappa:.3f} ({self.conf_level:.0%} CI {k.low:.3f} to {k.high:.3f})"
        return (
            f"{self.n} response(s) with reference {self.reference!r}: {len(self.graded)} graded automatically, "
            f"agreement {agree}, Cohen's kappa {kap}, pending {pend}"
        )

    def to_dict(self) -> dict:
        k = self.kappa()
        return {
            "study": self.study,
            "reference": self.reference,
            "n": self.n,
            "graded": len(self.graded),
            "agreement": self.agreement,
            "pending_share": self.pending_share,
            "kappa": k.kappa,
            "kappa_ci": [k.low, k.high],
            "conf_level": self.conf_level,
            "no_reference": self.no_reference,
            "ungraded": self.ungraded,
            "confusion": self.confusion().to_dict(),
            "by_tier": self.breakdown("tier").to_dict(orient="records"),
            "by_model": self.breakdown("model").to_dict(orient="records"),
        }


def cohen_kappa(auto: list[bool], ref: list[bool], conf_level: float = 0.95) -> Kappa:
    """Cohen's kappa of two binary raters with its asymptotic CI (statsmodels' cohens_kappa)."""
    from statsmodels.stats.inter_rater import cohens_kappa

    if not auto:
        return Kappa(None, None, None)
    table = pd.crosstab(pd.Series(auto), pd.Series(ref)).reindex(
        index=[True, False], columns=[True, False], fill_value=0
    )
    from scipy.stats import norm

    res = cohens_kappa(table.to_numpy())
    if not pd.notna(res.kappa) or not pd.notna(res.std_kappa):
        return Kappa(None, None, None)
    z = float(norm.ppf(0.5 + conf_level / 2))
    return Kappa(float(res.kappa), float(res.kappa - z * res.std_kappa), float(res.kappa + z * res.std_kappa))


def _automatic(grades: list, case) -> object | None:
    own = [g for g in grades if _is_ours(g) and not is_stale(g, case)]
    return max(own, key=lambda g: g.id) if own else None


def grade_check(
    session: Session,
    study_ref: int | str,
    reference_column: str,
    *,
    threshold: float | None = None,
    models: list[str] | None = None,
    conf_level: float = 0.95,
) -> GradeCheck:
    """Compare the study's automatic grades with a reference label per response (read-only)."""
    if not reference_column or not reference_column.strip():
        raise DxTraceError("--reference: name a reference (an imported grader, clinician, or extra.FIELD)")
    study = get_study(session, study_ref)
    rows = _rows(session, study.id, models)
    grades = _grade_keys(session, [r.id for r, *_ in rows])  # light rows: no grade details but the gold
    labels = None
    for _name, fn in REFERENCES:
        labels = fn(rows, grades, reference_column, threshold)
        if labels is not None:
            break
    if labels is None:
        known = ", ".join(known_references(rows, grades)) or "none"
        raise DxTraceError(f"--reference: study {study.name!r} has no reference {reference_column!r} (known: {known})")
    records, no_ref, ungraded = [], 0, 0
    for resp, case, _case_set, model in rows:
        if resp.id not in labels:
            no_ref += 1
            continue
        g = _automatic(grades.get(resp.id, []), case)
        if g is None:
            ungraded += 1
            continue
        records.append({"response_id": resp.id, "model": model.name, "tier": g.method,
                        "auto": g.correct, "reference": labels[resp.id]})  # fmt: skip
    frame = pd.DataFrame.from_records(records, columns=["response_id", "model", "tier", "auto", "reference"])
    frame["auto"] = frame["auto"].astype("boolean")
    frame["reference"] = frame["reference"].astype(bool)
    check = GradeCheck(study.name, reference_column, frame, no_ref, ungraded, conf_level)
    if ungraded:
        check.notes.append(
            f"{ungraded} response(s) with a reference have no automatic grade (run: python -m pipeline grade)"
        )
    return check


def _md(frame: pd.DataFrame, index: bool = False) -> str:
    from pipeline.accuracy._report import _markdown_table

    frame = frame.reset_index() if index else frame

    def cell(v) -> str:
        return (
            "-"
            if v is None or (isinstance(v, float) and pd.isna(v))
            else (f"{v:.1%}" if isinstance(v, float) else str(v))
        )

    return _markdown_table(
        [str(c) for c in frame.columns], [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    )


def grade_check_markdown(check: GradeCheck) -> str:
    """The grade-check as Markdown: a function the report's accuracy section can call."""
    parts = [
        check.summary(),
        _md(check.confusion(), index=True),
        _md(check.breakdown("tier")),
        _md(check.breakdown("model")),
    ]
    return "\n\n".join(parts + [f"- {n}" for n in check.notes])


def report_grade_check(session: Session, study_ref: int | str) -> GradeCheck | None:
    """The grade-check the report's accuracy section shows: against the study's imported labels (the first
    imported grader) or else its clinicians' grades; None when the study has no reference."""
    study = get_study(session, study_ref)
    rows = _rows(session, study.id)
    grades = _grade_keys(session, [r.id for r, *_ in rows])  # light rows: no grade details but the gold
    refs = [r for r in known_references(rows, grades) if not r.startswith("extra.")]
    imported = [r for r in refs if r != "clinician"]
    choice = imported[0] if imported else ("clinician" if "clinician" in refs else None)
    if choice is None:
        return None
    check = grade_check(session, study.id, choice)
    return check if check.n else None

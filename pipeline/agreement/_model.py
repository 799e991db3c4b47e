"""Typed data of agreement: ratings in, estimates out. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.intervals import interval

# "no_error" is the codebook's explicit "no reasoning error" code. Inside this package a rating's
# label set never holds it: the empty set *is* "no error" (so MASI(∅, ∅) = 0 and "no_error" cannot
# disagree with an empty set). It is reported as its own binary variable: present iff the set is empty.
NO_ERROR = "no_error"
DEFAULT_ERROR_MODES = ("reasoning_drift", "red_flag_failure", "priority_inversion", "other")


def normalise_labels(labels: Iterable[str]) -> frozenset[str]:
    """A label set with "no_error" removed (the empty set means no error); blanks dropped."""
    return frozenset(str(x).strip() for x in labels if str(x).strip() and str(x).strip() != NO_ERROR)


@dataclass(frozen=True)
class Rating:
    """One rater's labels on one item (a response, or a row group of a CSV)."""

    item: str
    rater: str
    labels: frozenset[str]  # error modes; empty = no error; never contains NO_ERROR
    first_error_step: int | None = None  # 1-based step of the trace; None = not given
    case: str | None = None  # the case the item belongs to: the unit of bootstrap resampling

    @property
    def cluster(self) -> str:
        return self.case if self.case is not None else self.item


@dataclass(frozen=True)
class Ratings:
    """All ratings of one study (or one file), with the label domain in display order."""

    ratings: tuple[Rating, ...]
    labels: tuple[str, ...]  # the error modes to report, without NO_ERROR
    source: str = ""
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for r in self.ratings:
            key = (r.item, r.rater)
            if key in seen:
                raise ValueError(f"two ratings of item {r.item!r} by rater {r.rater!r}")
            seen.add(key)
            if NO_ERROR in r.labels:
                raise ValueError(f"item {r.item!r}, rater {r.rater!r}: use the empty set for {NO_ERROR!r}")
        extra = sorted({lab for r in self.ratings for lab in r.labels} - set(self.labels))
        if extra:
            object.__setattr__(self, "labels", (*self.labels, *extra))

    @classmethod
    def build(
        cls,
        ratings: Iterable[Rating],
        labels: Sequence[str] | None = None,
        source: str = "",
        warnings: Sequence[str] = (),
    ) -> Ratings:
        rs = tuple(ratings)
        return cls(rs, tuple(x for x in (labels or ()) if x != NO_ERROR), source, tuple(warnings))

    @property
    def items(self) -> list[str]:
        return list(dict.fromkeys(r.item for r in self.ratings))

    @property
    def raters(self) -> list[str]:
        return sorted({r.rater for r in self.ratings})

    @property
    def n_ratings(self) -> int:
        return len(self.ratings)

    def matrix(self, value) -> tuple[np.ndarray, list[str], list[str]]:
        """(raters x items) float matrix of value(rating), NaN where a rater did not rate an item."""
        items, raters = self.items, self.raters
        ii = {x: i for i, x in enumerate(items)}
        ri = {x: i for i, x in enumerate(raters)}
        out = np.full((len(raters), len(items)), np.nan)
        for r in self.ratings:
            v = value(r)
            if v is not None:
                out[ri[r.rater], ii[r.item]] = v
        return out, raters, items

    def clusters(self) -> tuple[np.ndarray, int]:
        """The case index of every item (in self.items order) and the number of cases."""
        case_of = {}
        for r in self.ratings:
            case_of.setdefault(r.item, r.cluster)
        codes = {c: i for i, c in enumerate(dict.fromkeys(case_of.values()))}
        return np.array([codes[case_of[it]] for it in self.items], dtype=np.int64), len(codes)


@dataclass(frozen=True)
class Estimate:
    """One agreement figure with its bootstrap interval and the data it rests on.

    value is None when the statistic is undefined; reason says why (never reported as 1.0).
    """

    statistic: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n_cases: int = 0
    n_items: int = 0
    n_ratings: int = 0
    reason: str | None = None  # why the value (or its interval) is undefined
    note: str | None = None  # e.g. how many resamples the interval rests on
    n_boot: int = 0  # resamples in which the statistic was defined
    # Analytic (asymptotic) inference beside the bootstrap, None where there is none:
    se: float | None = None  # standard error
    z: float | None = None  # value / SE (Cohen's kappa: value / SE under H0)
    p_value: float | None = None  # two-sided, H0: no agreement beyond chance
    ase_low: float | None = None  # asymptotic interval at the report's level
    ase_high: float | None = None
    se_method: str | None = None  # where the SE comes from (reference for checking)

    @property
    def defined(self) -> bool:
        return self.value is not None

    def formatted(self, digits: int = 2) -> str:
        if self.value is None:
            return "undefined"
        text = f"{self.value:.{digits}f}"
        if self.ci_low is not None and self.ci_high is not None:
            text += " " + interval(self.ci_low, self.ci_high, digits=digits)
        return text


@dataclass(frozen=True)
class PairAgreement:
    """Two raters on the items both rated: Cohen's kappa and percent agreement."""

    rater_a: str
    rater_b: str
    kappa: Estimate
    percent_agreement: Estimate


@dataclass(frozen=True)
class LabelAgreement:
    """Agreement on one variable: an error mode present/absent, the label set, or the first error step."""

    label: str
    scope: str  # "error_mode", "label_set" or "first_error_step"
    prevalence: float | None  # share of ratings marking it present (label set: any error; step: a step given)
    n_cases: int
    n_items: int
    n_ratings: int
    estimates: dict[str, Estimate] = field(default_factory=dict)
    pairs: tuple[PairAgreement, ...] = ()

    def __getitem__(self, statistic: str) -> Estimate:
        return self.estimates[statistic]


STATISTIC_TITLES = {
    "alpha": "Krippendorff's α",
    "alpha_masi": "Krippendorff's α (MASI)",
    "alpha_nominal": "Krippendorff's α (exact set)",
    "alpha_interval": "Krippendorff's α (interval)",
    "alpha_ordinal": "Krippendorff's α (ordinal)",
    "fleiss_kappa": "Fleiss' κ",
    "gwet_ac1": "Gwet's AC1",
    "percent_agreement": "% agreement",
    "cohen_kappa": "Cohen's κ",
    "conger_kappa": "Conger's κ",
    "brennan_prediger": "Brennan-Prediger κ",
    "kappa_linear": "weighted κ (linear)",
    "kappa_quadratic": "weighted κ (quadratic)",
}

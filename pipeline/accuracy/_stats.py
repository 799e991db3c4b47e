"""Accuracy statistics as pure typed functions on top of statsmodels and scipy.

Nothing here touches the database or files: the report builder and the CLI
feed counts in and get frozen dataclasses out, so every number can be checked
against a published example (tests/pipeline/accuracy/test_stats.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from pipeline.errors import DxTraceError

CIMethod = Literal["wilson", "clopper-pearson", "wilson-cc", "jeffreys"]
McNemarMethod = Literal["exact", "mid-p", "chi2", "chi2-cc"]
DifferenceMethod = Literal["newcombe", "wald"]
Correction = Literal["holm", "bh"]

CI_METHODS: tuple[str, ...] = ("wilson", "clopper-pearson", "wilson-cc", "jeffreys")
MCNEMAR_METHODS: tuple[str, ...] = ("exact", "mid-p", "chi2", "chi2-cc")
DIFFERENCE_METHODS: tuple[str, ...] = ("newcombe", "wald")
CORRECTIONS: tuple[str, ...] = ("holm", "bh")
DEFAULT_ALPHA = 0.01  # the study's significance level

# statsmodels' names for the methods we expose under clinical-paper names.
_STATSMODELS_CI = {"wilson": "wilson", "clopper-pearson": "beta", "jeffreys": "jeffreys"}
_STATSMODELS_MULTITEST = {"holm": "holm", "bh": "fdr_bh"}

NO_DISCORDANT = "no discordant pairs"
EMPTY = "no cases"


def _check_alpha(alpha: float, name: str = "alpha") -> None:
    if not 0 < alpha < 1:
        raise DxTraceError(f"{name} must be between 0 and 1 (exclusive), got {alpha}")


def _check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise DxTraceError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")


@dataclass(frozen=True)
class Proportion:
    """k successes out of n with a two-sided confidence interval."""

    successes: int
    n: int
    estimate: float | None  # None when n == 0
    lower: float | None
    upper: float | None
    method: str
    conf_level: float

    @property
    def degenerate(self) -> str | None:
        return EMPTY if self.n == 0 else None

    def format(self, digits: int = 1) -> str:
        """'95.5% (89.9 to 98.1) 105/110', or 'n/a (no cases)' (the interval as pipeline.intervals writes it)."""
        if self.estimate is None:
            return f"n/a ({EMPTY})"
        pct = 100 * self.estimate
        lo, hi = 100 * (self.lower or 0.0), 100 * (self.upper or 0.0)
        return f"{pct:.{digits}f}% ({lo:.{digits}f} to {hi:.{digits}f}) {self.successes}/{self.n}"


def wilson_cc_interval(successes: int, n: int, conf_level: float) -> tuple[float, float]:
    """Wilson score interval with continuity correction (Newcombe 1998, method 4; Fleiss 1981).

    statsmodels has no continuity-corrected score interval, so it is written here from
    Newcombe's closed form; the bounds are 0 at x = 0 and 1 at x = n by definition.
    """
    z = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
    x, p = successes, successes / n
    q = 1 - p
    den = 2 * (n + z * z)
    lower = 0.0
    if x > 0:
        lower = (2 * n * p + z * z - 1 - z * math.sqrt(z * z - 2 - 1 / n + 4 * p * (n * q + 1))) / den
    upper = 1.0
    if x < n:
        upper = (2 * n * p + z * z + 1 + z * math.sqrt(z * z + 2 - 1 / n + 4 * p * (n * q - 1))) / den
    return max(0.0, lower), min(1.0, upper)


def proportion_ci(successes: int, n: int, *, conf_level: float = 0.95, method: CIMethod = "wilson") -> Proportion:
    """Accuracy with a Wilson score (default), Wilson with continuity correction, Jeffreys or
    Clopper-Pearson exact interval."""
    _check_choice(method, CI_METHODS, "interval method")
    _check_alpha(1 - conf_level, "1 - conf_level")
    if n < 0 or successes < 0 or successes > n:
        raise DxTraceError(f"invalid proportion {successes}/{n}")
    if n == 0:
        return Proportion(successes, n, None, None, None, method, conf_level)
    if method == "wilson-cc":
        lo, hi = wilson_cc_interval(successes, n, conf_level)
    else:
        lo, hi = proportion_confint(successes, n, alpha=1 - conf_level, method=_STATSMODELS_CI[method])
        if method == "jeffreys":
            # Brown, Cai & DasGupta (2001, sec. 4.1.2): the bound at an observed 0 or n is 0 or 1.
            lo, hi = (0.0 if successes == 0 else lo), (1.0 if successes == n else hi)
    # statsmodels can return -1e-17 / 1+1e-16 at the bounds; clip for clean tables.
    return Proportion(successes, n, successes / n, max(0.0, float(lo)), min(1.0, float(hi)), method, conf_level)


@dataclass(frozen=True)
class PairedCounts:
    """The paired 2x2 table of two models on the same cases.

    both: both correct; b: only A correct; c: only B correct; neither: both wrong.
    """

    both: int
    b: int
    c: int
    neither: int

    @property
    def n(self) -> int:
        return self.both + self.b + self.c + self.neither

    @property
    def discordant(self) -> int:
        return self.b + self.c

    @property
    def correct_a(self) -> int:
        return self.both + self.b

    @property
    def correct_b(self) -> int:
        return self.both + self.c

    def table(self) -> list[list[int]]:
        """Rows: A correct / wrong; columns: B correct / wrong."""
        return [[self.both, self.b], [self.c, self.neither]]


def paired_counts(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> PairedCounts:
    """Count the paired table from two aligned sequences of correct/incorrect."""
    if len(correct_a) != len(correct_b):
        raise DxTraceError(f"paired sequences differ in length: {len(correct_a)} vs {len(correct_b)}")
    both = b = c = neither = 0
    for x, y in zip(correct_a, correct_b, strict=True):
        if x and y:
            both += 1
        elif x:
            b += 1
        elif y:
            c += 1
        else:
            neither += 1
    return PairedCounts(both, b, c, neither)


@dataclass(frozen=True)
class McNemarResult:
    b: int
    c: int
    method: str
    statistic: float | None  # chi-square for chi2 forms; min(b, c) for exact and mid-p
    p_value: float
    degenerate: str | None = None  # NO_DISCORDANT when b + c == 0 (p = 1 by convention)
    z: float | None = None  # signed (b - c) / sqrt(b + c): positive when A is right more often

    @property
    def z_cc(self) -> float | None:
        """The signed z with continuity correction: sign(b - c) (|b - c| - 1) / sqrt(b + c), 0 if |b - c| <= 1."""
        if self.b + self.c == 0:
            return None
        excess = max(0.0, abs(self.b - self.c) - 1.0)
        return math.copysign(excess, self.b - self.c) / math.sqrt(self.b + self.c)


def signed_z(b: int, c: int) -> float | None:
    """McNemar's z = (b - c) / sqrt(b + c), signed so that its direction shows which model is better."""
    return None if b + c == 0 else (b - c) / math.sqrt(b + c)


def mcnemar_test(b: int, c: int, *, method: McNemarMethod = "exact") -> McNemarResult:
    """McNemar's test on the discordant counts.

    exact: conditional binomial test (the study's choice); mid-p: the exact p
    minus the point probability of the observed table (Fagerland et al. 2013);
    chi2 / chi2-cc: the asymptotic test without / with continuity correction.
    """
    _check_choice(method, MCNEMAR_METHODS, "McNemar method")
    if b < 0 or c < 0:
        raise DxTraceError(f"discordant counts must be non-negative, got b={b}, c={c}")
    if b + c == 0:
        # No information about a difference; chi-square would be 0/0.
        return McNemarResult(b, c, method, None, 1.0, NO_DISCORDANT)
    table = [[0, b], [c, 0]]
    if method in ("exact", "mid-p"):
        res = mcnemar(table, exact=True)
        p = float(res.pvalue)
        if method == "mid-p":
            p = p - float(stats.binom.pmf(min(b, c), b + c, 0.5))
            if b == c:  # the exact p was capped at 1; the mid-p then is 1 - P(X = b) / 2
                p = 1.0 - 0.5 * float(stats.binom.pmf(b, b + c, 0.5))
        return McNemarResult(b, c, method, float(res.statistic), min(1.0, p), z=signed_z(b, c))
    res = mcnemar(table, exact=False, correction=method == "chi2-cc")
    return McNemarResult(b, c, method, float(res.statistic), float(res.pvalue), z=signed_z(b, c))


@dataclass(frozen=True)
class Difference:
    """Paired difference of accuracies, A minus B, with a confidence interval."""

    estimate: float | None
    lower: float | None
    upper: float | None
    method: str
    conf_level: float

    def format(self, digits: int = 1) -> str:
        if self.estimate is None:
            return "n/a"
        return (
            f"{100 * self.estimate:+.{digits}f} pp "
            f"({100 * (self.lower or 0):+.{digits}f} to {100 * (self.upper or 0):+.{digits}f})"
        )


def paired_difference(
    counts: PairedCounts, *, conf_level: float = 0.95, method: DifferenceMethod = "newcombe"
) -> Difference:
    """Difference of paired proportions (A - B) with a confidence interval.

    newcombe: Newcombe's (1998) square-and-add interval built on the two
    marginal Wilson intervals with the continuity-corrected phi (his method 10);
    recommended by Fagerland, Lydersen & Laake (2014). wald: the textbook
    interval (Agresti, Categorical Data Analysis, 10.1).
    """
    _check_choice(method, DIFFERENCE_METHODS, "difference method")
    n = counts.n
    if n == 0:
        return Difference(None, None, None, method, conf_level)
    p1, p2 = counts.correct_a / n, counts.correct_b / n
    delta = p1 - p2
    if method == "wald":
        z = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
        pb, pc = counts.b / n, counts.c / n
        se = math.sqrt(max(0.0, (pb + pc - (pb - pc) ** 2) / n))
        return Difference(delta, max(-1.0, delta - z * se), min(1.0, delta + z * se), method, conf_level)
    a1 = proportion_ci(counts.correct_a, n, conf_level=conf_level)
    a2 = proportion_ci(counts.correct_b, n, conf_level=conf_level)
    l1, u1, l2, u2 = a1.lower or 0.0, a1.upper or 0.0, a2.lower or 0.0, a2.upper or 0.0
    rows = (counts.correct_a, n - counts.correct_a)
    cols = (counts.correct_b, n - counts.correct_b)
    phi = 0.0
    if min(*rows, *cols) > 0:
        cross = counts.both * counts.neither - counts.b * counts.c
        # Newcombe's continuity correction of phi: shrink positive association by n/2.
        if cross > n / 2:
            cross_cc = cross - n / 2
        elif cross >= 0:
            cross_cc = 0.0
        else:
            cross_cc = cross
        phi = cross_cc / math.sqrt(rows[0] * rows[1] * cols[0] * cols[1])
    d_lo = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    d_hi = math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return Difference(delta, max(-1.0, delta - d_lo), min(1.0, delta + d_hi), method, conf_level)


@dataclass(frozen=True)
class Adjusted:
    p_values: tuple[float, ...]
    reject: tuple[bool, ...]
    method: str | None
    alpha: float


def adjust_p_values(p_values: Sequence[float], *, alpha: float = DEFAULT_ALPHA, method: Correction | None) -> Adjusted:
    """Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) across tests.

    method=None leaves the p-values as they are and rejects at p <= alpha.
    """
    _check_alpha(alpha)
    ps = [float(p) for p in p_values]
    if method is None or not ps:
        return Adjusted(tuple(ps), tuple(p <= alpha for p in ps), method, alpha)
    _check_choice(method, CORRECTIONS, "correction")
    reject, adjusted, _, _ = multipletests(ps, alpha=alpha, method=_STATSMODELS_MULTITEST[method])
    return Adjusted(tuple(float(p) for p in adjusted), tuple(bool(r) for r in reject), method, alpha)


__all__ = [
    "CI_METHODS",
    "CORRECTIONS",
    "DEFAULT_ALPHA",
    "DIFFERENCE_METHODS",
    "EMPTY",
    "MCNEMAR_METHODS",
    "NO_DISCORDANT",
    "Adjusted",
    "Difference",
    "McNemarResult",
    "PairedCounts",
    "Proportion",
    "adjust_p_values",
    "mcnemar_test",
    "paired_counts",
    "paired_difference",
    "proportion_ci",
    "signed_z",
    "wilson_cc_interval",
]

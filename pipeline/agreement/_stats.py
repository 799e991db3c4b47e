"""Point estimates of agreement, each returning (value, reason): value None when undefined.

The coefficients come from their reference implementations where our stack has one: Krippendorff's
alpha from the `krippendorff` package, Cohen's kappa from scikit-learn. Fleiss' kappa generalised to
items with different numbers of ratings, Gwet's AC1, Conger's kappa and Brennan-Prediger follow
Gwet's (2014) formulation (`_analytic.py`, checked against irrCAC and the Handbook); Fleiss' kappa
equals statsmodels' wherever every item has as many ratings. The MASI distance is written here
against its paper's definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

from pipeline.agreement._analytic import bp_analytic, conger_value, fleiss_analytic

Result = tuple[float | None, str | None]


def masi_distance(a: frozenset | set, b: frozenset | set) -> float:
    """MASI distance (Passonneau 2006): 1 - Jaccard x monotonicity; two empty sets are identical (0).

    Monotonicity M is 1 for identical sets, 2/3 when one is a subset of the other, 1/3 when they
    overlap with differences on both sides and 0 when disjoint. (nltk rounds these to .67 and .33
    and divides by zero on two empty sets.)
    """
    a, b = frozenset(a), frozenset(b)
    if a == b:
        return 0.0
    inter, union = len(a & b), len(a | b)
    if inter == 0:
        return 1.0
    m = Fraction(2, 3) if (a <= b or b <= a) else Fraction(1, 3)
    return float(1 - Fraction(inter, union) * m)


def masi_matrix(sets: Sequence[frozenset]) -> np.ndarray:
    n = len(sets)
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            d[i, j] = d[j, i] = masi_distance(sets[i], sets[j])
    return d


def value_counts(codes: np.ndarray, n_values: int) -> np.ndarray:
    """(items x values) counts from a (raters x items) matrix of value indices (NaN = missing)."""
    return np.stack([(codes == v).sum(axis=0) for v in range(n_values)], axis=1).astype(np.int64)


def _pairable(counts: np.ndarray, min_items: int) -> tuple[np.ndarray, str | None]:
    m = counts.sum(axis=1)
    pair = m >= 2
    k = int(pair.sum())
    if k == 0:
        return pair, "no item has two or more ratings"
    if k < min_items:
        return pair, f"too few paired ratings: {k} item(s) with two or more ratings (minimum {min_items})"
    return pair, None


def _no_variation(counts: np.ndarray, names: Sequence[str] | None) -> str | None:
    used = np.flatnonzero(counts.sum(axis=0) > 0)
    if len(used) >= 2:
        return None
    what = f" {names[used[0]]!r}" if (names is not None and len(used) == 1) else " the same value"
    return f"no variation: every paired rating is{what}"


def krippendorff_alpha(
    counts: np.ndarray,
    *,
    level: str = "nominal",
    domain: Sequence | None = None,
    distance: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    min_items: int = 2,
) -> Result:
    """Krippendorff's alpha from (items x values) counts; missing ratings are simply absent.

    level is "nominal", "ordinal" or "interval" (with the numeric `domain` of the columns), or pass a
    (values x values) `distance` matrix (e.g. MASI between label sets).
    """
    pair, reason = _pairable(counts, min_items)
    if reason:
        return None, reason
    c = counts[pair]
    reason = _no_variation(c, names)
    if reason:
        return None, reason
    n_values = counts.shape[1]
    if distance is not None:
        d = np.asarray(distance, dtype=float)

        def metric(v1, v2, i1, i2, n_v, dtype=np.float64):
            return d[i1, i2].astype(dtype)

        level_arg = metric
        dom = np.arange(n_values)
    else:
        level_arg = level
        dom = np.asarray(domain if domain is not None else np.arange(n_values))
    value = float(krippendorff.alpha(value_counts=c, value_domain=dom, level_of_measurement=level_arg))
    if not np.isfinite(value):
        return None, "no variation among the paired ratings"
    return value, None


def _chance_corrected_reason(counts: np.ndarray, names: Sequence[str] | None, min_items: int) -> str | None:
    _, reason = _pairable(counts, min_items)
    if reason:
        return reason
    return _no_variation(counts[counts.sum(axis=1) > 0], names)


def fleiss_kappa(
    counts: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    min_items: int = 2,
    weights: np.ndarray | None = None,
) -> Result:
    """Fleiss' kappa, generalised to items with different numbers of ratings (Gwet 2014, ch. 5):
    agreement over items with two or more ratings, category shares over every rated item.
    With the same number of ratings on every item it is Fleiss' (1971) kappa."""
    reason = _chance_corrected_reason(counts, names, min_items)
    if reason:
        return None, reason
    return _finite(fleiss_analytic(counts, weights).value)


def brennan_prediger(
    counts: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    min_items: int = 2,
    weights: np.ndarray | None = None,
) -> Result:
    """Brennan & Prediger (1981): chance agreement 1/q for q values (sum(W)/q² weighted)."""
    reason = _chance_corrected_reason(counts, names, min_items)
    if reason:
        return None, reason
    return _finite(bp_analytic(counts, weights).value)


def conger_kappa(
    codes: np.ndarray,
    n_values: int,
    *,
    names: Sequence[str] | None = None,
    min_items: int = 2,
    weights: np.ndarray | None = None,
) -> Result:
    """Conger's (1980) kappa from a (raters x items) matrix of value indices (NaN = missing):
    Cohen's kappa for any number of raters; weighted with linear or quadratic weights for ordered values."""
    counts = value_counts(codes, n_values)
    reason = _chance_corrected_reason(counts, names, min_items)
    if reason:
        return None, reason
    raters = int((~np.isnan(codes)).any(axis=1).sum())
    if raters < 2:
        return None, "fewer than two raters"
    return _finite(conger_value(codes, n_values, weights))


def _finite(value: float) -> Result:
    if not np.isfinite(value):
        return None, "chance agreement is 1"
    return float(value), None


def percent_agreement(counts: np.ndarray, *, min_items: int = 2) -> Result:
    """Mean over items with two or more ratings of the share of rater pairs that agree."""
    pair, reason = _pairable(counts, min_items)
    if reason:
        return None, reason
    c = counts[pair].astype(float)
    m = c.sum(axis=1)
    return float(np.mean((c * (c - 1)).sum(axis=1) / (m * (m - 1)))), None


def gwet_ac1(counts: np.ndarray, *, names: Sequence[str] | None = None, min_items: int = 2) -> Result:
    """Gwet's AC1 for any number of raters with missing ratings (Gwet 2008; Handbook 4th ed., ch. 2).

    pa averages pair agreement over items with two or more ratings; the chance agreement
    pe = sum_k pi_k (1 - pi_k) / (q - 1) uses pi_k averaged over every rated item.
    """
    pair, reason = _pairable(counts, min_items)
    if reason:
        return None, reason
    q = counts.shape[1]
    if q < 2:
        return None, "only one category"
    reason = _no_variation(counts[counts.sum(axis=1) > 0], names)
    if reason:
        return None, reason
    pa, _ = percent_agreement(counts, min_items=min_items)
    rated = counts[counts.sum(axis=1) > 0].astype(float)
    pi = (rated / rated.sum(axis=1, keepdims=True)).mean(axis=0)
    pe = float((pi * (1 - pi)).sum() / (q - 1))
    return (pa - pe) / (1 - pe), None


def cohen_kappa(a: np.ndarray, b: np.ndarray, *, n_values: int, min_items: int = 2) -> Result:
    """Cohen's kappa (scikit-learn) of two raters' value indices on the items both rated."""
    both = ~(np.isnan(a) | np.isnan(b))
    k = int(both.sum())
    if k == 0:
        return None, "no item rated by both"
    if k < min_items:
        return None, f"too few paired ratings: {k} item(s) rated by both (minimum {min_items})"
    x, y = a[both].astype(int), b[both].astype(int)
    if len(np.unique(np.concatenate([x, y]))) < 2:
        return None, "no variation: both raters gave one and the same value on every shared item"
    value = float(cohen_kappa_score(x, y, labels=list(range(n_values))))
    if not np.isfinite(value):  # pragma: no cover - excluded above; kept so a NaN never escapes
        return None, "chance agreement is 1"
    return value, None


def pair_percent(a: np.ndarray, b: np.ndarray, *, min_items: int = 2) -> Result:
    both = ~(np.isnan(a) | np.isnan(b))
    k = int(both.sum())
    if k < max(1, min_items):
        return None, f"too few paired ratings: {k} item(s) rated by both (minimum {min_items})"
    return float(np.mean(a[both] == b[both])), None


__all__ = [
    "brennan_prediger",
    "cohen_kappa",
    "conger_kappa",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "masi_distance",
    "masi_matrix",
    "pair_percent",
    "percent_agreement",
    "value_counts",
]

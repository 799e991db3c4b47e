"""Chance-corrected agreement with analytic standard errors, after Gwet (2014), Handbook of
Inter-Rater Reliability, 4th ed., chapters 2-5, and his R package irrCAC (the raw-ratings functions).

Every coefficient is (pa - pe) / (1 - pe) on (items x values) counts with a (values x values)
weight matrix W (identity for nominal data; linear or quadratic for ordered values), so one set of
terms serves Fleiss' kappa (generalised to items with different numbers of ratings), Gwet's AC1/AC2,
Brennan-Prediger, Conger's kappa and Krippendorff's alpha. The variance is Gwet's linearisation over
items ("subjects"), conditional on the raters; intervals and p-values use Student's t with
n - 1 degrees of freedom, as irrCAC does, so every figure can be checked against irrCAC.
Cohen's kappa of two raters has its own textbook variance (Fleiss, Cohen & Everitt 1969) from
statsmodels, which reproduces SAS PROC FREQ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa as _sm_cohens_kappa

WEIGHTINGS = ("identity", "linear", "quadratic")


@dataclass(frozen=True)
class Analytic:
    """A coefficient with its analytic standard error, z (value / SE), two-sided p and interval."""

    value: float
    se: float | None
    z: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    pa: float
    pe: float
    method: str
    df: int | None = None  # degrees of freedom of the t reference; None = standard normal


def weight_matrix(kind: str, values: Sequence[float] | None = None, n_values: int | None = None) -> np.ndarray:
    """Agreement weights (1 on the diagonal): identity, linear 1 - |a-b|/range, quadratic 1 - (a-b)²/range²."""
    v = np.asarray(values if values is not None else np.arange(n_values or 0), dtype=float)
    q = len(v)
    if kind == "identity" or q < 2:
        return np.eye(q)
    span = v.max() - v.min()
    diff = np.abs(v[:, None] - v[None, :]) / (span if span > 0 else 1.0)
    if kind == "linear":
        return 1.0 - diff
    if kind == "quadratic":
        return 1.0 - diff**2
    raise ValueError(f"unknown weighting {kind!r}; choose one of {', '.join(WEIGHTINGS)}")


def distance_weights(distance: np.ndarray) -> np.ndarray:
    """Agreement weights from a distance matrix (alpha is invariant to rescaling the distance)."""
    d = np.asarray(distance, dtype=float)
    top = d.max()
    return 1.0 - (d / top if top > 0 else d)


def _finish(
    value: float, terms: np.ndarray, centre: float, pa: float, pe: float, method: str, level: float
) -> Analytic:
    """SE from the items' linearised terms; t(n-1) interval clipped to [-1, 1] and p-value."""
    n = len(terms)
    if n < 2:
        return Analytic(value, None, None, None, None, None, pa, pe, method)
    var = float(np.sum((terms - centre) ** 2) / (n * (n - 1)))
    if not np.isfinite(var) or not np.isfinite(value):
        return Analytic(value, None, None, None, None, None, pa, pe, method + "; variance undefined")
    se = float(np.sqrt(max(var, 0.0)))
    if se <= 1e-12:
        return Analytic(value, 0.0, None, None, None, None, pa, pe, method + "; standard error 0", n - 1)
    t = value / se
    p = float(2 * stats.t.sf(abs(t), n - 1))
    half = float(stats.t.ppf(1 - (1 - level) / 2, n - 1)) * se
    return Analytic(value, se, t, p, max(-1.0, value - half), min(1.0, value + half), pa, pe, method, n - 1)


class _Terms:
    """The per-item pieces shared by the coefficients (items with at least one rating)."""

    def __init__(self, counts: np.ndarray, w: np.ndarray):
        c = np.asarray(counts, dtype=float)
        c = c[c.sum(axis=1) > 0]
        self.c, self.w = c, np.asarray(w, dtype=float)
        self.r = c.sum(axis=1)
        self.n = len(c)
        self.q = c.shape[1]
        self.pair = self.r >= 2
        self.n2 = int(self.pair.sum())
        cw = c @ self.w.T
        self.sum_q = (c * (cw - 1.0)).sum(axis=1)
        den = np.where(self.pair, self.r * (self.r - 1.0), 1.0)
        self.pa_i = np.where(self.pair, self.sum_q / den, 0.0)
        self.pa = float(self.pa_i[self.pair].mean()) if self.n2 else float("nan")
        self.pi = (c / self.r[:, None]).mean(axis=0)

    def kappa_terms(self, pe: float) -> np.ndarray:
        return (self.n / self.n2) * (self.pa_i - pe * self.pair) / (1.0 - pe)


def fleiss_analytic(counts: np.ndarray, w: np.ndarray | None = None, level: float = 0.95) -> Analytic:
    """Fleiss' kappa, generalised to any number of ratings per item (Gwet 2014, ch. 5)."""
    t = _Terms(counts, np.eye(counts.shape[1]) if w is None else w)
    pe = float(t.pi @ t.w @ t.pi)
    kappa = (t.pa - pe) / (1.0 - pe)
    pi_w = (t.w @ t.pi + t.w.T @ t.pi) / 2.0
    pe_i = (t.c @ pi_w) / t.r
    terms = t.kappa_terms(pe) - 2.0 * (1.0 - kappa) * (pe_i - pe) / (1.0 - pe)
    method = "Gwet (2014) linearisation, t(n-1)"
    null = fleiss_null_test(counts) if w is None or np.allclose(w, np.eye(len(w))) else None
    if null is not None:
        method += f"; Fleiss, Nee & Landis (1979) SE under H0 {null[0]:.4f}, z {null[1]:.2f} (as SPSS, R irr)"
    return _finish(kappa, terms, kappa, t.pa, pe, method, level)


def fleiss_null_test(counts: np.ndarray) -> tuple[float, float, float] | None:
    """Fleiss, Nee & Landis (1979) test of Fleiss' kappa = 0: (SE under H0, z, two-sided normal p), as
    SPSS and R's irr (kappam.fleiss) print it. Only defined when every rated item has as many ratings."""
    c = np.asarray(counts, dtype=float)
    c = c[c.sum(axis=1) > 0]
    m = np.unique(c.sum(axis=1))
    if len(c) == 0 or len(m) != 1 or m[0] < 2:
        return None
    n, m = len(c), float(m[0])
    p = c.sum(axis=0) / (n * m)
    pq = p * (1.0 - p)
    s = pq.sum()
    if s <= 0:
        return None
    se0 = float(np.sqrt(2.0 / (n * m * (m - 1.0)) * (s**2 - np.sum(pq * ((1.0 - p) - p))) / s**2))
    pa = float(np.mean(((c * c).sum(axis=1) - m) / (m * (m - 1.0))))
    kappa = (pa - float(np.sum(p * p))) / (1.0 - float(np.sum(p * p)))
    z = kappa / se0
    return se0, z, float(2 * stats.norm.sf(abs(z)))


def ac1_analytic(counts: np.ndarray, w: np.ndarray | None = None, level: float = 0.95) -> Analytic:
    """Gwet's AC1 (AC2 with weights): chance agreement from the category shares (Gwet 2008)."""
    t = _Terms(counts, np.eye(counts.shape[1]) if w is None else w)
    scale = t.w.sum() / (t.q * (t.q - 1.0))
    pe = float(scale * np.sum(t.pi * (1.0 - t.pi)))
    ac1 = (t.pa - pe) / (1.0 - pe)
    pe_i = scale * (t.c @ (1.0 - t.pi)) / t.r
    terms = t.kappa_terms(pe) - 2.0 * (1.0 - ac1) * (pe_i - pe) / (1.0 - pe)
    return _finish(ac1, terms, ac1, t.pa, pe, "Gwet (2008; 2014) linearisation, t(n-1)", level)


def bp_analytic(counts: np.ndarray, w: np.ndarray | None = None, level: float = 0.95) -> Analytic:
    """Brennan & Prediger (1981): chance agreement fixed at sum(W) / q² (1/q unweighted)."""
    t = _Terms(counts, np.eye(counts.shape[1]) if w is None else w)
    pe = float(t.w.sum() / t.q**2)
    bp = (t.pa - pe) / (1.0 - pe)
    return _finish(bp, t.kappa_terms(pe), bp, t.pa, pe, "Gwet (2014) linearisation, t(n-1)", level)


def krippendorff_analytic(counts: np.ndarray, w: np.ndarray | None = None, level: float = 0.95) -> Analytic:
    """Krippendorff's alpha in Gwet's formulation (Handbook ch. 3) with its linearised variance.

    Only items with two or more ratings take part. The value equals Krippendorff's (2011) alpha for
    a fixed distance (nominal, interval, MASI); ordinal alpha's distance depends on the marginals and
    has no analytic SE here.
    """
    c_all = np.asarray(counts, dtype=float)
    c = c_all[c_all.sum(axis=1) >= 2]
    w = np.eye(c.shape[1]) if w is None else np.asarray(w, dtype=float)
    r = c.sum(axis=1)
    rbar = r.mean()
    eps = 1.0 / r.sum()
    sum_q = (c * (c @ w.T - 1.0)).sum(axis=1)
    pa_prime = float(np.mean(sum_q / (rbar * (r - 1.0))))
    pa = (1.0 - eps) * pa_prime + eps
    pi = (c / rbar).mean(axis=0)
    pe = float(pi @ w @ pi)
    alpha = (pa - pe) / (1.0 - pe)
    alpha_prime = (pa_prime - pe) / (1.0 - pe)
    pa_i = sum_q / (rbar * (r - 1.0)) - pa * (r - rbar) / rbar
    pi_w = (w @ pi + w.T @ pi) / 2.0
    pe_i = (c @ pi_w) / rbar - pe * (r - rbar) / rbar
    terms = (pa_i - pe) / (1.0 - pe) - 2.0 * (1.0 - alpha_prime) * (pe_i - pe) / (1.0 - pe)
    res = _finish(alpha, terms, alpha_prime, pa, pe, "Gwet (2014) linearisation, t(n-1)", level)
    return res


def _one_hot(codes: np.ndarray, q: int) -> np.ndarray:
    """(raters x items x values) indicators of each rating; all 0 where missing."""
    out = np.zeros((*codes.shape, q))
    g, i = np.nonzero(~np.isnan(codes))
    out[g, i, codes[g, i].astype(int)] = 1.0
    return out


class _Conger:
    """Conger's chance agreement from each rater's own shares (the point estimate's pieces)."""

    def __init__(self, codes: np.ndarray, n_values: int, w: np.ndarray | None):
        x = np.asarray(codes, dtype=float)
        x = x[:, ~np.isnan(x).all(axis=0)]
        self.x = x[~np.isnan(x).all(axis=1)]
        self.w = np.eye(n_values) if w is None else np.asarray(w, dtype=float)
        self.delta = _one_hot(self.x, n_values)  # g, i, k
        self.t = _Terms(self.delta.sum(axis=0), self.w)
        self.r = self.x.shape[0]
        classif = self.delta.sum(axis=1)  # g, k
        self.ng = classif.sum(axis=1)
        self.p = classif / self.ng[:, None]
        pbar = self.p.mean(axis=0)
        s2 = (self.p.T @ self.p - self.r * np.outer(pbar, pbar)) / (self.r - 1.0)
        self.pe = float(np.sum(self.w * (np.outer(pbar, pbar) - s2 / self.r)))
        self.kappa = (self.t.pa - self.pe) / (1.0 - self.pe)


def conger_value(codes: np.ndarray, n_values: int, w: np.ndarray | None = None) -> float:
    """Conger's kappa alone (no variance): what the point estimate needs."""
    return _Conger(codes, n_values, w).kappa


def conger_analytic(codes: np.ndarray, n_values: int, w: np.ndarray | None = None, level: float = 0.95) -> Analytic:
    """Conger's (1980) kappa: Fleiss' agreement with chance from each rater's own marginals
    (Cohen's kappa generalised to many raters; with two raters and no missing rating it is Cohen's).

    codes: (raters x items) value indices, NaN = missing; raters and items without any rating drop out.
    """
    c = _Conger(codes, n_values, w)
    t, p, ng, n = c.t, c.p, c.ng, c.x.shape[1]
    rated = (~np.isnan(c.x)).astype(float)  # g, i
    # lambda_ig = sum_k [sum_l W_kl (delta_igl - (eps_ig - n_g/n) p_gl)] (n/n_g) (sum_h p_hk - p_gk)
    a = c.delta @ c.w.T - (rated - ng[:, None] / n)[:, :, None] * (p @ c.w.T)[:, None, :]
    others = p.sum(axis=0)[None, :] - p  # g, k
    lam = np.einsum("gik,gk->gi", a, others) * (n / ng)[:, None]
    pe_i = lam.sum(axis=0) / (c.r * (c.r - 1.0))
    terms = t.kappa_terms(c.pe) - 2.0 * (1.0 - c.kappa) * (pe_i - c.pe) / (1.0 - c.pe)
    return _finish(c.kappa, terms, c.kappa, t.pa, c.pe, "Gwet (2014) linearisation, t(n-1)", level)


def cohen_analytic(table: np.ndarray, *, weighting: str = "identity", scores: Sequence[float] | None = None,
                   level: float = 0.95) -> Analytic:  # fmt: skip
    """Cohen's kappa (weighted: Cohen 1968) of a two-rater table with the asymptotic SE of Fleiss,
    Cohen & Everitt (1969) for the interval and the SE under H0 for z and p (as SAS PROC FREQ)."""
    tab = np.asarray(table, dtype=float)
    kw = {} if weighting == "identity" else {"wt": weighting, "weights": scores}
    with np.errstate(divide="ignore", invalid="ignore"):
        res = _sm_cohens_kappa(tab, **kw)
    kappa = float(res.kappa)
    if weighting == "identity":
        agree = np.eye(len(tab))
    else:
        w = np.asarray(res.weights, dtype=float)  # statsmodels' disagreement weights, 0 on the diagonal
        agree = 1.0 - w / w.max()
    prob = tab / tab.sum()
    po = float(np.sum(agree * prob))
    pe = float(np.sum(agree * np.outer(prob.sum(axis=1), prob.sum(axis=0))))
    se = float(res.std_kappa)
    method = "Fleiss, Cohen & Everitt (1969) ASE, normal; z with the SE under H0 (as SAS PROC FREQ)"
    z = float(res.z_value) if np.isfinite(res.z_value) else None
    p = float(res.pvalue_two_sided) if z is not None else None
    if not np.isfinite(se):
        return Analytic(kappa, None, None, None, None, None, po, pe, method)
    # Perfect agreement has ASE 0; its test against 0 still uses the SE under H0 (as SAS prints it).
    half = float(stats.norm.ppf(1 - (1 - level) / 2)) * se
    return Analytic(kappa, se, z, p, max(-1.0, kappa - half), min(1.0, kappa + half), po, pe, method)


__all__ = [
    "WEIGHTINGS",
    "Analytic",
    "ac1_analytic",
    "bp_analytic",
    "cohen_analytic",
    "conger_analytic",
    "conger_value",
    "distance_weights",
    "fleiss_analytic",
    "fleiss_null_test",
    "krippendorff_analytic",
    "weight_matrix",
]

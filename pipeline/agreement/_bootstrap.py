"""Case bootstrap, vectorised: every statistic as a function of resample weights.

A resample draws cases with replacement and keeps all their items and ratings, so an item's weight
is how often its case was drawn. Each statistic below is built from sums over items of per-item
terms, so a block of resamples is a weight matrix times those terms: no Python loop over resamples.
Since every item of a case has its case's weight, the terms are first summed by case (once per run)
and a block is a (resamples x cases) matrix times (cases x terms): 10,000 items of 525 cases cost
what 525 items would. They compute the same formulas as the reference implementations used for the
point estimates (tests/pipeline/agreement/test_bootstrap.py checks each against them on explicit
resamples, and the case sums against item sums).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np
from scipy import sparse


class Resamples:
    """A block of resamples: how often each case was drawn (B x cases) and the case of each item.

    case_of None means every item is its own case: `cases` then holds item weights (B x items), as a
    plain array given to a statistic does (the tests write resamples out that way)."""

    def __init__(self, cases: np.ndarray, case_of: np.ndarray | None = None) -> None:
        self.cases = cases
        self.case_of = case_of

    def __len__(self) -> int:
        return len(self.cases)

    @property
    def items(self) -> np.ndarray:
        """(B x items) weights: each item's case's."""
        return self.cases if self.case_of is None else self.cases[:, self.case_of]


BootFn = Callable[[Resamples | np.ndarray], np.ndarray]  # resamples -> (B,) values, NaN = undefined


def resample_weights(
    clusters: np.ndarray, n_clusters: int, n_boot: int, seed: int, block: int = 250
) -> Iterator[Resamples]:
    """Blocks of resamples: how often each case was drawn in each resample (clusters: each item's case)."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        draws = rng.integers(0, n_clusters, size=(b, n_clusters))
        flat = (draws + np.arange(b)[:, None] * n_clusters).ravel()
        w = np.bincount(flat, minlength=b * n_clusters).reshape(b, n_clusters).astype(np.float64)
        yield Resamples(w, clusters)
        done += b


def _resamples(w: Resamples | np.ndarray) -> Resamples:
    return w if isinstance(w, Resamples) else Resamples(np.asarray(w, dtype=np.float64))


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    ok = np.abs(den) > 1e-12
    np.divide(num, den, out=out, where=ok)
    return out


def _take(w: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The weight columns of idx; no copy when idx is every item (the common case)."""
    if len(idx) == w.shape[1]:
        return w
    return w[:, idx]


def _by_case(case_of: np.ndarray, n_cases: int, terms):
    """(cases x ...) sums of the items' terms (rows) by case; sparse stays sparse."""
    onehot = sparse.csr_matrix(
        (np.ones(len(case_of)), (case_of, np.arange(len(case_of)))), shape=(n_cases, len(case_of))
    )
    out = onehot @ terms
    return out.tocsr() if sparse.issparse(out) else np.asarray(out)


def weighted_sum(w: Resamples, idx: np.ndarray, terms) -> np.ndarray:
    """sum over the items idx of weight x terms, per resample: (B,) for a vector of terms, (B x k) for
    a (len(idx) x k) matrix (dense or sparse); terms None sums the weights themselves.

    Equals w.items[:, idx] @ terms; with cases, the terms summed by case are cached per thread."""
    if terms is None:
        terms = _MEMO.ones(len(idx))
    if w.case_of is None:
        wi = _take(w.cases, idx)
        return np.asarray((terms.T @ wi.T).T) if sparse.issparse(terms) else wi @ terms
    agg = _MEMO.cached_sum(w.case_of, idx, terms, lambda: _by_case(w.case_of[idx], w.cases.shape[1], terms))
    return np.asarray((agg.T @ w.cases.T).T) if sparse.issparse(agg) else w.cases @ agg


def _variation(nv: np.ndarray) -> np.ndarray:
    """True where at least two values are used."""
    return (nv > 0).sum(axis=1) >= 2


def alpha_fn(counts: np.ndarray, distance: np.ndarray | None = None, level: str = "nominal", domain=None) -> BootFn:
    """Krippendorff's alpha from (items x values) counts under resample weights.

    With a fixed distance (nominal, interval, MASI) each pairable item contributes a scalar
    observed disagreement and its value counts; ordinal distances depend on the resample's
    marginals, so the coincidence matrix itself is resampled (sparse: few values per item).
    """
    m = counts.sum(axis=1)
    pair = np.flatnonzero(m >= 2)
    c = counts[pair].astype(np.float64)
    mp = m[pair].astype(np.float64)
    n_values = counts.shape[1]
    if level == "ordinal" and distance is None:
        return _ordinal_alpha_fn(c, mp, pair)
    if distance is None:
        if level == "nominal":
            distance = 1.0 - np.eye(n_values)
        elif level == "interval":
            v = np.asarray(domain if domain is not None else np.arange(n_values), dtype=np.float64)
            distance = (v[:, None] - v[None, :]) ** 2
        else:
            raise ValueError(f"unknown level {level!r}")
    d = np.asarray(distance, dtype=np.float64)
    do_u = ((c @ d) * c).sum(axis=1) / (mp - 1)  # the diagonal of d is 0, so o_u · d needs no correction

    def fn(w: Resamples | np.ndarray) -> np.ndarray:
        w = _resamples(w)
        do = weighted_sum(w, pair, do_u)
        nv = weighted_sum(w, pair, c)
        n = nv.sum(axis=1)
        de = ((nv @ d) * nv).sum(axis=1) / np.where(n > 1, n - 1, np.nan)
        out = 1.0 - _safe_div(do, de)
        out[~_variation(nv)] = np.nan
        return out

    return fn


def _ordinal_alpha_fn(c: np.ndarray, mp: np.ndarray, pair: np.ndarray) -> BootFn:
    n_items, v = c.shape
    # Per-item coincidences o_u[j,k] = (c_j c_k - [j=k] c_j) / (m - 1), flattened and sparse.
    rows, cols, vals = [], [], []
    for i in range(n_items):
        nz = np.flatnonzero(c[i])
        for j in nz:
            for k in nz:
                val = c[i, j] * c[i, k] - (c[i, j] if j == k else 0.0)
                if val:
                    rows.append(i)
                    cols.append(j * v + k)
                    vals.append(val / (mp[i] - 1))
    o_items = sparse.csr_matrix((vals, (rows, cols)), shape=(n_items, v * v))
    lo = np.minimum.outer(np.arange(v), np.arange(v))
    hi = np.maximum.outer(np.arange(v), np.arange(v))

    def fn(w: Resamples | np.ndarray) -> np.ndarray:
        w = _resamples(w)
        o = weighted_sum(w, pair, o_items).reshape(-1, v, v)
        nv = o.sum(axis=1)
        n = nv.sum(axis=1)
        cum = np.concatenate([np.zeros((len(w), 1)), np.cumsum(nv, axis=1)], axis=1)
        between = cum[:, hi + 1] - cum[:, lo]
        d = (between - (nv[:, lo] + nv[:, hi]) / 2.0) ** 2
        e_d = (np.einsum("bj,bjk,bk->b", nv, d, nv) - np.einsum("bj,bjj->b", nv, d)) / np.where(n > 1, n - 1, np.nan)
        out = 1.0 - _safe_div((o * d).sum(axis=(1, 2)), e_d)
        out[~_variation(nv)] = np.nan
        return out

    return fn


class _Memo(threading.local):
    """Work shared by the statistics of one variable, per thread: the per-item terms of a counts
    matrix are built once, and their means once per block of resamples (Fleiss', Conger's,
    Brennan-Prediger, AC1 and % agreement all average the same agreement terms and shares).
    Entries hold the objects they were made from, so an id is never mistaken for another's."""

    def __init__(self) -> None:
        self.terms: dict[tuple, tuple] = {}
        self.block: Resamples | None = None
        self.means: dict[tuple, tuple] = {}
        self.sums: dict[tuple, tuple] = {}
        self.unit: dict[int, np.ndarray] = {}

    def ones(self, n: int) -> np.ndarray:
        if n not in self.unit:
            self.unit[n] = np.ones(n)
        return self.unit[n]

    def cached_sum(self, case_of: np.ndarray, idx: np.ndarray, terms, build: Callable[[], object]):
        """Terms summed by case, kept for the run (the same terms serve every block)."""
        key = (id(case_of), id(idx), id(terms))
        hit = self.sums.get(key)
        if hit is not None and hit[0] is case_of and hit[1] is idx and hit[2] is terms:
            return hit[3]
        if len(self.sums) > 1024:
            self.sums.clear()
        value = build()
        self.sums[key] = (case_of, idx, terms, value)
        return value

    def cached_terms(self, key: tuple, source: np.ndarray, build: Callable[[], tuple]) -> tuple:
        hit = self.terms.get(key)
        if hit is not None and hit[0] is source:
            return hit[1]
        if len(self.terms) > 256:
            self.terms.clear()
        value = build()
        self.terms[key] = (source, value)
        return value

    def mean(self, w: Resamples, idx: np.ndarray, terms: np.ndarray, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if w is not self.block:
            self.block, self.means = w, {}
        key = (id(idx), id(terms))
        hit = self.means.get(key)
        if hit is not None and hit[0] is idx and hit[1] is terms:
            return hit[2]
        value = compute()
        self.means[key] = (idx, terms, value)
        return value

    def release(self) -> None:
        self.terms, self.block, self.means, self.sums, self.unit = {}, None, {}, {}, {}


_MEMO = _Memo()


def release_memo() -> None:
    """Drop the cached terms and the last block (called when a bootstrap run ends)."""
    _MEMO.release()


def _weighted_agreement_terms(counts: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items with two or more ratings and their (weighted) share of agreeing rater pairs."""

    def build() -> tuple[np.ndarray, np.ndarray]:
        m = counts.sum(axis=1)
        pair = np.flatnonzero(m >= 2)
        c = counts[pair].astype(np.float64)
        mp = m[pair].astype(np.float64)
        return pair, (c * (c @ w.T - 1.0)).sum(axis=1) / (mp * (mp - 1))

    return _MEMO.cached_terms(("agree", id(counts), w.tobytes()), counts, build)


def _shares(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def build() -> tuple[np.ndarray, np.ndarray]:
        rated = np.flatnonzero(counts.sum(axis=1) > 0)
        c = counts[rated].astype(np.float64)
        return rated, c / c.sum(axis=1, keepdims=True)

    return _MEMO.cached_terms(("shares", id(counts)), counts, build)


def _mean_over(w: Resamples, idx: np.ndarray, terms: np.ndarray) -> np.ndarray:
    def compute() -> np.ndarray:
        tot = weighted_sum(w, idx, None)
        if terms.ndim == 1:
            return _safe_div(weighted_sum(w, idx, terms), tot)
        return _safe_div(weighted_sum(w, idx, terms), tot[:, None])

    return _MEMO.mean(w, idx, terms, compute)


def fleiss_fn(counts: np.ndarray, w: np.ndarray | None = None) -> BootFn:
    """Fleiss' kappa generalised to any number of ratings per item (Gwet 2014): agreement over the
    items with two or more ratings, category shares over every rated item; optional weights."""
    w = np.eye(counts.shape[1]) if w is None else np.asarray(w, dtype=np.float64)
    pair, agree = _weighted_agreement_terms(counts, w)
    rated, share = _shares(counts)

    def fn(wt: Resamples | np.ndarray) -> np.ndarray:
        wt = _resamples(wt)
        pa = _mean_over(wt, pair, agree)
        pi = _mean_over(wt, rated, share)
        pe = np.einsum("bk,kl,bl->b", pi, w, pi)
        out = _safe_div(pa - pe, 1.0 - pe)
        out[~_variation(pi)] = np.nan
        return out

    return fn


def bp_fn(counts: np.ndarray, w: np.ndarray | None = None) -> BootFn:
    """Brennan-Prediger: fixed chance agreement sum(W) / q²."""
    q = counts.shape[1]
    w = np.eye(q) if w is None else np.asarray(w, dtype=np.float64)
    pair, agree = _weighted_agreement_terms(counts, w)
    rated, share = _shares(counts)
    pe = float(w.sum() / q**2)

    def fn(wt: Resamples | np.ndarray) -> np.ndarray:
        wt = _resamples(wt)
        pa = _mean_over(wt, pair, agree)
        out = (pa - pe) / (1.0 - pe)
        out[~_variation(_mean_over(wt, rated, share))] = np.nan
        return out

    return fn


def conger_fn(codes: np.ndarray, n_values: int, w: np.ndarray | None = None) -> BootFn:
    """Conger's kappa: Fleiss' agreement, chance from each rater's own shares in the resample."""
    w = np.eye(n_values) if w is None else np.asarray(w, dtype=np.float64)
    counts = np.stack([(codes == v).sum(axis=0) for v in range(n_values)], axis=1)
    pair, agree = _weighted_agreement_terms(counts, w)
    rated, share = _shares(counts)
    raters = [g for g in range(codes.shape[0]) if (~np.isnan(codes[g])).any()]
    onehots = []
    for g in raters:
        idx = np.flatnonzero(~np.isnan(codes[g]))
        onehots.append(
            sparse.csr_matrix((np.ones(len(idx)), (idx, codes[g, idx].astype(int))), shape=(codes.shape[1], n_values))
        )
    r = len(raters)
    every = np.arange(codes.shape[1])

    def fn(wt: Resamples | np.ndarray) -> np.ndarray:
        wt = _resamples(wt)
        pa = _mean_over(wt, pair, agree)
        # (B x raters x values) shares of each rater in the resample; NaN where a rater drew nothing.
        cl = np.stack([weighted_sum(wt, every, oh) for oh in onehots], axis=1)
        p = _safe_div(cl, cl.sum(axis=2, keepdims=True))
        pbar = p.mean(axis=1)
        s2 = (np.einsum("bgk,bgl->bkl", p, p) - r * np.einsum("bk,bl->bkl", pbar, pbar)) / (r - 1)
        pe = np.einsum("kl,bkl->b", w, np.einsum("bk,bl->bkl", pbar, pbar) - s2 / r)
        out = _safe_div(pa - pe, 1.0 - pe)
        out[~_variation(_mean_over(wt, rated, share))] = np.nan
        return out

    return fn


def percent_fn(counts: np.ndarray) -> BootFn:
    pair, agree = _weighted_agreement_terms(counts, np.eye(counts.shape[1]))

    def fn(w: Resamples | np.ndarray) -> np.ndarray:
        return _mean_over(_resamples(w), pair, agree)

    return fn


def ac1_fn(counts: np.ndarray) -> BootFn:
    q = counts.shape[1]
    pair, agree = _weighted_agreement_terms(counts, np.eye(q))
    rated, share = _shares(counts)

    def fn(w: Resamples | np.ndarray) -> np.ndarray:
        w = _resamples(w)
        pa = _mean_over(w, pair, agree)
        pi = _mean_over(w, rated, share)
        pe = (pi * (1 - pi)).sum(axis=1) / (q - 1)
        out = _safe_div(pa - pe, 1.0 - pe)
        out[~_variation(pi)] = np.nan
        return out

    return fn


def cohen_fn(a: np.ndarray, b: np.ndarray, n_values: int) -> BootFn:
    """Cohen's kappa of two raters (value indices, NaN = missing) on the items both rated."""
    both = np.flatnonzero(~(np.isnan(a) | np.isnan(b)))
    cell = a[both].astype(int) * n_values + b[both].astype(int)
    # Sparse: one non-zero per item, so a block costs resamples x items, not x values².
    onehot = sparse.csr_matrix(
        (np.ones(len(both)), (np.arange(len(both)), cell)), shape=(len(both), n_values * n_values)
    )
    diag = np.arange(n_values) * (n_values + 1)

    def fn(w: Resamples | np.ndarray) -> np.ndarray:
        t = weighted_sum(_resamples(w), both, onehot)
        n = t.sum(axis=1)
        tab = t.reshape(-1, n_values, n_values)
        po = _safe_div(t[:, diag].sum(axis=1), n)
        ra = _safe_div(tab.sum(axis=2), n[:, None])
        cb = _safe_div(tab.sum(axis=1), n[:, None])
        pe = (ra * cb).sum(axis=1)
        out = _safe_div(po - pe, 1.0 - pe)
        out[~_variation(ra + cb)] = np.nan
        return out

    return fn


def pair_percent_fn(a: np.ndarray, b: np.ndarray) -> BootFn:
    both = np.flatnonzero(~(np.isnan(a) | np.isnan(b)))
    same = (a[both] == b[both]).astype(np.float64)

    def fn(w: Resamples | np.ndarray) -> np.ndarray:
        w = _resamples(w)
        return _safe_div(weighted_sum(w, both, same), weighted_sum(w, both, None))

    return fn


def percentile_interval(values: np.ndarray, level: float) -> tuple[float | None, float | None, int]:
    ok = values[np.isfinite(values)]
    if len(ok) == 0:
        return None, None, 0
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(ok, [tail, 100.0 - tail])
    return float(lo), float(hi), len(ok)

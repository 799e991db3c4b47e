"""Error-mode prevalence among labelled responses, with Wilson intervals, pair differences and co-occurrence.

Pure functions on a frame with one row per response that has a final label: its group columns
(model, incidence, specialty, ...) and `modes`, the list of its final error modes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import pandas as pd
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from pipeline.intervals import estimate_interval


@dataclass(frozen=True)
class Prevalence:
    k: int
    n: int
    estimate: float | None
    lower: float | None
    upper: float | None

    def format(self) -> str:
        """'30% (11 to 60) 3/10': written like every interval of the report (pipeline.intervals)."""
        if self.n == 0 or self.estimate is None:
            return "–"
        return f"{estimate_interval(self.estimate, self.lower, self.upper, percent=True, digits=0)} {self.k}/{self.n}"


def prevalence(k: int, n: int, *, level: float = 0.95) -> Prevalence:
    """k of n with a Wilson score interval."""
    if n == 0:
        return Prevalence(k, n, None, None, None)
    lower, upper = proportion_confint(k, n, alpha=1 - level, method="wilson")
    return Prevalence(k, n, k / n, float(lower), float(upper))


def prevalence_frame(
    labels: pd.DataFrame, codes: Sequence[str], by: Sequence[str] = (), *, level: float = 0.95
) -> pd.DataFrame:
    """One row per group and error mode: k, n, estimate and interval."""
    rows = []
    groups = labels.groupby(list(by), sort=False, dropna=False) if by else [((), labels)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        sets = [set(m) for m in group["modes"]]
        for code in codes:
            p = prevalence(sum(code in s for s in sets), len(sets), level=level)
            rows.append({**dict(zip(by, key, strict=True)), "error_mode": code, "k": p.k, "n": p.n,
                         "estimate": p.estimate, "lower": p.lower, "upper": p.upper})  # fmt: skip
    return pd.DataFrame(rows, columns=[*by, "error_mode", "k", "n", "estimate", "lower", "upper"])


@dataclass(frozen=True)
class PairPrevalence:
    error_mode: str
    a: Prevalence
    b: Prevalence
    difference: float | None
    lower: float | None
    upper: float | None
    p_value: float | None  # Fisher's exact test, two-sided


def pair_prevalence(
    labels: pd.DataFrame, codes: Sequence[str], model_a: str, model_b: str, *, level: float = 0.95
) -> list[PairPrevalence]:
    """Each mode's prevalence in two models' labelled responses, their difference (Newcombe) and Fisher's p."""
    out = []
    sets_a = [set(m) for m in labels.loc[labels["model"] == model_a, "modes"]]
    sets_b = [set(m) for m in labels.loc[labels["model"] == model_b, "modes"]]
    for code in codes:
        ka, kb = sum(code in s for s in sets_a), sum(code in s for s in sets_b)
        a, b = prevalence(ka, len(sets_a), level=level), prevalence(kb, len(sets_b), level=level)
        diff = lower = upper = p = None
        if a.n and b.n:
            diff = a.estimate - b.estimate
            lo, hi = confint_proportions_2indep(ka, a.n, kb, b.n, method="newcomb", compare="diff", alpha=1 - level)
            lower, upper = float(lo), float(hi)
            p = float(fisher_exact([[ka, a.n - ka], [kb, b.n - kb]]).pvalue)
        out.append(PairPrevalence(code, a, b, diff, lower, upper, p))
    return out


def co_occurrence(labels: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    """Modes x modes: responses labelled with both (the diagonal: with the mode at all)."""
    matrix = pd.DataFrame(0, index=list(codes), columns=list(codes), dtype=int)
    for modes in labels["modes"]:
        present = [c for c in codes if c in set(modes)]
        for c in present:
            matrix.loc[c, c] += 1
        for a, b in combinations(present, 2):
            matrix.loc[a, b] += 1
            matrix.loc[b, a] += 1
    return matrix


def combinations_count(labels: pd.DataFrame, codes: Sequence[str], top: int = 10) -> list[tuple[tuple[str, ...], int]]:
    """The most frequent label sets, in codebook order."""
    order = {c: i for i, c in enumerate(codes)}
    counts = Counter(tuple(sorted(set(m), key=lambda c: order.get(c, len(order)))) for m in labels["modes"])
    return counts.most_common(top)

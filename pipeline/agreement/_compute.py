"""All agreement figures of a set of ratings, with case-bootstrap intervals. Pure."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
import pandas as pd

from pipeline.agreement import _bootstrap as boot
from pipeline.agreement import _stats as st
from pipeline.agreement._analytic import Analytic, cohen_analytic
from pipeline.agreement._model import NO_ERROR, Estimate, LabelAgreement, PairAgreement, Rating, Ratings
from pipeline.agreement._registry import STATISTICS, Variable
from pipeline.agreement._report import AgreementReport
from pipeline.threads import one_thread

DEFAULT_N_BOOT = 2000
DEFAULT_MIN_ITEMS = 10  # below this many paired items a coefficient means little; reported as undefined
MIN_DEFINED_SHARE = 0.5  # an interval needs the statistic defined in at least half the resamples


class _Pending:
    """A point estimate waiting for its bootstrap interval."""

    def __init__(self, statistic: str, value: float | None, reason: str | None, counts: tuple[int, int, int]):
        self.statistic, self.value, self.reason, self.counts = statistic, value, reason, counts
        self.samples: list[np.ndarray] = []
        self.fn: boot.BootFn | None = None
        self.analytic: Analytic | None = None

    def _analytic_fields(self) -> dict:
        a = self.analytic
        if a is None or a.se is None:
            return {}
        return dict(se=a.se, z=a.z, p_value=a.p_value, ase_low=a.ci_low, ase_high=a.ci_high, se_method=a.method)

    def finish(self, n_boot: int, level: float) -> Estimate:
        n_cases, n_items, n_ratings = self.counts
        base = dict(statistic=self.statistic, n_cases=n_cases, n_items=n_items, n_ratings=n_ratings)
        if self.value is None:
            return Estimate(value=None, reason=self.reason, **base)
        base.update(self._analytic_fields())
        if self.fn is None or n_boot == 0:
            return Estimate(value=self.value, **base)
        values = np.concatenate(self.samples)
        lo, hi, k = boot.percentile_interval(values, level)
        if k < MIN_DEFINED_SHARE * n_boot:
            return Estimate(
                value=self.value,
                reason=f"no interval: undefined in {n_boot - k} of {n_boot} resamples (too little variation)",
                n_boot=k,
                **base,
            )
        note = None if k == n_boot else f"interval from the {k} of {n_boot} resamples where it is defined"
        return Estimate(value=self.value, ci_low=lo, ci_high=hi, note=note, n_boot=k, **base)


class _Builder:
    def __init__(self, ratings: Ratings, min_items: int, level: float = 0.95):
        self.ratings = ratings
        self.min_items = min_items
        self.level = level
        self.clusters, self.n_clusters = ratings.clusters()
        self.pending: list[_Pending] = []

    def counts_of(self, mask_items: np.ndarray, n_ratings: int) -> tuple[int, int, int]:
        idx = np.flatnonzero(mask_items)
        return int(len(np.unique(self.clusters[idx]))), int(len(idx)), int(n_ratings)

    def add(
        self,
        statistic: str,
        result: st.Result,
        counts: tuple[int, int, int],
        fn: Callable[[], boot.BootFn],
        analytic: Callable[[], Analytic | None] = lambda: None,
    ) -> _Pending:
        p = _Pending(statistic, result[0], result[1], counts)
        if p.value is not None:
            p.fn = fn()
            with np.errstate(divide="ignore", invalid="ignore"):
                p.analytic = analytic()
        self.pending.append(p)
        return p

    def run(self, n_boot: int, seed: int) -> None:
        active = [p for p in self.pending if p.fn is not None]
        if not active or n_boot <= 0:
            return
        try:
            for w in boot.resample_weights(self.clusters, self.n_clusters, n_boot, seed):
                for p in active:
                    p.samples.append(p.fn(w))
        finally:
            boot.release_memo()

    # --- one variable -------------------------------------------------------------------------------
    def variable(
        self,
        codes: np.ndarray,
        n_values: int,
        *,
        names: list[str] | None,
        statistics: dict[str, dict],
        pairs: bool,
    ) -> tuple[dict[str, _Pending], list[tuple[str, str, _Pending, _Pending]]]:
        counts = st.value_counts(codes, n_values)
        m = counts.sum(axis=1)
        paired = self.counts_of(m >= 2, int(m[m >= 2].sum()))
        out: dict[str, _Pending] = {}
        var = Variable(codes, counts, n_values, names, self.min_items, self.level)
        for name, spec in statistics.items():
            plugin = STATISTICS[spec["kind"]]
            out[name] = self.add(
                name,
                plugin.point(var, spec),
                paired,
                lambda plugin=plugin, spec=spec: plugin.boot(var, spec),
                lambda plugin=plugin, spec=spec: plugin.analytic(var, spec),
            )
        mi = self.min_items
        pair_list = []
        if pairs:
            raters = self.ratings.raters
            for i, j in combinations(range(len(raters)), 2):
                a, b = codes[i], codes[j]
                both = ~(np.isnan(a) | np.isnan(b))
                if not both.any():
                    continue
                c = self.counts_of(both, 2 * int(both.sum()))
                kap = self.add(
                    "cohen_kappa",
                    st.cohen_kappa(a, b, n_values=n_values, min_items=mi),
                    c,
                    lambda a=a, b=b: boot.cohen_fn(a, b, n_values),
                    lambda a=a, b=b: cohen_analytic(_pair_table(a, b, n_values), level=self.level),
                )
                pct = self.add(
                    "percent_agreement",
                    st.pair_percent(a, b, min_items=mi),
                    c,
                    lambda a=a, b=b: boot.pair_percent_fn(a, b),
                )
                pair_list.append((raters[i], raters[j], kap, pct))
        return out, pair_list


def _pair_table(a: np.ndarray, b: np.ndarray, n_values: int) -> np.ndarray:
    """The two raters' (values x values) table on the items both rated."""
    both = ~(np.isnan(a) | np.isnan(b))
    tab = np.zeros((n_values, n_values))
    np.add.at(tab, (a[both].astype(int), b[both].astype(int)), 1.0)
    return tab


# Chance-corrected figures shown for nominal variables besides Krippendorff's alpha.
_NOMINAL = {
    "fleiss_kappa": {"kind": "fleiss"},
    "gwet_ac1": {"kind": "ac1"},
    "conger_kappa": {"kind": "conger"},
    "brennan_prediger": {"kind": "bp"},
    "percent_agreement": {"kind": "percent"},
}


def _label_value(label: str) -> Callable[[Rating], float]:
    if label == NO_ERROR:
        return lambda r: 0.0 if r.labels else 1.0
    return lambda r: 1.0 if label in r.labels else 0.0


def set_name(labels: frozenset[str]) -> str:
    return "+".join(sorted(labels)) if labels else NO_ERROR


@one_thread()
def compute_agreement(
    ratings: Ratings,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    level: float = 0.95,
    min_items: int = DEFAULT_MIN_ITEMS,
    pairs: bool = True,
) -> AgreementReport:
    """Agreement per error mode (present/absent), on the whole label set (MASI) and on the first error step.

    Intervals are percentile intervals of a bootstrap over cases: a resample draws cases with
    replacement and keeps every item and rating of a drawn case.
    """
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    b = _Builder(ratings, min_items, level)
    n_items_all = len(ratings.items)
    all_items = np.ones(n_items_all, dtype=bool)
    per_label = []
    binary = {"alpha": {"kind": "alpha", "level": "nominal"}, **_NOMINAL}
    for label in (*ratings.labels, NO_ERROR):
        mat, _, _ = ratings.matrix(_label_value(label))
        est, prs = b.variable(mat, 2, names=["absent", "present"], statistics=binary, pairs=pairs)
        prevalence = float(np.nanmean(mat)) if ratings.n_ratings else None
        per_label.append((label, "error_mode", prevalence, b.counts_of(all_items, ratings.n_ratings), est, prs))

    # The whole label set: MASI distance between sets, plus exact-set (nominal) figures.
    sets = sorted({r.labels for r in ratings.ratings}, key=lambda s: (len(s), sorted(s)))
    index = {s: i for i, s in enumerate(sets)}
    set_codes, _, _ = ratings.matrix(lambda r: float(index[r.labels]))
    set_stats = {
        "alpha_masi": {"kind": "alpha", "distance": st.masi_matrix(sets)},
        "alpha_nominal": {"kind": "alpha", "level": "nominal"},
        **_NOMINAL,
    }
    names = [set_name(s) for s in sets]
    est, prs = b.variable(set_codes, max(len(sets), 1), names=names, statistics=set_stats, pairs=pairs)
    any_error = float(np.mean([bool(r.labels) for r in ratings.ratings])) if ratings.n_ratings else None
    per_label.append(("label set", "label_set", any_error, b.counts_of(all_items, ratings.n_ratings), est, prs))

    # First erroneous step: interval alpha (and ordinal), only ratings that name a step take part.
    steps = sorted({r.first_error_step for r in ratings.ratings if r.first_error_step is not None})
    step_index = {s: i for i, s in enumerate(steps)}
    step_codes, _, _ = ratings.matrix(
        lambda r: None if r.first_error_step is None else float(step_index[r.first_error_step])
    )
    # Steps are ordered: weighted kappa (Conger's, i.e. Cohen's 1968 weighted kappa for any number of
    # raters) with linear and quadratic weights on the step numbers, beside the unweighted figures.
    step_stats = {
        "alpha_interval": {"kind": "alpha", "level": "interval", "domain": steps},
        "alpha_ordinal": {"kind": "alpha", "level": "ordinal", "domain": steps},
        "kappa_linear": {"kind": "conger", "weights": "linear", "domain": steps},
        "kappa_quadratic": {"kind": "conger", "weights": "quadratic", "domain": steps},
        "conger_kappa": {"kind": "conger"},
        "brennan_prediger": {"kind": "bp"},
        "percent_agreement": {"kind": "percent"},
    }
    n_step = int(np.sum(~np.isnan(step_codes)))
    est, _ = b.variable(
        step_codes, max(len(steps), 1), names=[str(s) for s in steps], statistics=step_stats, pairs=False
    )
    has_step = ~np.isnan(step_codes).all(axis=0) if step_codes.size else all_items
    per_label.append(
        (
            "first error step",
            "first_error_step",
            (n_step / ratings.n_ratings) if ratings.n_ratings else None,
            b.counts_of(has_step, n_step),
            est,
            [],
        )
    )

    b.run(n_boot, seed)
    done = []
    for label, scope, prevalence, counts, est, prs in per_label:
        done.append(
            LabelAgreement(
                label=label,
                scope=scope,
                prevalence=prevalence,
                n_cases=counts[0],
                n_items=counts[1],
                n_ratings=counts[2],
                estimates={k: p.finish(n_boot, level) for k, p in est.items()},
                pairs=tuple(
                    PairAgreement(ra, rb, k.finish(n_boot, level), p.finish(n_boot, level)) for ra, rb, k, p in prs
                ),
            )
        )
    return AgreementReport(
        source=ratings.source,
        variables=tuple(done),
        raters=tuple(ratings.raters),
        n_cases=b.n_clusters,
        n_items=n_items_all,
        n_ratings=ratings.n_ratings,
        n_boot=n_boot,
        seed=seed,
        level=level,
        min_items=min_items,
        warnings=ratings.warnings,
    )


def confusion(ratings: Ratings, rater_a: str, rater_b: str, label: str | None = None) -> pd.DataFrame:
    """Counts of rater_a's value (rows) against rater_b's (columns) on the items both rated.

    With a label: present/absent of that error mode; without: the whole label sets.
    """
    by = {(r.item, r.rater): r for r in ratings.ratings}
    shared = [it for it in ratings.items if (it, rater_a) in by and (it, rater_b) in by]

    def value(r: Rating) -> str:
        if label is None:
            return set_name(r.labels)
        present = (not r.labels) if label == NO_ERROR else (label in r.labels)
        return "present" if present else "absent"

    if label is None:
        cats = sorted({value(r) for r in ratings.ratings}, key=lambda s: (s != NO_ERROR, s.count("+"), s))
    else:
        cats = ["present", "absent"]
    table = pd.DataFrame(0, index=pd.Index(cats, name=rater_a), columns=pd.Index(cats, name=rater_b))
    for it in shared:
        table.loc[value(by[(it, rater_a)]), value(by[(it, rater_b)])] += 1
    return table

"""Agreement statistics as plug-ins: each registered kind gives a point estimate, the function of
its case bootstrap and, where the literature has one, its analytic standard error.

A scope of the report (error mode, label set, first error step) lists the statistics it shows as
{name: spec}; spec["kind"] picks the plug-in and the rest of spec are its options (weights, level,
domain, distance). A new statistic is one decorated class here, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.agreement import _analytic as an
from pipeline.agreement import _bootstrap as boot
from pipeline.agreement import _stats as st


@dataclass(frozen=True)
class Variable:
    """One variable's ratings: (raters x items) value indices (NaN = missing) and their counts."""

    codes: np.ndarray
    counts: np.ndarray  # items x values
    n_values: int
    names: list[str] | None
    min_items: int
    level: float = 0.95  # confidence level of the analytic interval


class AgreementStatistic:
    """A plug-in: override point and boot; analytic returns None where no analytic SE exists."""

    def point(self, var: Variable, spec: dict) -> st.Result:
        raise NotImplementedError

    def boot(self, var: Variable, spec: dict) -> boot.BootFn:
        raise NotImplementedError

    def analytic(self, var: Variable, spec: dict) -> an.Analytic | None:
        return None


STATISTICS: dict[str, AgreementStatistic] = {}


def agreement_statistic(kind: str) -> Callable[[type[AgreementStatistic]], type[AgreementStatistic]]:
    def register(cls: type[AgreementStatistic]) -> type[AgreementStatistic]:
        STATISTICS[kind] = cls()
        return cls

    return register


def weights_of(var: Variable, spec: dict) -> np.ndarray:
    """The spec's agreement weights over the variable's values (identity unless "weights" is given)."""
    return an.weight_matrix(spec.get("weights", "identity"), spec.get("domain"), var.n_values)


@agreement_statistic("alpha")
class KrippendorffAlpha(AgreementStatistic):
    def point(self, var, spec):
        kw = {k: spec[k] for k in ("level", "domain", "distance") if k in spec}
        return st.krippendorff_alpha(var.counts, names=var.names, min_items=var.min_items, **kw)

    def boot(self, var, spec):
        kw = {k: spec[k] for k in ("level", "domain", "distance") if k in spec}
        return boot.alpha_fn(var.counts, **kw)

    def analytic(self, var, spec):
        if "distance" in spec:
            w = an.distance_weights(spec["distance"])
        elif spec.get("level", "nominal") == "interval":
            w = an.weight_matrix("quadratic", spec.get("domain"), var.n_values)
        elif spec.get("level", "nominal") == "nominal":
            w = np.eye(var.n_values)
        else:  # ordinal: the distance depends on the marginals; bootstrap only
            return None
        return an.krippendorff_analytic(var.counts, w, var.level)


@agreement_statistic("fleiss")
class FleissKappa(AgreementStatistic):
    def point(self, var, spec):
        return st.fleiss_kappa(var.counts, names=var.names, min_items=var.min_items, weights=weights_of(var, spec))

    def boot(self, var, spec):
        return boot.fleiss_fn(var.counts, weights_of(var, spec))

    def analytic(self, var, spec):
        return an.fleiss_analytic(var.counts, weights_of(var, spec), var.level)


@agreement_statistic("ac1")
class GwetAC1(AgreementStatistic):
    def point(self, var, spec):
        return st.gwet_ac1(var.counts, names=var.names, min_items=var.min_items)

    def boot(self, var, spec):
        return boot.ac1_fn(var.counts)

    def analytic(self, var, spec):
        return an.ac1_analytic(var.counts, None, var.level)


@agreement_statistic("conger")
class CongerKappa(AgreementStatistic):
    def point(self, var, spec):
        w = weights_of(var, spec)
        return st.conger_kappa(var.codes, var.n_values, names=var.names, min_items=var.min_items, weights=w)

    def boot(self, var, spec):
        return boot.conger_fn(var.codes, var.n_values, weights_of(var, spec))

    def analytic(self, var, spec):
        return an.conger_analytic(var.codes, var.n_values, weights_of(var, spec), var.level)


@agreement_statistic("bp")
class BrennanPrediger(AgreementStatistic):
    def point(self, var, spec):
        w = weights_of(var, spec)
        return st.brennan_prediger(var.counts, names=var.names, min_items=var.min_items, weights=w)

    def boot(self, var, spec):
        return boot.bp_fn(var.counts, weights_of(var, spec))

    def analytic(self, var, spec):
        return an.bp_analytic(var.counts, weights_of(var, spec), var.level)


@agreement_statistic("percent")
class PercentAgreement(AgreementStatistic):
    def point(self, var, spec):
        return st.percent_agreement(var.counts, min_items=var.min_items)

    def boot(self, var, spec):
        return boot.percent_fn(var.counts)


__all__ = ["STATISTICS", "AgreementStatistic", "Variable", "agreement_statistic", "weights_of"]

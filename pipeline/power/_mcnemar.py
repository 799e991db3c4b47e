"""Power and sample size of the paired design (two models on the same cases), exact McNemar test.

The design: each case is answered by model A and model B; p10 is the share of cases only A gets
right, p01 the share only B gets right. The study tests p10 = p01 with the exact conditional
(binomial) McNemar test. Its power at n cases is exact here: the number of discordant cases d is
Binomial(n, p10 + p01); given d, b (only A right) is Binomial(d, p10 / (p10 + p01)); the test
rejects when 2 P(X <= min(b, d - b)) <= alpha under Binomial(d, 1/2). Summing the rejection
probability over d gives the unconditional power of the conditional test (Suissa & Shuster 1991).
Connor's (1987) normal approximation is given beside it, and a seeded simulation checks both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from pipeline.errors import DxTraceError

MAX_CASES = 50_000  # beyond this the search stops and says so


@dataclass(frozen=True)
class Discordance:
    """The paired design's cell proportions: p10 only A right, p01 only B right."""

    p10: float
    p01: float
    p_a: float | None = None  # accuracy of A, when the design was given by accuracies
    p_b: float | None = None

    @property
    def discordant(self) -> float:
        return self.p10 + self.p01

    @property
    def difference(self) -> float:
        """Accuracy of A minus accuracy of B."""
        return self.p10 - self.p01


def _check_open(value: float, name: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value < 1):
        raise DxTraceError(f"{name} {value}: must be between 0 and 1 (exclusive)")


def check_discordance(p10: float, p01: float) -> Discordance:
    for v, name in ((p10, "p10"), (p01, "p01")):
        if not (math.isfinite(v) and 0 <= v <= 1):
            raise DxTraceError(f"{name} {v}: must be a proportion between 0 and 1")
    if p10 + p01 > 1:
        raise DxTraceError(f"p10 + p01 = {p10 + p01:g}: the discordant proportions cannot exceed 1")
    if p10 == p01:
        raise DxTraceError(f"p10 = p01 = {p10:g}: no difference between the models to detect")
    return Discordance(p10, p01)


def discordance_from_accuracies(
    p_a: float, p_b: float, *, correlation: float | None = None, agreement: float | None = None
) -> Discordance:
    """Cell proportions from the two accuracies and either the correlation of correctness (phi)
    or the share of cases on which the two models agree (both right or both wrong).

    Without either, correctness is taken as independent (phi = 0): the most discordant
    plausible design for positively correlated models, hence a conservative sample size.
    """
    _check_open(p_a, "accuracy of A")
    _check_open(p_b, "accuracy of B")
    if p_a == p_b:
        raise DxTraceError(f"both accuracies are {p_a:g}: no difference between the models to detect")
    if correlation is not None and agreement is not None:
        raise DxTraceError("give the correlation or the agreement of the two models, not both")
    if agreement is not None:
        if not (math.isfinite(agreement) and 0 <= agreement <= 1):
            raise DxTraceError(f"agreement {agreement}: must be a proportion between 0 and 1")
        disc = 1 - agreement
        p10, p01 = (disc + (p_a - p_b)) / 2, (disc - (p_a - p_b)) / 2
    else:
        rho = 0.0 if correlation is None else correlation
        if not (math.isfinite(rho) and -1 <= rho <= 1):
            raise DxTraceError(f"correlation {rho}: must be between -1 and 1")
        p11 = p_a * p_b + rho * math.sqrt(p_a * (1 - p_a) * p_b * (1 - p_b))
        p10, p01 = p_a - p11, p_b - p11
    p11 = p_a - p10
    p00 = 1 - p10 - p01 - p11
    eps = 1e-12
    if min(p10, p01, p11, p00) < -eps:
        given = f"agreement {agreement:g}" if agreement is not None else f"correlation {correlation or 0:g}"
        raise DxTraceError(
            f"accuracies {p_a:g} and {p_b:g} with {given} give an impossible table "
            f"(p11={p11:.3f}, p10={p10:.3f}, p01={p01:.3f}, p00={p00:.3f})"
        )
    return Discordance(max(p10, 0.0), max(p01, 0.0), p_a, p_b)


def _critical_counts(d_max: int, alpha: float) -> np.ndarray:
    """k[d]: the largest b with 2 P(X <= b) <= alpha under Binomial(d, 1/2); -1 if none."""
    d = np.arange(d_max + 1)
    k = stats.binom.ppf(alpha / 2, d, 0.5).astype(np.int64)  # smallest k with cdf >= alpha/2
    # ppf gives the smallest k with cdf(k) >= alpha/2; step back where that cdf is above alpha/2.
    over = stats.binom.cdf(k, d, 0.5) > alpha / 2 * (1 + 1e-12)
    k = np.where(over, k - 1, k)
    return k


def _reject_given_d(d_max: int, design: Discordance, alpha: float) -> np.ndarray:
    """P(reject | d discordant cases) for d = 0..d_max."""
    d = np.arange(d_max + 1)
    k = _critical_counts(d_max, alpha)
    q = design.p10 / design.discordant
    low = np.where(k >= 0, stats.binom.cdf(k, d, q), 0.0)
    high = np.where(k >= 0, stats.binom.sf(d - k - 1, d, q), 0.0)  # P(b >= d - k)
    return low + high


def exact_power(n: int, design: Discordance, alpha: float) -> float:
    """Power of the two-sided exact conditional McNemar test at n cases (exact enumeration)."""
    if n < 1:
        raise DxTraceError(f"number of cases {n}: must be at least 1")
    _check_open(alpha, "alpha")
    r = _reject_given_d(n, design, alpha)
    pmf = stats.binom.pmf(np.arange(n + 1), n, design.discordant)
    return float(min(1.0, pmf @ r))


def _power_curve(n_max: int, design: Discordance, alpha: float) -> np.ndarray:
    """Exact power for n = 0..n_max (index n).

    For each n only the discordant counts within 12 standard deviations (plus 12) of the mean are
    summed: the binomial mass beyond is far below 1e-15, so a curve to tens of thousands of cases
    stays fast (tests compare it with the full sum).
    """
    r = _reject_given_d(n_max, design, alpha)
    psi = design.discordant
    ns = np.arange(n_max + 1)
    sd = np.sqrt(ns * psi * (1 - psi))
    lo = np.maximum(np.floor(ns * psi - 12 * sd - 12), 0).astype(np.int64)
    hi = np.minimum(np.ceil(ns * psi + 12 * sd + 12), ns).astype(np.int64)
    out = np.zeros(n_max + 1)
    for n in range(1, n_max + 1):
        d = np.arange(lo[n], hi[n] + 1)
        out[n] = stats.binom.pmf(d, n, psi) @ r[d]
    return np.minimum(out, 1.0)


def connor_n(design: Discordance, alpha: float, power: float) -> float:
    """Connor (1987, Biometrics 43:207, p. 209): normal approximation, not rounded up."""
    za = stats.norm.ppf(1 - alpha / 2)
    zb = stats.norm.ppf(power)
    psi, delta = design.discordant, design.difference
    return float(((za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2)) / delta) ** 2)


def connor_power(n: int, design: Discordance, alpha: float) -> float:
    za = stats.norm.ppf(1 - alpha / 2)
    psi, delta = design.discordant, design.difference
    s = math.sqrt(psi - delta**2)
    return float(
        stats.norm.cdf((abs(delta) * math.sqrt(n) - za * math.sqrt(psi)) / s)
        + stats.norm.cdf((-abs(delta) * math.sqrt(n) - za * math.sqrt(psi)) / s)
    )


def simulated_power(n: int, design: Discordance, alpha: float, *, n_sim: int = 10_000, seed: int = 0) -> float:
    """Share of n_sim simulated studies of n cases in which the exact McNemar test rejects."""
    if n < 1:
        raise DxTraceError(f"number of cases {n}: must be at least 1")
    if n_sim < 1:
        raise DxTraceError(f"--simulations {n_sim}: must be at least 1")
    rng = np.random.default_rng(seed)
    p = [design.p10, design.p01, 1 - design.discordant]
    cells = rng.multinomial(n, p, size=n_sim)
    b, c = cells[:, 0], cells[:, 1]
    d = b + c
    pval = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, c), d, 0.5))
    pval[d == 0] = 1.0
    return float(np.mean(pval <= alpha))


@dataclass(frozen=True)
class SampleSize:
    n: int  # the smallest number of cases with exact power >= the target
    n_stable: int  # the smallest n from which every larger n (to n_checked) reaches the target
    power: float  # exact power at n
    n_checked: int
    connor: float  # Connor's approximate n (not rounded)
    design: Discordance
    alpha: float
    target: float


def sample_size(design: Discordance, alpha: float, power: float) -> SampleSize:
    """Cases needed for the exact McNemar test to reach `power` at two-sided `alpha`.

    The exact test's power is a saw-tooth in n (discreteness), so besides the first n that
    reaches the target the smallest n beyond which it never falls below again is reported.
    """
    _check_open(alpha, "alpha")
    _check_open(power, "power")
    approx = connor_n(design, alpha, power)
    too_many = f"more than {MAX_CASES} cases would be needed (about {approx:,.0f} by Connor's approximation)"
    if approx > 4 * MAX_CASES:  # the exact n is never that far below the approximation; do not enumerate
        raise DxTraceError(too_many)
    n_max = min(MAX_CASES, max(50, int(math.ceil(approx * 1.5)) + 50))
    while True:
        curve = _power_curve(n_max, design, alpha)
        reached = np.flatnonzero(curve >= power)
        if len(reached):
            first = int(reached[0])
            # Check a margin past the first hit, so that n_stable is not an artefact of the range.
            checked = min(MAX_CASES, max(n_max, int(first * 1.25) + 20))
            if checked > n_max:
                curve = _power_curve(checked, design, alpha)
            below = np.flatnonzero(curve[first:] < power)
            stable = first if len(below) == 0 else first + int(below[-1]) + 1
            return SampleSize(first, stable, float(curve[first]), checked, approx, design, alpha, power)
        if n_max >= MAX_CASES:
            raise DxTraceError(too_many)
        n_max = min(MAX_CASES, n_max * 2)

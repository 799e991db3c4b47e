"""Sample size and power of the exact McNemar test for the designs of the shipped studies.

    .venv/bin/python bench/power_mcnemar.py

Prints, for each design: the discordant proportions, the exact power at the study's number of cases,
a seeded simulation of it, and the cases needed for 80% and 90% power (alpha 0.01, two-sided).
The figures are recorded in docs/accuracy.md ("Sample size and power").
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.power import (  # noqa: E402
    check_discordance,
    discordance_from_accuracies,
    exact_power,
    sample_size,
    simulated_power,
)

ALPHA = 0.01
DESIGNS = [
    # Zhong et al. (seed 000): R1 95.45% vs V3 88.18% on 110 cases; p = 0.008 fits b = 8, c = 0.
    ("Zhong et al., b=8 c=0 of 110", check_discordance(8 / 110, 0.0), 110),
    ("Zhong et al. accuracies, independent correctness", discordance_from_accuracies(105 / 110, 97 / 110), 110),
    # The shipped Sandmann answers: DeepSeek-R1 vs V3, b = 7, c = 3 on 108 cases (docs/accuracy.md).
    ("Sandmann R1 vs V3, b=7 c=3 of 108", check_discordance(7 / 108, 3 / 108), 125),
]


def main() -> None:
    for name, d, n in DESIGNS:
        exact = exact_power(n, d, ALPHA)
        sim = simulated_power(n, d, ALPHA, n_sim=20_000, seed=0)
        s80, s90 = sample_size(d, ALPHA, 0.8), sample_size(d, ALPHA, 0.9)
        print(
            f"{name}: p10={d.p10:.4f} p01={d.p01:.4f}; power at n={n}: exact {exact:.3f}, simulated {sim:.3f}; "
            f"n for 80%: {s80.n} (stable {s80.n_stable}, Connor {s80.connor:.1f}); "
            f"n for 90%: {s90.n} (stable {s90.n_stable}, Connor {s90.connor:.1f})"
        )


if __name__ == "__main__":
    main()

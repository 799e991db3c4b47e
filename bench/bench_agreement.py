"""Benchmark: every agreement statistic with case-bootstrap intervals on a large simulated study.

    .venv/bin/python bench/bench_agreement.py [--items 10000] [--raters 3] [--labels 5] [--boot 2000]

Each item is rated by every rater; each of the labels is present with its own prevalence and
copied from a hidden truth with its own noise, so the statistics are all defined. Every item also
has a first error step. Prints the time of each stage and the figures' sizes.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.agreement import Rating, Ratings, compute_agreement  # noqa: E402


def simulate(n_items: int, n_raters: int, n_labels: int, seed: int = 0) -> Ratings:
    rng = np.random.default_rng(seed)
    labels = [f"mode{i + 1}" for i in range(n_labels)]
    prevalence = np.linspace(0.1, 0.5, n_labels)
    noise = np.linspace(0.02, 0.3, n_labels)
    truth = rng.random((n_items, n_labels)) < prevalence
    steps = rng.integers(1, 40, n_items)
    ratings = []
    for r in range(n_raters):
        flips = rng.random((n_items, n_labels)) < noise
        given = truth ^ flips
        jitter = rng.integers(-1, 2, n_items)
        for i in range(n_items):
            chosen = frozenset(labels[k] for k in np.flatnonzero(given[i]))
            ratings.append(
                Rating(
                    item=f"i{i}",
                    rater=f"r{r}",
                    labels=chosen,
                    first_error_step=int(max(1, steps[i] + jitter[i])) if chosen else None,
                    case=f"c{i // 2}",  # two responses per case, resampled together
                )
            )
    return Ratings.build(ratings, labels)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--raters", type=int, default=3)
    p.add_argument("--labels", type=int, default=5)
    p.add_argument("--boot", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    t = time.perf_counter()
    ratings = simulate(args.items, args.raters, args.labels)
    t_sim = time.perf_counter() - t
    print(f"python {platform.python_version()}, {platform.machine()}, numpy {np.__version__}")
    print(f"{args.items} items x {args.raters} raters x {args.labels} labels = {ratings.n_ratings} ratings")
    print(f"simulate ratings: {t_sim:.2f} s")

    t = time.perf_counter()
    point = compute_agreement(ratings, n_boot=0)
    t_point = time.perf_counter() - t
    print(f"all point estimates (no bootstrap): {t_point:.2f} s")

    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = compute_agreement(ratings, n_boot=args.boot, seed=1)
        times.append(time.perf_counter() - t)
    frame = report.to_frame()
    with_ci = int(frame["ci_low"].notna().sum())
    print(
        f"all statistics with {args.boot} case resamples: median {np.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}, {args.repeat} runs)"
    )
    print(f"figures: {len(frame)} ({with_ci} with intervals), cases: {report.n_cases}")
    print(report.summary_frame().to_string(index=False))
    assert point.n_items == args.items


if __name__ == "__main__":
    main()

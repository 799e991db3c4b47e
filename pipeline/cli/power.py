"""Subcommand power: cases needed (or power at n cases) for the exact McNemar test of two models."""

from __future__ import annotations

import argparse
import math

from pipeline.accuracy import DEFAULT_ALPHA
from pipeline.cli import command
from pipeline.cli._common import console, print_table
from pipeline.errors import DxTraceError
from pipeline.power import (
    Discordance,
    check_discordance,
    connor_power,
    discordance_from_accuracies,
    exact_power,
    sample_size,
    simulated_power,
)


def _args(p: argparse.ArgumentParser) -> None:
    # Numbers are read as text and checked here, so a bad one gives one error line, not argparse's usage.
    p.add_argument("--accuracy-a", metavar="P", help="expected accuracy of model A, e.g. 0.85")
    p.add_argument("--accuracy-b", metavar="P", help="expected accuracy of model B, e.g. 0.75")
    p.add_argument("--correlation", metavar="R", help="correlation (phi) of the two models' correctness (default 0)")
    p.add_argument("--agreement", metavar="P", help="share of cases both get right or both get wrong")
    p.add_argument("--p10", metavar="P", help="share of cases only A gets right (instead of accuracies)")
    p.add_argument("--p01", metavar="P", help="share of cases only B gets right (instead of accuracies)")
    p.add_argument(
        "--alpha", default=str(DEFAULT_ALPHA), help=f"two-sided significance level (default {DEFAULT_ALPHA})"
    )
    p.add_argument("--power", default="0.8", help="target power (default 0.8)")
    p.add_argument("--n", metavar="CASES", help="instead of a sample size: the power at this many cases")
    p.add_argument(
        "--simulations", metavar="N", default="0", help="also estimate power by simulating N studies (default 0: none)"
    )
    p.add_argument("--seed", default="0", help="random seed of the simulation (default 0)")


def _number(value: str | None, flag: str) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except ValueError:
        raise DxTraceError(f"{flag} {value!r}: not a number") from None
    if not math.isfinite(x):
        raise DxTraceError(f"{flag} {value!r}: not a finite number")
    return x


def _whole(value: str | None, flag: str, minimum: int) -> int | None:
    x = _number(value, flag)
    if x is None:
        return None
    if x != int(x) or x < minimum:
        raise DxTraceError(f"{flag} {value}: must be a whole number of at least {minimum}")
    return int(x)


def _open(value: float | None, flag: str) -> float:
    if value is None or not 0 < value < 1:
        raise DxTraceError(f"{flag} {value}: must be between 0 and 1 (exclusive)")
    return value


def design_from_args(args: argparse.Namespace) -> Discordance:
    pa, pb = _number(args.accuracy_a, "--accuracy-a"), _number(args.accuracy_b, "--accuracy-b")
    p10, p01 = _number(args.p10, "--p10"), _number(args.p01, "--p01")
    rho, agree = _number(args.correlation, "--correlation"), _number(args.agreement, "--agreement")
    if p10 is not None or p01 is not None:
        if p10 is None or p01 is None:
            raise DxTraceError("--p10 and --p01 go together")
        if pa is not None or pb is not None or rho is not None or agree is not None:
            raise DxTraceError(
                "give either --p10/--p01 or --accuracy-a/--accuracy-b (with --correlation or --agreement)"
            )
        return check_discordance(p10, p01)
    if pa is None or pb is None:
        raise DxTraceError("give --accuracy-a and --accuracy-b (or --p10 and --p01)")
    return discordance_from_accuracies(pa, pb, correlation=rho, agreement=agree)


def _design_line(d: Discordance, alpha: float) -> str:
    acc = f"accuracies {d.p_a:g} vs {d.p_b:g}, " if d.p_a is not None else ""
    return (
        f"{acc}p10 {d.p10:.4f} (only A right), p01 {d.p01:.4f} (only B right), "
        f"discordant {d.discordant:.4f}; two-sided exact McNemar at alpha {alpha:g}"
    )


@command(
    "power",
    help="Cases needed (or power at n cases) for the exact McNemar test comparing two models on the same cases.",
    arguments=_args,
    order=56,
)
def power_cmd(args: argparse.Namespace) -> int:
    alpha = _open(_number(args.alpha, "--alpha"), "--alpha")
    target = _open(_number(args.power, "--power"), "--power")
    n_sim = _whole(args.simulations, "--simulations", 0) or 0
    seed = _whole(args.seed, "--seed", 0) or 0
    n = _whole(args.n, "--n", 1)
    design = design_from_args(args)
    console.print(_design_line(design, alpha))
    if n is not None:
        rows = [["exact (enumeration)", n, f"{exact_power(n, design, alpha):.4f}"]]
        rows.append(["normal approximation (Connor 1987)", n, f"{connor_power(n, design, alpha):.4f}"])
        if n_sim:
            sim = simulated_power(n, design, alpha, n_sim=n_sim, seed=seed)
            rows.append([f"simulation ({n_sim} studies, seed {seed})", n, f"{sim:.4f}"])
        print_table("Power", ["method", "cases", "power"], rows)
        return 0
    ss = sample_size(design, alpha, target)
    n_connor = max(1, math.ceil(ss.connor))
    rows = [
        ["exact: first n reaching the power", ss.n, f"{ss.power:.4f} (exact)"],
        ["exact: n from which power stays above it", ss.n_stable, f"{exact_power(ss.n_stable, design, alpha):.4f} (exact)"],
        ["normal approximation (Connor 1987)", n_connor, f"{exact_power(n_connor, design, alpha):.4f} (exact)"],
    ]  # fmt: skip
    if n_sim:
        sim = simulated_power(ss.n, design, alpha, n_sim=n_sim, seed=seed)
        rows.append([f"simulation: {n_sim} studies of n = {ss.n} (seed {seed})", ss.n, f"{sim:.4f} (simulated)"])
    print_table(f"Cases needed for power {target:g}", ["method", "cases", "power at that n"], rows)
    return 0


__all__ = ["design_from_args", "power_cmd"]

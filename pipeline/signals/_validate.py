"""How well a signal agrees with the clinicians' settled final labels of its error mode.

Per signal: sensitivity (of the labelled responses with the mode, the share it fired on), positive
predictive value (of those it fired on, the share labelled with the mode) and Cohen's kappa, each with
a percentile bootstrap CI over responses, and the n it rests on. Too few labels: "not enough labels".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_LABELLED = 10  # responses with both a final label and a signal
MIN_CLASS = 3  # positives (for sensitivity) or firings (for PPV); both, and both classes, for kappa
NOT_ENOUGH = "not enough labels"


@dataclass(frozen=True)
class Stat:
    value: float | None
    low: float | None
    high: float | None
    n: int  # the denominator it rests on
    note: str = ""  # NOT_ENOUGH when value is None

    def text(self, digits: int = 2) -> str:
        if self.value is None:
            return f"{self.note} (n={self.n})"
        ci = "" if self.low is None else f" [{self.low:.{digits}f}, {self.high:.{digits}f}]"
        return f"{self.value:.{digits}f}{ci} (n={self.n})"


@dataclass(frozen=True)
class Validation:
    signal: str
    error_mode: str
    n: int  # responses with a final label and a decided signal
    tp: int
    fp: int
    fn: int
    tn: int
    sensitivity: Stat
    ppv: Stat
    kappa: Stat


def _rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> tuple[np.ndarray, ...]:
    with np.errstate(invalid="ignore", divide="ignore"):
        n = tp + fp + fn + tn
        sens = tp / (tp + fn)
        ppv = tp / (tp + fp)
        po = (tp + tn) / n
        pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n**2
        kappa = np.where(np.isclose(pe, 1.0), np.nan, (po - pe) / (1 - pe))
    return sens, ppv, kappa


def validate(
    fired: Sequence[bool], labelled: Sequence[bool], *, signal: str = "", error_mode: str = "",
    n_boot: int = 2000, seed: int = 0, level: float = 0.95,
) -> Validation:  # fmt: skip
    """The signal's firings against the final labels' mode (same order, one pair per response)."""
    x = np.asarray(fired, dtype=bool)
    y = np.asarray(labelled, dtype=bool)
    if x.shape != y.shape:
        raise ValueError("fired and labelled must have the same length")
    cells = np.stack([x & y, x & ~y, ~x & y, ~x & ~y]).astype(np.float64)  # tp, fp, fn, tn per response
    tp, fp, fn, tn = (int(c.sum()) for c in cells)
    n = len(x)
    point = _rates(*(np.array([c]) for c in (tp, fp, fn, tn)))
    boot = None
    if n >= MIN_LABELLED and n_boot > 0:
        rng = np.random.default_rng(seed)
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)  # resample responses
        boot = _rates(*(w @ c for c in cells))
    enough = (
        n >= MIN_LABELLED and tp + fn >= MIN_CLASS,
        n >= MIN_LABELLED and tp + fp >= MIN_CLASS,
        n >= MIN_LABELLED and min(tp + fn, fp + tn) >= MIN_CLASS and min(tp + fp, fn + tn) >= MIN_CLASS,
    )
    dens = (tp + fn, tp + fp, n)
    stats = [_stat(float(point[i][0]), None if boot is None else boot[i], dens[i], enough[i], level) for i in range(3)]
    return Validation(signal, error_mode, n, tp, fp, fn, tn, *stats)


def _stat(value: float, boot: np.ndarray | None, n: int, enough: bool, level: float) -> Stat:
    if not enough or np.isnan(value):
        return Stat(None, None, None, n, NOT_ENOUGH)
    lo = hi = None
    if boot is not None:
        ok = boot[~np.isnan(boot)]
        if len(ok):
            lo, hi = (float(v) for v in np.quantile(ok, [(1 - level) / 2, (1 + level) / 2]))
    return Stat(value, lo, hi, n)


def validation_table(
    signals: pd.DataFrame, finals: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0
) -> list[Validation]:
    """signals: response_id, signal, error_mode, fired (signals_frame); finals: response_id, error_modes (list).

    Only responses with a settled final label and a decided signal (fired not None) count.
    """
    out = []
    labels = (
        {int(r): set(m or []) for r, m in zip(finals["response_id"], finals["error_modes"], strict=True)}
        if len(finals)
        else {}
    )
    for (name, mode), part in signals.groupby(["signal", "error_mode"], sort=False):
        part = part[part["fired"].notna() & part["response_id"].isin(list(labels))]
        x = part["fired"].astype(bool).tolist()
        y = [mode in labels[int(r)] for r in part["response_id"]]
        out.append(validate(x, y, signal=str(name), error_mode=str(mode), n_boot=n_boot, seed=seed))
    return out


def study_validation(session, study_id: int, *, n_boot: int = 2000, seed: int = 0) -> list[Validation]:
    """Every stored signal of the study against the study's settled final labels."""
    from sqlmodel import select

    from db.models import FinalLabel
    from pipeline.signals._study import signals_frame

    finals = session.exec(select(FinalLabel).where(FinalLabel.study_id == study_id)).all()
    frame = pd.DataFrame(
        [{"response_id": f.response_id, "error_modes": list(f.error_modes or [])} for f in finals],
        columns=["response_id", "error_modes"],
    )
    return validation_table(signals_frame(session, study_id), frame, n_boot=n_boot, seed=seed)


def validation_rows(results: Sequence[Validation]) -> list[dict]:
    """Flat rows for a table on screen, in the report or in a CSV."""
    return [
        {
            "signal": v.signal,
            "error mode": v.error_mode,
            "n": v.n,
            "sensitivity": v.sensitivity.text(),
            "PPV": v.ppv.text(),
            "Cohen's kappa": v.kappa.text(),
        }
        for v in results
    ]

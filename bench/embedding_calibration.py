"""Embedding-tier calibration: how often a pending embedding candidate (not a broader answer) is correct
by the reference, per confident threshold, on each set. Reads the lists written by

    .venv/bin/python bench/grade_check.py --disagreements DIR
    .venv/bin/python bench/embedding_calibration.py DIR

(every pending response is in those lists, so the counts cover all candidates). A threshold is chosen
on one set (Sandmann: a clinicians' reference) and checked on the other; figures: docs/accuracy.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

THRESHOLDS = (0.75, 0.80, 0.85, 0.90, 0.93, 0.95)


def candidates(path: Path) -> list[tuple[float, bool]]:
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        ev = d["evidence"]
        ev = (ev[0] if ev else {}) if isinstance(ev, list) else (ev or {})
        if d["auto"] is None and ev.get("tier") == "embedding" and ev.get("guard") != "broader":
            out.append((float(ev.get("score") or 0), bool(d["reference"])))
    return out


def main() -> None:
    folder = Path(sys.argv[1])
    print("| set | threshold | candidates at or above | reference correct | precision |")
    print("|---|---|---|---|---|")
    for name in ("sandmann", "medrbench"):
        rows = candidates(folder / f"{name}.jsonl")
        for t in THRESHOLDS:
            sel = [ok for score, ok in rows if score >= t]
            prec = f"{sum(sel) / len(sel):.0%}" if sel else "-"
            print(f"| {name} | {t:.2f} | {len(sel)} | {sum(sel)} | {prec} |")


if __name__ == "__main__":
    main()

"""The parser report on the shipped outputs (docs/generation.md, "Parser report").

    .venv/bin/python bench/bench_parse.py

Prints, for the 720 Sandmann answers, the 400 DeepSeek-R1 MedR-Bench answers and the
3,660 Eurorad picks: how many yield five / fewer / no diagnoses, one diagnosis or a list,
which format reader matched, how many responses are flagged (parse_ok=False), how many
with reasoning have a trace, and how many picks map to an option. No timing: figures only.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.generate import parse_choice  # noqa: E402
from pipeline.generate._record import parse_output  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sandmann() -> None:
    by_model: dict[str, Counter] = {}
    readers: Counter = Counter()
    flagged = 0
    for row in _rows(DATA / "responses" / "sandmann125" / "outputs.jsonl"):
        out = parse_output(row["output"], task="diagnosis")
        n = len(out.diagnoses or [])
        by_model.setdefault(row["model"], Counter())["five" if n == 5 else "fewer" if n else "none"] += 1
        readers[getattr(out, "reader", None)] += 1
        flagged += not out.parse_ok
    print("Sandmann: model | answers | five | fewer | none")
    total: Counter = Counter()
    for model, c in sorted(by_model.items()):
        total.update(c)
        print(f"  {model} | {sum(c.values())} | {c['five']} | {c['fewer']} | {c['none']}")
    print(f"  all | {sum(total.values())} | {total['five']} | {total['fewer']} | {total['none']}")
    print(f"  parse_ok=False: {flagged}; readers: {dict(readers)}")


def medrbench() -> None:
    sizes: Counter = Counter()
    readers: Counter = Counter()
    traced = flagged = 0
    rows = _rows(DATA / "responses" / "medrbench" / "deepseek-r1.jsonl")
    for row in rows:
        out = parse_output(None, task="diagnosis", trace=row["thinking_process"], answer=row["content"])
        sizes[len(out.diagnoses or [])] += 1
        readers[getattr(out, "reader", None)] += 1
        traced += bool(out.trace and out.trace.strip())
        flagged += not out.parse_ok
    print(f"MedR-Bench R1: {len(rows)} answers; diagnoses per answer {dict(sorted(sizes.items()))}")
    print(f"  with a trace: {traced}; parse_ok=False: {flagged}; readers: {dict(readers)}")


def eurorad() -> None:
    total = mapped = 0
    for case in _rows(DATA / "cases" / "eurorad60" / "cases.jsonl"):
        for prediction in case["model_predictions"].values():
            total += 1
            mapped += parse_choice(prediction, case["options_comma_split"]) is not None
    print(f"Eurorad picks: {mapped}/{total} mapped to an option")


if __name__ == "__main__":
    sandmann()
    medrbench()
    eurorad()

"""Grader validation on the shipped data: automatic grades (no judge tier) against the references.

    .venv/bin/python bench/grade_check.py [--set medrbench|sandmann|both] [--no-embeddings] [--disagreements DIR]
        [--broader-incorrect] [--judge-url URL --judge-model NAME [--judge-key-env VAR]]

MedR-Bench: the 400 shipped DeepSeek-R1 responses; the reference is their imported `correct` label
(the benchmark's GPT judge). The responses are imported WITHOUT the factory's stored diagnoses (which
copy the gold for correct ones), so DxTrace parses each answer itself, as it would a user's file.
Sandmann: the 720 answers; the reference is the clinicians' mean Likert >= 4.
--disagreements DIR writes DIR/<set>.jsonl: one line per response whose automatic grade differs from the
reference or is pending (gold, diagnoses, tier, evidence), the list to find classes of error in.
--judge-url/--judge-model add the LLM-judge tier on any OpenAI-compatible server (vLLM, Ollama, llama.cpp
server, a provider), asked only where the ladder is not confident: the measurement with a judge that a
team can run on its own server (none capable is available on the machine that made the figures).
Prints the grade-check (agreement on automatically graded responses, Cohen's kappa, pending share,
per tier and per model) and the grading time. Figures: docs/accuracy.md, docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import select  # noqa: E402

from db.engine import make_engine, session_scope  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Response  # noqa: E402
from pipeline.accuracy import grade_check, grade_check_markdown, grade_study  # noqa: E402
from pipeline.accuracy._judge import JudgeConfig  # noqa: E402
from pipeline.accuracy._match import Thresholds  # noqa: E402
from tests.factories import add_medrbench_r1, add_sandmann_outputs, make_study  # noqa: E402


def _load(session, which: str):
    study = make_study(session, f"bench-{which}")
    if which == "medrbench":
        for r in add_medrbench_r1(session, study, judge_grades=False):
            r.diagnoses = None  # parse the answer as DxTrace would; never the stored gold copy
            session.add(r)
        return study, "imported", None
    add_sandmann_outputs(session, study)
    return study, "extra.human_likert_1to5", 4.0


def _write_disagreements(session, check, out: Path) -> None:
    import json

    from db.models import Case, Grade

    frame = check.frame
    rows = frame[(frame["auto"].isna()) | (frame["auto"] != frame["reference"])]
    with out.open("w") as fh:
        for rec in rows.to_dict("records"):
            resp = session.get(Response, int(rec["response_id"]))
            case = session.get(Case, resp.case_id)
            grades = session.exec(select(Grade).where(Grade.response_id == resp.id, Grade.method != "imported")).all()
            g = max(grades, key=lambda x: x.id)
            details = g.details or {}
            line = {
                "response_id": resp.id,
                "auto": None if rec["auto"] is None or rec["auto"] != rec["auto"] else bool(rec["auto"]),
                "reference": bool(rec["reference"]),
                "gold": case.gold_diagnosis,
                "diagnoses": details.get("diagnoses"),
                "tier": g.method,
                "evidence": details.get("evidence") or details.get("candidates"),
            }
            fh.write(json.dumps(line, default=str) + "\n")


def run(
    which: str,
    embeddings: bool,
    disagreements: Path | None = None,
    broader_incorrect: bool = False,
    judge: JudgeConfig | None = None,
) -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        study, ref, threshold = _load(session, which)
        study_id = study.id
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        summary = grade_study(
            session,
            study_id,
            embeddings=embeddings,
            judge=judge or False,
            thresholds=Thresholds(broader_incorrect=broader_incorrect),
        )
    elapsed = time.perf_counter() - t0
    print(f"## {which}: {summary.summary()}")
    print(f"grading time: {elapsed:.1f} s (tiers: {dict(summary.by_method)})")
    with session_scope(engine) as session:
        n = len(session.exec(select(Response.id)).all())
        check = grade_check(session, study_id, ref, threshold=threshold)
        if disagreements is not None:
            disagreements.mkdir(parents=True, exist_ok=True)
            _write_disagreements(session, check, disagreements / f"{which}.jsonl")
    print(f"{n} responses; reference {ref}" + (f" >= {threshold:g}" if threshold is not None else ""))
    print(grade_check_markdown(check))
    print()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=("medrbench", "sandmann", "both"), default="both")
    ap.add_argument("--no-embeddings", action="store_true")
    ap.add_argument("--broader-incorrect", action="store_true", help="grade strict generalisations incorrect")
    ap.add_argument("--disagreements", type=Path, default=None)
    ap.add_argument("--judge-url", help="an OpenAI-compatible server's base URL, e.g. http://127.0.0.1:8000/v1")
    ap.add_argument("--judge-model", help="the judge's served model id")
    ap.add_argument("--judge-key-env", help="environment variable holding the server's API key")
    args = ap.parse_args()
    if bool(args.judge_url) != bool(args.judge_model):
        ap.error("--judge-url and --judge-model go together")
    judge = None
    if args.judge_url:
        judge = JudgeConfig(model=args.judge_model, base_url=args.judge_url, api_key_env=args.judge_key_env)
    for which in ("medrbench", "sandmann") if args.set == "both" else (args.set,):
        run(which, not args.no_embeddings, args.disagreements, args.broader_incorrect, judge)


if __name__ == "__main__":
    main()

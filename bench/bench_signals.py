"""Benchmark and figures of pipeline.signals on the 400 shipped DeepSeek-R1 MedR-Bench traces.

    .venv/bin/python -m bench.bench_signals              # all 400 traces
    .venv/bin/python -m bench.bench_signals --limit 40   # a quick run

Measures, in one process with the model loaded once:
1. embedding the traces as pipeline.cluster does (embed_responses: chunk, encode, pool, store; the same
   encoder pass also gives and stores the step vectors, pipeline.cluster._late);
2. all signals after embed (compute_study_signals: the vignettes embedded, every signal computed and
   stored), the usual order (embed, cluster, signals);
3. all signals on a study never embedded (the one pass over the traces is then the signals', and it
   stores the trace vectors, so a later embed has nothing to do);
4. all signals again with the vectors cached (--recompute): the signals' own cost.
Steps 1 and 2 run --repeats times, interleaved, so both see the same machine load; the best of each counts.
Figures (from the stored signals of the last run): the share of incorrect responses whose trace names the
gold diagnosis (grading's matchers), and the prevalence of each signal among all, incorrect and correct
responses with Wilson 95% CIs. Grades are the benchmark's own imported judgements.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def _engine(path: Path):
    from db.engine import make_engine
    from db.migrate import upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def _figures(engine, study_id: int) -> dict:
    import pandas as pd
    from sqlmodel import select

    from db.engine import session_scope
    from db.models import ErrorSignal
    from pipeline.accuracy import effective_grades, proportion_ci

    with session_scope(engine) as s:
        frame = effective_grades(s, study_id)
        # pandas' nullable booleans are not Python's True/False: compare as plain values, NA as None.
        grades = {
            int(r): (None if pd.isna(c) else bool(c))
            for r, c in zip(frame["response_id"], frame["correct"], strict=True)
        }
        rows = s.exec(select(ErrorSignal).where(ErrorSignal.study_id == study_id)).all()
    out: dict = {"signals": {}}
    named = [r for r in rows if r.signal == "gold_dropped" and grades.get(r.response_id) is False]
    k = sum(1 for r in named if (r.details or {}).get("named"))
    p = proportion_ci(k, len(named))
    out["incorrect_trace_names_gold"] = {"k": k, "n": len(named), "share": p.estimate, "ci": [p.lower, p.upper]}
    for name in dict.fromkeys(r.signal for r in rows):
        mine = [r for r in rows if r.signal == name and r.fired is not None]
        entry = {}
        for group, keep in (("all", lambda r: True), ("incorrect", lambda r: grades.get(r.response_id) is False),
                            ("correct", lambda r: grades.get(r.response_id) is True)):  # fmt: skip
            part = [r for r in mine if keep(r)]
            fired = sum(1 for r in part if r.fired)
            ci = proportion_ci(fired, len(part)) if part else None
            entry[group] = {"fired": fired, "n": len(part), "share": ci.estimate if ci else None,
                            "ci": [ci.lower, ci.upper] if ci else None}  # fmt: skip
        out["signals"][name] = entry
    return out


def _dump(engine) -> list:
    from sqlmodel import select

    from db.engine import session_scope
    from db.models import Case, ErrorSignal, Response

    with session_scope(engine) as s:
        rows = s.exec(
            select(ErrorSignal, Case.case_key)
            .join(Response, Response.id == ErrorSignal.response_id)
            .join(Case, Case.id == Response.case_id)
        ).all()
        return [[key, r.signal, r.fired, r.steps] for r, key in rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--limit", type=int, default=None, help="shipped traces (default: all 400)")
    p.add_argument("--repeats", type=int, default=1, help="interleaved embed/signals passes (best counts)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--figures-from", metavar="DB", help="only the figures, from the database of an earlier run")
    p.add_argument("--dump", metavar="JSON", help="write every stored signal (case, signal, fired, steps) here")
    args = p.parse_args()
    if args.figures_from:
        print(json.dumps(_figures(_engine(Path(args.figures_from)), 1), indent=2))
        return

    from sqlalchemy import delete

    from db.engine import session_scope
    from db.models import Embedding, ErrorSignal
    from pipeline.cluster import embed_responses
    from pipeline.local_models import load_embedding_model
    from pipeline.signals import compute_study_signals
    from tests.factories import add_medrbench_r1, make_study

    tmp = Path(tempfile.mkdtemp(prefix="bench-signals-"))
    engine = _engine(tmp / "signals.db")
    with session_scope(engine) as s:
        study = make_study(s, "bench")
        n = len(add_medrbench_r1(s, study, limit=args.limit))
        study_id = study.id
    model = load_embedding_model()
    model.encode(["warm up"] * 8)
    embed, cold, fresh = [], [], []

    def clear():
        with session_scope(engine) as s:
            s.exec(delete(Embedding))
            s.exec(delete(ErrorSignal))

    def do_embed():
        with session_scope(engine) as s:
            return embed_responses(s, study_id, progress=False, model=model)

    def do_signals():
        return compute_study_signals(engine, study_id, embedding_model=model)

    # Grading's terminology index is built once per process, by whichever step first needs it: timed on its own.
    _, index_wall, index_cpu = _timed(
        lambda: compute_study_signals(engine, study_id, embedding_model=model, signals=["gold_dropped"])
    )
    for _ in range(args.repeats):
        clear()
        summary, wall, cpu = _timed(do_embed)
        embed.append((wall, cpu, summary.n_chunks))
        sig, wall, cpu = _timed(do_signals)
        cold.append((wall, cpu, sig.texts_embedded, sig.quotes_dropped))
        clear()
        sig, wall, cpu = _timed(do_signals)
        fresh.append((wall, cpu, sig.texts_embedded))
    warm, wall, cpu = _timed(lambda: compute_study_signals(engine, study_id, embedding_model=model, recompute=True))
    result = {
        "traces": n,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "embed_traces": {"wall_s": min(e[0] for e in embed), "cpu_s": min(e[1] for e in embed), "chunks": embed[0][2]},
        "signals_fresh_study": {
            "wall_s": min(c[0] for c in fresh),
            "cpu_s": min(c[1] for c in fresh),
            "texts_embedded": fresh[0][2],
        },
        "load_average": os.getloadavg(),
        "grading_index_once": {"wall_s": index_wall, "cpu_s": index_cpu},
        "signals_after_embed": {
            "wall_s": min(c[0] for c in cold),
            "cpu_s": min(c[1] for c in cold),
            "texts_embedded": cold[0][2],
            "quotes_dropped": cold[0][3],
        },  # fmt: skip
        "signals_cached": {"wall_s": wall, "cpu_s": cpu, "texts_embedded": warm.texts_embedded},
        **_figures(engine, study_id),
    }
    if args.dump:
        Path(args.dump).write_text(json.dumps(_dump(engine)), encoding="utf-8")
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Every step of a study at 1,000 / 10,000 / 100,000 responses, on SQLite and PostgreSQL (issue 15).

    .venv/bin/python -m bench.bench_scale --sizes 1000,10000 --db both [--out bench/results/scale.json]
    .venv/bin/python -m bench.bench_scale --sizes 100000 --db sqlite --pg-url postgresql+psycopg://...

How the study is built from the shipped real data (no invented text):
  * Case sets: the shipped MedR-Bench (400 cases) and Sandmann (125 cases) sets, imported as shipped.
  * Models: five pairs (reasoning model + its base model) = 10 models, named pair1-reasoning, pair1-base, ...
  * A "cell" is (repeat, prompt variant, model) over all 525 cases; cells are taken in the order
    repeat, variant, model (model fastest), so 1,000 responses are one pair on repeat 0 and 100,000 are
    10 models x 2 prompt variants x 10 repeats (the last cell cut short). The import keys a response on
    (model, case, repeat), so the prompt variant is stored as a further repeat: repeat = variant * R + r.
  * MedR-Bench response: the real DeepSeek-R1 answer on that case; a reasoning model also gets the real
    R1 trace of that case (all traces are real, of realistic length: mean about 5,000 characters). Base
    models carry no trace (as in a real study).
  * Sandmann response: the real answer to that case of one of the six shipped models, chosen as
    (model + repeat + variant) mod 6, so every answer is a real answer to that case and the correct /
    incorrect mix is that of the shipped answers; no trace (the shipped set has none).
  * So about 38 % of the responses carry a trace (reasoning models on MedR-Bench).
  * Embeddings (cluster step): the real all-MiniLM-L6-v2 vector of the first 254 word pieces of each of
    the 400 shipped traces (encoded once, cached in the work folder), plus Gaussian noise (sigma 0.025
    per dimension, renormalised) per response: synthetic-but-realistic vectors; `embed` itself is not
    timed here (bench/bench_cluster.py measures it).
  * Annotations (agreement, settle, export, report): min(N, 10,000) responses x 3 annotators, written in
    bulk. Each item has a latent label set drawn from the codebook's five error modes (reasoning_drift
    .35, red_flag_failure .2, priority_inversion .2, other .1, no_error .15, a second mode with p .2);
    each annotator keeps each latent mode with p .8 and adds a random one with p .1. A fourth
    annotator gets a queue of min(N, 10,000) pending assignments for the app step.

Steps, each in its own child process (wall clock, user+system CPU and peak RSS of the child from
os.wait4; "inner" is the step's own call without interpreter start-up and imports):
  import      import_responses of the two generated JSONL files (the CLI's function)
  grade       `python -m pipeline grade --no-judge` (string, terminology and embedding tiers; the real CLI)
  regrade     the same command again: nothing new
  prepare     annotators, assignments, annotations, synthetic embeddings (bulk; set-up, not a target)
  cluster     cluster_study(k-means, k by silhouette, map auto)
  agreement   agreement_report with 2,000 bootstrap resamples
  settle      settle_final_labels
  export      export_study (JSONL + CSV + Parquet)
  import-export  import_export of that export into a fresh database
  report      write_report(html, md)
  app         median over 20 items: next_response_id + load_item + progress, and save_annotation
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STUDY = "scale"
N_PAIRS = 5
VARIANTS = 2
SANDMANN_MODELS = 6
MAX_ANNOTATED = 10_000
RATERS = 3
MODES = ("reasoning_drift", "red_flag_failure", "priority_inversion", "other", "no_error")
MODE_P = (0.35, 0.2, 0.2, 0.1, 0.15)
STEPS = (
    "import",
    "grade",
    "regrade",
    "prepare",
    "cluster",
    "agreement",
    "settle",
    "export",
    "import-export",
    "report",
    "app",
)
PYTHON = sys.executable


# ---------------------------------------------------------------- the study's input files


def _models() -> list[tuple[str, bool]]:
    out = []
    for p in range(1, N_PAIRS + 1):
        out += [(f"pair{p}-reasoning", True), (f"pair{p}-base", False)]
    return out


def write_inputs(n: int, work: Path) -> dict[str, int]:
    """Two JSONL files (medrbench, sandmann125) and their mapping.toml: n responses in all."""
    medr = [json.loads(x) for x in (ROOT / "data/responses/medrbench/deepseek-r1.jsonl").read_text().splitlines()]
    sand = [json.loads(x) for x in (ROOT / "data/responses/sandmann125/outputs.jsonl").read_text().splitlines()]
    by_case: dict[str, dict[str, str]] = {}
    for r in sand:
        by_case.setdefault(r["case_id"], {})[r["model"]] = r["output"]
    sand_models = sorted({r["model"] for r in sand})
    sand_cases = sorted(by_case)
    models = _models()
    per_cell = len(medr) + len(sand_cases)
    cells = -(-n // per_cell)
    repeats = max(1, -(-cells // (len(models) * VARIANTS)))
    files = {"medrbench": (work / "medrbench.jsonl").open("w"), "sandmann125": (work / "sandmann.jsonl").open("w")}
    counts = {"medrbench": 0, "sandmann125": 0, "with_trace": 0}
    left = n
    for cell in range(cells):
        mi = cell % len(models)
        variant = (cell // len(models)) % VARIANTS
        rep = cell // (len(models) * VARIANTS)
        name, reasoning = models[mi]
        repeat = variant * repeats + rep
        for row in medr:
            if left == 0:
                break
            rec = {"case_id": row["id"], "model": name, "repeat": repeat, "answer": row["content"]}
            if reasoning:
                rec["trace"] = row["thinking_process"]
                counts["with_trace"] += 1
            files["medrbench"].write(json.dumps(rec) + "\n")
            counts["medrbench"] += 1
            left -= 1
        for case in sand_cases:
            if left == 0:
                break
            answers = by_case[case]
            src = sand_models[(mi + rep + variant) % SANDMANN_MODELS]
            output = answers.get(src) or next(iter(answers.values()))
            rec = {"case_id": case, "model": name, "repeat": repeat, "output": output}
            files["sandmann125"].write(json.dumps(rec) + "\n")
            counts["sandmann125"] += 1
            left -= 1
    for f in files.values():
        f.close()
    pairs = "\n".join(
        f'"pair{p}-reasoning" = {{ reasoning = true, paired_with = "pair{p}-base" }}' for p in range(1, 6)
    )
    fields = {"medrbench": 'answer = "answer"\ntrace = "trace"', "sandmann125": 'output = "output"'}
    for set_name, text_fields in fields.items():
        (work / f"{set_name}.toml").write_text(
            f'[responses]\ncase_set = "{set_name}"\n\n[fields]\ncase_id = "case_id"\nmodel = "model"\n'
            f'{text_fields}\nrepeat = "repeat"\n\n[models]\n{pairs}\n'
        )
    return counts


# ---------------------------------------------------------------- steps (run in a child process)


def _engine(url: str):
    from db.engine import make_engine
    from db.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    return engine


def _study_id(session) -> int:
    from sqlmodel import select

    from db.models import Study

    return session.exec(select(Study.id).where(Study.name == STUDY)).one()


def step_import(url: str, work: Path, n: int) -> dict:
    from db.engine import session_scope
    from db.models import Study
    from pipeline.generate import import_responses, load_response_mapping
    from tests.factories import shipped_case_set

    engine = _engine(url)
    out = {}
    t = time.perf_counter()
    with session_scope(engine) as s:
        study = Study(name=STUDY, settings={"k": 5})
        s.add(study)
        s.flush()
        for set_name, file in (("medrbench", "medrbench.jsonl"), ("sandmann125", "sandmann.jsonl")):
            shipped_case_set(s, set_name)
            mapping = load_response_mapping(work / f"{set_name}.toml")
            report = import_responses(s, study=study, path=work / file, mapping=mapping)
            out[set_name] = sum(report.by_model.values())
    out["inner_s"] = time.perf_counter() - t
    return out


def _vectors(work: Path):
    """Real MiniLM vectors of the first chunk of each shipped trace, cached next to the bench's files."""
    import numpy as np

    cache = work.parent / "trace_vectors.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        return list(z["keys"]), z["X"]
    from pipeline.local_models import load_embedding_model

    medr = [json.loads(x) for x in (ROOT / "data/responses/medrbench/deepseek-r1.jsonl").read_text().splitlines()]
    model = load_embedding_model()
    # encode() truncates to the model's 256 word pieces: the first chunk of each trace.
    X = model.encode([r["thinking_process"] for r in medr], batch_size=32, normalize_embeddings=True)
    keys = [r["id"] for r in medr]
    np.savez(cache, keys=np.array(keys), X=X)
    return keys, X


def step_prepare(url: str, work: Path, n: int) -> dict:
    import numpy as np
    from sqlalchemy import insert
    from sqlmodel import select

    from db.engine import session_scope
    from db.models import Annotation, Assignment, Case, Embedding, Response, Run, utcnow
    from pipeline.annotation import create_annotator, ensure_codebook
    from pipeline.cluster import DEFAULT_SPEC
    from pipeline.cluster._embed import text_hash, to_blob

    keys, X = _vectors(work)
    row_of = {k: i for i, k in enumerate(keys)}
    rng = np.random.default_rng(15)
    engine = _engine(url)
    t = time.perf_counter()
    now = utcnow()
    with session_scope(engine) as s:
        study_id = _study_id(s)
        book = ensure_codebook(s)
        from db.models import Study

        s.get(Study, study_id).codebook_version_id = book.id
        people = [create_annotator(s, f"rater{i}", "bench password 1", "annotator").id for i in range(1, RATERS + 1)]
        app_user = create_annotator(s, "app.user", "bench password 1", "annotator").id
        rows = s.exec(
            select(Response.id, Response.trace, Case.case_key)
            .join(Case, Case.id == Response.case_id)
            .join(Run, Run.id == Response.run_id)
            .where(Run.study_id == study_id)
            .order_by(Response.id)
        ).all()
        emb = []
        for rid, trace, key in rows:
            if not trace or key not in row_of:
                continue
            v = X[row_of[key]] + rng.normal(scale=0.025, size=X.shape[1])
            v = (v / np.linalg.norm(v)).astype(np.float32)
            emb.append(
                {"response_id": rid, "embedding_model": DEFAULT_SPEC.key, "field": "trace",
                 "text_hash": text_hash(trace), "n_chunks": 1, "dim": X.shape[1], "vector": to_blob(v),
                 "created_at": now}
            )  # fmt: skip
        for i in range(0, len(emb), 2000):
            s.execute(insert(Embedding), emb[i : i + 2000])
        # The annotated items: traces first (what annotators label), then answers.
        ordered = [r[0] for r in rows if r[1]] + [r[0] for r in rows if not r[1]]
        items = ordered[: min(n, MAX_ANNOTATED)]
        assignments, annotations = [], []
        for pos, rid in enumerate(items):
            latent = {MODES[rng.choice(5, p=MODE_P)]}
            if rng.random() < 0.2:
                latent.add(MODES[rng.integers(0, 4)])
            if "no_error" in latent and len(latent) > 1:
                latent.discard("no_error")
            for who in people:
                labels = {m for m in latent if rng.random() < 0.8}
                if rng.random() < 0.1:
                    labels.add(MODES[rng.integers(0, 4)])
                if not labels:
                    labels = {"no_error"}
                if "no_error" in labels and len(labels) > 1:
                    labels.discard("no_error")
                step = None if labels == {"no_error"} else int(rng.integers(1, 12))
                assignments.append(
                    {"study_id": study_id, "response_id": rid, "annotator_id": who, "position": pos,
                     "status": "done", "created_at": now, "updated_at": now}
                )  # fmt: skip
                annotations.append(
                    {"study_id": study_id, "response_id": rid, "annotator_id": who, "codebook_version_id": book.id,
                     "error_modes": sorted(labels), "evidence": {m: [step] for m in labels if step},
                     "first_error_step": step, "flagged": False, "suggestion_shown": False,
                     "saved_at": now, "created_at": now, "updated_at": now}
                )  # fmt: skip
        traced = [r[0] for r in rows if r[1]]
        queue = (traced[::-1] + [r[0] for r in rows if not r[1]])[: min(n, MAX_ANNOTATED)]
        for pos, rid in enumerate(queue):
            assignments.append(
                {"study_id": study_id, "response_id": rid, "annotator_id": app_user, "position": pos,
                 "status": "pending", "created_at": now, "updated_at": now}
            )  # fmt: skip
        for i in range(0, len(assignments), 2000):
            s.execute(insert(Assignment), assignments[i : i + 2000])
        for i in range(0, len(annotations), 2000):
            s.execute(insert(Annotation), annotations[i : i + 2000])
    return {
        "inner_s": time.perf_counter() - t,
        "embeddings": len(emb),
        "annotated_items": len(items),
        "annotations": len(annotations),
        "app_queue": len(queue),
    }


def step_cluster(url: str, work: Path, n: int) -> dict:
    from db.engine import session_scope
    from pipeline.cluster import cluster_study

    engine = _engine(url)
    t = time.perf_counter()
    with session_scope(engine) as s:
        c = cluster_study(s, _study_id(s), method="kmeans", map_method="auto", seed=0)
        k = c.n_clusters
    return {"inner_s": time.perf_counter() - t, "k": k}


def step_agreement(url: str, work: Path, n: int) -> dict:
    from db.engine import session_scope
    from pipeline.agreement import agreement_report

    engine = _engine(url)
    t = time.perf_counter()
    with session_scope(engine) as s:
        agreement_report(s, _study_id(s), n_boot=2000)
    return {"inner_s": time.perf_counter() - t}


def step_settle(url: str, work: Path, n: int) -> dict:
    from db.engine import session_scope
    from pipeline.agreement import settle_final_labels

    engine = _engine(url)
    t = time.perf_counter()
    with session_scope(engine) as s:
        summary = settle_final_labels(s, _study_id(s))
    return {"inner_s": time.perf_counter() - t, "summary": str(summary)[:300]}


def step_export(url: str, work: Path, n: int) -> dict:
    import shutil

    from db.engine import session_scope
    from pipeline.export import export_study

    out = work / "export"
    shutil.rmtree(out, ignore_errors=True)
    engine = _engine(url)
    t = time.perf_counter()
    with session_scope(engine) as s:
        summary = export_study(s, _study_id(s), out)
    size = sum(p.stat().st_size for p in summary.files)
    return {"inner_s": time.perf_counter() - t, "mb": round(size / 1e6, 1), "counts": summary.counts}


def step_import_export(url: str, work: Path, n: int) -> dict:
    from db.engine import session_scope
    from pipeline.export import import_export

    engine = _engine(os.environ["SCALE_DST_URL"])
    t = time.perf_counter()
    with session_scope(engine) as s:
        imported = import_export(s, work / "export")
    return {"inner_s": time.perf_counter() - t, "annotations": imported.annotations}


def step_report(url: str, work: Path, n: int) -> dict:
    from db.engine import session_scope
    from pipeline.report import write_report

    engine = _engine(url)
    t = time.perf_counter()
    with session_scope(engine) as s:
        html, md = write_report(s, _study_id(s), work / "report", formats=["html", "md"])
    return {"inner_s": time.perf_counter() - t, "html_mb": round(html.stat().st_size / 1e6, 1)}


def step_app(url: str, work: Path, n: int, repeats: int = 20) -> dict:
    import statistics

    from sqlmodel import select

    from db.engine import session_scope
    from db.models import Annotator
    from pipeline.annotation import AnnotationInput, load_item, next_response_id, progress, save_annotation

    engine = _engine(url)
    with session_scope(engine) as s:
        study_id = _study_id(s)
        who = s.exec(select(Annotator.id).where(Annotator.username == "app.user")).one()
    opened, saved, current = [], [], None
    t0 = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        with session_scope(engine) as s:
            current = next_response_id(s, study_id, who, after=current)
            item = load_item(s, study_id, current, who)
            progress(s, study_id, who)
        opened.append(time.perf_counter() - t)
        step = 1 if item.steps else None
        labels = AnnotationInput(
            ["reasoning_drift"], evidence={"reasoning_drift": [step]} if step else {}, first_error_step=step
        )
        t = time.perf_counter()
        with session_scope(engine) as s:
            save_annotation(s, study_id=study_id, response_id=current, annotator_id=who, labels=labels)
        saved.append(time.perf_counter() - t)
    return {
        "inner_s": time.perf_counter() - t0,
        "next_median_s": statistics.median(opened),
        "next_max_s": max(opened),
        "save_median_s": statistics.median(saved),
        "save_max_s": max(saved),
    }


STEP_FUNCS = {
    "import": step_import,
    "prepare": step_prepare,
    "cluster": step_cluster,
    "agreement": step_agreement,
    "settle": step_settle,
    "export": step_export,
    "import-export": step_import_export,
    "report": step_report,
    "app": step_app,
}


# ---------------------------------------------------------------- the driver


def measured(argv: list[str], env: dict | None = None, timeout: float | None = None) -> dict:
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    # Read the pipes on threads so a chatty child cannot block, then reap it with wait4 for its rusage.
    import threading

    bufs: dict[str, bytes] = {}

    def drain(name, pipe):
        bufs[name] = pipe.read()

    threads = [threading.Thread(target=drain, args=(k, p)) for k, p in (("out", proc.stdout), ("err", proc.stderr))]
    for th in threads:
        th.start()
    timer = None
    if timeout:
        timer = threading.Timer(timeout, proc.kill)  # a step over its budget is stopped and reported as such
        timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if timer is not None:
        timer.cancel()
    for th in threads:
        th.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 0),
        "rc": proc.returncode,
        "stdout": bufs["out"].decode(errors="replace"),
        "stderr": bufs["err"].decode(errors="replace"),
    }


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def bench_one(
    db: str, url: str, dst_url: str, n: int, work: Path, steps: list[str], timeout: float | None = None
) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    counts = write_inputs(n, work)
    result = {"db": db, "n": n, "inputs": counts, "steps": {}}
    env = {**os.environ, "SCALE_DST_URL": dst_url, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for step in steps:
        if step in ("grade", "regrade"):
            argv = [PYTHON, "-m", "pipeline", "grade", "--db", url, "--study", STUDY, "--no-judge"]
        else:
            argv = [PYTHON, "-m", "bench.bench_scale", "--step", step, "--url", url, "--work", str(work), "--n", str(n)]
        load = _load()
        m = measured(argv, env, timeout)
        if timeout and m["rc"] == -9:
            m["timed_out_after_s"] = timeout
        m["load_before"] = load
        m["load_after"] = _load()
        if m["rc"] != 0:
            m["error"] = (m["stderr"] or m["stdout"])[-2000:]
        else:
            lines = [x for x in m["stdout"].splitlines() if x.startswith("{")]
            if lines:
                m["inner"] = json.loads(lines[-1])
            elif step in ("grade", "regrade"):
                m["inner"] = {"summary": m["stdout"].strip().splitlines()[-1:]}
        m.pop("stdout")
        m.pop("stderr")
        m["per_1000_s"] = round(m["wall_s"] / n * 1000, 3)
        result["steps"][step] = m
        print(f"[{db} n={n}] {step}: {json.dumps({k: v for k, v in m.items() if k != 'error'})}", flush=True)
        if "error" in m:
            print(m["error"], flush=True)
    return result


def _pg_server(work: Path):
    from tests._postgres import PostgresServer

    root = work / "pg"
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    os.chmod(root, 0o755)
    return PostgresServer(root / "data").start()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated numbers of responses")
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument(
        "--pg-url", help="a PostgreSQL server URL (a database per run is created on it); default: start one"
    )
    ap.add_argument("--steps", default=",".join(STEPS), help="comma-separated steps")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/scale.json", help="results JSON (appended)")
    ap.add_argument("--keep", action="store_true", help="SQLite: run the steps on the study the work folder holds")
    ap.add_argument("--timeout", type=float, help="stop a step after this many seconds (recorded as timed out)")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--render", type=Path, nargs="+", help="results JSON files: print the table (and --svg plot)")
    ap.add_argument("--svg", type=Path, help="with --render: write the log-log plot here")
    args = ap.parse_args()
    if args.render:
        print(render(args.render, args.svg))
        return
    if args.step:
        print(json.dumps(STEP_FUNCS[args.step](args.url, args.work, args.n), default=str))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="dxtrace-scale-"))
    steps = [s for s in args.steps.split(",") if s]
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    server = None
    results = json.loads(args.out.read_text()) if args.out.exists() else []
    try:
        for db in dbs:
            for n in [int(x) for x in args.sizes.split(",")]:
                folder = work / f"{db}-{n}"
                if db == "sqlite":
                    url, dst = f"sqlite:///{folder / 'study.db'}", f"sqlite:///{folder / 'imported.db'}"
                    folder.mkdir(parents=True, exist_ok=True)
                    for f in ("study.db", "imported.db") if not args.keep else ():
                        (folder / f).unlink(missing_ok=True)
                else:
                    if args.pg_url is None and server is None:
                        server = _pg_server(work)
                    stamp = int(time.time())
                    url, dst = _pg_databases(server, args.pg_url, f"scale_{n}_{stamp}")
                res = bench_one(db, url, dst, n, folder, steps, args.timeout)
                res["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
                results.append(res)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, indent=1))
    finally:
        if server is not None:
            server.stop()


def render(paths: list[Path], svg: Path | None) -> str:
    """A markdown table of every (db, n, step) in the results files, and a log-log plot of wall clock."""
    runs = [r for p in paths for r in json.loads(p.read_text())]
    lines = [
        "| db | responses | step | wall s | per 1,000 s | CPU s | peak MB | load avg | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run in runs:
        for step, m in run["steps"].items():
            inner = m.get("inner") or {}
            note = []
            if m.get("stopped_by_hand_s"):
                note.append(f"stopped by hand after {m['stopped_by_hand_s']:.0f} s, unfinished")
            elif "timed_out_after_s" in m:
                note.append(f"stopped after {m['timed_out_after_s']:.0f} s")
            elif m.get("rc"):
                note.append("failed")
            if "k" in inner:
                note.append(f"k={inner['k']}")
            if "next_median_s" in inner:
                note.append(
                    f"next {inner['next_median_s'] * 1000:.0f} ms (max {inner['next_max_s'] * 1000:.0f}), "
                    f"save {inner['save_median_s'] * 1000:.0f} ms (max {inner['save_max_s'] * 1000:.0f})"
                )
            if "mb" in inner:
                note.append(f"{inner['mb']} MB written")
            if "embeddings" in inner:
                note.append(f"{inner['embeddings']} traces embedded, {inner['annotations']} annotations")
            load = f"{m.get('load_before', '')}–{m.get('load_after', '')}"
            lines.append(
                f"| {run['db']}{' ' + run['label'] if run.get('label') else ''} | {run['n']:,} | {step} | {m['wall_s']} | {m['per_1000_s']} | {m['cpu_s']} | "
                f"{m['peak_mb']:.0f} | {load} | {'; '.join(note)} |"
            )
            done = {n for n, _ in series.get((run["db"], step), [])}
            if not m.get("rc") and run["n"] not in done:  # the first run listed for a size is plotted
                series.setdefault((run["db"], step), []).append((run["n"], m["wall_s"]))
    if svg is not None:
        import plotly.graph_objects as go

        fig = go.Figure()
        for (db, step), pts in sorted(series.items()):
            pts.sort()
            fig.add_trace(
                go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=f"{step} ({db})")
            )
        fig.update_xaxes(type="log", title="responses")
        fig.update_yaxes(type="log", title="wall clock, s (child process)")
        fig.update_layout(title="DxTrace steps by study size (shared 2-core machine)", width=900, height=600)
        svg.write_bytes(fig.to_image(format="svg"))
    return "\n".join(lines)


def _pg_databases(server, base_url: str | None, name: str) -> tuple[str, str]:
    if server is not None:
        return server.create_database(name), server.create_database(name + "_imp")
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(base_url)
    conninfo = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database or 'postgres'}"
    if u.password:
        conninfo += f" password={u.password}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for db in (name, name + "_imp"):
            conn.execute(f'CREATE DATABASE "{db}"')
    return str(u.set(database=name).render_as_string(hide_password=False)), str(
        u.set(database=name + "_imp").render_as_string(hide_password=False)
    )


if __name__ == "__main__":
    main()

"""Benchmark of pipeline.cluster: embedding throughput, the cached rerun, and clustering + map at 10,000 traces.

    .venv/bin/python -m bench.bench_cluster                 # all 400 shipped DeepSeek-R1 traces, 10,000 for clustering
    .venv/bin/python -m bench.bench_cluster --limit 40 --n-cluster 2000   # a quick run

1. Embedding: the shipped traces are chunked exactly as the pipeline chunks them; a bare
   SentenceTransformer.encode over those chunk texts (one call, batch 32) is timed in the
   same process as embed_responses (chunking, encoding, pooling, database writes), --repeats
   times each, interleaved, so both see the same machine load. The ratio is the best bare
   time over the best pipeline time (wall clock, and this process's CPU time).
2. The cached rerun: embed_responses again with nothing changed.
3. Clustering at scale: 10,000 *synthetic* responses whose vectors are the real pooled
   vectors of the shipped traces plus Gaussian noise (renormalised), whose texts are the
   traces they came from. cluster_study (k by silhouette, 2D map, keywords, typical traces,
   near duplicates, database writes) is timed per method, and the map methods apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _engine(path: Path):
    from db.engine import make_engine
    from db.migrate import upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def bench_embedding(tmp: Path, limit: int | None, batch_size: int, repeats: int) -> dict:
    from sqlalchemy import delete

    from db.engine import session_scope
    from db.models import Embedding
    from pipeline.cluster import embed_responses
    from pipeline.cluster._embed import chunk_texts, study_texts
    from pipeline.local_models import load_embedding_model
    from tests.factories import add_medrbench_r1, make_study

    engine = _engine(tmp / "embed.db")
    with session_scope(engine) as s:
        study = make_study(s, "bench")
        add_medrbench_r1(s, study, limit=limit)
        study_id = study.id
    t = time.perf_counter()
    model = load_embedding_model()
    load_s = time.perf_counter() - t
    import torch

    with session_scope(engine) as s:
        texts = list(study_texts(s, study_id, "trace").values())
    chunks = [c.text for c in chunk_texts(texts, model, 32).chunks]
    model.encode(chunks[:64], batch_size=batch_size)  # warm-up: first calls allocate

    # Wall clock and this process's CPU time (less disturbed by other work on a shared machine).
    bare, pipe, bare_cpu, pipe_cpu = [], [], [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        model.encode(chunks, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        bare.append(time.perf_counter() - t)
        bare_cpu.append(time.process_time() - c)
        with session_scope(engine) as s:
            s.exec(delete(Embedding))
        t, c = time.perf_counter(), time.process_time()
        with session_scope(engine) as s:
            summary = embed_responses(s, study_id, progress=False, batch_size=batch_size, model=model)
        pipe.append(time.perf_counter() - t)
        pipe_cpu.append(time.process_time() - c)
        assert summary.n_chunks == len(chunks), (summary.n_chunks, len(chunks))
    t = time.perf_counter()
    with session_scope(engine) as s:
        cached = embed_responses(s, study_id, progress=False, model=model)
    cached_s = time.perf_counter() - t
    assert cached.n_embedded == 0
    engine.dispose()
    n = len(chunks)
    return {
        "traces": len(texts),
        "chunks": n,
        "word_pieces_per_trace_mean": round(
            float(
                np.mean([len(model.tokenizer(x, add_special_tokens=False, verbose=False)["input_ids"]) for x in texts])
            )
        ),
        "model_load_s": round(load_s, 2),
        "torch_threads": torch.get_num_threads(),
        "bare_encode_s": [round(x, 2) for x in bare],
        "pipeline_s": [round(x, 2) for x in pipe],
        "bare_chunks_per_s": round(n / min(bare), 1),
        "pipeline_chunks_per_s": round(n / min(pipe), 1),
        "pipeline_traces_per_s": round(len(texts) / min(pipe), 2),
        "ratio_pipeline_over_bare": round(min(bare) / min(pipe), 3),
        "bare_cpu_s": [round(x, 2) for x in bare_cpu],
        "pipeline_cpu_s": [round(x, 2) for x in pipe_cpu],
        "ratio_pipeline_over_bare_cpu": round(min(bare_cpu) / min(pipe_cpu), 3),
        "cached_rerun_s": round(cached_s, 3),
    }


def bench_clustering(tmp: Path, n: int, methods: list[str], maps: list[str], *, reuse: bool, seed: int = 0) -> dict:
    from sqlmodel import select

    from db.engine import session_scope
    from db.models import Embedding, Response, Study
    from pipeline.cluster import DEFAULT_SPEC, cluster_study, embed_responses, load_vectors, map_2d
    from pipeline.cluster._embed import text_hash, to_blob
    from tests.factories import add_medrbench_r1, make_study

    # The real pooled vectors of all shipped traces: the embedding run's database when it embedded them all.
    done = tmp / "embed.db"
    if done.exists() and reuse:
        shutil.copy(done, tmp / "cluster.db")
    engine = _engine(tmp / "cluster.db")
    with session_scope(engine) as s:
        study = s.exec(select(Study).where(Study.name == "bench")).first()
        if study is None:
            study = make_study(s, "bench")
            add_medrbench_r1(s, study)
        study_id = study.id
    with session_scope(engine) as s:
        embed_responses(s, study_id, progress=True)
        ids, X, texts = load_vectors(s, study_id)
        base = ids
    rng = np.random.default_rng(seed)
    src = rng.integers(0, len(ids), n - len(ids))
    # Noise of about the spread between traces of one topic: neighbours stay neighbours, no exact copies.
    noise = rng.normal(scale=0.025, size=(len(src), X.shape[1]))
    Y = X[src] + noise
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    t = time.perf_counter()
    with session_scope(engine) as s:
        first = s.get(Response, int(ids[0]))
        extra = []
        for j, i in enumerate(src):
            rid = int(ids[i])
            extra.append(
                Response(
                    run_id=first.run_id,
                    case_id=s.get(Response, rid).case_id,
                    model_id=first.model_id,
                    repeat=1 + j,
                    trace=texts[rid] + f"\n\n(synthetic copy {j})",
                )
            )
        s.add_all(extra)
        s.flush()
        s.add_all(
            Embedding(
                response_id=r.id,
                embedding_model=DEFAULT_SPEC.key,
                field="trace",
                text_hash=text_hash(r.trace),
                n_chunks=1,
                dim=Y.shape[1],
                vector=to_blob(Y[j]),
            )
            for j, r in enumerate(extra)
        )
    setup_s = time.perf_counter() - t
    out: dict = {"responses": n, "real": len(base), "synthetic": n - len(base), "setup_s": round(setup_s, 1)}
    with session_scope(engine) as s:
        t = time.perf_counter()
        _, Xall, _ = load_vectors(s, study_id)
        out["load_vectors_s"] = round(time.perf_counter() - t, 2)
    for m in maps:
        t = time.perf_counter()
        map_2d(Xall, m, seed)
        out[f"map_{m}_s"] = round(time.perf_counter() - t, 1)
    for method in methods:
        t = time.perf_counter()
        with session_scope(engine) as s:
            c = cluster_study(s, study_id, method=method, map_method="pca", seed=seed)
        out[f"cluster_study_{method}_s"] = round(time.perf_counter() - t, 1)
        out[f"cluster_study_{method}_k"] = c.n_clusters
    engine.dispose()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--limit", type=int, default=None, help="shipped traces to embed (default: all 400)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=2, help="interleaved bare/pipeline passes (best of each counts)")
    p.add_argument("--n-cluster", type=int, default=10_000, help="responses to cluster (default: 10000)")
    p.add_argument("--methods", default="kmeans,agglomerative,hdbscan")
    p.add_argument("--maps", default="pca,tsne", help="map methods timed on their own at --n-cluster")
    p.add_argument("--skip-embedding", action="store_true")
    p.add_argument("--skip-clustering", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores available, {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(prefix="dxtrace-bench-cluster-") as tmp:
        if not args.skip_embedding:
            result["embedding"] = bench_embedding(Path(tmp), args.limit, args.batch_size, args.repeats)
            print(json.dumps(result, indent=2), flush=True)
        if not args.skip_clustering:
            result["clustering"] = bench_clustering(
                Path(tmp),
                args.n_cluster,
                [m for m in args.methods.split(",") if m],
                [m for m in args.maps.split(",") if m],
                reuse=args.limit is None and not args.skip_embedding,
            )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

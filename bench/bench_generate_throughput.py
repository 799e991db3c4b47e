"""Generation throughput against a server: `generate` at concurrency 8 vs a bare concurrent client.

Both arms send the same rendered prompts with the same sampling (temperature 0, seed 7, max_tokens) to
the same llama-cpp-python OpenAI-compatible server on the shipped SmolLM2 GGUF (n_threads given
explicitly): the pipeline's `generate()` (study file, run rows, one commit per response, parsing) with
concurrency 8, and a bare `openai.AsyncOpenAI` client with 8 requests in flight (asyncio semaphore),
storing nothing. The arms alternate (order flipped every round); each keeps its fastest round. The
ratio is pipeline / bare completion tokens per second of wall clock (goal >= 0.9).

    .venv/bin/python -m bench.bench_generate_throughput --prompts 16 --max-tokens 64 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

CONCURRENCY = 8
SEED = 7


def _prompts(folder: Path, n: int) -> tuple[list[str], list[list[dict]]]:
    from bench.bench_generate import prompts

    return prompts(_engine(folder, "prompts"), n)


def _engine(folder: Path, name: str):
    from db.engine import make_engine
    from db.migrate import upgrade

    engine = make_engine(f"sqlite:///{folder / (name + '.db')}")
    upgrade(engine)
    return engine


async def _bare(url: str, messages: list[list[dict]], max_tokens: int, concurrency: int) -> int:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="not-needed", max_retries=0, timeout=600)
    gate = asyncio.Semaphore(concurrency)

    async def one(m: list[dict]) -> int:
        async with gate:
            out = await client.chat.completions.create(
                model="smollm2", messages=m, temperature=0.0, max_tokens=max_tokens, seed=SEED
            )
            return out.usage.completion_tokens if out.usage else 0

    try:
        return sum(await asyncio.gather(*(one(m) for m in messages)))
    finally:
        await client.close()


def bare_run(url: str, messages: list[list[dict]], max_tokens: int, concurrency: int) -> tuple[int, float, float]:
    w, c = time.perf_counter(), time.process_time()
    tokens = asyncio.run(_bare(url, messages, max_tokens, concurrency))
    return tokens, time.perf_counter() - w, time.process_time() - c


def pipeline_run(
    folder: Path, tag: str, keys: list[str], url: str, max_tokens: int, concurrency: int
) -> tuple[int, float, float]:
    from bench.bench_generate import study_file
    from db.engine import session_scope
    from pipeline.generate import ensure_case_set, generate

    engine = _engine(folder, tag)
    with session_scope(engine) as session:  # once per study, not part of generation
        ensure_case_set(session, "sandmann125")
    path = study_file(folder, tag, keys, max_tokens, "openai", url)
    w, c = time.perf_counter(), time.process_time()
    summary = generate(engine, path, progress=False, concurrency=concurrency)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    engine.dispose()
    (m,) = summary.models
    if m.failed:
        raise SystemExit(f"{m.failed} requests failed: {m.first_errors()}")
    return m.completion_tokens, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=16, help="first N Sandmann cases (default 16)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; each arm keeps its fastest")
    ap.add_argument("--threads", type=int, default=2, help="the server's n_threads")
    ap.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = ap.parse_args()

    from pipeline.local_models import default_gguf_path, serve_gguf

    folder = Path(tempfile.mkdtemp(prefix="dxtrace-throughput-"))
    keys, messages = _prompts(folder, args.prompts)
    print(f"server: llama_cpp.server on {default_gguf_path().name}, --n_threads {args.threads}, n_ctx 2048")
    print(f"{len(keys)} prompts, max_tokens={args.max_tokens}, concurrency {args.concurrency}")
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with serve_gguf(threads=args.threads, n_ctx=2048) as url:
        bare_run(url, messages[:2], 8, 2)  # warm-up
        best: dict[str, tuple[int, float, float]] = {}
        for r in range(args.rounds):
            arms = [
                ("bare", lambda: bare_run(url, messages, args.max_tokens, args.concurrency)),
                (
                    "pipeline",
                    lambda r=r: pipeline_run(folder, f"p{r}", keys, url, args.max_tokens, args.concurrency),
                ),
            ]
            for name, fn in arms if r % 2 == 0 else list(reversed(arms)):
                t, w, c = fn()
                print(f"  round {r + 1} {name:8s} {t:5d} tokens {w:7.2f} s wall {c:6.2f} s CPU {t / w:6.1f} tok/s")
                if name not in best or t / w > best[name][0] / best[name][1]:
                    best[name] = (t, w, c)
    print("\n| arm (fastest round) | completion tokens | wall s | client CPU s | tokens/s |")
    print("|---|---|---|---|---|")
    labels = {"bare": "bare `AsyncOpenAI`, 8 in flight", "pipeline": "`generate()`, concurrency 8"}
    for arm, label in labels.items():
        t, w, c = best[arm]
        print(f"| {label} | {t} | {w:.2f} | {c:.2f} | {t / w:.1f} |")
    ratio = (best["pipeline"][0] / best["pipeline"][1]) / (best["bare"][0] / best["bare"][1])
    print(f"| **ratio pipeline / bare** | | | | **{ratio:.3f}** |")
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

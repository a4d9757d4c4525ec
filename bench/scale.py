"""The Space at scale: index build, start-up with a big index, search under load, memory."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from common import CACHE, free_port, medians, row, rss_mb, run, server, wrk
from startup import bare_app, default_space, first_200

sys.path.insert(0, str(Path(__file__).parent))
from retrieval import synthetic_corpus  # noqa: E402

HERE = Path(__file__).resolve().parent
QUERY = "q=function+argument+default&k=5"


def probe(python: Path, project: Path, mode: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(project), "LOG_LEVEL": "warning"}
    out = run([python, HERE / "probe.py", mode, *args], cwd=project, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def corpus(chunks: int, python: Path, project: Path) -> tuple[Path, Path]:
    """A synthetic corpus of about `chunks` chunks and its current index."""
    data = synthetic_corpus(CACHE / f"corpus-{chunks}", chunks)
    # As in a Space, the documents are older than the index: a document written in the last
    # 2 s makes every start read the whole corpus (app/corpus.py, RECENT_SECONDS).
    time.sleep(max(0.0, (data / ".complete").stat().st_mtime + 2.5 - time.time()))
    index = CACHE / f"index-{chunks}"
    env = {**os.environ, "DATA_DIR": str(data), "INDEX_DIR": str(index), "LOG_LEVEL": "warning"}
    run([python, "start_with_index.py", "--build-only"], cwd=project, env=env)
    return data, index


def app_env(data: Path, index: Path) -> dict:
    return {"DATA_DIR": str(data), "INDEX_DIR": str(index), "LOG_LEVEL": "warning"}


def measure() -> list[dict]:
    project, python = default_space()
    bare = bare_app(CACHE / "bare")
    rows = []
    data10k, index10k = corpus(10_000, python, project)
    data100k, index100k = corpus(100_000, python, project)

    # Build, end to end, against the raw embedding throughput on the same texts.
    def probed(what: str, key: str):
        return lambda: probe(python, project, what, str(data100k), str(index100k))[key]

    figures = medians(
        runs=3, built=probed("build", "chunks_per_s"), raw=probed("raw_embed", "chunks_per_s")
    )
    built, raw = figures["built"], figures["raw"]
    rows.append(
        row(
            "index build, 100k chunks (chunks/s)",
            built,
            "chunks/s",
            "raw hashing embed, same texts",
            raw,
            ">= 0.6x and >= 15k/s",
            built >= 0.6 * raw and built >= 15_000,
        )
    )

    # Start-up with 100k chunks (load only), against the bare app plus raw faiss.read_index.
    env = app_env(data100k, index100k)

    figures = medians(
        runs=3,
        ours=lambda: first_200(python, "start_with_index.py", project, env),
        bare=lambda: first_200(python, str(bare), bare.parent, env),
        read=lambda: probe(python, project, "read_index", str(index100k))["seconds"],
    )
    ours, bare_s, read = figures["ours"], figures["bare"], figures["read"]
    rows.append(
        row(
            "start-up to first 200, 100k chunks, load only",
            ours,
            "s",
            "1.5 x bare app + raw faiss.read_index",
            1.5 * bare_s + read,
            "<= 1.5x bare + read_index",
            ours <= 1.5 * bare_s + read,
            f"bare {bare_s:.3f} s, read_index {read:.3f} s",
        )
    )

    # Throughput and p99 at concurrency 32, 10k chunks, against /api/health of the same server.
    with server(
        [python, "start_with_index.py"], project, app_env(data10k, index10k), port := free_port()
    ) as _:
        base = f"http://127.0.0.1:{port}"
        wrk(f"{base}/api/search?{QUERY}", seconds=2)  # warm-up
        search = wrk(f"{base}/api/search?{QUERY}")
        health = wrk(f"{base}/api/health")
    rows.append(
        row(
            "/api/search req/s, c=32, 10k chunks",
            search["rps"],
            "req/s",
            "/api/health req/s, same server",
            health["rps"],
            ">= 0.5x",
            search["rps"] >= 0.5 * health["rps"],
            f"non-2xx {search['non_2xx']}, errors {search['socket_errors'] or 0}",
        )
    )
    rows.append(
        row(
            "/api/search p99, c=32, 10k chunks",
            search["p99_ms"],
            "ms",
            "/api/health p99",
            health["p99_ms"],
            "<= 2x",
            search["p99_ms"] <= 2 * health["p99_ms"],
        )
    )

    # 100k chunks: endpoint against raw FAISS single-query throughput; RSS against its floor.
    with server([python, "start_with_index.py"], project, env, port := free_port()) as (proc, _):
        url = f"http://127.0.0.1:{port}/api/search?{QUERY}"
        wrk(url, seconds=2)
        search100k = wrk(url)
        rss = rss_mb(proc.pid)
    faiss_qps = probe(
        python, project, "raw_faiss", str(data100k), str(index100k), "function argument default"
    )["qps"]
    rows.append(
        row(
            "/api/search req/s, c=32, 100k chunks",
            search100k["rps"],
            "req/s",
            "raw FAISS single queries, one process",
            faiss_qps,
            ">= 0.8x",
            search100k["rps"] >= 0.8 * faiss_qps,
            "the app scores few-word queries exactly over their non-zero columns of FAISS's "
            "stored vectors instead of FAISS's full scan",
        )
    )
    with server([python, bare], bare.parent, env, free_port()) as (bare_proc, _):
        bare_rss = rss_mb(bare_proc.pid)
    vectors_mb = probe(python, project, "read_index", str(index100k))["vector_bytes"] / 2**20
    floor = bare_rss + vectors_mb
    rows.append(
        row(
            "server RSS, 100k chunks loaded (MB)",
            rss,
            "MB",
            "bare app RSS + raw vector bytes",
            floor,
            "<= 1.3x",
            rss <= 1.3 * floor,
            f"bare {bare_rss:.0f} MB + vectors {vectors_mb:.0f} MB",
        )
    )
    return rows

"""Run by the project's own Python (PYTHONPATH = the rendered project): measures the app's code
and the raw libraries under it in one process, and prints one JSON line."""

from __future__ import annotations

import json
import sys
import time

# The benchmark's settings for a corpus (hashing embedder, no .env): one definition for both.
from retrieval import _settings as settings


def build(data_dir: str, index_dir: str) -> dict:
    """End to end, as start_with_index.py --build-only --rebuild does it."""
    from app.index import ensure_index

    started = time.perf_counter()
    index = ensure_index(settings(data_dir, index_dir), force=True)
    seconds = time.perf_counter() - started
    return {"chunks": len(index), "seconds": seconds, "chunks_per_s": len(index) / seconds}


def raw_faiss(data_dir: str, index_dir: str, query: str) -> dict:
    """Single-query FAISS searches (k=5) on the loaded index: the floor under /api/search."""
    from app.index import ensure_index

    index = ensure_index(settings(data_dir, index_dir))
    vector = index.embedder.embed([query])
    index.vectors.search(vector, 5)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 5:
        index.vectors.search(vector, 5)
        count += 1
    return {"ms": (time.perf_counter() - started) / count * 1000}


def read_index(index_dir: str) -> dict:
    """The vectors of the index: how many, and their bytes as float32 (what FAISS stores flat)."""
    from pathlib import Path

    import faiss

    vectors = faiss.read_index(str(Path(index_dir) / "index.faiss"))
    return {"type": type(vectors).__name__, "vector_bytes": vectors.ntotal * vectors.d * 4}


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    print(json.dumps(globals()[mode](*args)))

"""Run by the project's own Python (PYTHONPATH = the rendered project, EMBEDDING_MODEL = the local
model): measures the app's code (hybrid search) and the raw libraries under it in one process,
and prints one JSON line."""

from __future__ import annotations

import json
import os
import sys
import time

# The benchmark's settings for a corpus (no .env): one definition for both.
from retrieval import _settings


def settings(data_dir: str, index_dir: str):
    return _settings(data_dir, index_dir, "hybrid", os.environ["EMBEDDING_MODEL"])


def build(data_dir: str, index_dir: str) -> dict:
    """End to end, as start_with_index.py --build-only --rebuild does it."""
    from app.index import ensure_index

    started = time.perf_counter()
    index = ensure_index(settings(data_dir, index_dir), force=True)
    seconds = time.perf_counter() - started
    return {"chunks": len(index), "seconds": seconds, "chunks_per_s": len(index) / seconds}


def raw_faiss(data_dir: str, index_dir: str, query: str) -> dict:
    """Single-query FAISS searches (k=5, each side) on the loaded index: the floor under
    /api/search."""
    from app.index import ensure_index

    index = ensure_index(settings(data_dir, index_dir))
    vectors = {side: e.embed([query]) for side, e in index.embedders.items()}
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 5:
        for side, vector in vectors.items():
            index.store.vectors[side].search(vector, 5)
        count += 1
    return {"ms": (time.perf_counter() - started) / count * 1000}


def read_index(index_dir: str) -> dict:
    """The vectors of the index (each side): their bytes as float32 (what FAISS stores flat)."""
    from pathlib import Path

    import faiss

    sides = [faiss.read_index(str(path)) for path in sorted(Path(index_dir).glob("*.faiss"))]
    kind = " + ".join(type(vectors).__name__ for vectors in sides)
    return {"type": kind, "vector_bytes": sum(v.ntotal * v.d * 4 for v in sides)}


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    print(json.dumps(globals()[mode](*args)))

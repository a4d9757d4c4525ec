"""Run by the Postgres render's Python (PYTHONPATH = the project, its DATABASE_URL and schema in
the environment): recall@10 of pgvector's HNSW against an exact scan, per side and ef_search,
for the queries in the JSON file given; prints one JSON line."""

from __future__ import annotations

import json
import statistics
import sys
import time

import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

EF_SEARCH = (40, 100, 200, 400)


def nearest(connection, table, vectors) -> tuple[list[list[int]], float]:
    query = sql.SQL("SELECT id FROM {} ORDER BY embedding <=> %s LIMIT 10").format(table)
    found, timings = [], []
    for vector in vectors:
        started = time.perf_counter()
        # Not prepared: a cached plan would keep the enable_indexscan of its first runs.
        rows = connection.execute(query, [vector], prepare=False).fetchall()
        found.append([i for (i,) in rows])
        timings.append((time.perf_counter() - started) * 1000)
    return found, statistics.median(timings)


def main(path: str) -> dict:
    from app.index import ensure_index
    from app.settings import Settings

    settings = Settings(_env_file=None)
    index = ensure_index(settings)
    with open(path) as file:
        queries = json.load(file)
    sides = {}
    with psycopg.connect(settings.database_url.get_secret_value(), autocommit=True) as connection:
        register_vector(connection)
        for side, embedder in index.embedders.items():
            table = sql.Identifier(settings.database_schema, side)
            vectors = [v[0] for v in (embedder.embed([q]) for q in queries) if v.any()]
            connection.execute("SET enable_indexscan = off")  # a sequential scan: exact
            exact, exact_ms = nearest(connection, table, vectors)
            connection.execute("SET enable_indexscan = on")
            sides[side] = {"exact_ms": exact_ms}
            for ef in EF_SEARCH:
                connection.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(ef)])
                found, ms = nearest(connection, table, vectors)
                hits = [
                    len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True) if e
                ]
                sides[side][ef] = {"recall": statistics.mean(hits), "ms": ms}
        size = connection.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            [settings.database_schema],
        ).fetchone()[0]
    # Both sides at each ef_search: the lower recall, the sum of the times (a hybrid search
    # asks both).
    combined = {
        ef: {
            "recall": round(min(s[ef]["recall"] for s in sides.values()), 4),
            "ms": round(sum(s[ef]["ms"] for s in sides.values()), 2),
        }
        for ef in EF_SEARCH
    }
    return {
        "setting": settings.hnsw_ef_search,
        "ef_search": combined,
        "sides": sides,
        "database_mib": round(int(size) / 2**20, 1),  # tables, their indexes and TOAST
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), default=str))

"""A study for issue 25, not part of `make bench`: lexical (hashing) against dense rankings and
ways of fusing them (the app's hybrid search is "gated 0.25 0.2/0.8"), on the recall queries of
bench/retrieval.py (the copied-sentence sets and the paraphrase questions), through a rendered
project's own ensure_index and search.

    PYTHONPATH= python bench/dense/fusion_study.py PROJECT MODEL EMBEDDER [--dump F]

PROJECT is a rendered project (use_faiss); MODEL a local model folder for EMBEDDER (model2vec or
sentence-transformers), run with an interpreter that has the project's requirements and that
embedder. Prints recall@5 and MRR@10 per query kind for each method.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent


def key(hit: list) -> tuple:
    return hit[0], hit[1]


def scored(pairs) -> list[tuple]:
    total: dict[tuple, float] = {}
    for item, score in pairs:
        total[item] = total.get(item, 0.0) + score
    return sorted(total, key=lambda item: -total[item])


def rrf(lexical, dense, k=60, lexical_weight=1.0):
    return scored(
        [(key(h), lexical_weight / (k + r)) for r, h in enumerate(lexical, 1)]
        + [(key(h), 1 / (k + r)) for r, h in enumerate(dense, 1)]
    )


def convex(lexical, dense, dense_weight):
    """Scores over each side's best (so both top at 1), weighted."""
    top_l = max((h[2] for h in lexical), default=1) or 1
    top_d = max((h[2] for h in dense), default=1) or 1
    return scored(
        [(key(h), (1 - dense_weight) * h[2] / top_l) for h in lexical]
        + [(key(h), dense_weight * h[2] / top_d) for h in dense]
    )


def gated(lexical, dense, threshold, low, high):
    """Dense weight `low` when the best lexical score reaches `threshold` (the query shares
    rare words with a passage), else `high`."""
    best = lexical[0][2] if lexical else 0.0
    return convex(lexical, dense, low if best >= threshold else high)


def lexical_first(lexical, dense, threshold, count=2):
    """The dense ranking, with lexical's best `count` hits put first when they score at least
    `threshold`."""
    strong = [key(h) for h in lexical[:count] if h[2] >= threshold]
    return strong + [key(h) for h in dense if key(h) not in strong]


METHODS = {
    "lexical": lambda lexical, dense: [key(h) for h in lexical],
    "dense": lambda lexical, dense: [key(h) for h in dense],
    "rrf k=60": rrf,
    "rrf k=10, lexical 0.5": lambda lexical, dense: rrf(lexical, dense, 10, 0.5),
    **{f"convex dense {w}": partial(convex, dense_weight=w) for w in (0.3, 0.5, 0.7, 0.8)},
    **{
        f"gated {t} {lo}/{hi}": partial(gated, threshold=t, low=lo, high=hi)
        for t in (0.25, 0.3, 0.35)
        for lo, hi in ((0.2, 0.8), (0.2, 1.0))
    },
    **{f"lexical top 2 first >= {t}": partial(lexical_first, threshold=t) for t in (0.2, 0.25)},
}


def rankings(project: Path, model: str, embedder: str) -> list[dict]:
    sys.path[:0] = [str(project), str(HERE.parent)]
    import retrieval
    from app.index import ensure_index
    from app.settings import Settings

    work = Path("build/bench/fusion").resolve()
    data = retrieval.topic_corpus(work / "data")

    def index(name: str, **values):
        started = time.perf_counter()
        settings = Settings(_env_file=None, data_dir=data, index_dir=work / name, **values)
        built = ensure_index(settings, force=True)
        print(f"{name}: {len(built)} chunks in {time.perf_counter() - started:.1f} s")
        return built

    lexical = index("lexical", retrieval="lexical")
    dense = index("dense", retrieval="semantic", embedder=embedder, embedding_model=model)
    out, latency = [], {"lexical": [], "dense": []}
    for query in retrieval.recall_queries():
        found = {}
        for name, searched in (("lexical", lexical), ("dense", dense)):
            started = time.perf_counter()
            hits = searched.search(query["text"], 50)
            latency[name].append(time.perf_counter() - started)
            found[name] = [[h["source"], h["position"], h["score"]] for h in hits]
        out.append({**query, **found})
    print({k: f"{statistics.median(v) * 1000:.2f} ms" for k, v in latency.items()}, "(k=50)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("model")
    parser.add_argument("embedder", choices=["model2vec", "sentence-transformers"])
    parser.add_argument("--dump", type=Path, help="read the rankings here if it exists, else write")
    args = parser.parse_args()
    if args.dump and args.dump.exists():
        queries = json.loads(args.dump.read_text())
    else:
        queries = rankings(args.project.resolve(), args.model, args.embedder)
        if args.dump:
            args.dump.write_text(json.dumps(queries))
    kinds = sorted({q["kind"] for q in queries})
    print("method".ljust(24) + "".join(f"{kind:>22}" for kind in kinds))
    print(" " * 24 + "".join(f"{'R@5  MRR@10':>22}" for _ in kinds))
    for name, fuse in METHODS.items():
        figures = {kind: [0, 0.0, 0] for kind in kinds}
        for query in queries:
            ranked = [source for source, _ in fuse(query["lexical"], query["dense"])][:10]
            rank = next((n for n, s in enumerate(ranked, 1) if s in query["sources"]), None)
            figure = figures[query["kind"]]
            figure[2] += 1
            if rank:
                figure[0] += rank <= 5
                figure[1] += 1 / rank
        cells = (f"{f[0] / f[2]:.3f}  {f[1] / f[2]:.3f}".rjust(22) for f in figures.values())
        print(name.ljust(24) + "".join(cells))


if __name__ == "__main__":
    main()

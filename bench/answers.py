"""The answer step: what the Space adds between a visitor and the chat model.

A render with answers on, against `transformers serve` of the tests' tiny model
(tests/tiny_model.py) on loopback. The same question is answered through the Space
(POST /api/answer) and by the same server called directly with the same messages (the prompt
the Space sends, made by the rendered app's own `answers.prompt`), with the same HTTP client
and the same max_tokens, in interleaved rounds. Time to the first byte of the answer's text and
the rate of its tokens, each the median of BENCH_RUNS rounds.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from common import CACHE, ROOT, RUNS, free_port, model_env, render, row, run, server, venv_for

sys.path.insert(0, str(ROOT / "tests"))
from model_server import TINY_MODEL, ChatServer  # noqa: E402

TORCH = "torch==2.13.0+cpu"  # the CPU wheel pip finds here (Python 3.11)
SERVING = "transformers[serving]==5.24.0"
TOKENS = 256
QUESTION = "How is the index kept current when the documents change?"


def torch_venv() -> Path | None:
    """A Python 3.11 venv with torch and transformers' server, or None where there is none."""
    where = CACHE / "venv-torch"
    python = where / "bin" / "python"
    if (where / "made").exists():
        return python
    found = None
    if shutil.which("pyenv"):  # pyenv's 3.11 first: a shim named python3.11 may not work
        prefix = subprocess.run(["pyenv", "prefix", "3.11"], capture_output=True, text=True)
        found = prefix.stdout.strip() + "/bin/python" if prefix.returncode == 0 else None
    found = found or shutil.which("python3.11")
    if not found:
        return None
    shutil.rmtree(where, ignore_errors=True)
    run([found, "-m", "venv", where])
    try:
        run([python, "-m", "pip", "install", "--quiet", "--no-compile", TORCH, SERVING])
    except subprocess.CalledProcessError:
        return None
    (where / "made").touch()
    return python


def stream(url: str, body: dict, first_text) -> tuple[float, float, int]:
    """POST `body` and read the SSE stream: (seconds to the first text, seconds from the first
    text to the last, text pieces); `first_text(line)` says if a data line carries text."""
    started = time.perf_counter()
    first = last = None
    pieces = 0
    with httpx.stream("POST", url, json=body, timeout=120) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: ") and first_text(json.loads(line[6:])):
                last = time.perf_counter()
                first = first or last
                pieces += 1
    return first - started, last - first, pieces


def direct_text(data: dict) -> bool:
    return any(choice["delta"].get("content") for choice in data.get("choices", []))


def space_text(data: dict) -> bool:
    return "text" in data


def space_prompt(python: Path, project: Path, base: str) -> list[dict]:
    """The messages the Space sends for QUESTION: its passages, through its own prompt()."""
    with httpx.stream("POST", base + "/api/answer", json={"question": QUESTION}) as response:
        line = next(line for line in response.iter_lines() if line.startswith("data: "))
    passages = json.loads(line[6:])["passages"]
    code = (
        "import json, sys; from app.answers import prompt; "
        "print(json.dumps(prompt(sys.argv[1], json.loads(sys.argv[2]))))"
    )
    out = run([python, "-c", code, QUESTION, json.dumps(passages)], cwd=project).stdout
    return json.loads(out)


def measure() -> list[dict]:
    torch = torch_venv()
    if torch is None:
        print("answers: no Python 3.11 with torch's CPU wheel here: skipped", file=sys.stderr)
        return []
    model = CACHE / "tiny-llama"
    if not (model / "config.json").exists():
        run([torch, TINY_MODEL, model])
    project = render(CACHE / "answers", answers="true")
    python = venv_for(project, "venv-answers")
    chat = ChatServer(python=torch, model=model, port=free_port(), cpu=0)
    chat.start()
    env = {
        "HF_TOKEN": "hf_bench",
        "CHAT_BASE_URL": chat.base_url,
        "CHAT_MODEL": str(model),
        "ANSWER_MAX_TOKENS": str(TOKENS),
        "LOG_LEVEL": "warning",
        **model_env(),
    }
    port = free_port()
    try:
        with server([python, "start_with_index.py"], project, env, port) as _:
            base = f"http://127.0.0.1:{port}"
            messages = space_prompt(python, project, base)
            direct_body = {
                "model": str(model),
                "messages": messages,
                "max_tokens": TOKENS,
                "stream": True,
            }
            ways = {
                "space": (base + "/api/answer", {"question": QUESTION}, space_text),
                "direct": (chat.base_url + "/chat/completions", direct_body, direct_text),
            }
            seen = {name: [] for name in ways}
            for round_ in range(RUNS + 1):  # the first round warms up
                for name, way in ways.items():
                    figures = stream(*way)
                    if round_:
                        seen[name].append(figures)
    finally:
        chat.stop()
    first = {name: statistics.median(f[0] for f in runs) * 1000 for name, runs in seen.items()}
    rate = {name: statistics.median(f[2] / f[1] for f in runs) for name, runs in seen.items()}
    pieces = {name: runs[0][2] for name, runs in seen.items()}
    note = f"tiny Llama, transformers serve, {TOKENS} tokens, pieces {pieces}"
    added = first["space"] - first["direct"]
    return [
        row(
            "answer: first byte of the answer's text (ms)",
            first["space"],
            "ms",
            "the model server called directly",
            first["direct"],
            "<= +50 ms",
            added <= 50,
            f"+{added:.1f} ms, search included; {note}",
        ),
        row(
            "answer: text pieces per second",
            rate["space"],
            "/s",
            "the model server called directly",
            rate["direct"],
            ">= 0.9x",
            rate["space"] >= 0.9 * rate["direct"],
            note,
        ),
    ]


if __name__ == "__main__":
    for figure in measure():
        print(figure)

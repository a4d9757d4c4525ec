"""Start-up to the first 200 on /api/health, against a bare FastAPI app started the same way."""

from __future__ import annotations

import os
from pathlib import Path

from common import CACHE, free_port, median, render, row, run, server, venv_for

BARE_APP = """\
import os

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/api/health")
def health():
    return {"status": "ok"}


uvicorn.run(app, host=os.environ["HOST"], port=int(os.environ["PORT"]), log_level="warning")
"""


def bare_app(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "bare.py").write_text(BARE_APP)
    return where / "bare.py"


def first_200(python: Path, script: str, cwd: Path, env: dict) -> float:
    with server([python, script], cwd, env, free_port()) as (_, seconds):
        return seconds


def default_space() -> tuple[Path, Path]:
    """The defaults rendered, their venv, and an index that is current."""
    project = render(CACHE / "default")
    python = venv_for(project, "venv-default")
    run([python, "start_with_index.py", "--build-only"], cwd=project, env={**os.environ})
    return project, python


def measure() -> list[dict]:
    project, python = default_space()
    bare = bare_app(CACHE / "bare")
    env = {"LOG_LEVEL": "warning"}
    ours = median(lambda: first_200(python, "start_with_index.py", project, env))
    reference = median(lambda: first_200(python, str(bare), bare.parent, env))
    return [
        row(
            "start-up to first 200, sample data, index current",
            ours,
            "s",
            "bare FastAPI app, same venv",
            reference,
            "<= 1.3x",
            ours <= 1.3 * reference,
        ),
    ]

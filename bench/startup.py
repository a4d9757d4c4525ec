"""Start-up to the first 200 on /api/health, against a bare FastAPI app started the same way."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from common import CACHE, free_port, medians, model_env, render, row, run, server, venv_for

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


def app_script(where: Path, name: str, source: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{name}.py").write_text(source)
    return where / f"{name}.py"


def bare_app(where: Path, name: str = "bare", prelude: str = "") -> Path:
    """The bare app, after `prelude`: code that runs before anything else."""
    return app_script(where, name, prelude + BARE_APP)


# The libraries the Space needs before it answers, used as it uses them and nothing else: numpy,
# a pydantic-settings model read from the environment, and a route with a typed parameter (for
# which FastAPI imports pydantic.v1 to refuse v1 models).
LIBRARIES_APP = """\
import os

import numpy  # noqa: F401
import uvicorn
from fastapi import FastAPI, Query
from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    host: str = "0.0.0.0"
    port: int = 7860


settings = Settings()
app = FastAPI()


@app.get("/api/health")
def health(detail: bool = Query(False)):
    return {"status": "ok"}


uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
"""


def first_200(python: Path, script: str, cwd: Path, env: dict) -> float:
    with server([python, script], cwd, env, free_port()) as (_, seconds):
        return seconds


def default_space() -> tuple[Path, Path]:
    """The defaults rendered (hybrid search, with the local model), their venv, and an index
    that is current."""
    project = render(CACHE / "default")
    python = venv_for(project, "venv-default")
    # Compiled as the Dockerfile does (PYTHONDONTWRITEBYTECODE: a start never caches them).
    run([python, "-m", "compileall", "-q", "app"], cwd=project)
    env = {**os.environ, **model_env()}
    run([python, "start_with_index.py", "--build-only"], cwd=project, env=env)
    return project, python


def measure() -> list[dict]:
    project, python = default_space()
    bare = bare_app(CACHE / "bare")
    env = {"LOG_LEVEL": "warning", **model_env()}

    def start(script: Path | str, cwd: Path):
        return partial(first_200, python, str(script), cwd, env)

    # In the same rounds: what the libraries the app cannot do without cost on their own.
    numpy_app = bare_app(CACHE / "bare", "bare-numpy", "import numpy  # noqa: F401\n")
    faiss_app = bare_app(CACHE / "bare", "bare-faiss", "import faiss  # noqa: F401\n")
    libraries = app_script(CACHE / "bare", "bare-libraries", LIBRARIES_APP)
    floors = {
        "import numpy": start(numpy_app, bare.parent),
        "import faiss": start(faiss_app, bare.parent),
        "numpy, a settings model, a typed route": start(libraries, bare.parent),
    }
    figures = medians(
        ours=start("start_with_index.py", project), reference=start(bare, bare.parent), **floors
    )
    ours, reference = figures.pop("ours"), figures.pop("reference")
    note = ", ".join(
        f"bare app + {what}: {seconds / reference:.2f}x" for what, seconds in figures.items()
    )
    return [
        row(
            "start-up to first 200, sample data, index current (hybrid)",
            ours,
            "s",
            "bare FastAPI app, same venv",
            reference,
            "<= 1.5x",
            ours <= 1.5 * reference,
            note,
        ),
    ]

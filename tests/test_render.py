"""Every combination of answers renders a complete repo: no Jinja left, every data file parses,
files present or absent as the answers say, one port and one Python version everywhere."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import MATRIX, front_matter, matrix_id

JINJA_LEFT = re.compile(r"(?<!\$)\{\{|\{%|%\}|(?<!\$)\{#")  # (not ${{ }} of GitHub, ${#x} of bash)
ALWAYS = [
    "README.md",
    "Dockerfile",
    ".dockerignore",
    ".hadolint.yaml",
    ".pre-commit-config.yaml",
    ".gitignore",
    ".gitattributes",
    ".env.example",
    ".copier-answers.yml",
    "requirements.txt",
    "requirements-dev.txt",
    "renovate.json",
    "pyproject.toml",
    "start_with_index.py",
    "app/__init__.py",
    "app/main.py",
    "app/settings.py",
    "app/api.py",
    "app/deps.py",
    "app/routes/health.py",
    "public/index.html",
    "tests/conftest.py",
]
FAISS_ONLY = [
    "app/index.py",
    "app/search_index.py",
    "app/routes/search.py",
    "app/embedding.py",
    "app/corpus.py",
    "app/mcp_server.py",
    "tests/test_mcp.py",
    "data",
]
# Where the index lives: each store's module and tests.
STORE_FILES = {
    "faiss": ["app/faiss_store.py", "tests/test_index.py", "tests/test_faults.py"],
    "postgres": ["app/postgres_store.py", "tests/test_postgres.py"],
}
ANSWERS_ONLY = [
    "app/answers.py",
    "app/system_prompt.txt",
    "app/routes/answers.py",
    "tests/test_answers.py",
]
WORKFLOWS = [
    ".github/workflows/ci.yml",
    ".github/workflows/sync-to-hub.yml",
    ".github/workflows/update-template.yml",
    ".github/update-template.sh",
]


def files(project: Path) -> list[Path]:
    return [p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts]


@pytest.fixture(params=MATRIX, ids=matrix_id)
def combo(request, render):
    return request.param, render(**request.param)


def test_no_jinja_is_left_in_any_file(combo):
    _, project = combo
    for path in files(project):
        text = path.read_text(encoding="utf-8")
        assert not JINJA_LEFT.search(text), f"unrendered Jinja in {path.relative_to(project)}"
        assert ".jinja" not in path.name


def test_every_data_file_parses(combo):
    _, project = combo
    for path in files(project):
        if path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(path.read_text())
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())


def test_files_are_present_or_absent_as_the_answers_say(combo):
    answers, project = combo
    for name in ALWAYS:
        assert (project / name).exists(), name
    for name in FAISS_ONLY:
        assert (project / name).exists() == answers["use_faiss"], name
    answer_step = answers["use_faiss"] and answers.get("answers", False)
    for name in ANSWERS_ONLY:
        assert (project / name).exists() == answer_step, name
    for name in WORKFLOWS:
        assert (project / name).exists() == answers["github_actions"], name
    if not answers["github_actions"]:
        assert not (project / ".github").exists()
    store = answers.get("index_store", "faiss") if answers["use_faiss"] else None
    for kind, names in STORE_FILES.items():
        for name in names:
            assert (project / name).exists() == (store == kind), name
    requirements = (project / "requirements.txt").read_text()
    assert ("faiss-cpu==" in requirements) == (store == "faiss")
    assert ("psycopg[binary]==" in requirements) == (store == "postgres")
    assert ("openai==" in requirements) == answer_step
    # The hashed lock: every set of requirements has one but torch's (PyTorch's own index).
    assert (project / "requirements.lock").exists() == ("torch==" not in requirements)
    if not answers["use_faiss"]:
        for path in project.rglob("*.py"):
            assert "faiss" not in path.read_text().lower(), path
    if answers["use_faiss"]:
        assert any((project / "data").iterdir()), "sample documents in data/"


def test_requirements_are_pinned(combo):
    _, project = combo
    for line in (project / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            assert re.match(r"^[A-Za-z0-9_.\[\]-]+==[0-9][^ ;]*( *;.*)?$", line), line


def test_the_python_version_is_the_same_everywhere(combo):
    answers, project = combo
    version = answers["python_version"]
    dockerfile = (project / "Dockerfile").read_text()
    assert f"ARG PYTHON_VERSION={version}\n" in dockerfile
    assert dockerfile.count("FROM python:${PYTHON_VERSION}-slim") == 2
    assert f"Python {version}" in (project / "README.md").read_text()
    ruff_target = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff_target["target-version"] == "py" + version.replace(".", "")
    if answers["github_actions"]:
        ci = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
        steps = ci["jobs"]["test"]["steps"]
        setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
        assert setup["with"]["python-version"] == version


def test_build_essential_only_in_the_builder_and_only_when_asked(combo):
    answers, project = combo
    dockerfile = (project / "Dockerfile").read_text()
    builder, runtime = dockerfile.split("FROM python:${PYTHON_VERSION}-slim-trixie\n")
    assert ("build-essential" in builder) == answers["build_essential"]
    assert "build-essential" not in runtime
    # The runtime stage installs packages only for Dev Mode, and never a compiler.
    assert ("apt-get" in runtime) == answers.get("dev_mode", False)
    assert not re.search(r"\b(gcc|g\+\+|make|build-essential)\b", runtime)


def test_github_expressions_survive_rendering(render):
    project = render(hf_username="")
    sync = (project / ".github/workflows/sync-to-hub.yml").read_text()
    assert "${{ secrets.HF_TOKEN }}" in sync
    assert "${{ vars.HF_USERNAME }}" in sync
    named = render(hf_username="someone")
    sync = (named / ".github/workflows/sync-to-hub.yml").read_text()
    assert "HF_USERNAME: someone" in sync
    steps = yaml.safe_load(sync)["jobs"]["sync"]["steps"]
    assert [s["env"]["HF_TOKEN"] for s in steps if "env" in s] == ["${{ secrets.HF_TOKEN }}"]


@pytest.mark.parametrize("port", ["1024", "8080", "65535"])
def test_one_port_answer_feeds_every_place(render, port):
    project = render(port=port)
    assert front_matter(project)["app_port"] == int(port)
    dockerfile = (project / "Dockerfile").read_text()
    assert f"ENV PORT={port}\n" in dockerfile
    assert "EXPOSE $PORT\n" in dockerfile
    assert f"PORT={port}" in (project / ".env.example").read_text()
    assert f"{port}" in (project / "app/settings.py").read_text()
    ci = (project / ".github/workflows/ci.yml").read_text()
    assert f"localhost:{port}/api/health" in ci


def test_the_readme_front_matter_describes_a_docker_space(render):
    project = render(
        project_name='Tom\'s "Search" Space',
        emoji="🚀",
        color_from="green",
        color_to="pink",
        license="mit",
        short_description="Search: it's #1 - really",
    )
    meta = front_matter(project)
    assert meta["sdk"] == "docker"
    assert meta["title"] == 'Tom\'s "Search" Space'
    assert meta["emoji"] == "🚀"
    assert (meta["colorFrom"], meta["colorTo"]) == ("green", "pink")
    assert meta["license"] == "mit"
    assert meta["short_description"] == "Search: it's #1 - really"
    assert isinstance(meta["app_port"], int)


def test_the_dockerfile_keeps_the_container_contract(render):
    dockerfile = (render() / "Dockerfile").read_text()
    # JSON form; `exec` makes the app PID 1 (it gets SIGTERM); eval lets CMD_EXEC use $PORT.
    assert 'CMD ["bash", "-c", "eval \\"exec $CMD_EXEC\\""]' in dockerfile
    assert "USER 1000\n" in dockerfile
    assert "useradd -m -u 1000 user" in dockerfile
    for setting in ("HOME=/home/user", "PYTHONUNBUFFERED=1", "HF_HOME=/home/user/.cache"):
        assert setting in dockerfile
    assert "PATH=/home/user/.local/bin:$PATH" in dockerfile
    # uv installs into the prefix the runtime copies, compiled as pip would have (no .pyc later).
    assert "uv pip install --prefix=/install --python=/usr/local/bin/python" in dockerfile
    assert "UV_COMPILE_BYTECODE=1" in dockerfile and "pip install --no-cache-dir" in dockerfile
    assert "COPY --from=builder /install /usr/local" in dockerfile
    assert 'ENV CMD_EXEC="python start_with_index.py"' in dockerfile


def test_the_answers_file_says_how_to_change_an_answer(render):
    text = (render() / ".copier-answers.yml").read_text()
    assert "do not edit this file by hand" in text
    assert "copier update" in text
    assert yaml.safe_load(text)["_commit"]


def test_a_start_command_keeps_its_variables_for_run_time(render):
    """Docker expands $VAR in ENV at build time; the rendered ENV escapes it for the shell."""
    command = "uvicorn app.main:app --host 0.0.0.0 --port $PORT"
    dockerfile = (render(start_command=command) / "Dockerfile").read_text()
    assert 'ENV CMD_EXEC="uvicorn app.main:app --host 0.0.0.0 --port \\$PORT"' in dockerfile

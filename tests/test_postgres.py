"""The Postgres render against a real PostgreSQL with pgvector (postgres_server.py): its own
tests, a server stopped and started while the app serves, a database without pgvector."""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import psycopg
import pytest
from conftest import DEFAULT_PYTHON, clean_env, free_port, make_venv, python_for, run, running_app
from postgres_server import PASSWORD, PostgresServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer(free_port())
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def postgres_project(render, tmp_path_factory):
    """The Postgres render (hybrid with model2vec, and the answer step) and its venv's python."""
    project = render(index_store="postgres", answers=True)
    python = python_for(DEFAULT_PYTHON)
    if python is None:
        pytest.skip(f"Python {DEFAULT_PYTHON} is not installed")
    where = tmp_path_factory.mktemp("venv-postgres")
    venv = make_venv(python, where, project / "requirements-dev.txt")
    return project, venv


def fresh_database(postgres: PostgresServer, name: str) -> str:
    with psycopg.connect(postgres.url(), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return postgres.url(name)


def test_the_postgres_renders_own_tests_pass_against_a_real_server(
    postgres_project, postgres, tmp_path
):
    project, python = postgres_project
    work = tmp_path / "project"
    shutil.copytree(project, work)
    env = clean_env(TEST_DATABASE_URL=fresh_database(postgres, "rendered_tests"))
    proc = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"], cwd=work, env=env)
    assert " passed" in proc.stdout and " failed" not in proc.stdout, proc.stdout
    assert "skipped" not in proc.stdout, proc.stdout  # every test ran against the server


def test_a_server_stopped_and_started_again_while_serving(postgres_project, postgres, tmp_path):
    project, python = postgres_project
    work = tmp_path / "project"
    shutil.copytree(project, work)
    url = fresh_database(postgres, "restarted")
    env = {"DATABASE_URL": url, "RETRIEVAL": "lexical"}
    run([python, "start_with_index.py", "--build-only"], cwd=work, env=clean_env(**env))
    with running_app(python, work, **env) as base:
        assert httpx.get(base + "/api/search", params={"q": "docker"}).status_code == 200
        postgres.stop()
        try:
            search = httpx.get(base + "/api/search", params={"q": "docker"}, timeout=30)
            assert search.status_code == 503
            assert "cannot be reached" in search.json()["detail"]
            assert search.headers["retry-after"] == "5"
            health = httpx.get(base + "/api/health", timeout=30)
            assert (health.status_code, health.json()["index"]) == (503, "unreachable")
            assert PASSWORD not in search.text + health.text
        finally:
            postgres.start()
        deadline = time.monotonic() + 30
        while httpx.get(base + "/api/health", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "no recovery within 30 s of the restart"
            time.sleep(0.5)
        found = httpx.get(base + "/api/search", params={"q": "docker", "k": 1}).json()
        assert "docker" in found["results"][0]["text"].lower()


def test_a_database_without_pgvector_is_one_line_that_says_what_to_do(
    postgres_project, postgres, tmp_path
):
    """A role that may not create the extension, in a database that does not have it."""
    project, python = postgres_project
    url = fresh_database(postgres, "novector")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP ROLE IF EXISTS reader")
        connection.execute("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'")
    env = clean_env(DATABASE_URL=postgres.url("novector", user="reader", password="reader-pw"))
    proc = run_failing([python, "start_with_index.py", "--build-only"], project, env)
    errors = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, proc.stderr
    assert "has no pgvector" in errors[0] and "CREATE EXTENSION vector" in errors[0]
    assert "reader-pw" not in proc.stderr and "Traceback" not in proc.stderr


def run_failing(command, cwd, env):
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    return proc

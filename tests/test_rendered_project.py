"""The rendered repo works unchanged: its own tests pass, its own pre-commit hooks pass with
nothing but PyPI, and `python start_with_index.py` serves the page and API over HTTP."""

from __future__ import annotations

import shutil

import httpx
import pytest
from conftest import TOOLS, clean_env, run, running_app

pytestmark = pytest.mark.slow

FAISS = pytest.mark.parametrize("use_faiss", [True, False], ids=["faiss", "nofaiss"])


@FAISS
def test_the_rendered_tests_pass(project_venvs, tmp_path, use_faiss):
    project, python = project_venvs(use_faiss)
    work = tmp_path / "project"
    shutil.copytree(project, work)
    proc = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=work, env=clean_env())
    assert " passed" in proc.stdout and " failed" not in proc.stdout, proc.stdout


@FAISS
def test_pre_commit_passes_in_the_rendered_repo(project_venvs, tmp_path, use_faiss):
    project, _ = project_venvs(use_faiss)
    work = tmp_path / "project"
    shutil.copytree(project, work)
    env = clean_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t")
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    run(["git", "init", "-q", "-b", "main"], cwd=work, env=env)
    run(["git", "add", "-A"], cwd=work, env=env)
    proc = run([TOOLS / "pre-commit", "run", "--all-files", "--color", "never"], cwd=work, env=env)
    for hook in ("hadolint", "ruff check", "no merge conflict markers"):
        assert hook in proc.stdout
    # Nothing was rewritten by a fixer: the rendered files were already clean.
    assert run(["git", "diff", "--name-only"], cwd=work, env=env).stdout == ""


@FAISS
def test_the_app_serves_page_and_api(project_venvs, tmp_path, use_faiss):
    project, python = project_venvs(use_faiss)
    work = tmp_path / "project"
    shutil.copytree(project, work)
    with running_app(python, work) as base:
        health = httpx.get(base + "/api/health").json()
        assert health["status"] == "ok"
        page = httpx.get(base + "/")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert "My Space" in page.text
        assert httpx.head(base + "/").status_code == 200
        assert httpx.get(base + "/docs").status_code == 200
        assert httpx.get(base + "/openapi.json").json()["info"]["title"] == "My Space"
        if use_faiss:
            assert health["chunks"] > 0
            found = httpx.get(base + "/api/search", params={"q": "docker", "k": 3}).json()
            assert 1 <= len(found["results"]) <= 3
            scores = [r["score"] for r in found["results"]]
            assert scores == sorted(scores, reverse=True)
            assert "docker" in found["results"][0]["text"].lower()
            bad = httpx.get(base + "/api/search", params={"q": "  ", "k": 3})
            assert bad.status_code == 422
            assert httpx.get(base + "/api/search", params={"q": "x", "k": 0}).status_code == 422
    if use_faiss:
        assert (work / "index" / "manifest.json").is_file()

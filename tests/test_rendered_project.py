"""The rendered repo works unchanged: its own tests pass, its own pre-commit hooks pass with
nothing but PyPI, and `python start_with_index.py` serves the page and API over HTTP."""

from __future__ import annotations

import shutil

import httpx
import pytest
from conftest import TOOLS, clean_env, free_port, run, running_app

pytestmark = pytest.mark.slow

# The default rendering with the index, the same with the answer step, and the one without.
VARIANTS = pytest.mark.parametrize(
    ("use_faiss", "answers"),
    [(True, False), (True, True), (False, False)],
    ids=["faiss", "faiss-answers", "nofaiss"],
)


def rendering(render, project_venvs, use_faiss: bool, answers: bool):
    """The rendered project and the python of its venv (the faiss venv has the answer step's
    requirements too: one more package is harmless to the rendering without it)."""
    _, python = project_venvs(use_faiss)
    return render(use_faiss=use_faiss, **({"answers": True} if answers else {})), python


@VARIANTS
def test_the_rendered_tests_pass(render, project_venvs, tmp_path, use_faiss, answers):
    project, python = rendering(render, project_venvs, use_faiss, answers)
    work = tmp_path / "project"
    shutil.copytree(project, work)
    proc = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=work, env=clean_env())
    assert " passed" in proc.stdout and " failed" not in proc.stdout, proc.stdout


@VARIANTS
def test_pre_commit_passes_in_the_rendered_repo(
    render, project_venvs, tmp_path, use_faiss, answers
):
    project, _ = rendering(render, project_venvs, use_faiss, answers)
    work = tmp_path / "project"
    shutil.copytree(project, work)
    env = clean_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t")
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    run(["git", "init", "-q", "-b", "main"], cwd=work, env=env)
    run(["git", "add", "-A"], cwd=work, env=env)
    proc = run([TOOLS / "pre-commit", "run", "--all-files", "--color", "never"], cwd=work, env=env)
    for hook in ("hadolint", "ruff check", "no merge conflict markers"):
        assert hook in proc.stdout
    assert "requirements.lock matches requirements.txt" in proc.stdout  # uv, against PyPI
    # Nothing was rewritten by a fixer: the rendered files were already clean.
    assert run(["git", "diff", "--name-only"], cwd=work, env=env).stdout == ""


@VARIANTS
def test_the_app_serves_page_and_api(render, project_venvs, tmp_path, use_faiss, answers):
    project, python = rendering(render, project_venvs, use_faiss, answers)
    work = tmp_path / "project"
    shutil.copytree(project, work)
    with running_app(python, work, HF_TOKEN="") as base:
        health = httpx.get(base + "/api/health").json()
        assert health["status"] == "ok"
        page = httpx.get(base + "/")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert "My Space" in page.text
        assert ('id="mode-ask"' in page.text) == answers  # the page's Ask mode
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
        if answers:  # no HF_TOKEN: answers are off, and say how to turn them on
            assert health["answers"] == "off"
            refused = httpx.post(base + "/api/answer", json={"question": "What is Docker?"})
            assert refused.status_code == 503
            assert "HF_TOKEN" in refused.json()["detail"]
        else:
            assert "answers" not in health
            assert httpx.post(base + "/api/answer", json={"question": "x"}).status_code == 405
    if use_faiss:
        assert (work / "index" / "manifest.json").is_file()


def test_the_answer_step_streams_its_passages_then_a_clear_error(render, project_venvs, tmp_path):
    """With a token but no model server listening: the passages, then an error event that
    names the base URL, over a real connection to the real entry point."""
    project, python = rendering(render, project_venvs, True, True)
    work = tmp_path / "project"
    shutil.copytree(project, work)
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    with running_app(python, work, HF_TOKEN="hf_test", CHAT_BASE_URL=nobody) as base:
        assert httpx.get(base + "/api/health").json()["answers"] == "ready"
        question = {"question": "How does Docker build an image?"}
        with httpx.stream("POST", base + "/api/answer", json=question, timeout=30) as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            body = answer.read().decode()
    names = [line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("event: ")]
    assert names == ["passages", "error"], body
    assert f"Could not connect to the model server at {nobody}" in body

"""The rendered repo is lint-clean: hadolint with its default rules on every Dockerfile, ruff
(check and format) on every Python file, and .hadolint.yaml ignores nothing without a reason."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import MATRIX, TOOLS, matrix_id, run


@pytest.fixture(params=MATRIX, ids=matrix_id)
def project(request, render):
    return render(**request.param)


def test_hadolint_default_rules_pass(project):
    # --config /dev/null: hadolint's own defaults, not the rendered settings.
    run([TOOLS / "hadolint", "--no-color", "--config", "/dev/null", project / "Dockerfile"])


def test_hadolint_with_the_rendered_settings_passes(project):
    run([TOOLS / "hadolint", "--no-color", "Dockerfile"], cwd=project)


def test_ruff_check_and_format_pass(project):
    run([TOOLS / "ruff", "check", "--no-cache", "."], cwd=project)
    run([TOOLS / "ruff", "format", "--no-cache", "--check", "."], cwd=project)


def test_hadolint_catches_what_it_should(render, tmp_path):
    """The lint is real: a seed-style Dockerfile (shell-form CMD, USER by name) fails."""
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y build-essential\n"
        'RUN useradd -m -u 1000 user\nUSER user\nCMD bash -c "$CMD_EXEC"\n'
    )
    proc = subprocess.run(
        [TOOLS / "hadolint", "--no-color", "--config", "/dev/null", bad],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    for rule in ("DL3008", "DL3015", "DL3009", "DL3025"):
        assert rule in proc.stdout


def test_hadolint_settings_ignore_nothing_without_a_reason(render):
    path = render() / ".hadolint.yaml"
    settings = yaml.safe_load(path.read_text())
    lines = path.read_text().splitlines()
    for rule in settings.get("ignored") or []:
        line = next(line for line in lines if rule in line)
        assert "#" in line and line.split("#", 1)[1].strip(), f"{rule} is ignored without a reason"
    assert settings["failure-threshold"] in {"info", "style"}

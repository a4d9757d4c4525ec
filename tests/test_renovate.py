"""renovate.json keeps every pin of the rendered repo updatable: each file that holds a pin is
matched by the Renovate manager that reads it, and each pin is in the form that manager
extracts. Renovate's patterns are JavaScript (RE2) regexes; these use only syntax that
Python's re reads the same way once (?<name>...) is spelled (?P<name>...)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import MATRIX, matrix_id

PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][^\s\"',;\]]*")


def js_regex(pattern: str) -> re.Pattern:
    if pattern.startswith("/") and pattern.endswith("/"):
        pattern = pattern[1:-1]
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", pattern))


def config(project: Path) -> dict:
    return json.loads((project / "renovate.json").read_text())


def matched(patterns: list[str], project: Path) -> set[str]:
    files = [p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()]
    return {f for f in files for pattern in patterns if js_regex(pattern).search(f)}


@pytest.fixture(params=MATRIX, ids=matrix_id)
def project(request, render) -> Path:
    return render(**request.param)


def test_each_manager_matches_exactly_the_files_with_its_pins(project):
    renovate = config(project)
    workflows = {p.relative_to(project).as_posix() for p in project.glob(".github/workflows/*")}
    expected = {
        "pip_requirements": {"requirements.txt", "requirements-dev.txt"},
        "pre-commit": {".pre-commit-config.yaml"},
        "dockerfile": {"Dockerfile"},
        "github-actions": workflows,
    }
    if (project / "requirements.lock").exists():
        # pip-compile updates requirements.txt, the lock's source, and the lock together; its
        # documentation asks that pip_requirements leave the source alone.
        expected["pip_requirements"] = {"requirements-dev.txt"}
        expected["pip-compile"] = {"requirements.lock"}
    assert ("pip-compile" in renovate) == ("pip-compile" in expected)
    for manager in expected:
        assert matched(renovate[manager]["managerFilePatterns"], project) == expected[manager]
    assert renovate["pre-commit"]["enabled"] is True, "Renovate leaves pre-commit off by default"


def test_every_hook_package_pin_is_one_renovates_pre_commit_manager_extracts(project):
    """Renovate's pre-commit manager reads additional_dependencies as PEP 508 requirements
    of hooks that say `language: python` (lib/modules/manager/pre-commit/extract.ts), in local
    repos too; so no regex manager reads this file (it would extract each pin twice)."""
    text = (project / ".pre-commit-config.yaml").read_text()
    hooks = [hook for repo in yaml.safe_load(text)["repos"] for hook in repo["hooks"]]
    deps = [dep for hook in hooks for dep in hook.get("additional_dependencies", [])]
    assert deps, "the hooks install pinned PyPI packages"
    for hook in hooks:
        if hook.get("additional_dependencies"):
            assert hook["language"] == "python", hook["id"]
    assert all(PIN.fullmatch(dep) for dep in deps), deps
    assert sorted(deps) == sorted(PIN.findall(text)), "every pin in the file is a hook's"
    for custom in config(project).get("customManagers", []):
        assert ".pre-commit-config.yaml" not in matched(custom["managerFilePatterns"], project)


# Renovate's pip-compile manager (lib/modules/manager/pip-compile/common.ts) reads the command
# back from the lock's header; it refuses an option it does not know for uv, and one that takes
# a value without "=".
UV_OPTIONS = {"--universal", "--generate-hashes", "--no-strip-extras", "--emit-index-url"}
UV_OPTIONS_WITH_VALUES = {"--python-version", "--output-file", "--extra", "--constraint"}


def test_the_locks_header_is_a_command_renovates_pip_compile_manager_reads(render):
    lock = (render() / "requirements.lock").read_text()
    command = lock.splitlines()[1].removeprefix("#    ").split()
    assert command[:3] == ["uv", "pip", "compile"]
    sources = [arg for arg in command[3:] if not arg.startswith("-")]
    options = dict(arg.partition("=")[::2] for arg in command[3:] if arg.startswith("-"))
    assert sources == ["requirements.txt"]
    assert options.pop("--output-file") == "requirements.lock"
    assert {o for o, v in options.items() if v} <= UV_OPTIONS_WITH_VALUES
    assert {o for o, v in options.items() if not v} <= UV_OPTIONS


def test_the_regex_manager_captures_every_pin_a_workflow_or_the_dockerfile_installs(render):
    project = render(github_actions=True)
    (custom,) = config(project)["customManagers"]
    assert custom["customType"] == "regex" and custom["datasourceTemplate"] == "pypi"
    files = matched(custom["managerFilePatterns"], project)
    assert files == {
        ".github/workflows/ci.yml",
        ".github/workflows/sync-to-hub.yml",
        ".github/workflows/update-template.yml",
        "Dockerfile",
    }
    for name in files:
        text = (project / name).read_text()
        captured = [
            f"{m['depName']}=={m['currentValue']}"
            for pattern in custom["matchStrings"]
            for m in js_regex(pattern).finditer(text)
        ]
        assert captured == PIN.findall(text), name
    sync = (project / ".github/workflows/sync-to-hub.yml").read_text()
    assert PIN.findall(sync) == ["huggingface_hub==2.4.0"]
    assert PIN.findall((project / "Dockerfile").read_text()) == ["uv==0.13.9"]


def test_the_dockerfile_base_is_one_renovate_resolves(render):
    """Renovate's dockerfile manager expands an ARG with a default in FROM."""
    dockerfile = (render() / "Dockerfile").read_text()
    version = re.search(r"^ARG PYTHON_VERSION=(\S+)$", dockerfile, re.M).group(1)
    assert re.fullmatch(r"3\.\d+", version)
    assert "FROM python:${PYTHON_VERSION}-slim-trixie AS builder" in dockerfile


VALIDATOR = os.environ.get("RENOVATE_CONFIG_VALIDATOR") or shutil.which("renovate-config-validator")


@pytest.mark.skipif(
    not VALIDATOR,
    reason="renovate-config-validator not found (.ci/run installs it; set "
    "RENOVATE_CONFIG_VALIDATOR to its path)",
)
@pytest.mark.parametrize("answers", [{}, {"embedder": "sentence-transformers"}])  # locked or not
def test_renovates_own_validator_accepts_the_config(render, answers):
    """--strict: an unknown or a deprecated option fails too. Run as npx runs a package's bin:
    its node_modules/.bin first on PATH, where .ci/run puts the Node.js it needs."""
    bin_dir = Path(VALIDATOR).parent
    proc = subprocess.run(
        [VALIDATOR, "--strict"],
        cwd=render(**answers),
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Config validated successfully" in proc.stdout

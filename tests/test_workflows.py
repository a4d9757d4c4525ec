"""The GitHub workflows, rendered and the template's own, pass the linters people run (zizmor,
the workflow JSON schema), pin every action by commit, and the sync job runs the hf command
lines it should, keeps the token off every command line and output, and only warns without it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE, TOOLS, front_matter, run

# Every answer that changes what the workflows say.
WORKFLOW_ANSWERS = [
    {},
    {"use_faiss": False},
    {"hf_username": "someone", "python_version": "3.10", "port": "8080"},
    {"space_slug": "My.Space_2", "python_version": "3.13", "build_essential": False},
    {"index_store": "postgres"},
]
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
TOKEN = "hf_not_a_real_token_5b1f"


def answer_id(answers: dict | None) -> str:
    if answers is None:
        return "template-own"
    return "-".join(f"{k}={v}" for k, v in answers.items()) or "defaults"


@pytest.fixture(params=[*WORKFLOW_ANSWERS, None], ids=answer_id)
def workflows(request, render) -> list[Path]:
    """The workflows of a rendering, or (None) the template's own."""
    root = TEMPLATE if request.param is None else render(github_actions=True, **request.param)
    return sorted((root / ".github/workflows").glob("*.yml"))


def test_zizmor_finds_nothing(workflows):
    proc = subprocess.run(
        [TOOLS / "zizmor", "--offline", "--no-progress", *workflows],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout, proc.stdout


def test_the_workflows_match_githubs_schema(workflows):
    run([TOOLS / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows])


def test_actions_are_pinned_by_commit_and_read_only(workflows):
    assert workflows
    for path in workflows:
        text = path.read_text()
        uses = [line.split("uses:", 1)[1].strip() for line in text.splitlines() if "uses:" in line]
        assert uses, path
        for ref in uses:
            assert PINNED_USES.match(ref), f"{path.name}: {ref} is not pinned by commit"
        workflow = yaml.safe_load(text)
        assert workflow["permissions"] in ({}, {"contents": "read"}), path.name
        allowed = [{}, {"contents": "read"}]
        if path.name == "update-template.yml":  # pushes its branch and opens a pull request
            allowed.append({"contents": "write", "pull-requests": "write"})
        for job in workflow["jobs"].values():
            assert job.get("permissions", {}) in allowed, path.name
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, path.name


# ---- The sync job's script, run here with bash ----------------------------------------------


def sync_job(project: Path, secret: str = "HF_TOKEN") -> tuple[dict, str]:
    """The sync job's environment (GitHub expressions left out) and the script of its step
    that uses `secret` (HF_TOKEN: the upload; DATABASE_URL: the index's build)."""
    job = yaml.safe_load((project / ".github/workflows/sync-to-hub.yml").read_text())
    job = job["jobs"]["sync"]
    env = {k: v for k, v in job["env"].items() if "${{" not in str(v)}
    (step,) = [s for s in job["steps"] if secret in s.get("env", {})]
    return env, step["run"]


def run_sync(
    project: Path, bin_dir: Path, secret: str = "HF_TOKEN", **env: str
) -> subprocess.CompletedProcess:
    """The script of the step that uses `secret`, as GitHub runs it (bash -eo pipefail), with
    `bin_dir` first on PATH."""
    job_env, script = sync_job(project, secret)
    full_env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(bin_dir),
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        **job_env,
        **env,
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def recorders(tmp_path: Path) -> Path:
    """`python` and `hf` that write their arguments, and whether HF_TOKEN is set, to calls.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "hf"):
        stub = bin_dir / name
        stub.write_text(
            "#!/bin/bash\n"
            f'printf "%s token=%s" {name} "${{HF_TOKEN:+set}}" >> "{tmp_path}/calls.log"\n'
            f'printf " [%s]" "$@" >> "{tmp_path}/calls.log"\n'
            f'echo >> "{tmp_path}/calls.log"\n'
        )
        stub.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("missing", ["HF_TOKEN", "HF_USERNAME"])
def test_without_the_token_or_user_the_sync_warns_and_succeeds(render, tmp_path, missing):
    project = render(hf_username="")
    env = {"HF_TOKEN": TOKEN, "HF_USERNAME": "someone"}
    env[missing] = ""
    proc = run_sync(project, recorders(tmp_path), **env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("::warning::Set the HF_TOKEN secret and HF_USERNAME")
    assert not (tmp_path / "calls.log").exists(), "nothing is installed or uploaded"


def test_the_sync_uploads_to_the_docker_space_with_the_token_only_in_the_environment(
    render, tmp_path
):
    project = render(hf_username="someone", space_slug="my-space")
    proc = run_sync(project, recorders(tmp_path), HF_TOKEN=TOKEN)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == [
        "python token=set [-m] [pip] [install] [--quiet] [huggingface_hub==2.4.0]",
        "hf token=set [repos] [create] [someone/my-space] [--type] [space] [--space-sdk]"
        " [docker] [--exist-ok]",
        "hf token=set [upload] [someone/my-space] [.] [.] [--type] [space] [--exclude]"
        " [.github/*] [--delete] [*] [--commit-message] [Sync from GitHub 0123456]",
    ]
    assert TOKEN not in proc.stdout + proc.stderr


def test_a_postgres_sync_builds_the_index_first_or_warns_without_the_secret(render, tmp_path):
    project = render(hf_username="someone", index_store="postgres")
    steps = yaml.safe_load((project / ".github/workflows/sync-to-hub.yml").read_text())
    names = [step.get("name") for step in steps["jobs"]["sync"]["steps"]]
    assert names.index("Build the index in the database") < names.index("Upload main to the Space")
    bin_dir = recorders(tmp_path)
    proc = run_sync(project, bin_dir, "DATABASE_URL", DATABASE_URL="")
    assert proc.returncode == 0 and proc.stdout.startswith("::warning::Set the DATABASE_URL")
    assert not (tmp_path / "calls.log").exists()
    url = "postgresql://u:pw@db.example.org/x"
    proc = run_sync(project, bin_dir, "DATABASE_URL", DATABASE_URL=url)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "calls.log").read_text().splitlines() == [
        "python token= [-m] [pip] [install] [--quiet] [-r] [requirements.txt]",
        "python token= [start_with_index.py] [--build-only]",
    ]
    default = (render(hf_username="someone") / ".github/workflows/sync-to-hub.yml").read_text()
    assert "DATABASE_URL" not in default  # a FAISS Space needs no database secret


def test_the_pinned_hf_cli_accepts_the_sync_command_lines(render, tmp_path):
    """The real hf of the version the workflow installs parses every argument; it then fails
    only where it reaches for the network (a closed local port), never printing the token."""
    project = render(hf_username="someone")
    workflow = (project / ".github/workflows/sync-to-hub.yml").read_text()
    pinned = re.search(r"huggingface_hub==(\S+)", workflow).group(1)
    assert run([TOOLS / "hf", "version"]).stdout.split()[-1] == pinned

    bin_dir = recorders(tmp_path)
    run_sync(project, bin_dir, HF_TOKEN=TOKEN)
    hf_calls = [c for c in (tmp_path / "calls.log").read_text().splitlines() if c[:2] == "hf"]
    assert len(hf_calls) == 2
    for call in hf_calls:
        args = re.findall(r"\[(.*?)\]", call)
        proc = subprocess.run(
            [TOOLS / "hf", *args],
            cwd=project,
            env={**os.environ, "HF_TOKEN": TOKEN, "HF_ENDPOINT": "http://127.0.0.1:9"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr  # 2 is a usage error
        assert "Connection refused" in proc.stderr, proc.stderr
        assert TOKEN not in proc.stdout + proc.stderr


# ---- The template's own retrieval jobs, where the Hub answers -------------------------------


def test_the_potion_recall_jobs_measure_the_default_model_and_summarise_its_tables(
    render, tmp_path
):
    """The matrix holds the model a default render preloads; the step runs the retrieval bench
    with it (make's dry run shows the Hub id reaching bench/retrieval.py, and no distillation)
    and puts its tables, fenced, in the job's summary; a failed bench fails the step."""
    workflow = yaml.safe_load((TEMPLATE / ".github/workflows/template-ci.yml").read_text())
    job = workflow["jobs"]["potion-recall"]
    model = front_matter(render())["preload_from_hub"][0].split()[0]
    assert model in job["strategy"]["matrix"]["model"]
    (step,) = [s for s in job["steps"] if "run" in s]
    assert step["env"]["MODEL"] == "${{ matrix.model }}"

    dry = run(["make", "-n", "-C", TEMPLATE, "bench-retrieval", f"MODEL={model}", "SIZES=10"])
    assert f"--model {model} --sizes 10" in dry.stdout
    assert "make_model.py" not in dry.stdout

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    summary = tmp_path / "summary.md"
    for status in (0, 1):
        make.write_text(
            "#!/bin/bash\n"
            f'echo "$*" > "{tmp_path}/args"\n'
            "echo 'copier copy --quiet ...'\n"
            "echo 'Retrieval benchmark (2 CPUs, Python 3.11.9)'\n"
            "echo '  chunks  search'\n"
            f"exit {status}\n"
        )
        make.chmod(0o755)
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=tmp_path,
            env={
                **os.environ,
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "MODEL": model,
                "GITHUB_STEP_SUMMARY": str(summary),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (tmp_path / "args").read_text().split() == [
            "bench-retrieval", f"MODEL={model}", "SIZES=1000,10000"
        ]  # fmt: skip
        if status:
            assert proc.returncode != 0
        else:
            assert proc.returncode == 0, proc.stderr
            assert summary.read_text() == (
                "```\nRetrieval benchmark (2 CPUs, Python 3.11.9)\n  chunks  search\n```\n"
            )

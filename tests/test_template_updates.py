"""The template-update workflow: its script, run here with bash as the job runs it, updates a
Space made from a throwaway release v1.0.0 of this template (a clone of this checkout's
committed HEAD) when v1.1.0 comes out. Copier, git and the push are real (to a local bare repo
as origin); only `gh` is a stub, since GitHub is out of reach: it records its arguments.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE, TOOLS, git, run

pytestmark = pytest.mark.usefixtures("git_identity")

SCRIPT = ".github/update-template.sh"
BRANCH = "template-update/v1.1.0"
LINE = "# exec makes the app PID 1, so it receives SIGTERM when the Space stops."
NEW_LINE = "# exec makes the app process 1, so SIGTERM reaches it when the Space stops."
GH_STUB = """#!{python}
import json, sys
from pathlib import Path

here = Path(__file__).parent
with (here / "gh-calls.jsonl").open("a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["pr", "list"] and (here / "pr-list.out").exists():
    print((here / "pr-list.out").read_text(), end="")
"""


class Space:
    """A template clone released as v1.0.0, and a Space rendered from that tag, pushed to a
    bare origin and checked out shallow, as actions/checkout leaves it."""

    def __init__(self, root: Path) -> None:
        self.template = root / "template"
        self.origin = root / "origin.git"
        self.work = root / "work"
        self.bin = root / "bin"
        # Without this repository's own tags: the test makes the releases.
        git(root, "clone", "-q", "--no-tags", str(TEMPLATE), str(self.template))
        git(self.template, "tag", "v1.0.0")
        rendered = root / "rendered"
        run([TOOLS / "copier", "copy", "-q", "--defaults", "--vcs-ref", "v1.0.0",
             "-d", "github_actions=true", self.template, rendered])  # fmt: skip
        git(rendered, "init", "-q", "-b", "main")
        git(rendered, "add", "-A")
        git(rendered, "commit", "-q", "-m", "Render the template")
        git(root, "clone", "-q", "--bare", str(rendered), str(self.origin))
        git(root, "clone", "-q", "--depth", "1", f"file://{self.origin}", str(self.work))
        self.bin.mkdir()
        gh = self.bin / "gh"
        gh.write_text(GH_STUB.format(python=sys.executable))
        gh.chmod(0o755)

    def edit(self, repo: Path, name: str, old: str, new: str) -> None:
        path = repo / name
        assert old in path.read_text(), f"{old!r} not in {name}"
        path.write_text(path.read_text().replace(old, new, 1))
        git(repo, "commit", "-q", "-am", f"Edit {name}")

    def user_edit(self, name: str, old: str, new: str) -> None:
        self.edit(self.work, name, old, new)
        git(self.work, "push", "-q", "origin", "main")

    def release(self, tag: str | None = "v1.1.0") -> None:
        """A template commit that changes a rendered line; a release when it gets a tag."""
        self.edit(self.template, "template/Dockerfile.jinja", LINE, NEW_LINE)
        if tag:
            git(self.template, "tag", tag)

    def update(self) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(self.bin), str(TOOLS), os.environ["PATH"]]),
        }
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", SCRIPT],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def gh_calls(self) -> list[list[str]]:
        log = self.bin / "gh-calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def pr_create(self) -> dict:
        """The `gh pr create` call, as {"--title": ..., "--body": ..., "--draft": True, ...}."""
        (call,) = [c for c in self.gh_calls() if c[:2] == ["pr", "create"]]
        args, parsed = call[2:], {}
        while args:
            flag = args.pop(0)
            parsed[flag] = args.pop(0) if flag != "--draft" else True
        return parsed

    def branches(self) -> list[str]:
        return git(self.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()

    def show(self, name: str, ref: str = BRANCH) -> str:
        return git(self.origin, "show", f"{ref}:{name}")


@pytest.fixture
def space(tmp_path) -> Space:
    return Space(tmp_path)


def test_a_newer_release_becomes_a_branch_and_a_pull_request(space):
    space.user_edit("README.md", "## Run it locally", "## Our notes\n\nOurs.\n\n## Run it locally")
    space.release("v1.1.0")
    space.update()

    assert space.branches() == ["main", BRANCH]
    assert yaml.safe_load(space.show(".copier-answers.yml"))["_commit"] == "v1.1.0"
    assert NEW_LINE in space.show("Dockerfile") and LINE not in space.show("Dockerfile")
    assert "## Our notes\n\nOurs." in space.show("README.md"), "the user's edit is kept"
    assert yaml.safe_load(space.show(".copier-answers.yml", "main"))["_commit"] == "v1.0.0"

    assert space.gh_calls()[0] == ["pr", "list", "--head", BRANCH, "--state", "all",
                                   "--json", "url", "--jq", ".[].url"]  # fmt: skip
    pr = space.pr_create()
    assert pr["--head"] == BRANCH and "--draft" not in pr
    assert pr["--title"] == "Update the template to v1.1.0"
    assert pr["--body"].startswith(f"`copier update` from v1.0.0 to v1.1.0 of {space.template}.")


def test_a_current_project_gets_no_branch_and_no_pull_request(space):
    space.release(tag=None)  # a template commit, not a release
    proc = space.update()

    assert "Already on the newest template release, v1.0.0." in proc.stdout
    assert space.gh_calls() == []
    assert space.branches() == ["main"]
    assert git(space.work, "status", "--porcelain") == ""


def test_a_conflict_opens_a_draft_that_names_the_conflicted_files(space):
    space.user_edit("Dockerfile", LINE, "# Our own comment.")
    space.release("v1.1.0")
    space.update()

    dockerfile = space.show("Dockerfile")
    assert "<<<<<<< before updating\n# Our own comment.\n=======\n" in dockerfile
    assert NEW_LINE in dockerfile
    pr = space.pr_create()
    assert pr["--draft"] is True
    assert pr["--title"] == "Update the template to v1.1.0: conflicts in 1 file(s)"
    assert "\n- `Dockerfile`\n" in pr["--body"]
    assert "mark this pull request ready" in pr["--body"]


def test_a_release_proposed_already_is_not_proposed_again(space):
    (space.bin / "pr-list.out").write_text("https://github.com/someone/my-space/pull/7\n")
    space.release("v1.1.0")
    proc = space.update()

    assert "exists already: https://github.com/someone/my-space/pull/7" in proc.stdout
    assert [call[:2] for call in space.gh_calls()] == [["pr", "list"]]
    assert space.branches() == ["main"]


def test_the_workflow_runs_the_script_weekly_with_the_template_tests_copier(render):
    project = render(github_actions=True)
    workflow = yaml.safe_load((project / ".github/workflows/update-template.yml").read_text())
    assert set(workflow[True]) == {"schedule", "workflow_dispatch"}  # YAML 1.1 reads on: as True
    job = workflow["jobs"]["update"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    script = job["steps"][-1]["run"]
    assert script.endswith(f"bash {SCRIPT}\n")
    pinned = re.search(r"copier==\S+", (TEMPLATE / "requirements-dev.txt").read_text()).group()
    assert f"pip install --quiet {pinned}\n" in script
    assert (project / SCRIPT).exists()
    assert not (render(github_actions=False) / ".github").exists()

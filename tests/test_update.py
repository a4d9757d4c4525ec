"""`copier update` keeps a user's Space current without losing their work.

Each test works in a throwaway git repo made from this checkout's template (copier.yml,
template/, hooks/, locks/) with throwaway tags; the real repository's tags are never touched.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import copier
import pytest
import yaml
from conftest import TEMPLATE, TOOLS, git

pytestmark = pytest.mark.usefixtures("git_identity")


class TemplateRepo:
    """A throwaway copy of this template with releases made by the test."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        shutil.copy2(TEMPLATE / "copier.yml", path)
        for folder in ("template", "hooks", "locks"):
            shutil.copytree(
                TEMPLATE / folder, path / folder, ignore=shutil.ignore_patterns("__pycache__")
            )
        git(path, "init", "-q", "-b", "main")
        self.release("v1.0.0")

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.path / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))

    def release(self, tag: str) -> None:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", f"release {tag}")
        git(self.path, "tag", tag)


@pytest.fixture
def template_repo(tmp_path) -> TemplateRepo:
    return TemplateRepo(tmp_path / "template-repo")


def render(repo: TemplateRepo, dst: Path, ref: str = "v1.0.0", **answers) -> Path:
    copier.run_copy(str(repo.path), dst, data=answers, defaults=True, vcs_ref=ref, quiet=True)
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "commit", "-q", "-m", "Render the template")
    return dst


def update(project: Path, **kwargs) -> None:
    kwargs.setdefault("defaults", True)
    kwargs.setdefault("overwrite", True)
    kwargs.setdefault("quiet", True)
    copier.run_update(project, **kwargs)


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def edit_as_a_user(project: Path) -> None:
    routes = project / "app/routes/health.py"
    routes.write_text(
        routes.read_text()
        + '\n\n@router.get("/ping")\ndef ping() -> dict:\n    return {"pong": True}\n'
    )
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our notes\n\nWritten by the user.\n")
    (project / "data/our-handbook.md").write_text("# Handbook\n\nOur own document.\n")
    requirements = project / "requirements.txt"
    requirements.write_text(requirements.read_text() + "rich==14.0.0\n")
    commit_all(project, "User edits")


def test_user_edits_survive_and_template_changes_arrive(template_repo, tmp_path):
    project = render(template_repo, tmp_path / "space")
    edit_as_a_user(project)

    template_repo.edit(
        "template/Dockerfile.jinja", "# -------- Stage 2: runtime --------", "# -- runtime --"
    )
    (template_repo.path / "template/SECURITY.md").write_text("Report issues privately.\n")
    template_repo.release("v1.1.0")
    update(project)

    assert '@router.get("/ping")' in (project / "app/routes/health.py").read_text()
    assert "Written by the user." in (project / "README.md").read_text()
    assert (project / "data/our-handbook.md").read_text().startswith("# Handbook")
    assert "rich==14.0.0" in (project / "requirements.txt").read_text()
    assert "# -- runtime --" in (project / "Dockerfile").read_text()
    assert (project / "SECURITY.md").read_text() == "Report issues privately.\n"
    assert answers(project)["_commit"] == "v1.1.0"
    assert "<<<<<<<" not in "".join(p.read_text() for p in project.rglob("*.py"))


def conflicting_release(template_repo: TemplateRepo, project: Path) -> None:
    """The user and the next release change the same Dockerfile line differently."""
    line = "# exec makes the app PID 1, so it receives SIGTERM when the Space stops."
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(line, "# Our own comment."))
    commit_all(project, "User comment")
    template_repo.edit("template/Dockerfile.jinja", line, "# The template's new comment.")
    template_repo.release("v1.1.0")


def test_a_conflict_is_marked_and_the_rendered_pre_commit_refuses_it(template_repo, tmp_path):
    project = render(template_repo, tmp_path / "space")
    conflicting_release(template_repo, project)
    update(project, conflict="inline")

    dockerfile = (project / "Dockerfile").read_text()
    assert "<<<<<<< before updating" in dockerfile
    assert "# Our own comment." in dockerfile and "# The template's new comment." in dockerfile
    hook = subprocess.run(
        [TOOLS / "pre-commit", "run", "check-merge-conflict", "--all-files", "--color", "never"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert hook.returncode == 1, hook.stdout + hook.stderr
    assert "Merge conflict string" in hook.stdout and "Dockerfile" in hook.stdout


def test_a_conflict_can_be_left_as_a_rej_file(template_repo, tmp_path):
    project = render(template_repo, tmp_path / "space")
    conflicting_release(template_repo, project)
    update(project, conflict="rej")

    assert "# The template's new comment." in (project / "Dockerfile").read_text()
    rejected = (project / "Dockerfile.rej").read_text()
    assert "# Our own comment." in rejected


CHANGED_ANSWERS = [
    ({"use_faiss": False}, {"use_faiss": True}),
    ({"use_faiss": True}, {"use_faiss": False}),
    ({"port": "7860"}, {"port": "8080"}),
    ({"github_actions": True, "build_essential": True}, {"github_actions": False}),
]


@pytest.mark.parametrize(("first", "then"), CHANGED_ANSWERS, ids=lambda a: str(a))
def test_changing_an_answer_gives_the_same_files_as_a_fresh_copy(
    template_repo, tmp_path, first, then
):
    project = render(template_repo, tmp_path / "updated", **first)
    update(project, data=then)
    fresh = tmp_path / "fresh"
    copier.run_copy(
        str(template_repo.path), fresh, data={**first, **then}, defaults=True, quiet=True
    )
    assert tree(project) == tree(fresh)
    mismatch = [name for name in tree(fresh) if not filecmp.cmp(project / name, fresh / name)]
    assert mismatch == []


def tree(root: Path) -> set[str]:
    return {
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts
    }


def test_a_file_the_user_deleted_stays_deleted(template_repo, tmp_path):
    project = render(template_repo, tmp_path / "space")
    (project / ".env.example").unlink()
    commit_all(project, "We keep no .env.example")
    template_repo.edit("template/README.md.jinja", "## Test and lint", "## Test and lint it")
    template_repo.release("v1.1.0")
    update(project)

    assert not (project / ".env.example").exists()
    assert "## Test and lint it" in (project / "README.md").read_text()


def test_an_update_of_a_dirty_work_tree_is_refused(template_repo, tmp_path):
    project = render(template_repo, tmp_path / "space")
    (project / "README.md").write_text("uncommitted work\n")
    template_repo.release("v1.1.0")
    with pytest.raises(Exception, match="dirty"):
        update(project)
    assert (project / "README.md").read_text() == "uncommitted work\n"
    assert answers(project)["_commit"] == "v1.0.0"


def rename_style_release(template_repo: TemplateRepo) -> None:
    """A release that renames public/style.css and migrates it with hooks/migrate.py."""
    public = template_repo.path / "template/public"
    (public / "style.css.jinja").rename(public / "theme.css.jinja")
    template_repo.edit("template/public/index.html.jinja", "style.css", "theme.css")
    with (template_repo.path / "copier.yml").open("a") as config:
        config.write(
            "  - version: v1.1.0\n"
            "    when: \"{{ _stage == 'before' }}\"\n"
            '    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrate.py",'
            " rename-file, public/style.css, public/theme.css]\n"
        )
    template_repo.release("v1.1.0")


def test_a_release_that_renames_a_file_carries_the_users_edits_over(template_repo, tmp_path):
    project = render(template_repo, tmp_path / "space")
    style = project / "public/style.css"
    style.write_text(style.read_text().replace("}", "}\n.ours { color: red; }", 1))
    commit_all(project, "Our style")
    rename_style_release(template_repo)
    update(project, unsafe=True)

    assert not style.exists()
    theme = (project / "public/theme.css").read_text()
    # Copier sees the moved file as added on both sides, so the user's own lines come back as a
    # conflict hunk to review (caught by pre-commit); everything else merges cleanly.
    assert "<<<<<<< before updating\n.ours { color: red; }\n=======\n>>>>>>>" in theme
    assert theme.count("<<<<<<<") == 1
    assert "theme.css" in (project / "public/index.html").read_text()


def test_without_the_migration_a_renamed_file_loses_the_users_edits(template_repo, tmp_path):
    """Why hooks/migrate.py exists: Copier alone deletes the old file, edits and all."""
    project = render(template_repo, tmp_path / "space")
    style = project / "public/style.css"
    style.write_text(style.read_text().replace("}", "}\n.ours { color: red; }", 1))
    commit_all(project, "Our style")
    public = template_repo.path / "template/public"
    (public / "style.css.jinja").rename(public / "theme.css.jinja")
    template_repo.release("v1.1.0")
    update(project)
    assert not style.exists()
    assert ".ours" not in (project / "public/theme.css").read_text()


def test_a_migration_needs_trust_and_says_so(template_repo, tmp_path):
    project = render(template_repo, tmp_path / "space")
    rename_style_release(template_repo)
    with pytest.raises(copier.errors.UnsafeTemplateError, match="migrations"):
        update(project)
    assert (project / "public/style.css").exists()


def test_a_release_that_renames_an_answer_keeps_its_value(template_repo, tmp_path):
    project = render(template_repo, tmp_path / "space", emoji="🚀")
    config = template_repo.path / "copier.yml"
    config.write_text(
        config.read_text()
        .replace("\nemoji:\n", "\nspace_emoji:\n")
        .replace("{% if not emoji or (emoji", "{% if not space_emoji or (space_emoji")
        .replace("or emoji | length > 8", "or space_emoji | length > 8")
        + "  - version: v1.1.0\n"
        "    when: \"{{ _stage == 'before' }}\"\n"
        '    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrate.py",'
        " rename-answer, emoji, space_emoji]\n"
    )
    for path in (template_repo.path / "template").rglob("*.jinja"):
        text = path.read_text()
        path.write_text(
            text.replace("emoji }}", "space_emoji }}").replace("(emoji)", "(space_emoji)")
        )
    template_repo.release("v1.1.0")
    update(project, unsafe=True)

    recorded = answers(project)
    assert recorded["space_emoji"] == "🚀" and "emoji" not in recorded
    assert "emoji: '🚀'" in (project / "README.md").read_text()


def test_plain_copy_of_a_template_with_migrations_needs_no_trust(template_repo, tmp_path):
    rename_style_release(template_repo)
    copier.run_copy(str(template_repo.path), tmp_path / "space", defaults=True, quiet=True)
    assert (tmp_path / "space/public/theme.css").exists()


@pytest.mark.parametrize("edited", [True, False], ids=["edited", "unedited"])
def test_an_update_from_v0_1_0_keeps_an_edited_app_routes_py(tmp_path, edited):
    """v0.1.0's app/routes.py is split in the next release (app/api.py, app/routes/*.py).
    Copier alone would delete it, edits and all; the migration keeps an edited one."""
    repo = tmp_path / "template"
    git(tmp_path, "clone", "-q", "--no-tags", str(TEMPLATE), str(repo))
    # The tags are made here (a clone may have none): v0.1.0 at its release commit, and this
    # checkout's HEAD as the release after it.
    released = git(repo, "log", "--format=%H", "--grep=^Release v0.1.0$").split()
    assert released, "no 'Release v0.1.0' commit in the history"
    git(repo, "tag", "-f", "v0.1.0", released[-1])
    git(repo, "tag", "-f", "v0.2.0")
    project = tmp_path / "space"
    copier.run_copy(str(repo), project, defaults=True, vcs_ref="v0.1.0", quiet=True)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Render v0.1.0")
    routes = project / "app/routes.py"
    if edited:
        ping = (
            '    @router.get("/ping")\n    def ping() -> dict:\n        return {"pong": True}\n\n'
        )
        routes.write_text(
            routes.read_text().replace("    return router\n", ping + "    return router\n")
        )
        commit_all(project, "Our endpoint")
    update(project, vcs_ref="v0.2.0", unsafe=True)

    assert not routes.exists()
    assert (project / "app/api.py").exists() and (project / "app/routes/search.py").exists()
    # v0.1.0 answered embedder: hashing; the retrieval question came later and keeps that search.
    recorded = answers(project)
    assert recorded["retrieval"] == "lexical" and "embedder" not in recorded
    assert "model2vec" not in (project / "requirements.txt").read_text()
    kept = project / "app/routes_v0_1.py"
    assert kept.exists() == edited
    if edited:
        assert '@router.get("/ping")' in kept.read_text()
        assert "<<<<<<<" not in kept.read_text()

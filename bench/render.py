"""`copier copy` of the defaults, against a one-file template rendered the same way.

Also measured, to tell Copier's own cost per file and per question from this template's: a
template of the same shape (the files of a default render, empty and not templated, and as
many questions of one plain default each).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from common import ROOT, TOOLS, medians, render, row, run

ANSWERS = ".copier-answers.yml"


def committed(where: Path) -> Path:
    """The template in `where`, with the answers file Copier writes, committed to a new repo."""
    (where / "template" / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml }}"
    )
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "template"]):
        run(["git", *cmd], cwd=where)
    return where


def one_file_template(where: Path) -> Path:
    """The smallest template Copier renders the same way: one question, one file, in git."""
    (where / "template").mkdir(parents=True)
    (where / "copier.yml").write_text(
        '_subdirectory: template\nname:\n  type: str\n  default: "x"\n'
    )
    (where / "template" / "README.md.jinja").write_text("# {{ name }}\n")
    return committed(where)


def same_shape_template(where: Path, rendered: Path, questions: int) -> Path:
    """As many files as `rendered` has, at the same paths but empty, and `questions` plain
    questions; no Jinja but the answers file's name."""
    (where / "template").mkdir(parents=True)
    (where / "copier.yml").write_text(
        "_subdirectory: template\n"
        + "".join(f'q{n}:\n  type: str\n  default: "x"\n' for n in range(questions))
    )
    for path in rendered.rglob("*"):
        relative = path.relative_to(rendered)
        if path.is_file() and ".git" not in relative.parts and path.name != ANSWERS:
            (where / "template" / relative).parent.mkdir(parents=True, exist_ok=True)
            (where / "template" / relative).touch()
    return committed(where)


def question_count() -> int:
    settings = yaml.safe_load((ROOT / "copier.yml").read_text())
    return sum(not name.startswith("_") for name in settings)


def seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = one_file_template(tmp / "small")
        # Both from a clean git repo, as a user's `copier copy gh:...` gets them (a dirty
        # checkout would add Copier's copy of the uncommitted files to our side only).
        clone = tmp / "clone"
        run(["git", "clone", "--quiet", ROOT, clone])
        shape = same_shape_template(
            tmp / "shape", render(tmp / "ours", template=clone), question_count()
        )
        figures = medians(
            ours=lambda: seconds(lambda: render(tmp / "ours", template=clone)),
            reference=lambda: seconds(lambda: render(tmp / "small-out", template=small)),
            shape=lambda: seconds(lambda: render(tmp / "shape-out", template=shape)),
            version=lambda: seconds(
                lambda: subprocess.run(
                    [TOOLS / "copier", "--version"], capture_output=True, check=True
                )
            ),
        )
    ours, reference, version = figures["ours"], figures["reference"], figures["version"]
    ratio = ours / reference
    shape = figures["shape"] / reference
    return [
        row(
            "copier copy, defaults (s)",
            ours,
            "s",
            "one-file template",
            reference,
            "<= 1.4x",
            ratio <= 1.4,
            f"copier --version alone: {version:.3f} s; a template of the same shape, empty "
            f"files and plain questions: {shape:.2f}x",
        ),
    ]

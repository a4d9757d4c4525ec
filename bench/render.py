"""`copier copy` of the defaults, against a one-file template rendered the same way."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, TOOLS, medians, render, row, run


def one_file_template(where: Path) -> Path:
    """The smallest template Copier renders the same way: one question, one file, in git."""
    (where / "template").mkdir(parents=True)
    (where / "copier.yml").write_text(
        '_subdirectory: template\nname:\n  type: str\n  default: "x"\n'
    )
    (where / "template" / "README.md.jinja").write_text("# {{ name }}\n")
    (where / "template" / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml }}"
    )
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "one file"]):
        run(["git", *cmd], cwd=where)
    return where


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
        figures = medians(
            ours=lambda: seconds(lambda: render(tmp / "ours", template=clone)),
            reference=lambda: seconds(lambda: render(tmp / "small-out", template=small)),
            version=lambda: seconds(
                lambda: subprocess.run(
                    [TOOLS / "copier", "--version"], capture_output=True, check=True
                )
            ),
        )
    ours, reference, version = figures["ours"], figures["reference"], figures["version"]
    ratio = ours / reference
    return [
        row(
            "copier copy, defaults (s)",
            ours,
            "s",
            "one-file template",
            reference,
            "<= 1.4x",
            ratio <= 1.4,
            f"copier --version alone: {version:.3f} s",
        ),
    ]

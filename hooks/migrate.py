"""Migration steps that copier.yml's `_migrations` run when `copier update` crosses a release
that renames a file or an answer. They run in the rendered project, with Copier's Python:

    python hooks/migrate.py rename-file OLD NEW      (stage "before": the user's file, edits
                                                      and all, moves to the new name first)
    python hooks/migrate.py rename-answer OLD NEW    (stage "before": the recorded answer
                                                      keeps its value under the new name)
    python hooks/migrate.py keep-edits OLD NEW       (stage "before", for a file the release
                                                      removes: if the user edited it, it moves
                                                      to NEW, kept; if not, Copier removes it)

Each step is idempotent, so an interrupted update can be run again. A renamed file keeps the
user's edits: Copier then sees it as added on both sides, so lines the user added come back
as a conflict hunk to review (the rendered pre-commit refuses to commit it until resolved).
Without the step, Copier deletes the old file, edits and all.

A release that needs a step adds it to copier.yml, for example:

    _migrations:
      - version: v0.2.0
        when: "{{ _stage == 'before' }}"
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrate.py",
                  rename-file, public/style.css, public/theme.css]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ANSWERS_FILE = Path(".copier-answers.yml")


def rename_file(old: str, new: str) -> str:
    source, target = Path(old), Path(new)
    if not source.exists():
        return f"{old}: not here (already moved or deleted); nothing to do"
    if target.exists():
        raise SystemExit(f"cannot move {old} to {new}: {new} already exists; move it by hand")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Copier diffs the git index (`git write-tree`) against the old release: the move must be
    # staged, or the new name looks untracked and the user's edits are lost.
    subprocess.run(["git", "mv", "--", old, new], check=True)
    return f"moved {old} to {new}"


def keep_edits(old: str, new: str) -> str:
    if not Path(old).exists():
        return f"{old}: not here; nothing to do"
    # The project's last commit of the answers file is the last copy or update: the file as
    # the template wrote it.
    written = subprocess.run(
        ["git", "log", "-1", "--format=%H", "--", str(ANSWERS_FILE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    unchanged = (
        written and not subprocess.run(["git", "diff", "--quiet", written, "--", old]).returncode
    )
    if unchanged:
        return f"{old}: as the template wrote it; this release removes it"
    rename_file(old, new)
    return (
        f"{old} had your edits: this release removes it, so it is kept as {new}. Move what you "
        f"added to where the release puts it (see its CHANGELOG), then delete {new}."
    )


def rename_answer(old: str, new: str) -> str:
    # Edit the lines, not a YAML round trip: the file's header comments must survive.
    lines = ANSWERS_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    prefix_old, prefix_new = f"{old}:", f"{new}:"
    if any(line.startswith(prefix_new) for line in lines):
        return f"answer {new} is already recorded; nothing to do"
    renamed = [
        prefix_new + line[len(prefix_old) :] if line.startswith(prefix_old) else line
        for line in lines
    ]
    if renamed == lines:
        return f"answer {old} is not recorded; nothing to do"
    ANSWERS_FILE.write_text("".join(renamed), encoding="utf-8")
    return f"renamed answer {old} to {new}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    for name in ("rename-file", "rename-answer", "keep-edits"):
        step = steps.add_parser(name)
        step.add_argument("old")
        step.add_argument("new")
    args = parser.parse_args(argv)
    do = {"rename-file": rename_file, "rename-answer": rename_answer, "keep-edits": keep_edits}[
        args.step
    ]
    print(f"migration: {do(args.old, args.new)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Migration steps that copier.yml's `_migrations` run when `copier update` crosses a release
that renames a file or an answer. They run in the rendered project, with Copier's Python:

    python hooks/migrate.py rename-file OLD NEW      (stage "before": the user's file, edits
                                                      and all, moves to the new name first)
    python hooks/migrate.py rename-answer OLD NEW    (stage "before": the recorded answer
                                                      keeps its value under the new name)

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
    for name in ("rename-file", "rename-answer"):
        step = steps.add_parser(name)
        step.add_argument("old")
        step.add_argument("new")
    args = parser.parse_args(argv)
    do = rename_file if args.step == "rename-file" else rename_answer
    print(f"migration: {do(args.old, args.new)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Makes the hashed locks that the template renders as requirements.lock: locks/<name>.txt, one
per set of requirements (copier.yml's requirements_lock names it). Each set is rendered from
this checkout and locked there by the command its README gives, the old lock in place, so uv
keeps every version that still fits. Run after editing template/requirements.txt.jinja:
make locks"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import copier

LOCKS = Path(__file__).resolve().parent
TEMPLATE = LOCKS.parent
# The command of the lock's header, the rendered README and the pre-commit hook; spelt as
# Renovate's pip-compile manager reads it back: options it knows, "=" before each value.
COMMAND = (
    "uv pip compile requirements.txt --universal --python-version=3.10 --generate-hashes"
    " --output-file=requirements.lock"
)
UV = Path(sys.executable).with_name("uv")  # the venv's, from requirements-dev.txt
SETS = {"base": {"use_faiss": False}} | {
    f"{store}-{search}{'-answers' if answers else ''}": {
        "use_faiss": True,
        "index_store": store,
        "retrieval": "lexical" if search == "lexical" else "hybrid",
        "embedder": "model2vec",
        "answers": answers,
    }
    for store in ("faiss", "postgres")
    for search in ("lexical", "model2vec")
    for answers in (False, True)
}


def relock(project: Path, env: dict | None = None) -> None:
    """Run the lock command in a rendered project: its requirements.lock, refreshed."""
    subprocess.run([UV, *COMMAND.split()[1:], "--quiet"], cwd=project, env=env, check=True)


def lock(name: str, answers: dict) -> None:
    kept = LOCKS / f"{name}.txt"
    if not kept.exists():  # a new set: rendered with an empty lock
        kept.write_text("")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        copier.run_copy(
            str(TEMPLATE), project, data=answers, defaults=True, vcs_ref="HEAD", quiet=True
        )
        assert (project / "requirements.lock").exists(), f"{name} renders no requirements.lock"
        relock(project)
        kept.write_text((project / "requirements.lock").read_text())


def main(names: list[str]) -> None:
    for name in names or SETS:
        lock(name, SETS[name])
        print(f"locks/{name}.txt")


if __name__ == "__main__":
    main(sys.argv[1:])

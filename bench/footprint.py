"""Runtime /install size of the defaults, against a single-stage image that keeps compilers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import CACHE, ROOT, row, run

sys.path.insert(0, str(ROOT / "tests"))
from conftest import python_for  # noqa: E402
from container import build_essential_packages  # noqa: E402


def tree_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def install_mb(requirements: Path, python_version: str) -> float:
    """What the builder stage's `pip install --prefix=/install` puts there, in MB."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # A venv's pip with --ignore-installed: never touches the interpreter's own packages.
        run([python_for(python_version), "-m", "venv", tmp / "venv"])
        run(
            [
                tmp / "venv/bin/python",
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-cache-dir",
                "--ignore-installed",
                "--prefix",
                tmp / "install",
                "-r",
                requirements,
            ]
        )
        return tree_mb(tmp / "install")


def build_essential_mb() -> float:
    """Installed size of build-essential and what it pulls in beyond a slim Debian base."""
    if not shutil.which("apt-cache"):
        return float("nan")
    packages = build_essential_packages()
    show = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", *packages],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total_kb = 0
    for stanza in show.split("\n\n"):
        priority = re.search(r"^Priority: (\S+)", stanza, re.M)
        size = re.search(r"^Installed-Size: (\d+)", stanza, re.M)
        # required/important packages are already in the slim base image.
        if size and not (priority and priority.group(1) in {"required", "important"}):
            total_kb += int(size.group(1))
    return total_kb / 1024


def measure() -> list[dict]:
    project = CACHE / "default"
    runtime = install_mb(project / "requirements.txt", "3.12")
    single_stage = runtime + build_essential_mb()
    return [
        row(
            "runtime /install, default answers (MB)",
            runtime,
            "MB",
            "single stage: same /install + build-essential",
            single_stage,
            "report both; runtime <= 175 MB",
            runtime <= 175,
        )
    ]

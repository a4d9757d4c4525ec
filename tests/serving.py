"""Start a server, wait until it answers 200, stop it: the one copy that the template's tests
(conftest.running_app, model_server.ChatServer) and the benchmarks (bench/common.server) use."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers_200(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200
    return False


def wait_until_up(
    url: str,
    proc: subprocess.Popen,
    log: Path | None = None,
    timeout: float = 120,
    poll: float = 0.05,
) -> None:
    """Return once `url` answers 200; fail, with the server's log, if it exits or times out."""
    deadline = time.monotonic() + timeout

    def failed(why: str) -> RuntimeError:  # the log is read only then, not at every poll
        return RuntimeError(why + (f":\n{log.read_text()}" if log else ""))

    while not answers_200(url):
        if proc.poll() is not None:
            raise failed(f"{proc.args} exited with {proc.returncode} before answering")
        if time.monotonic() > deadline:
            raise failed(f"{url} did not answer 200 within {timeout} s")
        time.sleep(poll)


def stop(proc: subprocess.Popen, timeout: float = 15) -> int:
    """SIGTERM, as when a Space stops; SIGKILL after `timeout` seconds. The exit code."""
    proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextlib.contextmanager
def serving(
    cmd: list,
    cwd: Path,
    env: dict,
    url: str,
    log: Path | None = None,
    timeout: float = 120,
    poll: float = 0.05,
) -> Iterator[tuple[subprocess.Popen, float]]:
    """Run `cmd` (its output to `log`, or nowhere) until the block ends; yield the process and
    the seconds from its launch to the first 200 of `url`."""
    started = time.perf_counter()
    with open(log or "/dev/null", "ab") as out:
        proc = subprocess.Popen(
            [str(part) for part in cmd], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until_up(url, proc, log, timeout, poll)
        yield proc, time.perf_counter() - started
    finally:
        stop(proc)

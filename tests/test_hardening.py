"""The rendered Space survives bad input, load and faults, and lets nothing in.

Against the rendered app started for real (`python start_with_index.py`, uvicorn on loopback):
- schemathesis fuzzes the API from the app's own OpenAPI schema: no 5xx, every answer as
  documented (status, headers, body), schema-valid input accepted and invalid input refused;
- wrk sends 20,000 searches at concurrency 64: no error, no 5xx, memory flat;
- nothing beside public/ is served: .env, .git, the code and the index, whatever the path;
- the rendered tests that need file permissions run as uid 1000 (here, as root, they skip).
The rendered project's own tests (bad input table, faults, shutdown, safe defaults) run in
test_rendered_project.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import TOOLS, clean_env, free_port, run, running_app

pytestmark = pytest.mark.slow

FAISS = pytest.mark.parametrize("use_faiss", [True, False], ids=["faiss", "nofaiss"])
SCHEMATHESIS = TOOLS / "schemathesis"
WRK = shutil.which("wrk")
SECRET = "hf_sekrit_from_dotenv_31b7"


def copy_project(project: Path, tmp_path: Path) -> Path:
    work = tmp_path / "project"
    shutil.copytree(project, work)
    return work


# ---- fuzzing the API ------------------------------------------------------------------------


@FAISS
@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed")
def test_fuzzing_the_api_finds_no_5xx_and_nothing_undocumented(project_venvs, tmp_path, use_faiss):
    project, python = project_venvs(use_faiss)
    work = copy_project(project, tmp_path)
    # The faiss venv's project has the answer step: with a token and a base URL where nothing
    # listens, POST /api/answer streams its error event (200) instead of the 503 of no token.
    answers = {"HF_TOKEN": "hf_fuzz", "CHAT_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    with running_app(python, work, LOG_LEVEL="warning", **answers) as base:
        started = time.monotonic()
        proc = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "150",
                "--continue-on-failure",
                "--request-timeout",
                "10",
                "--generation-database",
                "none",
                "--no-color",
            ],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        health = httpx.get(f"{base}/api/health")
    summary = [line for line in proc.stdout.splitlines() if "generated" in line or "Seed" in line]
    print(f"schemathesis in {time.monotonic() - started:.1f} s: {'; '.join(summary)}")
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    assert "No issues found" in proc.stdout
    assert health.status_code == 200  # still up


# ---- load ---------------------------------------------------------------------------------------

# Each wrk thread sends its share of searches (queries from the sample documents, in turn),
# counts the answers by kind, and stops at its share, saying so on stderr; `done` prints the
# totals as JSON. (wrk itself runs for --duration unless interrupted: see run_wrk.)
WRK_SCRIPT = r"""
local queries = {"docker", "vector+search", "faiss+index", "fastapi", "embeddings",
                 "hugging+face+spaces", "copier+template", "container+image+layers"}
local threads = {}
local sent = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  share = tonumber(args[1])
  answered, server_errors, other = 0, 0, 0
end

function request()
  sent = sent + 1
  return wrk.format("GET", "/api/search?k=5&q=" .. queries[sent % #queries + 1])
end

function response(status, headers, body)
  answered = answered + 1
  if status >= 500 then
    server_errors = server_errors + 1
  elseif status ~= 200 then
    other = other + 1
  end
  if answered == share then
    io.stderr:write("share done\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local answered_all, server_errors_all, other_all = 0, 0, 0
  for _, thread in ipairs(threads) do
    answered_all = answered_all + thread:get("answered")
    server_errors_all = server_errors_all + thread:get("server_errors")
    other_all = other_all + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    '{"answered": %d, "server_errors": %d, "other_status": %d, "socket_errors": %d, ' ..
    '"seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    answered_all, server_errors_all, other_all,
    e.connect + e.read + e.write + e.timeout + e.status,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3))
end
"""
THREADS, CONNECTIONS, REQUESTS, WARM_UP = 2, 64, 20_000, 4_000


def server_pid(work: Path) -> int:
    """The process of start_with_index.py running in the folder `work`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if b"start_with_index.py" in cmdline and Path(os.readlink(entry / "cwd")) == work:
                return int(entry.name)
        except OSError:
            continue
    raise AssertionError(f"no start_with_index.py process in {work}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def run_wrk(base: str, script: Path, requests: int) -> dict:
    """`requests` searches by wrk; its totals. wrk waits out --duration (here an upper bound)
    even when every thread has stopped, so it is interrupted (SIGINT) once all have."""
    proc = subprocess.Popen(
        [
            WRK,
            f"--threads={THREADS}",
            f"--connections={CONNECTIONS}",
            "--duration=300s",
            "--timeout=10s",
            f"--script={script}",
            f"{base}/api/search",
            "--",
            str(requests // THREADS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    done = 0
    for line in proc.stderr:
        done += line.strip() == "share done"
        if done == THREADS:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"wrk exited {proc.returncode}\n{stdout}\n{stderr}"
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.skipif(WRK is None, reason="wrk is not installed (Debian package wrk)")
def test_20000_searches_at_concurrency_64_without_an_error_or_a_leak(project_venvs, tmp_path):
    project, python = project_venvs(True)
    work = copy_project(project, tmp_path)
    script = tmp_path / "searches.lua"
    script.write_text(WRK_SCRIPT)
    with running_app(python, work) as base:
        assert base.startswith("http://127.0.0.1:")  # loopback only
        pid = server_pid(work)
        warm = run_wrk(base, script, WARM_UP)  # thread pool, caches and allocator settle first
        before = rss_kib(pid)
        result = run_wrk(base, script, REQUESTS)
        after = rss_kib(pid)
        assert httpx.get(f"{base}/api/health").status_code == 200
    rps = result["answered"] / result["seconds"]
    print(
        f"\nload: {result['answered']} searches at concurrency {CONNECTIONS} in "
        f"{result['seconds']:.1f} s = {rps:.0f} req/s (p50 {result['p50_ms']:.1f} ms, p99 "
        f"{result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms); socket errors "
        f"{result['socket_errors']}, 5xx {result['server_errors']}, other non-200 "
        f"{result['other_status']}; server RSS {before / 1024:.1f} MiB before, "
        f"{after / 1024:.1f} MiB after ({(after - before) / before:+.1%}); warm-up "
        f"{warm['answered']} searches"
    )
    assert result["answered"] >= REQUESTS
    assert (result["socket_errors"], result["server_errors"], result["other_status"]) == (0, 0, 0)
    assert abs(after - before) <= 0.10 * before


# ---- nothing but public/ is served ------------------------------------------------------------


def raw_status(base: str, target: bytes) -> tuple[int, bytes]:
    """GET `target` byte for byte (HTTP clients would normalise the path first)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


PRIVATE = [
    b"/.env",
    b"/../.env",
    b"/%2e%2e/.env",
    b"/..%2f.env",
    b"/%252e%252e/.env",
    b"/..\\.env",
    b"/.git/config",
    b"/../.git/config",
    b"/%2e%2e/.git/config",
    b"/index/manifest.json",
    b"/../index/manifest.json",
    b"/..%2findex%2fchunks.sqlite",
    b"/../app/settings.py",
    b"/%2e%2e/app/main.py",
    b"/..%2fapp/main.py",
    b"/../data/docker-containers.md",
]


def test_env_git_code_and_index_are_never_served(project_venvs, tmp_path):
    project, python = project_venvs(True)
    work = copy_project(project, tmp_path)
    (work / ".env").write_text(f"HF_TOKEN={SECRET}\n")  # read by the app at start-up
    (work / ".git").mkdir()
    (work / ".git" / "config").write_text(f"[remote]\n\turl = https://user:{SECRET}@x\n")
    with running_app(python, work) as base:
        assert (work / "index" / "manifest.json").is_file()
        for target in PRIVATE:
            status, answer = raw_status(base, target)
            assert status == 404, target
            assert SECRET.encode() not in answer and b'"xxh3_128"' not in answer, target
        for path in ("/", "/api/health", "/docs", "/openapi.json"):
            assert SECRET not in httpx.get(base + path).text, path


# ---- file permissions, as a user that is not root -------------------------------------------


def as_uid_1000() -> list[str] | None:
    """A command prefix that runs as uid 1000 in a user namespace, or None where it cannot.

    Root is mapped to uid 1000 there, so the process still owns root's files (pyenv's Python
    under /root included), but file permissions apply to it as to any user.
    """
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        return None
    prefix = [unshare, "--user", "--map-user=1000", "--map-group=1000"]
    probe = subprocess.run([*prefix, "id", "-u"], capture_output=True, text=True, check=False)
    return prefix if probe.returncode == 0 and probe.stdout.strip() == "1000" else None


def test_the_rendered_permission_tests_pass_as_a_user(project_venvs, tmp_path):
    prefix = as_uid_1000()
    if prefix is None:
        pytest.skip("not root, or no user namespaces: the rendered tests ran them already")
    project, python = project_venvs(True)
    work = copy_project(project, tmp_path)
    proc = run(
        [
            *prefix,
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'basetemp'}",
            "tests/test_faults.py",
            "-k",
            "permission or read_only",
        ],
        cwd=work,
        env=clean_env(),
    )
    assert "3 passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout

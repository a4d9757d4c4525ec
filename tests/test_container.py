"""The rendered image builds and runs as Hugging Face runs it.

No Docker engine runs on the template's own machines, so `container.Emulator` executes the
rendered Dockerfile's own instructions in bubblewrap sandboxes (see tests/container.py); where a
Docker daemon answers (the template's GitHub workflow) the same checks run against a real
`docker build` and `docker run`. Each (Python version, use_faiss) image is built once per
session and shared by the tests that need it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import container
import httpx
import pytest
from conftest import PYTHON_VERSIONS, python_for
from container import DockerIgnore, EmulationError

HOME = "/home/user"
FAISS = [True, False]
# Engines that must run here: a comma list of "emulated" and "docker" (CI sets it), so that a
# missing sandbox or daemon fails instead of skipping.
REQUIRED = {e.strip() for e in os.environ.get("REQUIRE_CONTAINER_ENGINES", "").split(",")}


def unavailable(engine: str, reason: str):
    if engine in REQUIRED:
        pytest.fail(f"{engine} engine required (REQUIRE_CONTAINER_ENGINES) but {reason}")
    pytest.skip(reason)


# ---- engines and images ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def emulator():
    reason = container.problem()
    if reason:
        unavailable("emulated", f"container emulation unavailable: {reason}")
    workdir = Path(tempfile.mkdtemp(prefix="hfst-container-"))
    try:
        yield container.Emulator(workdir, python_for, log=print)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(workdir)], check=False)


@pytest.fixture(scope="session")
def docker_engine():
    reason = container.docker_problem()
    if reason:
        unavailable("docker", reason)
    engine = container.DockerEngine()
    yield engine
    engine.cleanup()


@pytest.fixture(params=["emulated", "docker"])
def engine(request):
    return request.getfixturevalue("emulator" if request.param == "emulated" else "docker_engine")


@pytest.fixture(scope="session")
def images(render):
    """images(engine, python_version, use_faiss) -> (project, image), built once per session."""
    cache: dict[tuple, tuple] = {}

    def _image(engine, python_version: str, use_faiss: bool):
        key = (id(engine), python_version, use_faiss)
        if key not in cache:
            # build_essential on: the runtime must stay free of compilers even then.
            answers = {"python_version": python_version, "use_faiss": use_faiss}
            project = render(**answers, build_essential=True, github_actions=True)
            start = time.monotonic()
            image = engine.build(project)
            print(
                f"\nbuilt py{python_version} faiss={use_faiss} in {time.monotonic() - start:.1f}s"
            )
            cache[key] = (project, image)
        return cache[key]

    return _image


def app_port(project: Path) -> int:
    from test_space_metadata import front_matter

    return front_matter(project)["app_port"]


@contextlib.contextmanager
def started(image, **run):
    box = image.run(**run)
    try:
        yield box
    finally:
        box.remove()


def wait_until_serving(box, url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not box.running():
            raise AssertionError(f"the container exited before answering:\n{box.logs()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s:\n{box.logs()[-4000:]}")


def under_home(change: str) -> bool:
    path = change[2:]
    return path == HOME or path.startswith(HOME + "/") or HOME.startswith(path + "/")


MATRIX = pytest.mark.parametrize(
    "python_version, use_faiss",
    [(py, faiss) for py in PYTHON_VERSIONS for faiss in FAISS],
    ids=[f"py{py}-{'faiss' if faiss else 'nofaiss'}" for py in PYTHON_VERSIONS for faiss in FAISS],
)


# ---- the image runs as a Space --------------------------------------------------------------


@pytest.mark.slow
@MATRIX
def test_the_container_serves_the_space_as_hugging_face_runs_it(
    engine, images, python_version, use_faiss, record_property
):
    project, image = images(engine, python_version, use_faiss)
    port = app_port(project)  # Hugging Face sends traffic to app_port
    assert image.env["PORT"] == str(port)
    assert image.exposed == [f"{port}/tcp"]
    assert image.workdir == f"{HOME}/app" and image.user in ("1000", "user")
    size = image.size("/install", stage="builder")
    record_property("install_bytes", size)
    print(f"\npy{python_version} faiss={use_faiss}: /install is {size / 2**20:.1f} MiB")

    with started(image, publish=port) as box:
        start = time.monotonic()
        wait_until_serving(box, box.url("/api/health"))
        started_in = time.monotonic() - start
        record_property("start_seconds", round(started_in, 2))
        health = httpx.get(box.url("/api/health")).json()
        assert health["status"] == "ok"
        page = httpx.get(box.url("/"))
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert httpx.head(box.url("/")).status_code == 200
        if use_faiss:
            assert health["chunks"] > 0
            found = httpx.get(box.url("/api/search"), params={"q": "docker", "k": 3}).json()
            assert found["results"], found
        else:
            assert httpx.get(box.url("/api/search"), params={"q": "docker"}).status_code == 404

        # The app itself is the container's main process (exec), as uid/gid 1000.
        status = box.proc_status()
        assert status["Uid"].split() == ["1000"] * 4, status["Uid"]
        assert status["Gid"].split() == ["1000"] * 4, status["Gid"]
        assert status["NSpid"].split()[-1] == "1", "the app must be PID 1 (exec), not bash's child"
        assert status["Name"].startswith("python"), status["Name"]

        # SIGTERM (what stopping a Space sends) stops it cleanly within a few seconds.
        code, seconds = box.stop(timeout=10)
        record_property("stop_seconds", round(seconds, 2))
        print(f"answered {started_in:.1f}s after start; stopped {seconds:.1f}s after SIGTERM")
        logs = box.logs()
        assert code == 0, f"exit code {code} after SIGTERM\n{logs[-3000:]}"
        assert seconds < 5, f"took {seconds:.1f}s to stop"
        assert "Shutting down" in logs or "Finished server process" in logs, logs[-3000:]

        # It wrote only under its HOME: the index (faiss) and nothing anywhere else.
        changes = box.changes()
        assert not [c for c in changes if not under_home(c)], changes
        if use_faiss:
            assert any(c.startswith("A ") and "/index" in c for c in changes if under_home(c)), (
                changes
            )


@pytest.mark.slow
@MATRIX
def test_no_compiler_reaches_the_runtime_stage(engine, images, python_version, use_faiss):
    _, image = images(engine, python_version, use_faiss)  # build_essential is on by default
    tools = "gcc cc c++ g++ cpp make"
    runtime = image.probe(["bash", "-c", f"command -v {tools}; true"])
    assert runtime.returncode == 0, runtime.stderr
    assert runtime.stdout.strip() == "", f"compilers in the runtime stage: {runtime.stdout}"
    builder = image.probe(["bash", "-c", "command -v gcc cc"], stage="builder")
    assert "gcc" in builder.stdout, "build_essential: the builder stage has the compilers"


@pytest.mark.slow
def test_the_app_cannot_write_outside_its_home(engine, images):
    project, image = images(engine, "3.12", True)
    script = (
        "site=$(python -c 'import sysconfig; print(sysconfig.get_path(\"purelib\"))');"
        " for d in / /usr/local /usr/local/lib $site /etc /home; do"
        "  touch $d/probe 2>/dev/null && echo wrote $d; done;"
        " stat -c %u $HOME/app $HOME/app/start_with_index.py;"
        " touch $HOME/probe && touch $HOME/app/probe && echo home ok"
    )
    with started(image, command=["bash", "-c", script]) as box:
        assert box.wait(60) == 0, box.logs()
        # The project belongs to uid 1000, everything else stays read-only for it.
        assert box.logs().split() == ["1000", "1000", "home", "ok"], box.logs()


# ---- what a Space's Variables can override --------------------------------------------------


@pytest.mark.slow
def test_a_port_variable_moves_the_app_to_that_port(engine, images):
    project, image = images(engine, "3.12", False)
    other = app_port(project) + 1
    with started(image, env={"PORT": str(other)}, publish=other) as box:
        wait_until_serving(box, box.url("/api/health"))
        assert httpx.get(box.url("/api/health")).json()["status"] == "ok"
        code, _ = box.stop()
        assert code == 0, box.logs()


@pytest.mark.slow
def test_a_cmd_exec_variable_replaces_the_start_command(engine, images):
    project, image = images(engine, "3.12", True)
    with started(image, env={"CMD_EXEC": "python start_with_index.py --build-only"}) as box:
        assert box.wait(180) == 0, box.logs()
        assert "not serving" in box.logs(), box.logs()
        changes = box.changes()
        assert any("/home/user/app/index" in c for c in changes), changes
        assert all(under_home(c) for c in changes), changes


# ---- the emulator itself: it follows the Dockerfile and refuses what it cannot do ------------


def build_tiny(emulator, tmp_path: Path, dockerfile: str, files: dict | None = None, **kwargs):
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)
    return emulator.build(context, **kwargs)


def test_dockerignore_follows_docker_not_gitignore():
    # Examples from Docker's build-context docs: patterns are anchored at the context root.
    ignore = DockerIgnore("# comment\n*/temp*\n*/*/temp*\ntemp?\n*.md\n!README*.md\n**/*.pyc\n")
    assert ignore.excluded("somedir/temporary.txt")
    assert ignore.excluded("somedir/subdir/temporary.txt")
    assert ignore.excluded("tempa") and not ignore.excluded("tempab")
    assert not ignore.excluded("temporary.txt")
    assert ignore.excluded("CHANGES.md") and not ignore.excluded("README-secret.md")
    assert ignore.excluded("a/b/c.pyc") and ignore.excluded("c.pyc")
    rendered = DockerIgnore("__pycache__\n.env\n.env.*\n!.env.example\ntests\nindex\n")
    assert rendered.excluded("tests/test_api.py") and rendered.excluded("index/manifest.json")
    assert rendered.excluded(".env.local") and not rendered.excluded(".env.example")
    assert rendered.excluded("__pycache__/x.pyc")
    assert not rendered.excluded("app/__pycache__/x.pyc")  # Docker does not float patterns


def test_the_emulator_follows_env_workdir_user_and_copy(emulator, tmp_path):
    image = build_tiny(
        emulator,
        tmp_path,
        "ARG PYTHON_VERSION=3.12\n"
        "FROM python:${PYTHON_VERSION}-slim AS first\n"
        "RUN mkdir -p /out && echo made > /out/file && chmod 600 /out/file\n"
        "FROM python:${PYTHON_VERSION}-slim-trixie\n"
        "ENV A=1\n"
        'ENV A=2 B=$A C="x y" \\\n    D=${A}z\n'
        "RUN useradd -m -u 1000 user\n"
        "USER 1000\n"
        "WORKDIR $HOME/work\n"
        "COPY --from=first /out /copied\n"
        "COPY --chown=1000:1000 . .\n"
        "COPY data.txt /root-owned/\n"
        "EXPOSE 1234 53/udp\n"
        'CMD ["python3", "-c", "print(1)"]\n',
        {"data.txt": "d", "skip.log": "no", ".dockerignore": "*.log\nDockerfile\n"},
        build_args={"PYTHON_VERSION": "3.11"},
    )
    assert image.env["A"] == "2" and image.env["B"] == "1" and image.env["D"] == "1z"
    assert image.env["C"] == "x y"
    assert image.workdir == "/work"  # $HOME was not set: Docker expands it to ""
    assert image.exposed == ["1234/tcp", "53/udp"]
    assert image.cmd == ["python3", "-c", "print(1)"]
    probe = image.probe(
        [
            "bash",
            "-c",
            "python -V; ls -A /work; stat -c '%U %a %n' /work /work/.dockerignore"
            " /work/data.txt /copied/file /root-owned/data.txt",
        ]
    )
    lines = probe.stdout.splitlines()
    assert lines[0].startswith("Python 3.11."), probe.stdout  # the build arg chose the base
    # WORKDIR made by USER 1000 belongs to it (BuildKit); COPY --from keeps owner and mode;
    # COPY from the context belongs to root unless --chown; .dockerignore is honoured.
    assert lines[1:3] == [".dockerignore", "data.txt"], probe.stdout
    assert lines[3:] == [
        "user 755 /work",
        "user 644 /work/.dockerignore",
        "user 644 /work/data.txt",
        "root 600 /copied/file",
        "root 644 /root-owned/data.txt",
    ], probe.stdout


def test_the_base_image_is_a_clean_python_slim(emulator, tmp_path):
    image = build_tiny(emulator, tmp_path, "FROM python:3.12-slim\n")
    probe = image.probe(
        [
            "bash",
            "-c",
            "python -c 'import sys, ssl, sqlite3; print(sys.prefix)';"
            " python -m pip list --format=freeze; command -v gcc cc; id -u; echo $PATH;"
            " ls /usr/bin | grep -cE '^(python|pip)'; true",
        ]
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert lines[0] == "/usr/local"
    assert [ln.split("==")[0] for ln in lines[1:-3]] == ["pip"], "only pip, as in python:3.12-slim"
    # root, the image's PATH, and no Python of the host's in /usr/bin
    assert lines[-3:] == ["0", container.BASE_PATH, "0"], probe.stdout


@pytest.mark.parametrize(
    "dockerfile, message",
    [
        ("FROM ubuntu:24.04\n", "not emulated"),
        ("FROM python:3.12-alpine\n", "not emulated"),
        ("FROM python:3.12-slim\nADD x /x\n", "ADD is not emulated"),
        ("FROM python:3.12-slim\nHEALTHCHECK CMD true\n", "HEALTHCHECK is not emulated"),
        ('FROM python:3.12-slim\nSHELL ["/bin/bash", "-c"]\n', "SHELL is not emulated"),
        ("FROM python:3.12-slim\nCOPY --link x /x\n", "--link is not emulated"),
        ("FROM python:3.12-slim\nENV A=${B:-c}\n", "not emulated"),
        ("FROM python:3.12-slim\nCOPY missing.txt /x\n", "not found"),
        ("FROM python:3.12-slim\nRUN exit 3\n", "exited 3"),
        ("FROM python:3.12-slim\nUSER nobody-here\n", "unable to find user"),
        ("FROM python:3.12-slim\nRUN apt-get install -y no-such-package-xyz\n", "no installation"),
        ("FROM python:3.12-slim\nRUN apt-get remove -y bash\n", "exited 100"),
        ("FROM python:3.12-slim AS a\nFROM a\n", "previous stage"),
        ("RUN true\n", "only ARG"),
    ],
)
def test_what_cannot_be_emulated_is_an_error(emulator, tmp_path, dockerfile, message):
    with pytest.raises(EmulationError, match=message):
        build_tiny(emulator, tmp_path, dockerfile)


def test_apt_get_install_lends_the_package_to_its_stage_only(emulator, tmp_path):
    image = build_tiny(
        emulator,
        tmp_path,
        "FROM python:3.12-slim AS builder\n"
        "RUN command -v gcc || echo no-gcc-before > /before\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends build-essential \\\n"
        "    && gcc --version > /gcc-version\n"
        "FROM python:3.12-slim\n"
        "COPY --from=builder /before /gcc-version /\n",
    )
    probe = image.probe(
        ["bash", "-c", "cat /before; head -c 3 /gcc-version; command -v gcc cc make"]
    )
    assert probe.stdout.splitlines() == ["no-gcc-before", "gcc"], probe.stdout
    assert "[emulation] apt: build-essential lent" in image.log_path.read_text()
    # The host's pip configuration was there for the RUN steps only.
    builder = image.stage("builder").root
    assert not (builder / "etc/pip.conf").exists() and not list((builder / "opt").iterdir())

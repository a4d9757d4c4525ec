"""The rendered image builds and runs as Hugging Face builds and runs it, on a real engine.

podman here (CONTAINER_ENGINE, default podman), docker where a daemon answers (the template's
GitHub workflow sets CONTAINER_ENGINE=docker). The rendered Dockerfile is built unchanged; only
its base image is a stand-in where no registry is reachable (tests/base_image.py). Each
combination of answers is built once per run, two builds at a time, and shared by the tests.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import base_image
import container
import httpx
import pytest
from conftest import DEFAULT_PYTHON, PYTHON_VERSIONS, python_for
from mcp_client import call_tool

pytestmark = pytest.mark.slow

HOME = "/home/user"
ENGINE = os.environ.get("CONTAINER_ENGINE", "podman")
UVICORN = "uvicorn app.main:app --host 0.0.0.0 --port $PORT"
# The images the tests need: (python_version, use_faiss, build_essential, start_command,
# dev_mode), in the order they are built: two versions at a time, so that no two builds wait on
# each other.
MATRIX_BUILDS = [
    (py, faiss, False, None, False) for faiss in (True, False) for py in PYTHON_VERSIONS
]
BUILDS = MATRIX_BUILDS + [
    (DEFAULT_PYTHON, True, True, None, False),
    (DEFAULT_PYTHON, True, False, UVICORN, True),  # uvicorn's command, and Dev Mode's tools
]
VARIANT = {"start_command": UVICORN, "dev_mode": True}
MATRIX = pytest.mark.parametrize(
    "python_version, use_faiss",
    [key[:2] for key in MATRIX_BUILDS],
    ids=[f"py{key[0]}-{'faiss' if key[1] else 'nofaiss'}" for key in MATRIX_BUILDS],
)
# What a user's working tree holds beside the project: none of it may reach the image.
LOCAL_STATE = {
    ".env": "HF_TOKEN=hf_local_secret_never_in_an_image\n",
    ".env.local": "X=1\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    ".venv/bin/python": "",
    "__pycache__/stale.pyc": "",
    "index/manifest.json": "{}",
    ".index.lock": "",
}


@pytest.fixture(scope="session")
def engine():
    reason = container.problem(ENGINE)
    if reason:
        if os.environ.get("REQUIRE_CONTAINER_ENGINE"):
            pytest.fail(f"REQUIRE_CONTAINER_ENGINE is set but {reason}")
        pytest.skip(reason)
    engine = container.Engine(ENGINE)
    yield engine
    engine.remove_test_images()


@pytest.fixture(scope="session")
def images(engine, render, tmp_path_factory):
    """images(python_version, use_faiss, build_essential=False, start_command=None,
    dev_mode=False) -> Image.

    The first call renders every project of BUILDS and starts their builds, two at a time
    (they wait on the network as much as on the CPU); each call waits for its own.
    """
    locks: dict[str, threading.Lock] = {v: threading.Lock() for v in PYTHON_VERSIONS}
    contexts = tmp_path_factory.mktemp("contexts")

    def context(key: tuple) -> Path:
        python_version, use_faiss, build_essential, start_command, dev_mode = key
        answers = {"python_version": python_version, "use_faiss": use_faiss}
        answers.update(build_essential=build_essential, dev_mode=dev_mode)
        if start_command:
            answers["start_command"] = start_command
        where = contexts / f"context{len(list(contexts.iterdir()))}"
        with_local_state(render(**answers), where)
        return where

    def build(key: tuple, context: Path) -> container.Image:
        python_version = key[0]
        if engine.name == "podman":  # no registry here: the stand-in base
            with locks[python_version]:
                base_image.ensure(engine, python_version, python_for(python_version).parents[1])
        started = time.monotonic()
        image = engine.build(context, log=context.with_suffix(".log"))
        print(f"\nbuilt {key} in {time.monotonic() - started:.0f}s")
        return image

    pool = ThreadPoolExecutor(max_workers=2)
    futures: dict[tuple, object] = {}

    def _image(
        python_version, use_faiss, build_essential=False, start_command=None, dev_mode=False
    ):
        if not futures:  # render in this thread (Copier), build in the pool
            futures.update({key: pool.submit(build, key, context(key)) for key in BUILDS})
        key = (python_version, use_faiss, build_essential, start_command, dev_mode)
        return futures[key].result()

    yield _image
    pool.shutdown(cancel_futures=True)


def with_local_state(project: Path, context: Path) -> None:
    shutil.copytree(project, context)
    for name, text in LOCAL_STATE.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)


def app_port(image) -> int:
    return int(image.env["PORT"])


@contextlib.contextmanager
def started(image, **run):
    box = image.run(**run)
    try:
        yield box
    finally:
        box.remove()


def wait_until_serving(box, path: str = "/api/health", timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not box.running():
            raise AssertionError(f"the container exited before answering:\n{box.logs()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(box.url(path), timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{path} did not answer within {timeout}s:\n{box.logs()[-4000:]}")


def engine_changes(image) -> set[str]:
    """What the engine itself changes in any container (mount points for /etc/hosts, ...)."""
    with started(image, command=["true"]) as box:
        box.wait(60)
        return set(box.changes())


def outside_home(changes: list[str], baseline: set[str]) -> list[str]:
    def under_home(change: str) -> bool:
        path = change[2:]
        return path == HOME or path.startswith(HOME + "/") or HOME.startswith(path + "/")

    return [c for c in changes if c not in baseline and not under_home(c)]


# ---- the image runs as a Space ----------------------------------------------------------------


@MATRIX
def test_the_container_serves_the_space_as_hugging_face_runs_it(
    images, python_version, use_faiss, record_property
):
    image = images(python_version, use_faiss)
    port = app_port(image)  # Hugging Face sends traffic to app_port, which is ENV PORT
    assert image.exposed == [f"{port}/tcp"]
    assert image.workdir == f"{HOME}/app" and image.user == "1000"
    baseline = engine_changes(image)

    with started(image, publish=port) as box:
        start = time.monotonic()
        wait_until_serving(box)
        record_property("start_seconds", round(time.monotonic() - start, 2))
        health = httpx.get(box.url("/api/health")).json()
        assert health["status"] == "ok"
        page = httpx.get(box.url("/"))
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert httpx.head(box.url("/")).status_code == 200
        if use_faiss:
            assert health["chunks"] > 0
            # The default search is hybrid; with no Hub here it serves the lexical side, saying so.
            assert health["retrieval"] == "lexical", health
            model = re.escape("Cannot load the model2vec model 'minishlab/potion-base-8M'")
            assert re.search(f"WARNING .*{model}.*lexical", box.logs()), box.logs()[-3000:]
            found = httpx.get(box.url("/api/search"), params={"q": "docker", "k": 3}).json()
            assert found["results"], found
            # An AI assistant's search, over MCP through the published port: the same passages.
            tool = call_tool(box.url("/mcp"), "search", {"query": "docker", "k": 3})
            assert tool.structured_content["results"] == found["results"], tool.content
        else:
            assert httpx.get(box.url("/api/search"), params={"q": "docker"}).status_code == 404

        # The app itself is the container's main process (exec), as uid/gid 1000.
        status = box.proc_status()
        assert status["Uid"].split() == ["1000"] * 4, status["Uid"]
        assert status["Gid"].split() == ["1000"] * 4, status["Gid"]
        assert status["Name"].startswith("python"), status["Name"]
        command = box.exec("cat", "/proc/1/cmdline").split("\0")
        assert command[:2] == ["python", "start_with_index.py"], command

        # SIGTERM (what stopping a Space sends) stops it cleanly within a few seconds.
        code, seconds = box.stop()
        record_property("stop_seconds", round(seconds, 2))
        logs = box.logs()
        assert code == 0, f"exit code {code} after SIGTERM\n{logs[-3000:]}"
        assert seconds < 5, f"took {seconds:.1f}s to stop"
        assert "Finished server process" in logs, logs[-3000:]

        # It wrote only under its HOME: the index (faiss) and nothing anywhere else.
        changes = box.changes()
        # On Python 3.10, filelock (under huggingface_hub) probes a temporary folder when it is
        # imported, and removes it: /tmp changed, nothing left in it.
        probed = {"C /tmp"} if python_version == "3.10" and use_faiss else set()
        assert outside_home(changes, baseline | probed) == [], changes
        if use_faiss:
            assert f"A {HOME}/app/index" in changes, changes


@MATRIX
def test_the_build_log_shows_only_the_builds_own_steps(images, python_version, use_faiss):
    # A Space author reads this log on every build: no warnings that are not theirs to fix.
    log = images(python_version, use_faiss).build_log
    noises = ["debconf: unable to initialize", "Running pip as the 'root' user", "[notice]"]
    for noise in [*noises, "warning:"]:  # (uv's warnings, a deprecated setting say)
        assert noise not in log, f"{noise!r} in the build log:\n{log[-3000:]}"


def assert_no_compiler(image) -> None:
    runtime = image.probe(["bash", "-c", "command -v gcc cc c++ g++ cpp make; true"])
    assert runtime.returncode == 0, runtime.stderr
    assert runtime.stdout.strip() == "", f"compilers in the runtime stage: {runtime.stdout}"


@MATRIX
def test_no_compiler_reaches_the_runtime_stage(images, python_version, use_faiss):
    assert_no_compiler(images(python_version, use_faiss))


def test_the_builder_has_compilers_only_when_asked(engine, images):
    asked, plain = images(DEFAULT_PYTHON, True, True), images(DEFAULT_PYTHON, True)
    for image, compilers in [(asked, "/usr/bin/gcc"), (plain, "")]:
        builder = engine.build(image.context, target="builder")  # its layers are cached
        found = builder.probe(["bash", "-c", "command -v gcc; true"])
        assert found.stdout.strip() == compilers, found
    assert_no_compiler(asked)
    with started(asked, publish=app_port(asked)) as box:
        wait_until_serving(box)
        found = httpx.get(box.url("/api/search"), params={"q": "faiss"}).json()
        assert found["results"], found


def test_the_image_holds_the_project_and_no_local_state(images):
    image = images(DEFAULT_PYTHON, True)
    listing = image.probe(["bash", "-c", "cd $HOME/app && find . -mindepth 1 | sort"])
    files = set(listing.stdout.split())
    assert not {f"./{name}" for name in LOCAL_STATE} & files, listing.stdout
    assert not [f for f in files if f.startswith(("./tests", "./.git/", "./.venv"))], files
    for kept in ["./.env.example", "./app/main.py", "./public/index.html", "./README.md",
                 "./start_with_index.py", "./requirements.txt", "./data"]:  # fmt: skip
        assert kept in files, listing.stdout
    # The installed packages come without their own test suites (the Dockerfile removes them).
    suites = image.probe(["find", "/usr/local/lib", "-type", "d", "-name", "tests"])
    assert suites.returncode == 0 and suites.stdout == "", suites


def test_a_code_change_rebuilds_only_the_app_layers(engine, images, tmp_path):
    # Every push of code to a Space rebuilds its image: the installed requirements are reused.
    image = images(DEFAULT_PYTHON, True)
    changed = tmp_path / "changed"
    shutil.copytree(image.context, changed)
    main = changed / "app" / "main.py"
    main.write_text(main.read_text() + "\n# a user's edit\n")
    again = engine.build(changed)
    installed = re.search(r"Successfully installed|Installed \d+ packages", again.build_log)
    assert not installed, again.build_log[-3000:]  # the requirements layer, reused
    base = container.Image(engine, base_image.official_name(DEFAULT_PYTHON), "", Path())
    kept = len(base.layers) + 2  # the user's home, then the installed requirements
    assert again.layers[:kept] == image.layers[:kept] and again.layers != image.layers


def test_the_app_cannot_write_outside_its_home(images):
    image = images(DEFAULT_PYTHON, True)
    script = (
        "site=$(python -c 'import sysconfig; print(sysconfig.get_path(\"purelib\"))');"
        " for d in / /usr/local /usr/local/lib $site /etc /home; do"
        "  touch $d/probe 2>/dev/null && echo wrote $d; done;"
        " stat -c '%u %a' $HOME; stat -c %u $HOME/app $HOME/app/start_with_index.py;"
        " touch $HOME/probe && touch $HOME/app/probe && echo home ok"
    )
    probe = image.probe(["bash", "-c", script])
    assert probe.returncode == 0, probe.stderr
    # HOME belongs to uid 1000 (trixie's useradd makes it 0700: other users see nothing);
    # the project too; everything else stays read-only for it.
    assert probe.stdout.split() == ["1000", "700", "1000", "1000", "home", "ok"], probe.stdout


def test_a_read_only_root_file_system_still_serves(images):
    # A Space whose disk is read-only (as `--read-only` makes it, /tmp aside) falls back.
    image = images(DEFAULT_PYTHON, True)
    read_only = ["--read-only", "--tmpfs", "/tmp"]  # podman adds the tmpfs by itself, docker not
    with started(image, publish=app_port(image), extra=read_only) as box:
        wait_until_serving(box)
        found = httpx.get(box.url("/api/search"), params={"q": "docker"}).json()
        assert found["results"], found
        logs = box.logs()
        assert re.search(r"WARNING .*index", logs) and "/tmp/" in logs, logs[-3000:]


def test_a_bad_space_variable_stops_the_container_with_one_line_per_setting(images):
    image = images(DEFAULT_PYTHON, True)
    with started(image, env={"RETRIEVAL": "fuzzy", "CHUNK_SIZE": "many"}) as box:
        assert box.wait(60) == 2, box.logs()
        logs = box.logs()
    assert "RETRIEVAL: Input should be 'lexical', 'semantic' or 'hybrid'" in logs, logs
    assert "CHUNK_SIZE: Input should be a valid integer" in logs, logs
    assert "Traceback" not in logs, logs


def test_with_no_writable_folder_at_all_the_index_is_kept_in_memory(images):
    # --read-only without the tmpfs podman adds by default (docker adds none): nothing to write.
    image = images(DEFAULT_PYTHON, True)
    read_only = ["--read-only", *(["--read-only-tmpfs=false"] if ENGINE == "podman" else [])]
    with started(image, publish=app_port(image), extra=read_only) as box:
        wait_until_serving(box)
        found = httpx.get(box.url("/api/search"), params={"q": "docker"}).json()
        assert found["results"], found
        logs = box.logs()
        assert "No folder can take the index: it is kept in memory" in logs, logs[-3000:]
        assert "Traceback" not in logs, logs[-3000:]


def test_an_index_on_a_mounted_bucket_is_reused_even_where_the_app_cannot_write(images, tmp_path):
    # A Storage Bucket mounted at /data keeps the index across restarts (INDEX_DIR=/data/index).
    image = images(DEFAULT_PYTHON, True)
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    os.chown(bucket, 1000, 1000)
    on_bucket = {"env": {"INDEX_DIR": "/data/index"}, "extra": ["-v", f"{bucket}:/data"]}
    with started(image, publish=app_port(image), **on_bucket) as box:
        wait_until_serving(box)
        assert "Built the index in /data/index" in box.logs(), box.logs()[-3000:]
    # Mounted from elsewhere, owned by another user: the app may read it but not write it.
    for path in [bucket, *bucket.rglob("*")]:
        os.chown(path, 0, 0)
        path.chmod(0o755 if path.is_dir() else 0o644)
    with started(image, publish=app_port(image), **on_bucket) as box:
        wait_until_serving(box)
        logs = box.logs()
        assert "Loaded the index in /data/index" in logs and "Built" not in logs, logs[-3000:]
        assert httpx.get(box.url("/api/search"), params={"q": "docker"}).json()["results"]
    # Stale there (other chunking) and not writable: built in the user's cache, with a warning.
    on_bucket["env"]["CHUNK_SIZE"] = "60"
    with started(image, publish=app_port(image), **on_bucket) as box:
        wait_until_serving(box)
        logs = box.logs()
        assert "Cannot write the index to /data/index" in logs, logs[-3000:]
        assert f"Built the index in {HOME}/.cache/" in logs, logs[-3000:]


def test_a_dev_mode_image_has_its_tools_and_the_code_in_app(images, record_property):
    image, plain = images(DEFAULT_PYTHON, True, **VARIANT), images(DEFAULT_PYTHON, True)
    assert image.workdir == "/app" and image.user == "1000"
    script = (
        "for tool in bash curl wget ps git git-lfs; do command -v $tool >/dev/null || echo no"
        " $tool; done; git lfs version >/dev/null && echo lfs; stat -c %u /app /app/app"
        " /app/start_with_index.py; touch /app/probe && echo writable"
    )
    probe = image.probe(["bash", "-c", script])
    assert probe.stdout.split() == ["lfs", "1000", "1000", "1000", "writable"], probe
    with started(image, publish=app_port(image)) as box:
        wait_until_serving(box)
        assert httpx.get(box.url("/api/search"), params={"q": "docker"}).json()["results"]
        assert box.stop()[0] == 0, box.logs()
        assert "A /app/index" in box.changes()
    cost = (image.size - plain.size) / 1e6
    record_property("dev_mode_image_mb", round(cost, 1))
    print(f"\nDev Mode's tools add {cost:.1f} MB to the image ({plain.size / 1e6:.1f} MB)")


# A model2vec model with a few words, made and saved by the image's own model2vec.
MAKE_MODEL = """
import numpy as np
from model2vec import StaticModel
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.normalizers import Lowercase
from tokenizers.pre_tokenizers import Whitespace

words = "[UNK] docker container image layer faiss vector search index".split()
tokenizer = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
tokenizer.normalizer, tokenizer.pre_tokenizer = Lowercase(), Whitespace()
vectors = np.eye(len(words), 16, dtype="float32")  # a direction per word: "docker" finds docker
StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=True).save_pretrained("/out/tiny")
"""


def test_a_model_folder_in_the_repository_is_copied_into_the_image(
    engine, images, render, tmp_path
):
    images(DEFAULT_PYTHON, True)  # the stand-in base is there once the builds have started
    context = tmp_path / "context"
    tiny = {"retrieval": "semantic", "embedding_model": "./models/tiny"}
    shutil.copytree(render(**tiny), context)
    missing = engine.build(context)
    # Without the folder the Space stops at once, with a line that names it.
    with started(missing) as box:
        assert box.wait(120) == 1, box.logs()
        assert "Cannot load the model2vec model './models/tiny': no such folder" in box.logs()
    models = context / "models"
    models.mkdir()
    os.chown(models, 1000, 1000)
    with started(
        missing, command=["python", "-c", MAKE_MODEL], extra=["-v", f"{models}:/out"]
    ) as box:
        assert box.wait(120) == 0, box.logs()
    image = engine.build(context)  # with models/tiny, as a user commits it
    with started(image, publish=app_port(image)) as box:
        wait_until_serving(box)
        health = httpx.get(box.url("/api/health")).json()
        assert (health["retrieval"], health["model"]) == ("semantic", "./models/tiny"), health
        assert httpx.get(box.url("/api/search"), params={"q": "docker"}).json()["results"]


# ---- the build installs exactly what requirements.lock pins ------------------------------------


def lock_context(images, render, context: Path) -> Path:
    images(DEFAULT_PYTHON, False)  # the stand-in base and the uv layer, built already
    shutil.copytree(render(use_faiss=False), context)
    return context


def build_error(engine, context: Path) -> str:
    with pytest.raises(container.EngineError) as failed:
        engine.build(context)
    return str(failed.value)


def test_a_file_that_matches_none_of_its_locked_hashes_fails_the_build(
    engine, images, render, tmp_path
):
    context = lock_context(images, render, tmp_path / "swapped")
    lock = context / "requirements.lock"
    # Every file of uvicorn "swapped" for another: none has a hash that the lock lists.
    block = re.search(r"^uvicorn==.*?(?=^\S|\Z)", lock.read_text(), re.M | re.S).group()
    other = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, block)
    lock.write_text(lock.read_text().replace(block, other))
    error = build_error(engine, context)
    assert "Hash mismatch for `uvicorn==" in error, error


def test_a_requirement_the_lock_lacks_fails_the_build_with_its_name(
    engine, images, render, tmp_path
):
    context = lock_context(images, render, tmp_path / "stale")
    with (context / "requirements.txt").open("a") as requirements:
        requirements.write("six==1.17.0\n")
    error = build_error(engine, context)
    assert "all requirements must have a hash, but none were provided for: six==1.17.0" in error


# ---- what a Space's Variables and answers can change ------------------------------------------


def test_the_hybrid_searchs_packages_cost_less_than_60_mb_of_image(
    engine, images, render, tmp_path, record_property
):
    hybrid = images(DEFAULT_PYTHON, True)  # the default: hybrid, with model2vec
    context = tmp_path / "lexical"
    shutil.copytree(render(retrieval="lexical"), context)
    lexical = engine.build(context)
    cost = (hybrid.size - lexical.size) / 1e6
    record_property("hybrid_packages_mb", round(cost, 1))
    print(f"\nmodel2vec and its packages add {cost:.1f} MB ({lexical.size / 1e6:.1f} MB lexical)")
    assert 0 < cost < 60  # the Space's build adds the preloaded model (potion-base-8M: 30 MB)


def test_a_port_variable_moves_the_app_to_that_port(images):
    image = images(DEFAULT_PYTHON, False)
    other = app_port(image) + 1
    with started(image, env={"PORT": str(other)}, publish=other) as box:
        wait_until_serving(box)
        assert httpx.get(box.url("/api/health")).json()["status"] == "ok"
        assert box.stop()[0] == 0, box.logs()


def test_a_cmd_exec_variable_replaces_the_start_command(images):
    image = images(DEFAULT_PYTHON, True)
    baseline = engine_changes(image)
    with started(image, env={"CMD_EXEC": "python start_with_index.py --build-only"}) as box:
        assert box.wait(180) == 0, box.logs()
        assert "not serving" in box.logs(), box.logs()
        changes = box.changes()
        assert f"A {HOME}/app/index" in changes, changes
        assert outside_home(changes, baseline) == [], changes


def test_uvicorns_own_command_serves_the_app(images):
    # The start command of Hugging Face's FastAPI examples, with the port from $PORT.
    image = images(DEFAULT_PYTHON, True, **VARIANT)
    assert image.env["CMD_EXEC"] == UVICORN
    with started(image, publish=app_port(image)) as box:
        wait_until_serving(box)
        found = httpx.get(box.url("/api/search"), params={"q": "docker"}).json()
        assert found["results"], found
        assert box.proc_status()["Name"].startswith("uvicorn"), box.proc_status()
        assert box.stop()[0] == 0, box.logs()


def test_the_stand_in_base_is_shaped_like_the_official_image(engine, images):
    if engine.name != "podman":
        pytest.skip("the official python:<v>-slim-trixie is pulled here; no stand-in")
    images(DEFAULT_PYTHON, True)  # the stand-ins exist once the builds have started
    base = container.Image(engine, base_image.official_name(DEFAULT_PYTHON), "", Path())
    assert base.env["PATH"] == base_image.PATH and base.env["LANG"] == "C.UTF-8"
    assert base.cmd == ["python3"] and base.user == "root"
    script = (  # the find first: the python commands after it write .pyc files
        "find /usr/local -name '*.pyc' -o -name tests -o -name 'libpython*.a' | wc -l;"
        " python -c 'import sys, ssl, sqlite3; print(sys.prefix, sys.version_info[:2])';"
        " python -m pip list --format=freeze; command -v gcc cc; grep -c trixie /etc/os-release"
    )
    probe = base.probe(["bash", "-c", script])
    lines = probe.stdout.splitlines()
    major, minor = DEFAULT_PYTHON.split(".")
    # trimmed as the official image is, CPython at /usr/local, only pip, no compiler, trixie
    assert lines[0] == "0", probe.stdout
    assert lines[1] == f"/usr/local ({major}, {minor})", probe
    assert [ln.split("==")[0] for ln in lines[2:-1]] == ["pip"], probe.stdout
    assert int(lines[-1]) > 0, probe.stdout


def test_the_postgres_image_serves_an_index_that_lives_in_the_database(
    engine, images, render, tmp_path
):
    """On the host's network, against a real PostgreSQL there: the first container builds the
    index into the database, the second only reads it and writes nothing of it."""
    from postgres_server import PASSWORD, PostgresServer
    from serving import free_port

    images(DEFAULT_PYTHON, True)  # the same base and layers, built already
    context = tmp_path / "postgres"
    shutil.copytree(render(index_store="postgres", retrieval="lexical"), context)
    image = engine.build(context)
    postgres = PostgresServer(free_port())
    postgres.start()
    try:
        port = free_port()
        env = {"DATABASE_URL": postgres.url(), "PORT": str(port)}
        network = ["--network", "host"]
        baseline = engine_changes(image)
        for start in ("Built", "Loaded"):
            with started(image, env=env, extra=network) as box:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 120
                while not _answers(url + "/api/health"):
                    assert box.running() and time.monotonic() < deadline, box.logs()[-4000:]
                    time.sleep(0.2)
                found = httpx.get(url + "/api/search", params={"q": "docker", "k": 1}).json()
                assert "docker" in found["results"][0]["text"].lower()
                logs = box.logs()
                assert f"{start} the index in PostgreSQL 127.0.0.1:" in logs, logs
                assert PASSWORD not in logs
                assert outside_home(box.changes(), baseline) == []
                assert not [c for c in box.changes() if "/index" in c], box.changes()
                assert box.stop()[0] == 0, box.logs()
    finally:
        postgres.remove()


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=2).status_code == 200
    return False

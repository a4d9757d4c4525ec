"""A real container engine for the tests and the bench: podman here, docker where a daemon answers.

Both take the same command lines. podman runs rootful with this VM's quirks in
`tests/containers.conf`, passed through CONTAINERS_CONF to podman's processes only (nothing
global is changed): lower rlimits (no CAP_SYS_RESOURCE to raise them), runc with cgroupfs (crun
refuses the cgroup layout); its images live in a storage of the tests' own
(`tests/storage.conf`). Builds reach apt and PyPI over the host's network. No registry is
reachable here, so podman's base images are the stand-ins of tests/base_image.py.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
PODMAN_ENV = {
    "CONTAINERS_CONF": str(HERE / "containers.conf"),
    "CONTAINERS_STORAGE_CONF": str(HERE / "storage.conf"),
}
ENGINES = ("podman", "docker")
TEST_IMAGES = "localhost/hf-space-template-test"


class EngineError(RuntimeError):
    """An engine command failed; the message has its output."""


def problem(name: str) -> str | None:
    """Why `name` cannot build and run images here, or None."""
    if shutil.which(name) is None:
        hint = " (.ci/run installs podman)" if name == "podman" else ""
        return f"{name} is not installed{hint}"
    if name == "podman" and shutil.which("mmdebstrap") is None:
        return "mmdebstrap is not installed (the stand-in base images need it; .ci/run has it)"
    info = Engine(name)("info", check=False, timeout=120)
    if info.returncode != 0:
        return f"{name} info failed: {(info.stderr or info.stdout).strip()[-500:]}"
    return None


class Engine:
    """`engine(*args)` runs one engine command; `build()` and `Image` wrap the common ones."""

    def __init__(self, name: str):
        self.name = name
        self.env = {**os.environ, **PODMAN_ENV} if name == "podman" else None
        self.tags: list[str] = []

    def __call__(self, *args, timeout: float = 1800, check: bool = True, **kwargs):
        cmd = [self.name, *map(str, args)]
        proc = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=timeout, **kwargs
        )
        if check and proc.returncode != 0:
            raise EngineError(
                f"{' '.join(cmd)} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
            )
        return proc

    def build(self, context: Path, target: str | None = None, log: Path | None = None, **kwargs):
        """Build `context`'s Dockerfile as a Space build does; returns the Image."""
        tag = f"{TEST_IMAGES}:{uuid.uuid4().hex[:12]}"
        args = ["build", "-t", tag, *(["--target", target] if target else [])]
        if self.name == "podman":
            args += ["--network", "host"]
        for key, value in kwargs.pop("build_args", {}).items():
            args.append(f"--build-arg={key}={value}")
        proc = self(*args, *kwargs.pop("extra", []), context, **kwargs)
        if log:
            log.write_text(proc.stdout + proc.stderr)
        self.tags.append(tag)
        return Image(self, tag, proc.stdout + proc.stderr, context)

    def remove_test_images(self) -> None:
        """Remove the images this run built; in podman's own storage, their cached layers too."""
        if self.tags:
            self("image", "rm", "--force", *self.tags, check=False)
            self.tags.clear()
        if self.name == "podman":
            self("image", "prune", "--force", check=False)


class Image:
    def __init__(self, engine: Engine, tag: str, build_log: str, context: Path):
        self.engine, self.tag, self.build_log, self.context = engine, tag, build_log, context
        inspected = json.loads(engine("image", "inspect", tag).stdout)[0]
        config = inspected["Config"]
        self.env = dict(e.split("=", 1) for e in config.get("Env") or [])
        self.user = config.get("User") or "root"
        self.workdir = config.get("WorkingDir") or "/"
        self.cmd = config.get("Cmd")
        self.entrypoint = config.get("Entrypoint")
        self.exposed = sorted((config.get("ExposedPorts") or {}).keys())
        self.size = inspected["Size"]
        self.layers = inspected["RootFS"]["Layers"]

    def probe(self, argv: list[str], user: str | None = None, timeout: float = 300):
        """Run `argv` in a throwaway container without network; its CompletedProcess."""
        extra = ["--user", user] if user else []
        return self.engine(
            "run", "--rm", "--network", "none", *extra, "--entrypoint", argv[0], self.tag,
            *argv[1:], check=False, timeout=timeout,
        )  # fmt: skip

    def run(self, env: dict | None = None, command: list | None = None, publish: int | None = None,
            extra: list | None = None) -> Container:  # fmt: skip
        """Start a container as a Space does: the image's own CMD, ENV and USER unless given."""
        args = ["run", "-d", *(extra or [])]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        if publish:
            args += ["-p", f"127.0.0.1::{publish}"]
        cid = self.engine(*args, self.tag, *(command or [])).stdout.strip()
        return Container(self.engine, cid, publish)


class Container:
    def __init__(self, engine: Engine, cid: str, publish: int | None):
        self.engine, self.id, self.publish = engine, cid, publish

    def url(self, path: str = "") -> str:
        mapped = self.engine("port", self.id, f"{self.publish}/tcp").stdout.split()[0]
        return f"http://127.0.0.1:{mapped.rsplit(':', 1)[1]}{path}"

    def logs(self) -> str:
        proc = self.engine("logs", self.id, check=False)
        return proc.stdout + proc.stderr

    def state(self, field: str, how: str = "") -> str:
        template = f"{{{{{how} .State.{field}}}}}"
        return self.engine("inspect", "--format", template, self.id).stdout.strip()

    def running(self) -> bool:
        return self.state("Running") == "true"

    def exec(self, *argv: str) -> str:
        return self.engine("exec", self.id, *argv).stdout

    def proc_status(self) -> dict[str, str]:
        text = self.exec("cat", "/proc/1/status")
        return {k: v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines())}

    def wait(self, timeout: float) -> int:
        return int(self.engine("wait", self.id, timeout=timeout).stdout.strip())

    def stop(self, timeout: int = 10) -> tuple[int, float]:
        """SIGTERM, as stopping a Space sends; (exit code, seconds until the app had exited).

        The seconds are the engine's record of the exit, not how long `stop` took: its own
        cleanup after the exit takes seconds more on a busy machine."""
        sent = datetime.datetime.now(datetime.UTC)
        self.engine("stop", "--time", str(timeout), self.id, timeout=timeout + 60)
        finished = json.loads(self.state("FinishedAt", "json"))
        finished = re.sub(r"(\.\d{6})\d*", r"\1", finished).replace("Z", "+00:00")
        seconds = (datetime.datetime.fromisoformat(finished) - sent).total_seconds()
        return int(self.state("ExitCode")), max(seconds, 0.0)

    def changes(self) -> list[str]:
        """`diff` against the image: lines like "A /home/user/app/index"."""
        return self.engine("diff", self.id).stdout.splitlines()

    def remove(self) -> None:
        self.engine("rm", "--force", self.id, check=False)

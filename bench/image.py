"""The image, built by the real engine: the template's Dockerfile beside the seed's.

The default project is built twice per round, once with its own Dockerfile and once with the
seed document's (bench/seed/Dockerfile, its `python:3.10-slim` swapped for the default answer's
`python:3.12-slim`, so both install the same wheels into the same CPython). Figures: a cold
build (`--no-cache`: what Hugging Face does after every requirements change), a rebuild after a
code-only change (the layer cache), the image's own layers (its size minus the base's), and the
start of a container to its first 200 (the uv builder's image against the pip builder's).
Two more renders are built cold once per round, for what their answers cost: build_essential
(compilers in the builder stage: build time) and dev_mode (tools in the runtime stage: size).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx
from common import CACHE, ROOT, render, row

sys.path.insert(0, str(ROOT / "tests"))
import base_image  # noqa: E402
import container  # noqa: E402
from conftest import DEFAULT_PYTHON, python_for  # noqa: E402

SEED = Path(__file__).resolve().parent / "seed" / "Dockerfile"
RUNS = int(os.environ.get("BENCH_IMAGE_RUNS", "2"))  # a cold build is a minute or more


# The builder's install as it was before uv (template v0.1 to 2026-12-07): pip, the same
# requirements into the same prefix.
PIP_INSTALL = """RUN pip install --prefix=/install --no-cache-dir --root-user-action=ignore \\
    --disable-pip-version-check -r requirements.txt \\
    && find /install -depth -type d -name tests -exec rm -rf {} +
"""
UV_STEPS = re.compile(r"^RUN pip install [^\n]* uv==\S+\n|^ENV UV_[^\n]*\n", re.M)
UV_INSTALL = re.compile(r"^RUN uv pip install .*?-exec rm -rf \{\} \+\n", re.M | re.S)
INSTALLED = re.compile(r"Successfully installed|Installed \d+ packages")  # pip's, uv's


def contexts() -> dict[str, Path]:
    ours = render(CACHE / "image" / "ours")
    compilers = render(CACHE / "image" / "compilers", build_essential="true")
    dev_mode = render(CACHE / "image" / "dev_mode", dev_mode="true")
    seed, pip = copy_of(ours, "seed"), copy_of(ours, "pip")
    (seed / "Dockerfile").write_text(
        SEED.read_text().replace("python:3.10-slim", f"python:{DEFAULT_PYTHON}-slim")
    )
    dockerfile = (ours / "Dockerfile").read_text()
    with_pip = UV_INSTALL.sub(PIP_INSTALL.replace("\\", "\\\\"), UV_STEPS.sub("", dockerfile))
    assert PIP_INSTALL in with_pip and "uv pip" not in with_pip and "uv==" not in with_pip
    (pip / "Dockerfile").write_text(with_pip)
    lazy = copy_of(ours, "lazy")  # no bytecode at build time: each start compiles instead
    (lazy / "Dockerfile").write_text(dockerfile.replace("UV_COMPILE_BYTECODE=1 ", ""))
    assert "UV_COMPILE_BYTECODE" not in (lazy / "Dockerfile").read_text()
    return {"ours": ours, "compilers": compilers, "dev_mode": dev_mode, "seed": seed, "pip": pip,
            "lazy": lazy}  # fmt: skip


def copy_of(project: Path, name: str) -> Path:
    copy = CACHE / "image" / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project, copy)
    return copy


def timed_build(engine, context: Path, *extra: str) -> tuple[float, container.Image]:
    started = time.perf_counter()
    image = engine.build(context, extra=list(extra))
    return time.perf_counter() - started, image


def first_200_seconds(image: container.Image) -> float:
    """From `run` to the first 200 of /api/health: the app starts and builds the sample index
    (HF_HUB_OFFLINE: the model cannot be fetched here, so both serve the lexical fallback)."""
    port = int(image.env["PORT"])
    started = time.perf_counter()
    box = image.run(env={"HF_HUB_OFFLINE": "1"}, publish=port)
    try:
        url = box.url("/api/health")
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return time.perf_counter() - started
            assert box.running() and time.perf_counter() - started < 120, box.logs()[-2000:]
            time.sleep(0.05)
    finally:
        box.remove()


def code_change(context: Path, n: int) -> None:
    main = context / "app" / "main.py"
    main.write_text(main.read_text().split("\n# bench edit")[0] + f"\n# bench edit {n}\n")


def measure() -> list[dict]:
    engine = container.Engine(os.environ.get("CONTAINER_ENGINE", "podman"))
    reason = container.problem(engine.name)
    if reason:
        print(f"image: skipped, {reason}", file=sys.stderr)
        return []
    base = f"python:{DEFAULT_PYTHON}-slim-trixie"
    if engine.name == "podman":
        base = base_image.ensure(engine, DEFAULT_PYTHON, python_for(DEFAULT_PYTHON).parents[1])
        engine("tag", base, base.replace("-slim-trixie", "-slim"))  # the seed's FROM
    base_size = container.Image(engine, base, "", Path()).size
    places = contexts()
    compared = ("ours", "seed")  # the code-only rebuild is measured for these two
    cold: dict[str, list[float]] = {name: [] for name in places}
    rebuild: dict[str, list[float]] = {name: [] for name in compared}
    reused: dict[str, bool] = dict.fromkeys(compared, True)
    start: dict[str, list[float]] = {"ours": [], "pip": [], "lazy": []}
    images = {}
    try:
        for n in range(RUNS):
            for name, context in places.items():
                seconds, images[name] = timed_build(engine, context, "--no-cache")
                cold[name].append(seconds)
                if name in start:
                    start[name].append(first_200_seconds(images[name]))
                if name not in compared:
                    continue
                code_change(context, n)
                seconds, again = timed_build(engine, context)
                rebuild[name].append(seconds)
                # The installer's output in the rebuild's log: requirements installed again.
                reused[name] &= not INSTALLED.search(again.build_log)
    finally:
        engine.remove_test_images()
    c = {name: statistics.median(v) for name, v in cold.items()}
    r = {name: statistics.median(v) for name, v in rebuild.items()}
    up = {name: statistics.median(v) for name, v in start.items()}
    own = {name: (image.size - base_size) / 1e6 for name, image in images.items()}
    faster = c["ours"] <= 0.25 * c["seed"]
    return [
        row("image cold build, default answers (s)", c["ours"], "s",
            "the seed's Dockerfile, same project", c["seed"], "<= 0.25x", faster,
            f"{engine.name}, --no-cache, medians of {RUNS}; ours with build_essential on: "
            f"{c['compilers']:.1f} s, {c['compilers'] / c['seed']:.2f}x"),
        row("image cold build, uv against pip in the builder (s)", c["ours"], "s",
            "the same Dockerfile with pip's install", c["pip"], "faster", c["ours"] < c["pip"],
            f"own layers: uv's {own['ours']:.1f} MB, pip's {own['pip']:.1f} MB"),
        row("container start to the first 200 of /api/health (s)", up["ours"], "s",
            "the pip builder's image", up["pip"], "no slower", up["ours"] <= up["pip"],
            f"medians of {RUNS}; the bytecode compiled at build time in both"),
        row("container start without build-time bytecode (s)", up["lazy"], "s",
            "the same image with it (UV_COMPILE_BYTECODE=1)", up["ours"], "none (a measure)",
            True, f"its cold build {c['lazy']:.1f} s against {c['ours']:.1f} s"),
        row("image rebuild after a code-only change (s)", r["ours"], "s",
            "the seed's Dockerfile", r["seed"], "requirements layer reused", reused["ours"],
            f"requirements layer reused: ours {reused['ours']}, seed {reused['seed']}"),
        row("image's own layers, size minus the base (MB)", own["ours"], "MB",
            "the seed's Dockerfile", own["seed"], "< seed's", own["ours"] < own["seed"],
            f"base {base} {base_size / 1e6:.1f} MB"),
        row("image's own layers with dev_mode on (MB)", own["dev_mode"], "MB",
            "the default answers", own["ours"], "none (the cost of an option)", True,
            f"Dev Mode's tools add {own['dev_mode'] - own['ours']:.0f} MB (git brings perl); "
            f"cold build {c['dev_mode']:.1f} s"),
    ]  # fmt: skip

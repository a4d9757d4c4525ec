"""The one stand-in: `python:<v>-slim-trixie`, built here because no registry is reachable.

The rendered Dockerfile starts `FROM python:${PYTHON_VERSION}-slim-trixie`. Where a registry
answers (a Docker daemon on a GitHub runner) the engine pulls the official image and nothing here
runs. On the template's own machines it cannot be pulled, so this module makes an image of the
same shape once per Python version and tags it with the official name, so that the Dockerfile,
the build and the run stay real:
- Debian trixie minbase from Debian's own mirror (mmdebstrap), with the runtime libraries that
  the official image keeps for CPython (docker-library/python's slim-trixie Dockerfile keeps
  what `ldd` finds under /usr/local, plus ca-certificates, netbase and tzdata);
- that minor version's CPython from pyenv at /usr/local, trimmed as the official image is: no
  test directories, no .pyc, no static libpython, site-packages with pip only, `#!` lines and
  build paths pointing at /usr/local;
- `ldconfig`, PATH and LANG as the official image sets them, `CMD ["python3"]`;
- this machine's CA bundle as the system one: its route to PyPI presents a certificate of its
  own CA, which Debian's bundle lacks (pip trusts it through the certifi it vendors; uv, told
  by the Dockerfile to use the system's store, through this), as a company's base image would.
The version's patch release is pyenv's, not the official image's newest.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# CPython's shared libraries' packages on trixie (the official image's `ldd` scan finds these).
RUNTIME_PACKAGES = [
    "ca-certificates", "netbase", "tzdata", "libssl3t64", "libffi8", "libsqlite3-0", "zlib1g",
    "libbz2-1.0", "liblzma5", "libreadline8t64", "libncursesw6", "libtinfo6", "libuuid1",
    "libexpat1", "libcrypt1", "libnsl2", "libtirpc3t64",
]  # fmt: skip
# The official image sets these (docker-library/python, slim-trixie).
PATH = "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CPYTHON_BIN = re.compile(r"^(2to3|idle|pip|pydoc|python)")
TRIMMED_DIRS = {"test", "tests", "idle_test", "__pycache__"}
RECIPE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
DEBIAN = hashlib.sha256(" ".join([MIRROR, *RUNTIME_PACKAGES]).encode()).hexdigest()[:12]
DEBIAN_TAG = f"localhost/hf-space-template-trixie-minbase:{DEBIAN}"
DEBIAN_LOCK = threading.Lock()  # the versions' stand-ins may be made at once; Debian once
CONTAINERFILE = f"""\
FROM {DEBIAN_TAG}
COPY python/ /usr/local/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Every shared object of CPython must resolve (tkinter aside, which the slim image lacks too).
RUN ldconfig \\
    && ! find /usr/local -name '*.so*' -not -name '*tkinter*' -exec ldd {{}} + | grep 'not found' \\
    && PYTHONDONTWRITEBYTECODE=1 python3 -c \\
        'import ssl, sqlite3, ctypes, lzma, bz2, zlib, readline, uuid, pyexpat'
ENV PATH={PATH} LANG=C.UTF-8
LABEL hf-space-template.stand-in={RECIPE}
CMD ["python3"]
"""


def official_name(version: str) -> str:
    return f"docker.io/library/python:{version}-slim-trixie"


def ensure(engine, version: str, prefix: Path, log=print) -> str:
    """Tag a stand-in `python:<version>-slim-trixie` in `engine` unless this recipe made it."""
    name = official_name(version)
    found = engine("image", "inspect", "--format", "{{.Labels}}", name, check=False)
    if found.returncode == 0 and RECIPE in found.stdout:
        return name
    with DEBIAN_LOCK:
        if engine("image", "exists", DEBIAN_TAG, check=False).returncode != 0:
            _debian(engine, log)
    with tempfile.TemporaryDirectory(prefix="hfst-base-") as tmp:
        context = Path(tmp)
        _copy_cpython(prefix, context / "python", version)
        shutil.copy(HOST_CA_BUNDLE, context / "ca-certificates.crt")
        (context / "Containerfile").write_text(CONTAINERFILE)
        log(f"stand-in {name}: CPython from {prefix}")
        engine("build", "--network", "none", "-t", name, "-f", context / "Containerfile", context)
    return name


def _debian(engine, log) -> None:
    with tempfile.TemporaryDirectory(prefix="hfst-debian-") as tmp:
        tar = Path(tmp) / "trixie.tar"
        log(f"stand-in base: mmdebstrap --variant=minbase trixie from {MIRROR}")
        include = "--include=" + ",".join(RUNTIME_PACKAGES)
        subprocess.run(
            ["mmdebstrap", "--quiet", "--variant=minbase", include, "trixie", str(tar), MIRROR],
            check=True, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        engine("import", "--change", 'CMD ["bash"]', tar, DEBIAN_TAG)


def _copy_cpython(prefix: Path, dest: Path, version: str) -> None:
    """pyenv's install of `version`, as `make install` + the official image's trimming leave it."""
    lib = f"python{version}"

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        dropped = {n for n in names if n in TRIMMED_DIRS or n.endswith((".pyc", ".pyo"))}
        dropped |= {n for n in names if re.match(r"libpython.*\.a$", n)}
        if here == prefix / "bin":
            dropped |= {n for n in names if not CPYTHON_BIN.match(n)}
        if here == prefix / "lib" / lib / "site-packages":
            dropped |= {n for n in names if not n.startswith(("pip", "README"))}
        return dropped

    for part in ("bin", "include", "lib", "share"):
        if (prefix / part).exists():
            shutil.copytree(prefix / part, dest / part, symlinks=True, ignore=ignore)
    # Scripts and build settings name the install prefix; in the image it is /usr/local.
    for path in [*(dest / "bin").iterdir(), *(dest / "lib" / lib).glob("_sysconfigdata_*.py")]:
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if b"\0" not in data and str(prefix).encode() in data:
                path.write_bytes(data.replace(str(prefix).encode(), b"/usr/local"))

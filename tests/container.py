"""Build and run a rendered Dockerfile without a Docker engine, or with one where it answers.

`Emulator.build()` reads the Dockerfile with `dockerfile-parse` and executes ITS instructions
in order (FROM, ARG, ENV, WORKDIR, RUN, COPY, USER, EXPOSE, CMD, plus LABEL and ENTRYPOINT);
any other instruction, flag or base image raises `EmulationError`, nothing is skipped. Each
stage is a directory tree (its root filesystem layer); RUN steps and containers execute in a
bubblewrap sandbox over that tree. `DockerEngine` does the same with `docker build` and
`docker run`, so one test can drive either.

Emulation choices (each one also commented where it is made):
- `FROM python:<v>-slim[-trixie|-bookworm]`: /usr/local is a copy of the local CPython <v>
  prefix (pyenv's), trimmed as the official image trims it; the rest of the userland is the
  host's /usr, read-only, with the compilers that build-essential brings hidden.
- The sandbox runs as real uids, without a user namespace: RUN steps as root get Docker's
  default capability set and nothing more; a non-root USER (and so the container) runs as
  that real uid with no capability, so file ownership and permissions are checked as in a
  container. This needs root on the host (CI and the workplace run as root).
- `apt-get install` cannot run: the package is checked against the host's apt metadata and
  lent from the host (its files become visible in that stage only).
- A container gets a fresh writable layer (a copy of the image tree), its own PID, IPC, UTS
  and network namespaces, and a published port forwarded from 127.0.0.1 on the host.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser
from dockerfile_parse.parser import image_from
from dockerfile_parse.util import WordSplitter, extract_key_values


class EmulationError(RuntimeError):
    """The Dockerfile asks for something the emulator cannot do, or a step failed."""


# Docker's default capability set for a container (moby's oci/caps defaults); RUN steps as
# root get exactly these, so they can chown and write as root but not mount or load modules.
# fmt: off
DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
# fmt: on
# Build args Docker predefines and passes from the client's proxy settings.
PROXY_ARGS = ["HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"]
# Settings that route pip to its index on this host (mirrors, CA); RUN steps get them, as a
# build machine's BuildKit would get a registry mirror. Nothing else leaks from the host.
# fmt: off
PIP_ROUTE_VARS = [
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT", "PIP_CONSTRAINT",
]
# fmt: on
PIP_CONFIG_FILES = ["/etc/pip.conf", "/etc/xdg/pip/pip.conf"]
BASE_IMAGE = re.compile(
    r"^(?:docker\.io/)?(?:library/)?python:(3\.\d+)-slim(?:-(?:bookworm|trixie))?$"
)
# python:<v>-slim's image config (docker-library/python): PATH puts /usr/local/bin first.
BASE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Host /etc entries a Debian slim image also has (copied; passwd/group/shadow are rebuilt).
# fmt: off
ETC_FROM_HOST = [
    "login.defs", "default", "skel", "nsswitch.conf", "host.conf", "hosts", "resolv.conf",
    "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "os-release", "debian_version",
    "shells", "localtime", "timezone", "mime.types", "bash.bashrc", "profile", "environment",
    "adduser.conf", "pam.d", "security", "ca-certificates.conf",
]
# fmt: on
# The host's own Python in /usr/bin; the image's Python is the one in /usr/local.
HOST_PYTHON = re.compile(r"^(python|pip|pydoc|idle|2to3)")
CLONE_NEWNET = 0x40000000


def problem() -> str | None:
    """Why the emulator cannot run on this machine, or None."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian package 'bubblewrap'; .ci/run installs it)"
    if os.geteuid() != 0:
        return "the container emulation runs steps as real uid 0 and uid 1000, so it needs root"
    for tool in ("setpriv", "apt-cache", "dpkg-query", "ldconfig", "cp"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(
        shlex.split(
            "bwrap --unshare-pid --unshare-net --ro-bind / / --proc /proc --cap-drop ALL"
            " --cap-add CAP_SETUID --cap-add CAP_SETGID setpriv --reuid=1000 --regid=1000"
            " --clear-groups true"
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"bwrap cannot make a sandbox here: {probe.stderr.strip()}"
    return None


# ---- Dockerfile words ------------------------------------------------------------------------

UNSUPPORTED_EXPANSION = re.compile(r"\$\{[^}]*[:?+-]")


def expand(text: str, variables: dict[str, str]) -> str:
    """Docker's variable substitution ($VAR, ${VAR}) and quote removal, by dockerfile-parse."""
    if UNSUPPORTED_EXPANSION.search(text):
        raise EmulationError(f"variable modifiers (${{VAR:-x}} etc.) are not emulated: {text}")
    return WordSplitter(text, args={}, envs=variables).dequote()


def split_words(text: str, variables: dict[str, str]) -> list[str]:
    if UNSUPPORTED_EXPANSION.search(text):
        raise EmulationError(f"variable modifiers (${{VAR:-x}} etc.) are not emulated: {text}")
    return list(WordSplitter(text, args={}, envs=variables).split())


def exec_form(value: str) -> list[str] | None:
    """The JSON (exec) form of RUN/CMD/ENTRYPOINT/COPY, or None for the shell form."""
    if not value.lstrip().startswith("["):
        return None
    try:
        words = json.loads(value)
    except json.JSONDecodeError:
        return None
    return words if isinstance(words, list) and all(isinstance(w, str) for w in words) else None


# ---- .dockerignore (moby/patternmatcher semantics) -------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern:
    """filepath.Match plus '**', anchored at the context root (Docker does not float '*.x')."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                    out += "(?:.*/)?"
                else:
                    out += ".*"
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise EmulationError(f"bad .dockerignore pattern {pattern!r}")
            body = pattern[i + 1 : end]
            if body.startswith("^"):
                body = "!" + body[1:]
            out += "[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body))
            out += "]"
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


class DockerIgnore:
    """Which context paths `docker build` leaves out; later patterns win, '!' re-includes."""

    def __init__(self, text: str):
        self.patterns: list[tuple[bool, re.Pattern]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            line = line[1:].strip() if negate else line
            line = posixpath.normpath(line).lstrip("/")
            if line in ("", "."):
                continue
            self.patterns.append((negate, _pattern_regex(line)))

    def excluded(self, relpath: str) -> bool:
        parts = relpath.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        matched = False
        for negate, regex in self.patterns:
            if any(regex.match(c) for c in candidates):
                matched = not negate
        return matched


def context_files(context: Path) -> dict[str, Path]:
    """relative path -> path of every file, symlink and directory sent as build context."""
    ignore_file = context / ".dockerignore"
    ignore = DockerIgnore(ignore_file.read_text() if ignore_file.exists() else "")
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(context):
        for name in sorted(dirnames) + sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(context).as_posix()
            if not ignore.excluded(rel):
                found[rel] = path
    # A directory is sent when something under it is, even if the directory itself is ignored.
    for rel in list(found):
        parent = posixpath.dirname(rel)
        while parent and parent not in found:
            found[parent] = context / parent
            parent = posixpath.dirname(parent)
    return dict(sorted(found.items()))


# ---- the pieces of a stage ------------------------------------------------------------------


def inside(root: Path, path: str) -> Path:
    """The host path of `path` in the tree `root`, resolving symlinks within that tree."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    current: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if current:
                current.pop()
            continue
        candidate = root.joinpath(*current, part)
        if candidate.is_symlink():
            hops += 1
            if hops > 40:
                raise EmulationError(f"too many symlinks in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        current.append(part)
    return root.joinpath(*current)


def read_db(root: Path, name: str) -> list[list[str]]:
    path = root / "etc" / name
    return [line.split(":") for line in path.read_text().splitlines() if line and ":" in line]


def resolve_user(root: Path, spec: str) -> tuple[int, int]:
    """USER/--chown spec -> uid, gid, looked up in the stage's own /etc/passwd and /etc/group."""
    user, _, group = spec.partition(":")
    passwd = read_db(root, "passwd")
    if user.isdigit():
        uid = int(user)
        entry = next((e for e in passwd if e[2] == user), None)
    else:
        entry = next((e for e in passwd if e[0] == user), None)
        if entry is None:
            raise EmulationError(f"unable to find user {user}: no matching entries in passwd")
        uid = int(entry[2])
    # BuildKit: a user without a passwd entry and no explicit group runs with group 0.
    gid = int(entry[3]) if entry else 0
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = next((e for e in read_db(root, "group") if e[0] == group), None)
            if match is None:
                raise EmulationError(f"unable to find group {group}")
            gid = int(match[2])
    return uid, gid


def makedirs(root: Path, path: str, owner: tuple[int, int]) -> Path:
    """mkdir -p inside a tree; directories it creates get `owner` and mode 0755."""
    parts = [p for p in path.split("/") if p]
    target = root
    for i in range(len(parts)):
        target = inside(root, "/".join(parts[: i + 1]))
        if not target.exists():
            target.mkdir(mode=0o755)
            os.chown(target, *owner)
        elif not target.is_dir():
            raise EmulationError(f"{path}: {parts[i]} exists and is not a directory")
    return target


def copy_entry(src: Path, dst: Path, owner: tuple[int, int] | None, mode: int | None) -> None:
    """Copy one file/symlink/dir entry (not its contents); owner None keeps the source's."""
    st = src.lstat()
    if dst.is_symlink() or (dst.exists() and not dst.is_dir()):
        dst.unlink()  # never write through an existing file (it may be a hard link)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISDIR(st.st_mode):
        if dst.exists():
            return  # an existing directory keeps its metadata when COPY merges into it
        dst.mkdir()
        os.chmod(dst, mode if mode is not None else stat.S_IMODE(st.st_mode))
    elif stat.S_ISREG(st.st_mode):
        shutil.copy2(src, dst, follow_symlinks=False)
        if mode is not None:
            os.chmod(dst, mode)
    else:
        raise EmulationError(f"COPY of special file {src} is not emulated")
    uid, gid = owner if owner is not None else (st.st_uid, st.st_gid)
    os.lchown(dst, uid, gid)


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            total += (Path(dirpath) / name).lstat().st_size
    return total


# ---- base image and host views --------------------------------------------------------------


def build_essential_packages() -> list[str]:
    """build-essential and the packages it pulls in (apt-cache's recursive dependencies)."""
    deps = subprocess.run(
        [
            "apt-cache",
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            "--no-pre-depends",
            "build-essential",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted({ln for ln in deps.splitlines() if ln and not ln[0].isspace() and "<" not in ln})


def compiler_files() -> set[str]:
    """Names in /usr/bin owned by the packages build-essential pulls in (gcc, cc, make, ...)."""
    packages = build_essential_packages()
    listed: set[str] = set()
    for package in packages:
        # Packages every Debian image has (required, important, Essential) stay visible.
        query = ["dpkg-query", "-W", "-f=${Priority} ${Essential}", package]
        priority = subprocess.run(query, capture_output=True, text=True).stdout.split()
        if not priority or priority[0] in ("required", "important") or "yes" in priority:
            continue
        files = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
        for line in files.stdout.splitlines():
            if posixpath.dirname(line) in ("/usr/bin", "/bin"):
                listed.add("/usr/bin/" + posixpath.basename(line))
    programs = {os.path.realpath(p) for p in listed if not os.path.islink(p)}
    hidden = set()
    for entry in os.scandir("/usr/bin"):
        # Listed names, and links to listed programs (cc -> /etc/alternatives/cc -> gcc-12).
        if entry.path in listed or os.path.realpath(entry.path) in programs:
            hidden.add(entry.name)
    return hidden


@dataclass
class Stage:
    """One FROM ... stage: its tree and the state the instructions build up."""

    name: str
    index: int
    root: Path
    env: dict[str, str]
    args: dict[str, str] = field(default_factory=dict)
    user: str = "root"
    workdir: str = "/"
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    exposed: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    lent: dict[str, str] = field(default_factory=dict)  # apt packages lent from the host


class Emulator:
    """Builds images from Dockerfiles in sandboxes under `workdir` (0755, root-owned)."""

    def __init__(
        self,
        workdir: Path,
        python_prefix: Callable[[str], Path | None],
        log: Callable[[str], None] = print,
    ):
        reason = problem()
        if reason:
            raise EmulationError(reason)
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self.python_prefix = python_prefix
        self.log = log
        self._bases: dict[str, tuple[Path, str]] = {}
        self._etc: Path | None = None
        self._usr_bin: dict[bool, Path] = {}
        self.hidden_compilers: set[str] | None = None

    # -- shared pieces, made once per emulator --

    def base(self, version: str) -> tuple[Path, str]:
        """/usr/local of python:<version>-slim: a trimmed copy of the local CPython prefix."""
        if version not in self._bases:
            python = self.python_prefix(version)
            if python is None:
                raise EmulationError(
                    f"no local Python {version} to stand in for python:{version}-slim"
                )
            info = subprocess.run(
                [
                    python,
                    "-c",
                    "import sys, platform; print(sys.base_prefix, platform.python_version())",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            prefix, full_version = Path(info[0]), info[1]
            dest = self.workdir / "bases" / f"python-{full_version}"
            if dest.exists():
                shutil.rmtree(dest)
            self._copy_prefix(prefix, dest, version)
            self._bases[version] = (dest, full_version)
        return self._bases[version]

    def _copy_prefix(self, prefix: Path, dest: Path, version: str) -> None:
        site = f"lib/python{version}/site-packages"
        keep_dists = {"pip", "setuptools", "wheel"}  # what ensurepip/the image installs
        keep_site = {"README.txt"}
        for record in (prefix / site).glob("*.dist-info/RECORD"):
            dist = record.parent.name.split("-")[0].lower().replace("_", "-")
            if dist in keep_dists:
                for line in record.read_text().splitlines():
                    top = line.split(",")[0].split("/")[0]
                    if top and top != "..":
                        keep_site.add(top)

        def skip(rel: str, is_dir: bool) -> bool:
            name = posixpath.basename(rel)
            # docker-library/python deletes tests, .pyc and the static libpython.
            if is_dir and name in ("test", "tests", "idle_test", "__pycache__"):
                return True
            if not is_dir and (
                name.endswith((".pyc", ".pyo")) or re.match(r"libpython.*\.a$", name)
            ):
                return True
            if posixpath.dirname(rel) == site:
                return name not in keep_site  # the host's extra packages are not in the image
            if posixpath.dirname(rel) == "bin":
                return not re.match(r"(python|pip|pydoc|idle|2to3)", name)
            return False

        for dirpath, dirnames, filenames in os.walk(prefix):
            reldir = Path(dirpath).relative_to(prefix).as_posix().lstrip(".")
            (dest / reldir).mkdir(parents=True, exist_ok=True)
            dirnames[:] = [d for d in dirnames if not skip(posixpath.join(reldir, d), True)]
            for d in dirnames:
                if (Path(dirpath) / d).is_symlink():
                    os.symlink(os.readlink(Path(dirpath) / d), dest / reldir / d)
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
            for name in filenames:
                rel = posixpath.join(reldir, name)
                if not skip(rel, False):
                    shutil.copy2(Path(dirpath) / name, dest / rel, follow_symlinks=False)
        # Scripts point at the interpreter where the image has it, as pip writes them there.
        for script in (dest / "bin").iterdir():
            if script.is_file() and not script.is_symlink():
                head = script.read_bytes()[:256]
                if head.startswith(b"#!" + bytes(prefix)):
                    text = script.read_bytes().replace(
                        bytes(prefix) + b"/bin/", b"/usr/local/bin/", 1
                    )
                    script.write_bytes(text)
        for path in [dest, *dest.rglob("*")]:
            if not path.is_symlink():
                os.chown(path, 0, 0)
                if path.is_dir():
                    os.chmod(path, 0o755)

    def etc(self) -> Path:
        """/etc of a Debian slim image: the host's config files, a base system's users."""
        if self._etc is None:
            etc = self.workdir / "etc"
            if etc.exists():
                shutil.rmtree(etc)
            etc.mkdir(mode=0o755)
            for name in ETC_FROM_HOST:
                src = Path("/etc") / name
                if not (src.exists() or src.is_symlink()):
                    continue
                (etc / name).parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir() and not src.is_symlink():
                    shutil.copytree(
                        src, etc / name, symlinks=True, ignore=shutil.ignore_patterns("private")
                    )
                elif name == "resolv.conf":
                    (etc / name).write_text(src.read_text())
                else:
                    shutil.copy2(src, etc / name, follow_symlinks=False)

            # Base system accounts only (uid/gid < 1000, nobody): no host users, no secrets.
            def base(line: str) -> bool:
                ident = int(line.split(":")[2])
                return ident < 1000 or ident == 65534

            users = [ln for ln in Path("/etc/passwd").read_text().splitlines() if ln and base(ln)]
            groups = [ln for ln in Path("/etc/group").read_text().splitlines() if ln and base(ln)]
            (etc / "passwd").write_text("\n".join(users) + "\n")
            (etc / "group").write_text("\n".join(groups) + "\n")
            day = 19000
            (etc / "shadow").write_text(
                "".join(f"{u.split(':')[0]}:*:{day}:0:99999:7:::\n" for u in users)
            )
            (etc / "gshadow").write_text("".join(f"{g.split(':')[0]}:*::\n" for g in groups))
            shadow_gid = next((int(g.split(":")[2]) for g in groups if g.startswith("shadow:")), 0)
            for name in ("shadow", "gshadow"):
                os.chown(etc / name, 0, shadow_gid)
                os.chmod(etc / name, 0o640)
            for path in [etc, *etc.rglob("*")]:
                if not path.is_symlink():
                    os.chown(
                        path, 0, path.stat().st_gid if path.name in ("shadow", "gshadow") else 0
                    )
            self._etc = etc
        return self._etc

    def usr_bin(self, lent: bool) -> str:
        """The /usr/bin a stage sees: the host's, without its own Python (python:<v>-slim has
        none in /usr/bin) and without build-essential's tools unless a step "installed" it."""
        if lent not in self._usr_bin:
            if self.hidden_compilers is None:
                self.hidden_compilers = compiler_files()
            hidden = set() if lent else self.hidden_compilers
            view = self.workdir / ("usr-bin-with-compilers" if lent else "usr-bin")
            if view.exists():
                shutil.rmtree(view)
            view.mkdir(mode=0o755)
            for entry in os.scandir("/usr/bin"):
                if entry.name in hidden or HOST_PYTHON.match(entry.name):
                    continue
                target = view / entry.name
                if entry.is_symlink():
                    os.symlink(os.readlink(entry.path), target)
                    continue
                st = entry.stat(follow_symlinks=False)
                if st.st_mode & (stat.S_ISUID | stat.S_ISGID) or not stat.S_ISREG(st.st_mode):
                    continue  # no set-uid binaries in a sandbox view (nor needed by a build)
                try:
                    os.link(entry.path, target)  # hard links: cheap, same inode, read-only bind
                except OSError:
                    shutil.copy2(entry.path, target)
            self._usr_bin[lent] = view
        return str(self._usr_bin[lent])

    # -- sandbox --

    def sandbox(
        self,
        root: Path,
        argv: list[str],
        *,
        uid: int,
        gid: int,
        env: dict[str, str],
        cwd: str,
        usr_bin: str,
        writable: bool = True,
        network: bool = True,
        as_pid_1: bool = False,
        hostname: str = "buildkitsandbox",
        extra: list[str] = (),
    ) -> list[str]:
        """The command line that runs `argv` in the tree `root` as uid:gid."""
        # bwrap runs as real root (no user namespace), so ids in the tree are the real ones
        # and `ls -l` shows root as root. Root steps keep Docker's default capabilities; any
        # other uid is entered with setpriv, which drops every capability and sets
        # no_new_privs, so the kernel checks that uid's permissions as in a container.
        cmd = ["bwrap", "--die-with-parent", "--hostname", hostname, "--cap-drop", "ALL"]
        cmd += shlex.split("--unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try")
        for cap in DOCKER_CAPS if uid == 0 else ["CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"]:
            cmd += ["--cap-add", cap]
        if uid != 0:
            drop = shlex.split("--clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs")
            argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", *drop, "--", *argv]
        if not network:
            cmd.append("--unshare-net")  # a container's own network namespace (lo only)
        if as_pid_1:
            cmd.append("--as-pid-1")  # no reaper: the command is PID 1, as with docker run
        bind = "--bind" if writable else "--ro-bind"
        cmd += [bind, str(root), "/"]
        cmd += ["--ro-bind", "/usr", "/usr"]  # host userland, read-only, stands in for Debian
        cmd += [bind, str(root / "usr/local"), "/usr/local"]  # this stage's own /usr/local
        cmd += ["--ro-bind", usr_bin, "/usr/bin"]  # without compilers unless apt "installed"
        cmd += ["--proc", "/proc", "--dev", "/dev"]
        cmd += list(extra)
        cmd += ["--chdir", cwd, "--clearenv"]
        for key, value in env.items():
            cmd += ["--setenv", key, value]
        return cmd + ["--", *argv]

    # -- build --

    def build(
        self,
        context: Path,
        dockerfile: str = "Dockerfile",
        build_args: dict[str, str] | None = None,
        target: str | None = None,
    ) -> Image:
        build_id = uuid.uuid4().hex[:12]
        build_dir = self.workdir / "builds" / build_id
        build_dir.mkdir(parents=True)
        os.chmod(build_dir, 0o755)
        log_path = build_dir / "build.log"
        parser = DockerfileParser(str(context / dockerfile), env_replace=False)
        if re.search(r"^\s*#\s*escape\s*=\s*`", parser.content, re.M | re.I):
            raise EmulationError("the escape=` parser directive is not emulated")
        build_args = dict(build_args or {})
        files = context_files(context)
        global_args: dict[str, str] = {}
        stages: list[Stage] = []
        stage: Stage | None = None
        for step in parser.structure:
            instruction, value, line = step["instruction"], step["value"], step["startline"] + 1
            if instruction == "COMMENT":
                continue
            where = f"{dockerfile}:{line}: {instruction} {value}"
            self.log(f"[{build_id}] {where}")
            with open(log_path, "a") as log:
                log.write(f"#### {where}\n")
            if instruction == "ARG":
                scope = stage.args if stage else global_args
                known = {**global_args, **(stage.args if stage else {})}
                for key, default in extract_key_values(True, known, {}, value):
                    has_default = "=" in value.split()[0]
                    if key in build_args:
                        scope[key] = build_args[key]
                    elif has_default:
                        scope[key] = default
                    elif stage and key in global_args:
                        scope[key] = global_args[key]  # a re-declared global ARG keeps its value
                    elif stage is None:
                        scope[key] = ""
                continue
            if instruction == "FROM":
                if stage and target and stage.name == target:
                    break
                stage = self._from(value, global_args, len(stages), build_dir, stages)
                stages.append(stage)
                continue
            if stage is None:
                raise EmulationError(f"{where}: only ARG may come before the first FROM")
            variables = {**stage.args, **stage.env}
            if instruction == "ENV":
                # All substitutions in one ENV use the values from before it, as Docker does.
                if UNSUPPORTED_EXPANSION.search(value):
                    raise EmulationError(f"{where}: variable modifiers are not emulated")
                for key, val in extract_key_values(True, stage.args, dict(stage.env), value):
                    stage.env[key] = val
            elif instruction == "LABEL":
                stage.labels.update(extract_key_values(True, stage.args, stage.env, value))
            elif instruction == "WORKDIR":
                path = posixpath.normpath(posixpath.join(stage.workdir, expand(value, variables)))
                # BuildKit creates a missing WORKDIR owned by the current USER (buildkit#1002).
                makedirs(stage.root, path, resolve_user(stage.root, stage.user))
                stage.workdir = path
            elif instruction == "USER":
                stage.user = expand(value, variables)
                resolve_user(stage.root, stage.user)  # fail now for an unknown name
            elif instruction == "EXPOSE":
                for port in split_words(value, variables):
                    if (
                        not re.fullmatch(r"\d{1,5}(/(tcp|udp|sctp))?", port)
                        or not 0 < int(port.split("/")[0]) < 65536
                    ):
                        raise EmulationError(f"{where}: invalid port {port!r}")
                    stage.exposed.append(port if "/" in port else port + "/tcp")
            elif instruction in ("CMD", "ENTRYPOINT"):
                words = exec_form(value) or ["/bin/sh", "-c", value]
                if instruction == "CMD":
                    stage.cmd = words
                else:
                    stage.entrypoint, stage.cmd = words, None  # ENTRYPOINT resets the base CMD
            elif instruction == "RUN":
                self._run(stage, value, where, log_path)
            elif instruction == "COPY":
                self._copy(stage, value, where, files, stages)
            else:
                raise EmulationError(f"{where}: {instruction} is not emulated")
        if not stages:
            raise EmulationError(f"{dockerfile} has no FROM")
        if target and target not in [s.name for s in stages]:
            raise EmulationError(f"target stage {target!r} not found")
        return Image(self, stages, log_path)

    def _from(
        self, value: str, global_args: dict, index: int, build_dir: Path, stages: list
    ) -> Stage:
        if "--platform" in value:
            raise EmulationError(f"FROM --platform is not emulated: {value}")
        image, name = image_from(expand(value, global_args))
        if image in [s.name for s in stages]:
            raise EmulationError(f"FROM a previous stage ({image}) is not emulated")
        match = BASE_IMAGE.match(image or "")
        if not match:
            raise EmulationError(f"base image {image!r} is not emulated (only python:<v>-slim)")
        version = match.group(1)
        usr_local, full_version = self.base(version)
        root = build_dir / f"stage-{index}"
        root.mkdir(mode=0o755)
        for d in (
            "usr",
            "proc",
            "dev",
            "home",
            "run",
            "srv",
            "opt",
            "mnt",
            "media",
            "sys",
            "var/lib/apt/lists/partial",
            "var/cache/apt",
            "var/log",
            "var/mail",
        ):
            (root / d).mkdir(parents=True, exist_ok=True)
        for d, mode in (("tmp", 0o1777), ("var/tmp", 0o1777), ("root", 0o700)):
            (root / d).mkdir(parents=True, exist_ok=True)
            os.chmod(root / d, mode)
        for link in ("bin", "sbin", "lib", "lib64"):  # Debian's merged /usr
            if (Path("/usr") / link).exists():
                os.symlink(f"usr/{link}", root / link)
        subprocess.run(["cp", "-a", str(usr_local), str(root / "usr/local")], check=True)
        subprocess.run(["cp", "-a", str(self.etc()), str(root / "etc")], check=True)
        stage = Stage(
            name=name or str(index),
            index=index,
            root=root,
            env={"PATH": BASE_PATH, "LANG": "C.UTF-8", "PYTHON_VERSION": full_version},
            cmd=["python3"],
        )
        # The python image runs ldconfig after installing into /usr/local, so libpython is
        # found through /etc/ld.so.cache (pyenv's RUNPATH points into /root, not visible).
        self._sandbox_run(stage, ["ldconfig"], "ldconfig", None)
        return stage

    def _step_env(self, stage: Stage, uid: int) -> dict[str, str]:
        env = {**stage.args, **stage.env}
        for key in PROXY_ARGS:
            for name in (key, key.lower()):
                if name in os.environ and name not in env:
                    env[name] = os.environ[name]
        for key in PIP_ROUTE_VARS:
            if key in os.environ and key not in env:
                env[key] = os.environ[key]
        env.setdefault("PATH", DEFAULT_PATH)
        if "HOME" not in env:
            entry = next((e for e in read_db(stage.root, "passwd") if e[2] == str(uid)), None)
            env["HOME"] = entry[5] if entry else "/"
        return env

    def _pip_paths(self) -> list[str]:
        """This host's pip configuration and the local package folders it names."""
        paths = {str(p) for p in (Path("/etc/pip.conf"), Path("/etc/xdg/pip")) if p.exists()}
        texts = [Path(p).read_text() for p in PIP_CONFIG_FILES if Path(p).is_file()]
        texts += [os.environ.get(k, "") for k in PIP_ROUTE_VARS]
        for text in texts:
            for word in re.split(r"[\s=]+", text):
                path = word[len("file://") :] if word.startswith("file://") else word
                if path.startswith("/") and not path.startswith(("/etc", "/usr")):
                    path = path.rstrip("/")
                    while path and not Path(path).exists():
                        path = posixpath.dirname(path)
                    if path not in ("", "/"):
                        paths.add(path)
        return sorted(paths)

    def _sandbox_run(
        self, stage: Stage, argv: list[str], what: str, log_path: Path | None, extra: list[str] = ()
    ) -> None:
        uid, gid = resolve_user(stage.root, stage.user)
        cmd = self.sandbox(
            stage.root,
            argv,
            uid=uid,
            gid=gid,
            env=self._step_env(stage, uid),
            cwd=stage.workdir,
            usr_bin=self.usr_bin(bool(stage.lent)),
            extra=list(extra),
        )
        out = open(log_path, "a") if log_path else subprocess.PIPE  # noqa: SIM115
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, check=False)
        finally:
            if log_path:
                out.close()
        if proc.returncode != 0:
            tail = log_path.read_text()[-4000:] if log_path else proc.stdout
            raise EmulationError(f"{what} exited {proc.returncode}\n{tail}")

    def _run(self, stage: Stage, value: str, where: str, log_path: Path) -> None:
        argv = exec_form(value) or ["/bin/sh", "-c", value]  # Docker's default SHELL
        approved = self._lend_apt_packages(stage, value, where, log_path)
        shim = log_path.parent / f"apt-get-{uuid.uuid4().hex[:8]}"
        shim.write_text(APT_GET_SHIM.replace("@APPROVED@", shlex.quote(" ".join(approved))))
        os.chmod(shim, 0o755)
        # pip reaches its index as this host's pip does: its config and local package folders
        # are bound read-only for the step. Their mount points are made in the stage tree
        # and removed afterwards, so the image keeps nothing of this host.
        extra = ["--ro-bind", str(shim), "/usr/bin/apt-get"]
        made: list[Path] = []
        for path in self._pip_paths():
            extra += ["--ro-bind", path, path]
            target = inside(stage.root, path)
            missing = [p for p in [target, *target.parents] if not (p.exists() or p.is_symlink())]
            for p in reversed(missing):
                if p == target and not Path(path).is_dir():
                    p.touch()
                else:
                    p.mkdir()
                made.append(p)
        try:
            self._sandbox_run(stage, argv, where, log_path, extra)
        finally:
            for p in reversed(made):
                with contextlib.suppress(OSError):
                    p.rmdir() if p.is_dir() else p.unlink()

    def _note(self, log_path: Path, message: str) -> None:
        """An emulation choice made during a step, in the build log and the caller's log."""
        self.log("  " + message)
        with open(log_path, "a") as log:
            log.write(f"[emulation] {message}\n")

    def _lend_apt_packages(
        self, stage: Stage, script: str, where: str, log_path: Path
    ) -> list[str]:
        """`apt-get install P` cannot run here: check P is installable, then lend the host's P."""
        try:
            tokens = list(shlex.shlex(script, posix=True, punctuation_chars=True))
        except ValueError as err:
            raise EmulationError(f"{where}: cannot read the shell command: {err}") from err
        requested: list[str] = []
        for i, token in enumerate(tokens):
            if posixpath.basename(token) == "apt-get":
                words = []
                for word in tokens[i + 1 :]:
                    if word in ("&&", "||", ";", "|", "&", "(", ")", ";;"):
                        break
                    words.append(word)
                if "install" in words:
                    requested += [
                        w for w in words[words.index("install") + 1 :] if not w.startswith("-")
                    ]
        approved = []
        for spec in requested:
            name, _, version = spec.partition("=")
            policy = subprocess.run(
                ["apt-cache", "policy", name], capture_output=True, text=True
            ).stdout
            candidate = re.search(r"Candidate:\s*(\S+)", policy)
            if not candidate or candidate.group(1) == "(none)":
                raise EmulationError(f"{where}: apt has no installation candidate for {name}")
            if version:
                offered = subprocess.run(
                    ["apt-cache", "madison", name], capture_output=True, text=True
                ).stdout
                if f"| {version} |" in offered:
                    self._note(log_path, f"apt: {name}={version} is offered by the host's sources")
                else:
                    self._note(
                        log_path,
                        f"apt: check of the pin {name}={version} skipped: this host's apt "
                        f"sources offer {candidate.group(1)} (another Debian release than the "
                        "image's); the package itself is installable",
                    )
            status = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True
            ).stdout
            if status != "install ok installed":
                raise EmulationError(
                    f"{where}: cannot lend {name}: it is not installed on the host"
                )
            self._note(log_path, f"apt: {name} lent from the host to stage {stage.name} only")
            stage.lent[name] = version or candidate.group(1)
            approved.append(spec)
        return approved

    def _copy(
        self, stage: Stage, value: str, where: str, files: dict[str, Path], stages: list
    ) -> None:
        words = exec_form(value) or split_words(value, {**stage.args, **stage.env})
        flags: dict[str, str] = {}
        while words and words[0].startswith("--"):
            key, _, val = words.pop(0)[2:].partition("=")
            if key not in ("from", "chown", "chmod"):
                raise EmulationError(f"{where}: COPY --{key} is not emulated")
            flags[key] = val
        if len(words) < 2:
            raise EmulationError(f"{where}: COPY needs a source and a destination")
        *sources, dest = words
        owner = resolve_user(stage.root, flags["chown"]) if "chown" in flags else None
        mode = int(flags["chmod"], 8) if "chmod" in flags else None
        if "from" in flags:
            source_stage = next(
                (s for s in stages if flags["from"] in (s.name, str(s.index))), None
            )
            if source_stage is None or source_stage is stage:
                raise EmulationError(f"{where}: --from={flags['from']} is not a previous stage")
            entries = self._stage_entries(source_stage, sources, where)
        else:
            # Files from the context belong to root unless --chown says otherwise.
            owner = owner or (0, 0)
            entries = self._context_entries(files, sources, where)
        dest_path = posixpath.normpath(posixpath.join(stage.workdir, dest))
        dest_dir = dest.endswith("/") or len(entries) > 1 or any(e[2] for e in entries)
        dest_dir = dest_dir or inside(stage.root, dest_path).is_dir()
        for _source, items, is_dir in entries:
            if is_dir:  # a directory's contents go into the destination, not the directory
                target = makedirs(stage.root, dest_path, owner or (0, 0))
                for rel, src in items:
                    copy_entry(src, target / rel, owner, mode)
            else:
                rel, src = items[0]
                if dest_dir:
                    target = makedirs(stage.root, dest_path, owner or (0, 0)) / posixpath.basename(
                        rel
                    )
                else:
                    parent = makedirs(stage.root, posixpath.dirname(dest_path), owner or (0, 0))
                    target = parent / posixpath.basename(dest_path)
                copy_entry(src, target, owner, mode)

    def _context_entries(self, files: dict[str, Path], sources: list[str], where: str):
        entries = []
        for source in sources:
            pattern = posixpath.normpath(source).lstrip("/")
            if pattern.startswith(".."):
                raise EmulationError(f"{where}: {source} is outside the build context")
            if pattern == ".":
                entries.append((".", list(files.items()), True))
                continue
            regex = _pattern_regex(pattern)
            matched = [rel for rel in files if regex.match(rel)]
            if not matched:
                raise EmulationError(
                    f"{where}: {source} not found in the build context "
                    "(missing, or excluded by .dockerignore)"
                )
            for rel in matched:
                if files[rel].is_dir() and not files[rel].is_symlink():
                    items = [
                        (r[len(rel) + 1 :], p) for r, p in files.items() if r.startswith(rel + "/")
                    ]
                    entries.append((rel, items, True))
                else:
                    entries.append((rel, [(rel, files[rel])], False))
        return entries

    def _stage_entries(self, stage: Stage, sources: list[str], where: str):
        entries = []
        for source in sources:
            if any(c in source for c in "*?["):
                raise EmulationError(f"{where}: wildcards in COPY --from are not emulated")
            path = inside(stage.root, posixpath.normpath(posixpath.join(stage.workdir, source)))
            if not (path.exists() or path.is_symlink()):
                raise EmulationError(f"{where}: {source} not found in stage {stage.name}")
            if path.is_dir() and not path.is_symlink():
                items = []
                for dirpath, dirnames, filenames in os.walk(path):
                    for name in sorted(dirnames) + sorted(filenames):
                        full = Path(dirpath) / name
                        items.append((full.relative_to(path).as_posix(), full))
                entries.append((source, items, True))
            else:
                entries.append((source, [(path.name, path)], False))
        return entries


# `apt-get` inside a RUN step: it cannot install, so it accepts only what the emulator checked
# and lent from the host for this step (see Emulator._lend_apt_packages), and refuses the rest.
APT_GET_SHIM = """#!/bin/bash
approved=@APPROVED@
if [ "$(id -u)" != 0 ]; then
  echo "E: apt-get must run as root (emulated)" >&2; exit 100
fi
case "$1" in
  update|clean|autoclean|autoremove) echo "apt-get $1: emulated, nothing to do"; exit 0 ;;
esac
words=("$@")
for i in "${!words[@]}"; do [ "${words[$i]}" = install ] && break; done
if [ "${words[$i]}" != install ]; then
  echo "E: apt-get $* is not emulated" >&2; exit 100
fi
for word in "${words[@]:$((i + 1))}"; do
  case "$word" in -*) continue ;; esac
  case " $approved " in
    *" $word "*) echo "apt-get install $word: emulated (lent from the host)" ;;
    *) echo "E: apt-get install $word was not checked (not emulated)" >&2; exit 100 ;;
  esac
done
"""


# ---- images and containers ------------------------------------------------------------------


class Image:
    """An emulated image: its stages' trees and the final stage's config."""

    def __init__(self, emulator: Emulator, stages: list[Stage], log_path: Path):
        self.emulator = emulator
        self.stages = stages
        self.final = stages[-1]
        self.log_path = log_path
        self.env = dict(self.final.env)
        self.user = self.final.user
        self.workdir = self.final.workdir
        self.cmd = self.final.cmd
        self.entrypoint = self.final.entrypoint
        self.exposed = list(self.final.exposed)

    def stage(self, name: str | None) -> Stage:
        if name is None:
            return self.final
        return next(s for s in self.stages if name in (s.name, str(s.index)))

    def probe(self, argv: list[str], stage: str | None = None, user: str | None = None):
        """`docker run --rm --entrypoint ... IMAGE`: run a command read-only in a stage."""
        st = self.stage(stage)
        uid, gid = resolve_user(st.root, user or st.user)
        cmd = self.emulator.sandbox(
            st.root,
            argv,
            uid=uid,
            gid=gid,
            env=run_env(st.root, st.env, uid, {"HOSTNAME": "probe"}),
            cwd=st.workdir,
            usr_bin=self.emulator.usr_bin(bool(st.lent)),
            writable=False,
            network=False,
            hostname="probe",
        )
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)

    def size(self, path: str, stage: str | None = None) -> int:
        return tree_size(inside(self.stage(stage).root, path))

    def run(
        self,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        publish: int | None = None,
    ) -> EmulatedContainer:
        return EmulatedContainer(self, env or {}, command, publish)


def run_env(root: Path, image_env: dict, uid: int, overrides: dict) -> dict[str, str]:
    """A container's environment: the image's, what `docker run -e` adds, and the HOME and
    PATH Docker fills in when the image leaves them out."""
    env = {**image_env, **overrides}
    if "HOME" not in env:
        entry = next((e for e in read_db(root, "passwd") if e[2] == str(uid)), None)
        env["HOME"] = entry[5] if entry else "/"
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def _layer(image_root: Path, layer: Path) -> None:
    """A container's writable layer: hard links to what only root may change, copies of the
    rest (so a change by the container never reaches the image), like an overlay upper dir."""
    subprocess.run(["cp", "-a", "--link", str(image_root), str(layer)], check=True)
    for dirpath, _, filenames in os.walk(layer):
        for name in filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISREG(st.st_mode) and (st.st_uid or st.st_gid or st.st_mode & 0o002):
                copy = path.with_name(name + ".layer-copy")
                shutil.copy2(path, copy)
                os.chown(copy, st.st_uid, st.st_gid)
                os.chmod(copy, stat.S_IMODE(st.st_mode))
                os.replace(copy, path)


def _snapshot(root: Path) -> dict[str, tuple]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            found["/" + path.relative_to(root).as_posix()] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                0 if stat.S_ISDIR(st.st_mode) else st.st_size,
                0 if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns,
            )
    return found


_libc = ctypes.CDLL(None, use_errno=True)


class _Forwarder:
    """`docker run -p 127.0.0.1::PORT`: forward a host port into the container's netns."""

    def __init__(self, pid: int, port: int):
        self.port = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host_port = self.listener.getsockname()[1]
        self.netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        # Only this thread enters the container's network namespace; sockets it opens live there.
        if _libc.setns(self.netns, CLONE_NEWNET) != 0:
            self.error = os.strerror(ctypes.get_errno())
            return
        self.listener.settimeout(0.2)
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.stopped = True
        self.thread.join(timeout=5)
        self.listener.close()
        os.close(self.netns)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


class EmulatedContainer:
    """A running container of an emulated image (see Image.run)."""

    def __init__(
        self, image: Image, env: dict[str, str], command: list[str] | None, publish: int | None
    ):
        self.image = image
        self.id = uuid.uuid4().hex[:12]
        self.dir = image.emulator.workdir / "containers" / self.id
        self.dir.mkdir(parents=True)
        os.chmod(self.dir, 0o755)
        self.root = self.dir / "rootfs"
        _layer(image.final.root, self.root)
        self.before = _snapshot(self.root)
        self.log_path = self.dir / "container.log"
        uid, gid = resolve_user(self.root, image.user)
        full_env = run_env(self.root, image.env, uid, {"HOSTNAME": self.id, **env})
        argv = (image.entrypoint or []) + (command if command is not None else image.cmd or [])
        info_r, info_w = os.pipe()
        cmd = image.emulator.sandbox(
            self.root,
            argv,
            uid=uid,
            gid=gid,
            env=full_env,
            cwd=image.workdir,
            usr_bin=image.emulator.usr_bin(bool(image.final.lent)),
            network=False,
            as_pid_1=True,
            hostname=self.id,
            extra=["--info-fd", str(info_w)],
        )
        with open(self.log_path, "w") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, pass_fds=(info_w,)
            )
        os.close(info_w)
        with os.fdopen(info_r) as info:
            text = info.read()  # bwrap writes the JSON once the sandbox runs, then closes
        try:
            self.pid = json.loads(text)["child-pid"]
        except (ValueError, KeyError) as err:
            self.proc.wait(timeout=10)
            raise EmulationError(f"the container did not start: {self.logs()}") from err
        self.forwarder = _Forwarder(self.pid, publish) if publish else None
        self.exit_code: int | None = None

    def url(self, path: str = "") -> str:
        assert self.forwarder, "run(publish=PORT) to reach the container over HTTP"
        return f"http://127.0.0.1:{self.forwarder.host_port}{path}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def proc_status(self) -> dict[str, str]:
        """/proc/<pid>/status of the container's main process."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        return {k: v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines())}

    def wait(self, timeout: float) -> int:
        self.exit_code = self.proc.wait(timeout=timeout)
        self._close()
        return self.exit_code

    def stop(self, timeout: float = 10) -> tuple[int, float]:
        """`docker stop`: SIGTERM to the main process, SIGKILL after `timeout`."""
        start = time.monotonic()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.exit_code = self.proc.returncode
        self._close()
        return self.exit_code, time.monotonic() - start

    def _close(self) -> None:
        if self.forwarder:
            self.forwarder.close()
            self.forwarder = None

    def changes(self) -> list[str]:
        """`docker diff`: 'A path', 'C path', 'D path' for what the container changed."""
        after = _snapshot(self.root)
        out = [f"A {p}" for p in after if p not in self.before]
        out += [f"D {p}" for p in self.before if p not in after]
        out += [f"C {p}" for p in after if p in self.before and after[p] != self.before[p]]
        return sorted(out, key=lambda s: s[2:])

    def remove(self) -> None:
        if self.proc.poll() is None:
            self.stop(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- the real thing -------------------------------------------------------------------------


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    proc = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return "no Docker daemon answers here (docker info: " + (lines[-1] if lines else "?") + ")"
    return None


def _docker(*args: str, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise EmulationError(
            f"docker {' '.join(args)} exited {proc.returncode}\n{proc.stderr[-4000:]}"
        )
    return proc


class DockerEngine:
    """`docker build` + `docker run`, with the same interface as Emulator/Image."""

    def __init__(self, log: Callable[[str], None] = print):
        reason = docker_problem()
        if reason:
            raise EmulationError(reason)
        self.log = log
        self.tags: list[str] = []

    def build(
        self,
        context: Path,
        dockerfile: str = "Dockerfile",
        build_args: dict[str, str] | None = None,
        target: str | None = None,
    ) -> DockerImage:
        tag = f"hf-space-template-test:{uuid.uuid4().hex[:12]}"
        args = [f"--build-arg={k}={v}" for k, v in (build_args or {}).items()]
        extra = ["--target", target] if target else []
        _docker(
            "build", "-q", "-f", str(context / dockerfile), "-t", tag, *args, *extra, str(context)
        )
        stages = {}
        for name in re.findall(
            r"^FROM\s+\S+\s+AS\s+(\S+)", (context / dockerfile).read_text(), re.M | re.I
        ):
            stage_tag = f"{tag}-{name}"
            _docker(
                "build",
                "-q",
                "-f",
                str(context / dockerfile),
                "-t",
                stage_tag,
                "--target",
                name,
                *args,
                str(context),
            )
            stages[name] = stage_tag
        self.tags += [tag, *stages.values()]
        return DockerImage(tag, stages)

    def cleanup(self) -> None:
        if self.tags:
            _docker("image", "rm", "-f", *self.tags, check=False)


class DockerImage:
    def __init__(self, tag: str, stages: dict[str, str]):
        self.tag = tag
        self.stages = stages
        config = json.loads(_docker("image", "inspect", tag).stdout)[0]["Config"]
        self.env = dict(e.split("=", 1) for e in config.get("Env") or [])
        self.user = config.get("User") or "root"
        self.workdir = config.get("WorkingDir") or "/"
        self.cmd = config.get("Cmd")
        self.entrypoint = config.get("Entrypoint")
        self.exposed = sorted((config.get("ExposedPorts") or {}).keys())

    def probe(self, argv: list[str], stage: str | None = None, user: str | None = None):
        tag = self.stages[stage] if stage else self.tag
        extra = ["--user", user] if user else []
        return subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                *extra,
                "--entrypoint",
                argv[0],
                tag,
                *argv[1:],
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def size(self, path: str, stage: str | None = None) -> int:
        # Apparent size, as tree_size counts it.
        proc = self.probe(["du", "-sb", path], stage=stage)
        return int(proc.stdout.split()[0])

    def run(
        self,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        publish: int | None = None,
    ) -> DockerContainer:
        return DockerContainer(self, env or {}, command, publish)


class DockerContainer:
    def __init__(
        self,
        image: DockerImage,
        env: dict[str, str],
        command: list[str] | None,
        publish: int | None,
    ):
        args = ["run", "-d"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        if publish:
            args += ["-p", f"127.0.0.1::{publish}"]
        self.id = _docker(*args, image.tag, *(command or [])).stdout.strip()
        self.publish = publish
        self.exit_code: int | None = None

    def url(self, path: str = "") -> str:
        port = _docker("port", self.id, f"{self.publish}/tcp").stdout.split()[0].rsplit(":", 1)[1]
        return f"http://127.0.0.1:{port}{path}"

    def logs(self) -> str:
        proc = _docker("logs", self.id, check=False)
        return proc.stdout + proc.stderr

    def running(self) -> bool:
        return _docker("inspect", "-f", "{{.State.Running}}", self.id).stdout.strip() == "true"

    def proc_status(self) -> dict[str, str]:
        text = _docker("exec", self.id, "cat", "/proc/1/status").stdout
        return {k: v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines())}

    def wait(self, timeout: float) -> int:
        self.exit_code = int(_docker("wait", self.id, timeout=timeout).stdout.strip())
        return self.exit_code

    def stop(self, timeout: float = 10) -> tuple[int, float]:
        start = time.monotonic()
        _docker("stop", "-t", str(int(timeout)), self.id, timeout=timeout + 30)
        elapsed = time.monotonic() - start
        self.exit_code = int(
            _docker("inspect", "-f", "{{.State.ExitCode}}", self.id).stdout.strip()
        )
        return self.exit_code, elapsed

    def changes(self) -> list[str]:
        return _docker("diff", self.id).stdout.split("\n")[:-1]

    def remove(self) -> None:
        _docker("rm", "-f", self.id, check=False)

"""A real OpenAI-compatible chat server on loopback: `transformers serve` of the tiny model
(tests/tiny_model.py), pinned to it: it answers to that model's path and no other name."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import serving

TINY_MODEL = Path(__file__).with_name("tiny_model.py")


@dataclass
class ChatServer:
    """`transformers serve` of `model` (forced: it answers to no other name) on loopback."""

    python: Path  # of the torch venv
    model: Path
    port: int
    cpu: int | None = None  # run on this one CPU only (the bench: a model on its own machine)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        """Start the server; return when it is up (about 8 s: torch and the model load)."""
        serve = self.python.parent / "transformers"
        self.log = self.model.parent / f"server-{self.port}.log"
        with self.log.open("w") as out:
            pinned = [] if self.cpu is None else ["taskset", "--cpu-list", str(self.cpu)]
            self.proc = subprocess.Popen(
                [*pinned, serve, "serve", self.model, "--host", "127.0.0.1"]
                + ["--port", str(self.port), "--device", "cpu", "--format", "quiet"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={
                    "PATH": "/usr/bin:/bin",
                    "HF_HUB_OFFLINE": "1",
                    "HOME": str(self.model.parent),
                    **({} if self.cpu is None else {"OMP_NUM_THREADS": "1"}),
                },
            )
        serving.wait_until_up(self.base_url + "/models", self.proc, self.log)

    def stop(self) -> None:
        if self.proc is not None:
            serving.stop(self.proc)
            self.proc = None

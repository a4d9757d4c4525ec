"""The parts of `make bench` that its figures rest on (the whole bench takes minutes and asserts
no timing): interleaved medians, wrk's output as the bench reads it, the same-shape template it
compares Copier's cost with, and the collector pace it gives the bare app."""

import http.server
import json
import shutil
import sys
import threading
from pathlib import Path

import pytest
import yaml

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import mcp_tools  # noqa: E402
import render as render_bench  # noqa: E402 (not `render`: that is the conftest fixture)


def test_medians_interleave_the_measures_and_give_each_its_median() -> None:
    calls = []

    def measure(name: str, values: list[float]):
        values = iter(values)
        return lambda: calls.append(name) or next(values)

    got = common.medians(runs=3, a=measure("a", [99, 1, 3, 2]), b=measure("b", [99, 30, 10, 20]))
    assert got == {"a": 2, "b": 20}  # the warm-up runs (99) do not count
    assert calls == ["a", "b"] * 4  # a warm-up of each, then rounds of each once


class _Hello(http.server.BaseHTTPRequestHandler):
    posted: list[tuple[dict, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.posted.append((dict(self.headers), body))
        self.do_GET()

    def do_GET(self) -> None:
        body = b"ok" if self.path == "/ok" else b"no"
        self.send_response(200 if self.path == "/ok" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def loopback_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="no wrk here (apt-get install wrk)")
def test_wrk_figures_are_read_from_its_output(loopback_server: str) -> None:
    good = common.wrk(f"{loopback_server}/ok", connections=2, seconds=1, threads=1)
    assert good["rps"] > 0
    assert 0 < good["p50_ms"] <= good["p99_ms"]
    assert (good["non_2xx"], good["socket_errors"]) == (0, "")
    bad = common.wrk(f"{loopback_server}/missing", connections=2, seconds=1, threads=1)
    assert bad["non_2xx"] > 0  # a figure from failing requests shows as such


def _files(root: Path) -> list[Path]:
    return sorted(
        path.relative_to(root)
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    )


def test_the_same_shape_template_renders_our_files_empty_and_as_many_questions(
    render, tmp_path: Path
) -> None:
    ours = render()
    questions = render_bench.question_count()
    shape = render_bench.same_shape_template(tmp_path / "shape", ours, questions)
    copied = common.render(tmp_path / "copied", template=shape)
    assert _files(copied) == _files(ours)
    answers = yaml.safe_load((copied / render_bench.ANSWERS).read_text())
    assert sum(not name.startswith("_") for name in answers) == questions
    filled = [path for path in _files(copied) if (copied / path).stat().st_size]
    assert filled == [Path(render_bench.ANSWERS)]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="no wrk here (apt-get install wrk)")
def test_the_mcp_rows_tool_call_is_the_post_an_mcp_client_sends(loopback_server, tmp_path) -> None:
    script = tmp_path / "call.lua"
    script.write_text(mcp_tools.tool_call_script())
    common.wrk(f"{loopback_server}/ok", connections=1, seconds=1, threads=1, script=script)
    headers, body = _Hello.posted[-1]
    assert json.loads(body) == {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "search", "arguments": {"query": mcp_tools.QUERY, "k": mcp_tools.K}},
    }
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json, text/event-stream"

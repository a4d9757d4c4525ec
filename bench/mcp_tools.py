"""The MCP server's search tool against /api/search: the same search, one client, in one run.
The tool call is the POST an MCP client sends once its session is initialised (the official
client's own headers and body, as tests/mcp_client.py sends them); wrk sends it from a Lua
script. Not named mcp.py: that would shadow the SDK."""

from __future__ import annotations

import json
import os

from common import CACHE, free_port, model_env, row, server, wrk
from mcp_client import call_tool
from startup import default_space

QUERY, K = "docker image layers", 5


def tool_call_script() -> str:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "search", "arguments": {"query": QUERY, "k": K}},
    }
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",  # what mcp 2.3.0's client negotiates
    }
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    return "\n".join(lines) + "\n"


def measure() -> list[dict]:
    project, python = default_space()
    script = CACHE / "mcp-tool-call.lua"
    script.write_text(tool_call_script())
    env = {**os.environ, **model_env(), "LOG_LEVEL": "warning"}
    with server([python, "start_with_index.py"], project, env, port := free_port()):
        base = f"http://127.0.0.1:{port}"
        found = call_tool(f"{base}/mcp", "search", {"query": QUERY, "k": K})  # it finds some
        assert not found.is_error and found.structured_content["results"], found.content
        rest = f"{base}/api/search?q={QUERY.replace(' ', '+')}&k={K}"
        for url, lua in ((rest, None), (f"{base}/mcp", script)):  # warm-up
            wrk(url, connections=1, threads=1, seconds=2, script=lua)
        api = wrk(rest, connections=1, threads=1)
        tool = wrk(f"{base}/mcp", connections=1, threads=1, script=script)
    assert api["non_2xx"] == tool["non_2xx"] == 0, (api, tool)
    return [
        row(
            "MCP search tool call, p50 at one client (ms)",
            tool["p50_ms"],
            "ms",
            "GET /api/search, same query",
            api["p50_ms"],
            "<= 1.5x",
            tool["p50_ms"] <= 1.5 * api["p50_ms"],
            f"p99 {tool['p99_ms']:.2f} against {api['p99_ms']:.2f} ms; the default render "
            f"(hybrid), k={K}",
        )
    ]

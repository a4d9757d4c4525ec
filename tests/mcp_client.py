"""A tool call as an AI assistant makes it: the official `mcp` client over streamable HTTP, one
session per call (the template's tests and the benchmarks use it)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult


async def call_tool_async(url: str, name: str, arguments: dict) -> CallToolResult:
    """Initialise a session with the MCP server at url (its /mcp) and call one tool."""
    async with (
        streamable_http_client(url) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await session.call_tool(name, arguments)


def call_tool(url: str, name: str, arguments: dict) -> CallToolResult:
    # A thread of its own: in a pytest worker that has run the browser tests, Playwright's sync
    # API keeps an event loop running in the main thread, and asyncio.run refuses to nest.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, call_tool_async(url, name, arguments)).result()

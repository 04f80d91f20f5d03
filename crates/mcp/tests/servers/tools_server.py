"""A small MCP server for hermod's tests, on the official Python SDK.

Over stdio by default. With --http it serves streamable HTTP on a free
loopback port: it binds and listens first, then prints the port as its
first line of stdout, so the test connects only once it is listening.
"""

import asyncio
import os
import socket
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("hermod-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Says the text back."""
    return text


@server.tool()
async def sleep(seconds: float) -> str:
    """Waits the given number of seconds, then answers."""
    await asyncio.sleep(seconds)
    return "slept"


@server.tool()
def fail(message: str) -> str:
    """Always fails with the given message."""
    raise ToolError(message)


@server.tool()
def crash() -> str:
    """Ends the server's process at once."""
    os._exit(3)


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def env(name: str) -> str:
    """The value of an environment variable of the server, or <unset>."""
    return os.environ.get(name, "<unset>")


@server.tool()
def cwd() -> str:
    """The server's working directory."""
    return os.getcwd()


def serve_http() -> None:
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    app = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning")
    asyncio.run(uvicorn.Server(config).serve(sockets=[listener]))


if __name__ == "__main__":
    print("hermod test server starting", file=sys.stderr, flush=True)
    if "--http" in sys.argv:
        serve_http()
    else:
        server.run()

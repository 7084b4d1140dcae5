"""Shared pieces of the serve tests: waiting, free ports, a real server in a thread."""

import socket
import threading
import time
from collections.abc import Callable

from synthgen.serve import Instrument


def wait_for(condition: Callable[[], object], timeout_s: float = 20.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(instrument: Instrument) -> tuple[str, Callable[[], None]]:
    """Serve ``instrument`` with uvicorn on a free local port in a thread; returns its URL and a stop function."""
    import uvicorn

    from synthgen.serve.server import uvicorn_config

    port = free_port()
    server = uvicorn.Server(uvicorn_config(instrument, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started)

    def stop() -> None:
        server.should_exit = True
        thread.join()

    return f"http://127.0.0.1:{port}/", stop

"""Fresh Python processes that run one synthgen function and talk to their parent over a socket."""

__all__ = ["reap", "start_child"]

import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any


def start_child(function: str, *args: int, pass_fds: tuple[int, ...] = (), **popen: Any) -> tuple[subprocess.Popen, Connection]:
    """Start ``python -c "from M import F; F(fd, *args)"`` for ``function`` = ``"M.F"``, where ``fd`` is the
    child's end of a socket pair.

    A fresh interpreter, never a fork (of a process whose plugin and host threads run), whatever the
    caller's main module is; it finds synthgen where the caller did, even when the caller's path was
    set up in code.

    Arguments:
        function: the dotted name of the child's main function.
        args: more integer arguments for it (file descriptors in ``pass_fds``, process ids).
        pass_fds: file descriptors the child inherits besides its socket.
        popen: more keyword arguments for :class:`subprocess.Popen` (its standard streams, say).

    Returns:
        The process, and the caller's end of the socket as a connection (``send``/``recv`` of picklable objects).
    """
    module, name = function.rsplit(".", 1)
    ours, theirs = socket.socketpair()
    call = ", ".join(str(a) for a in (theirs.fileno(), *args))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    code = f"from {module} import {name}; {name}({call})"
    process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(), *pass_fds), env=env, **popen)
    theirs.close()
    return process, Connection(ours.detach())


def reap(process: subprocess.Popen, timeout_s: float = 5.0) -> None:
    """Wait up to ``timeout_s`` for a process that should be ending, then kill it; it is gone on return."""
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

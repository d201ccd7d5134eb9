"""Each server worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads the
connections over the workers.

uvicorn's workers share one listening socket, and whichever worker wakes first accepts every
connection waiting (libuv accepts until the queue is empty): the benchmark's 64 keep-alive
connections went 63 to 1, or all to one worker, which then served every request on one core
while the other stood idle. With a socket per worker bound to the same port with
SO_REUSEPORT, Linux picks the worker of each new connection by a hash of its addresses.

The parent binds a socket with SO_REUSEPORT and never listens on it: it holds the port (a
taken port fails here, at once, with its address) and is what uvicorn hands each worker it
starts or restarts. Handing a socket to a spawned worker pickles it, and `ReusePortSocket`
pickles to a recipe instead of a copy of the parent's file descriptor: in the worker it
makes a new socket with SO_REUSEPORT bound to the same address, on which the worker's server
listens. Only listening sockets take connections, so none wait on the parent's.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn import Config

__all__ = ["ReusePortSocket", "reuse_port_socket"]


class ReusePortSocket(socket.socket):
    def __reduce__(self) -> tuple[Any, ...]:
        host, port = self.getsockname()[:2]
        return (_bound, (self.family, host, port))


def _bound(family: socket.AddressFamily, host: str, port: int) -> ReusePortSocket:
    sock = ReusePortSocket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def reuse_port_socket(config: Config) -> ReusePortSocket:
    """The parent's socket on `config.host`:`config.port` (see the module's text)."""
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    return _bound(family, config.host, config.port)

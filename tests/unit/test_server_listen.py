"""server/listen.py: a socket handed to a worker becomes a socket of the worker's own on the
same port, and connections are spread over the sockets that listen."""

from __future__ import annotations

import pickle
import select
import socket
from multiprocessing.reduction import ForkingPickler

import pytest
import uvicorn

from exness.services.server.listen import reuse_port_socket


def handed_to_a_worker(sock: socket.socket) -> socket.socket:
    """What a spawned worker unpickles (uvicorn passes the sockets in its arguments)."""
    copy: socket.socket = pickle.loads(ForkingPickler.dumps(sock))
    return copy


def accept_all(listening: list[socket.socket], expected: int) -> dict[int, int]:
    """How many connections each socket accepted, by index."""
    counts = dict.fromkeys(range(len(listening)), 0)
    accepted: list[socket.socket] = []
    while sum(counts.values()) < expected:
        ready, _, _ = select.select(listening, [], [], 5)
        assert ready, f"only {sum(counts.values())} of {expected} connections arrived"
        for sock in ready:
            accepted.append(sock.accept()[0])
            counts[listening.index(sock)] += 1
    for connection in accepted:
        connection.close()
    return counts


def test_each_worker_listens_on_a_socket_of_its_own_and_gets_a_share():
    parent = reuse_port_socket(uvicorn.Config("app:app", host="127.0.0.1", port=0))
    first, second = handed_to_a_worker(parent), handed_to_a_worker(parent)
    try:
        assert first.getsockname() == second.getsockname() == parent.getsockname()
        assert len({parent.fileno(), first.fileno(), second.fileno()}) == 3
        for sock in (first, second):
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            sock.listen(64)
        clients = [socket.create_connection(parent.getsockname(), timeout=5) for _ in range(32)]
        counts = accept_all([first, second], len(clients))
        # spread by a hash of the addresses: one with fewer than 4 of 32 is 1 run in 6 million
        assert min(counts.values()) >= 4, counts
        for client in clients:
            client.close()
    finally:
        for sock in (parent, first, second):
            sock.close()


def test_the_parent_holds_the_port_without_taking_connections():
    parent = reuse_port_socket(uvicorn.Config("app:app", host="127.0.0.1", port=0))
    client, other = socket.socket(), socket.socket()
    try:
        client.settimeout(5)
        assert client.connect_ex(parent.getsockname()) != 0  # refused: nobody listens
        with pytest.raises(OSError):  # a socket without SO_REUSEPORT cannot take the port
            other.bind(parent.getsockname())
    finally:
        for sock in (parent, client, other):
            sock.close()

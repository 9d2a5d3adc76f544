"""free_port: a port nothing listens on, kept from other programs until its server binds it."""

from __future__ import annotations

import errno
import socket

import pytest

from mailfleet.agent.client.localagent import free_port


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.10"])
def test_a_free_port_is_kept_from_others_and_its_server_binds_it(host: str) -> None:
    port = free_port(host)
    # Another program's pick, or the local end of an outgoing connection, binds without
    # SO_REUSEADDR: the port is not theirs to take.
    with socket.socket() as other, pytest.raises(OSError) as refused:
        other.bind((host, port))
    assert refused.value.errno == errno.EADDRINUSE
    # A server binds with SO_REUSEADDR (asyncio, aiohttp, gRPC do) and gets it at once.
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((host, port))
        server.listen(1)
        with socket.create_connection((host, port), timeout=5):
            accepted, _ = server.accept()
            accepted.close()


def test_free_ports_differ() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)

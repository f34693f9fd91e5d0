"""host_port_free: whether the ingress can be published on a host port."""

from __future__ import annotations

import socket

from mboxed.providers import host_port_free


def test_a_listener_takes_the_port_its_closed_connections_do_not() -> None:
    """A server that just stopped leaves its connections in TIME_WAIT for a
    minute; the port is free again for the next server (which, like every
    server, binds with SO_REUSEADDR), so mboxed must not pick other ports."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert not host_port_free(port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first: its end goes to TIME_WAIT
    assert client.recv(1) == b""
    client.close()
    server.close()
    assert host_port_free(port)

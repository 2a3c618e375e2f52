"""Listening sockets, bound before anything slow starts: a busy port is reported at once,
naming the port and what to do, instead of after the setup (or as a traceback)."""

from __future__ import annotations

import errno
import socket

from .errors import AlertplaneError


class PortUnavailable(AlertplaneError):
    """Another process listens on the port, or this one may not (exit code 3)."""


def bind(host: str, port: int, what: str = "--port") -> socket.socket:
    """A listening TCP socket on host:port; `what` names the setting that chose the port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}: {exc.strerror}", "pass --host") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise unavailable(host, port, what, exc) from exc
    sock.set_inheritable(True)
    return sock


def unavailable(host: str, port: int, what: str, exc: OSError) -> PortUnavailable:
    if exc.errno == errno.EADDRINUSE:
        return PortUnavailable(
            f"port {port} on {host} is already in use",
            f"stop the process listening there (`ss -ltnp 'sport = :{port}'` shows it) "
            f"or choose another port with {what}",
        )
    if exc.errno == errno.EACCES:
        return PortUnavailable(
            f"not allowed to listen on port {port} on {host}",
            f"choose a port above 1023 with {what}",
        )
    return PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}")

"""A probe that gives up before the answer (its timeout on a busy process) leaves no
traceback in the process's log: the flake of tests/adversarial/test_first_contact_faults.py
::test_operator_stops_cleanly_on_sigterm_and_sigint, whose readiness polls (2 s timeout)
timed out while the operator's first sync kept it busy (BrokenPipeError printed by
socketserver)."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import pytest

from alertplane.k8s.operator import serve_health


def test_a_probe_that_hung_up_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    hung_up, answered = threading.Event(), threading.Event()

    def ready() -> tuple[bool, dict[str, Any]]:
        hung_up.wait(10)  # answer only once the prober is gone
        return True, {"status": "ready"}

    server = serve_health(0, ready)
    try:
        orig = server.RequestHandlerClass.finish

        def finish(self: Any) -> None:
            try:
                orig(self)
            finally:
                answered.set()

        server.RequestHandlerClass.finish = finish  # type: ignore[method-assign]
        port = server.server_address[1]
        probe = socket.create_connection(("127.0.0.1", port))
        probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        # Closed with a reset, as a prober's timeout leaves it: the answer cannot be sent.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        probe.close()
        hung_up.set()
        assert answered.wait(10)
    finally:
        server.shutdown()
        server.server_close()
    assert "Traceback" not in capsys.readouterr().err

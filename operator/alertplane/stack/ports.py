"""The fixed ports of `make run`, checked before anything slow (dependencies, Prometheus,
Alertmanager): a busy one is named at once, with what to do. Standard library only, so
`make run` can check before `make deps install` (`python -m alertplane.stack.ports`)."""

from __future__ import annotations

import errno
import socket
import sys

# The examples' receivers and examples/platform.yaml name these; the others are free ports.
DEMO_PORTS = {
    2525: "the demo's SMTP capture (examples/platform.yaml smtp_smarthost)",
    9097: "the demo's HTTP capture (the examples' Slack/webhook URLs)",
    9101: "the demo metrics exporter",
}


def busy_ports(ports: dict[int, str] = DEMO_PORTS) -> list[str]:
    """One sentence per port that cannot be listened on, naming the port and the fix."""
    found = []
    for port, what in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as exc:
                why = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                found.append(
                    f"port {port} ({what}) is {why}: stop the process listening there "
                    f"(`ss -ltnp 'sport = :{port}'` shows it; an earlier `make run`?)"
                )
    return found


def main() -> int:
    if "--free-ports" in sys.argv[1:]:  # `make run RUN_ARGS=--free-ports`: nothing fixed
        return 0
    busy = busy_ports()
    for line in busy:
        print(f"error: {line}", file=sys.stderr)
    return 3 if busy else 0


if __name__ == "__main__":
    sys.exit(main())

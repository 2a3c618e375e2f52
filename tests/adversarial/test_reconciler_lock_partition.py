"""The reconciler lock's holder cut off from PostgreSQL (a partition): the server must
drop its session, and the holder must stop reconciling before the server does.

Before, the lock's TCP keepalive was set on the client's socket only: the server kept a
silent holder's session (and so the lock) for the OS default, 2 hours of keepalive idle,
with no reconciler for any `serve`; and the holder's own check (`SELECT 1`, sent into the
partition) waited for TCP retransmissions, ~15 minutes, reconciling meanwhile: with a
server configured to drop dead peers sooner, two reconcilers for that long. Now the
session asks the server for the same keepalives, and the client gives up an unanswered
send after LOCK_TIMEOUT_S (tcp_user_timeout), well before the server drops the session.
A real PostgreSQL; the settings are read back from the server and the connection."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import text

from alertplane.serve_state import CHECK_S
from alertplane.store.db import make_engine
from alertplane.store.election import ReconcilerLock
from tests.support.processes import Postgres


def _seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "min": 60.0}
    for unit in sorted(units, key=len, reverse=True):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * units[unit]
    return float(value)


def test_a_cut_off_holder_stops_before_the_server_frees_its_lock(postgres: Postgres) -> None:
    lock = ReconcilerLock(make_engine(postgres.create_database(f"p{uuid.uuid4().hex}")))
    assert lock.acquire(threading.Event())
    try:
        conn = lock._conn
        shown = {
            name: _seconds(str(conn.execute(text(f"SHOW {name}")).scalar()))
            for name in ("tcp_keepalives_idle", "tcp_keepalives_interval")
        }
        count = int(conn.execute(text("SHOW tcp_keepalives_count")).scalar())
        server_drops_after = shown["tcp_keepalives_idle"] + count * shown["tcp_keepalives_interval"]
        assert 0 < server_drops_after <= 60, shown  # not the OS's 2 hours
        params = conn.connection.driver_connection.info.get_parameters()
        user_timeout_s = int(params.get("tcp_user_timeout") or 0) / 1000
        assert user_timeout_s > 0, params
        # The holder's check (every CHECK_S) fails before the server lets another take it.
        assert CHECK_S + user_timeout_s < server_drops_after
    finally:
        lock.release()

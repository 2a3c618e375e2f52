"""Readiness (health.readiness): what /readyz answers, decided without a server."""

from __future__ import annotations

import threading

from alertplane.health import readiness


def test_not_ready_until_the_database_is_migrated() -> None:
    """serve answers the API with 503 until its database is migrated: /readyz must not say
    ready meanwhile (Kubernetes would send traffic to 503s), and says why."""
    migrated = threading.Event()
    ok, body = readiness(None, lambda: True, migrated=migrated)
    assert (ok, body) == (False, {"status": "not ready", "reasons": ["database not migrated yet"]})
    migrated.set()
    assert readiness(None, lambda: True, migrated=migrated) == (True, {"status": "ready"})


def test_an_unreachable_database_is_the_reason_given_before_migration() -> None:
    ok, body = readiness(None, lambda: False, migrated=threading.Event())
    assert (ok, body["reasons"]) == (False, ["database unreachable"])

"""The local stack with an HA Alertmanager (`make run` with `--alertmanager-replicas 3`):
Prometheus sends every alert to all 3 replicas, serve reloads each of them, and an
example alert that fires on the demo exporter's data is mailed to acme once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from alertplane.sinks.loaded_query import text_hash
from alertplane.stack.local import LocalStack
from alertplane.stack.processes import Alertmanager, http_json
from tests.support.am_cluster import metric
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("stack"), fast=True, replicas=3) as s:
        yield s


def _has(am: Alertmanager, name: str) -> bool:
    return any(a["labels"]["alertname"] == name for a in http_json(f"{am.url}/api/v2/alerts"))


def test_every_replica_gets_the_config_and_every_alert_and_acme_is_mailed_once(
    stack: LocalStack,
) -> None:
    assert len(stack.alertmanagers) == 3

    def loaded_everywhere() -> bool:
        now = (stack.out / "alertmanager.yml").read_text(encoding="utf-8")
        hashes = {metric(am.url, "alertmanager_config_hash") for am in stack.alertmanagers}
        return "acme/oncall" in now and hashes == {text_hash(now)}

    eventually(loaded_everywhere, 120)
    # Prometheus sends to every replica: each holds the firing alert.
    for am in stack.alertmanagers:
        eventually(lambda am=am: _has(am, "HighErrorRate"), 120)  # type: ignore[misc]

    def mails() -> list[dict[str, Any]]:
        return [
            m
            for m in stack.capture.messages()
            if m["kind"] == "mail" and m["subject"].startswith("[acme][FIRING] HighErrorRate")
        ]

    eventually(mails, 120)
    # The later replicas decide after their position × peer timeout (5 s in the fast stack):
    # a duplicate would arrive within that. Waiting longer can only miss one, never fail
    # wrongly; tests/integration/test_ha_alertmanager.py proves "once" from the replicas'
    # own notification-log queries.
    time.sleep(2 * 5.0 + 5.0)
    sent = sum(
        metric(am.url, "alertmanager_notifications_total", integration="email")
        for am in stack.alertmanagers
    )
    assert len(mails()) == 1
    assert sent == len([m for m in stack.capture.messages() if m["kind"] == "mail"])

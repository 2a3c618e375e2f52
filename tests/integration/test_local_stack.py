"""End to end on the local stack (`make run`): an example alert fires in Prometheus, reaches
Alertmanager and is delivered to that customer's receivers with its templates — and to no
other customer's. Also: no example secret appears in the database, audit log or logs."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.stack.local import DEMO_SECRETS, LocalStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("stack"), fast=True) as s:
        yield s


def wait_for(check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout}s")


def test_acme_alert_reaches_only_acme(stack: LocalStack) -> None:
    firing = wait_for(
        lambda: [
            a
            for a in stack.prometheus.alerts()
            if a["labels"]["alertname"] == "HighErrorRate" and a["state"] == "firing"
        ]
    )
    assert {a["labels"]["customer_id"] for a in firing} == {"acme"}
    labels = firing[0]["labels"]
    assert labels == {
        "alertname": "HighErrorRate",
        "customer_id": "acme",
        "severity": "critical",
        "category": "application",
        "urgency": "high",
        "team": "checkout",
        "service": "checkout",
    }
    assert firing[0]["annotations"]["runbook_url"] == (
        "https://runbooks.acme.example/high-error-rate"
    )
    wait_for(
        lambda: any(
            a["labels"]["alertname"] == "HighErrorRate" for a in stack.alertmanager.alerts()
        )
    )

    def acme_mail() -> list[dict[str, Any]]:
        return [
            m
            for m in stack.capture.messages()
            if m["kind"] == "mail" and "HighErrorRate" in m["subject"]
        ]

    (mail, *_) = wait_for(acme_mail)
    assert mail["to"] == ["ops@acme.example", "sre@acme.example"]
    assert mail["subject"].startswith("[acme][FIRING] HighErrorRate (")
    assert "<h1>HighErrorRate</h1>" in mail["parts"]["text/html"]
    assert "HighErrorRate on checkout" in mail["parts"]["text/plain"]
    # critical → acme/oncall (PagerDuty, continue: true) and acme/team (Slack) as well
    wait_for(
        lambda: [
            m
            for m in stack.capture.messages()
            if m["kind"] == "http" and m["path"].startswith("/pagerduty")
        ]
    )
    wait_for(lambda: [m for m in stack.capture.messages() if m.get("path") == "/acme/slack"])
    for message in stack.capture.messages():
        text = str(message)
        if "acme" in text and "customer_id" in text:
            where = message.get("path") or ",".join(message.get("to", []))
            assert where.startswith(("/acme", "/pagerduty")) or "acme.example" in where, where


def test_other_customers_get_their_own_alerts(stack: LocalStack) -> None:
    # globex QueueBacklog (team=dispatch) → globex/dispatch-hook webhook only
    hook = wait_for(
        lambda: [m for m in stack.capture.messages() if m.get("path") == "/globex/dispatch"]
    )
    alerts = hook[0]["body"]["alerts"]
    assert {a["labels"]["customer_id"] for a in alerts} == {"globex"}
    assert {a["labels"]["alertname"] for a in alerts} == {"QueueBacklog"}
    # nothing of any customer reaches the platform default receiver
    assert not [m for m in stack.capture.messages() if m.get("path") == "/platform"]


def test_no_secret_in_database_or_logs(stack: LocalStack) -> None:
    wait_for(lambda: stack.capture.messages())
    secrets = [v.format(http=stack.http_port) for v in DEMO_SECRETS.values()]
    clear = f"http://127.0.0.1:{stack.http_port}/globex/slack"  # apiURL in clear in globex.yaml
    secrets.append(clear)
    db = sqlite3.connect(stack.state / "alertplane.db")
    dump = "\n".join(db.iterdump())
    logs = "\n".join(p.read_text(errors="replace") for p in Path(stack.state).rglob("*.log"))
    for secret in secrets:
        assert secret not in dump
        assert secret not in logs
    # the clear-text one was moved into a 0600 file Alertmanager reads
    moved = stack.state / "secrets" / "globex" / "globex-catch-all" / "slack-api-url-0"
    assert moved.read_text() == clear
    assert "api_url_file" in (stack.out / "alertmanager.yml").read_text()


def test_demo_tokens_reach_the_api_with_their_scope(stack: LocalStack) -> None:
    def get(path: str, token: str) -> tuple[int, Any]:
        req = urllib.request.Request(
            f"{stack.serve.url}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            return exc.code, None

    status, body = get("/customers", stack.tokens["admin"])
    assert status == 200 and "globex" in json.dumps(body)
    status, body = get("/customers", stack.tokens["acme"])
    assert status == 200 and "acme" in json.dumps(body) and "globex" not in json.dumps(body)
    assert get("/customers/globex/alerts", stack.tokens["acme"])[0] == 404
    assert get("/customers", "not-a-token")[0] == 401
    tokens_file = (stack.state / "tokens.csv").read_text()
    assert all(token not in tokens_file for token in stack.tokens.values())

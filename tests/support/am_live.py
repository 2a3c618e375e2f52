"""One real Alertmanager 0.25 with a capture receiver, fed manifests through the one
admission path (`core.evaluate` with the real amtool, then `render_valid`), for the proofs
of inhibition, time intervals and escalation (issue 15 §2-§4).

The Alertmanager logs at debug level: a route muted by a time interval, or outside its
active intervals, is a flush that sends nothing, and the only trace of that decision is
its log line ("Notifications not sent, route is within mute time" / "… is not within
active time", notify.go). Counting those lines lets a test wait for the decision instead
of waiting a while and hoping nothing arrives (timings never decide pass/fail).
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from alertplane.core import evaluate, render_valid
from alertplane.manifests import load_text
from alertplane.render.platform import PlatformConfig
from alertplane.sinks.loaded_query import text_hash
from alertplane.stack.capture import Capture
from alertplane.stack.processes import Alertmanager, free_port, http_json
from tests.support.am_cluster import metric
from tests.support.waiting import eventually

MUTED = "Notifications not sent, route is within mute time"
INACTIVE = "Notifications not sent, route is not within active time"


class DebugAlertmanager(Alertmanager):
    def command(self) -> list[str]:
        return [a if a != "--log.level=warn" else "--log.level=debug" for a in super().command()]

    def count(self, message: str) -> int:
        return self.log.read_text(errors="replace").count(f'msg="{message}"')


class LiveAm:
    """`apply(manifests)` renders them (invalid ones fail the test, naming the problems),
    writes alertmanager.yml and waits until the Alertmanager runs exactly that text."""

    def __init__(self, workdir: Path) -> None:
        self.config = workdir / "alertmanager.yml"
        self.config.write_text("route: {receiver: boot}\nreceivers: [{name: boot}]\n")
        self.capture = Capture(workdir / "capture", smtp_port=free_port(), http_port=free_port())
        self.hook = f"http://127.0.0.1:{self.capture.http_port}"
        self.am = DebugAlertmanager(self.config, workdir / "am")
        self.text = ""

    def __enter__(self) -> Self:
        self.capture.start()
        self.am.start(120)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.am.close()
        self.capture.stop()

    def render(
        self, manifests: list[dict[str, Any]], platform: PlatformConfig | None = None
    ) -> str:
        return render_checked(manifests, platform or PlatformConfig())

    def apply(self, manifests: list[dict[str, Any]]) -> str:
        return self.load(self.render(manifests))

    def load(self, text: str) -> str:
        """Makes the Alertmanager run `text` (reloaded, and its config hash is `text`'s)."""
        self.text = text
        self.config.write_text(self.text, encoding="utf-8")
        req = urllib.request.Request(f"{self.am.url}/-/reload", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
        want = text_hash(self.text)
        eventually(lambda: metric(self.am.url, "alertmanager_config_hash") == want, 60)
        return self.text

    def post(self, alerts: list[dict[str, str]]) -> None:
        """Firing alerts with these label sets (for an hour)."""
        ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = [{"labels": labels, "endsAt": ends} for labels in alerts]
        req = urllib.request.Request(
            f"{self.am.url}/api/v2/alerts",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200

    def alerts(self) -> list[dict[str, Any]]:
        return list(http_json(f"{self.am.url}/api/v2/alerts"))

    def delivered(self) -> list[tuple[str, dict[str, str]]]:
        """(webhook path, labels) of every alert in every notification received so far."""
        return [
            (m["path"], a["labels"])
            for m in self.capture.messages()
            for a in m["body"].get("alerts", [])
        ]


def render_checked(manifests: list[dict[str, Any]], platform: PlatformConfig) -> str:
    """alertmanager.yml of `manifests`, every one of which must pass validation (amtool
    included): a refused manifest fails the test, naming its problems."""
    loaded = load_text(yaml.safe_dump_all(manifests, sort_keys=False))
    outcome = evaluate(loaded.documents, platform, tools=True, earlier=loaded.problems)
    assert outcome.ok, [str(p) for p in outcome.problems]
    return render_valid(outcome, platform).alertmanager

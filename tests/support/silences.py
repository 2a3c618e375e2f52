"""A real Alertmanager 0.25 for the silence tests, and the API in front of it.

Alertmanager's configuration is the smallest that routes everything to one receiver
without notifying anyone: silences do not depend on the routing tree.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alertplane.stack.processes import Alertmanager
from tests.support.api_env import ADMIN, ApiEnv, api_env, receiver_spec

AM_CONFIG = """\
route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
"""


def am_config(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager-minimal.yml"
    path.write_text(AM_CONFIG, encoding="utf-8")
    return path


@contextlib.contextmanager
def silence_env(
    db_url: str, tmp_path: Path, customers: tuple[str, ...] = ("acme", "globex")
) -> Iterator[tuple[ApiEnv, Alertmanager]]:
    """The API (its reconciler off: silences do not need it) against one Alertmanager;
    each customer known (one receiver each)."""
    with (
        Alertmanager(am_config(tmp_path), tmp_path / "am") as am,
        api_env(db_url, tmp_path / "api", run_reconciler=False, alertmanager_url=am.url) as env,
    ):
        for cid in customers:
            r = env.client.post(f"/customers/{cid}/receivers", json=receiver_spec(), headers=ADMIN)
            assert r.status_code == 201, r.text
        yield env, am


def am_silences(url: str) -> list[dict[str, Any]]:
    """Every silence Alertmanager holds, straight from its API."""
    with urllib.request.urlopen(f"{url}/api/v2/silences", timeout=10) as resp:
        return list(json.loads(resp.read()))


def am_post_silence(url: str, silence: dict[str, Any]) -> str:
    """A silence made behind alertplane's back (an operator's amtool): its id."""
    req = urllib.request.Request(
        f"{url}/api/v2/silences",
        data=json.dumps(silence).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["silenceID"])


def silence_body(alertname: str = "DiskFull", duration: str = "2h", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "matchers": [{"name": "alertname", "value": alertname}],
        "comment": "maintenance window",
        "duration": duration,
    }
    body.update(over)
    return body

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


@contextlib.contextmanager
def served(
    tmp_path: Path, am_url: str | None, replicas: list[dict[str, str]] | None = None
) -> Iterator[Any]:
    """`alertplane serve` as a process (SQLite, the test tokens) in front of `am_url`, or
    of an HA cluster's `replicas` (`alertmanager.replicas` of the platform config)."""
    from alertplane.service.tokens import token_line
    from tests.support.api_env import TOKENS
    from tests.support.api_serve import ApiServer
    from tests.support.paths import ROOT

    tmp_path.mkdir(parents=True, exist_ok=True)
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        "".join(token_line(name, role, tok) + "\n" for tok, name, role in TOKENS.values()),
        encoding="utf-8",
    )
    platform = tmp_path / "platform.yaml"
    config: dict[str, Any] = {"secretsDir": str(tmp_path / "secrets")}
    if replicas is not None:
        config["alertmanager"] = {"replicas": replicas}
    platform.write_text(json.dumps(config), encoding="utf-8")  # YAML reads JSON
    args = [
        *("--db", f"sqlite:///{tmp_path / 'serve.db'}", "--out", str(tmp_path / "out")),
        *("--platform-config", str(platform), "--tokens", str(tokens)),
    ]
    if am_url is not None:
        args += ["--alertmanager-url", am_url]
    # This checkout's alertplane, whatever the editable install points at.
    env = {"PYTHONPATH": str(ROOT / "operator")}
    with ApiServer(tmp_path / "serve", args, env) as server:
        yield server

"""The REST API as tests use it: a real Store (SQLite or PostgreSQL), the reconciler running
in a thread writing to a temp dir (no reload URLs), tokens from a real tokens file."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from alertplane.render.platform import PlatformConfig
from alertplane.service.context import ApiSettings
from alertplane.service.tokens import token_line
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from alertplane.web import create_app

ADMIN_TOKEN = "ap_admin-test-token"
ACME_TOKEN = "ap_acme-test-token"
GLOBEX_TOKEN = "ap_globex-test-token"
TOKENS = {
    "admin": (ADMIN_TOKEN, "platform-admin", "admin"),
    "acme": (ACME_TOKEN, "acme-team", "customer:acme"),
    "globex": (GLOBEX_TOKEN, "globex-team", "customer:globex"),
}


def auth(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


ADMIN = auth(ADMIN_TOKEN)
ACME = auth(ACME_TOKEN)
GLOBEX = auth(GLOBEX_TOKEN)


@dataclass
class ApiEnv:
    client: TestClient
    store: Store
    reconciler: Reconciler
    out: Path
    secrets: Path
    tokens_file: Path

    def db_dump(self) -> str:
        """Every row of every table, as text (for grepping for leaked secrets)."""
        with self.store.sessions() as s:
            return "\n".join(
                str(row)
                for table in ("objects", "audit", "status", "sync_runs")
                for row in s.execute(text(f"SELECT * FROM {table}")).all()
            )


def alert_spec(name: str = "HighErrorRate", customer: str = "acme", **over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "alertName": name,
        "category": "application",
        "severity": "critical",
        "expr": f'rate(errors_total{{customer_id="{customer}"}}[5m]) > 1',
        "annotations": {"summary": "{{ $labels.service }} fails"},
    }
    spec.update(over)
    return spec


def record_spec(
    record: str = "job:errors:rate5m", customer: str = "acme", **over: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "record": record,
        "expr": f'sum by (job) (rate(errors_total{{customer_id="{customer}"}}[5m]))',
    }
    spec.update(over)
    return spec


def receiver_spec(name: str = "oncall", **over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "receiverName": name,
        "webhook": [{"url": f"http://127.0.0.1:9097/{name}"}],
    }
    spec.update(over)
    return spec


@contextlib.contextmanager
def api_env(
    db_url: str,
    tmp_path: Path,
    run_reconciler: bool = True,
    alertmanager_url: str | None = None,
    wait_timeout_s: float = 10.0,
    platform_extra: dict[str, Any] | None = None,
) -> Iterator[ApiEnv]:
    """`platform_extra`: more platform config keys (e.g. alertTemplates)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    secrets = tmp_path / "secrets"
    platform = PlatformConfig.model_validate(
        {
            "secretsDir": str(secrets),
            "alertmanager": {
                "global": {"smtp_smarthost": "127.0.0.1:2525", "smtp_from": "am@example.com"}
            },
            **(platform_extra or {}),
        }
    )
    store = Store(open_db(db_url), secrets_dir=platform.secrets_dir)
    out = tmp_path / "out"
    settings = SyncSettings(out_dir=out, platform=platform, coalesce_s=0.02, poll_s=0.02)
    reconciler = Reconciler(store, settings)
    tokens_file = tmp_path / "tokens.csv"
    tokens_file.write_text(
        "# name,role,sha256\n"
        + "".join(token_line(name, role, tok) + "\n" for tok, name, role in TOKENS.values()),
        encoding="utf-8",
    )
    api = ApiSettings.from_file(
        tokens_file, alertmanager_url=alertmanager_url, wait_timeout_s=wait_timeout_s
    )
    stop = threading.Event()
    worker = threading.Thread(target=reconciler.run, args=(stop,), daemon=True)
    if run_reconciler:
        worker.start()
        assert reconciler.ready.wait(30)
    client = TestClient(create_app(reconciler, api, store), raise_server_exceptions=False)
    try:
        yield ApiEnv(client, store, reconciler, out, secrets, tokens_file)
    finally:
        stop.set()
        if run_reconciler:
            worker.join(10)
        store.sessions.kw["bind"].dispose()

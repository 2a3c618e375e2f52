"""The firing view with the Mimir sink (service/mimir_alerts.py): each customer asked as its
own tenant (`X-Scope-OrgID`) with the gateway's bearer token, a scoped token's counts ask
only its tenant, 404 (no Alertmanager for the tenant) is nothing firing, transient 5xx
retried, a refusal or a tenant not answering is UpstreamFailed (never a short answer).
tests/integration/test_mimir_firing.py has the real Mimir."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from alertplane.errors import UpstreamFailed
from alertplane.service import customers, mimir_alerts
from alertplane.service.access import Access
from alertplane.service.context import Context
from alertplane.service.mimir_alerts import MimirAlertmanager


class Answer(io.BytesIO):
    status = 200

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _error(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://mimir", code, "x", Message(), io.BytesIO(b""))


def _mimir(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, answers: dict[str, list[Any]]
) -> list[tuple[str, str | None, str | None]]:
    """Mimir answering each tenant from `answers` (a list per tenant, consumed in order:
    an exception is raised, anything else is the JSON answer)."""
    token = tmp_path / "token"
    token.write_text("gw-secret\n")
    ctx.settings.mimir = MimirAlertmanager("http://mimir/", str(token))
    asked: list[tuple[str, str | None, str | None]] = []
    monkeypatch.setattr(mimir_alerts, "BACKOFF_S", 0.0)

    def urlopen(req: urllib.request.Request, timeout: float) -> Answer:
        tenant = req.get_header("X-scope-orgid")
        asked.append((req.full_url.split("?")[0], tenant, req.get_header("Authorization")))
        answer = answers[str(tenant)].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Answer(json.dumps(answer).encode())

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    return asked


def _alert(name: str, customer: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "customer_id": customer}, "fingerprint": name}


def test_a_customer_is_asked_as_its_tenant_with_the_gateway_token(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked = _mimir(ctx, monkeypatch, tmp_path, {"acme": [[_alert("Down", "acme")]]})
    got = customers.firing(ctx, acme, silenced=False, inhibited=False)
    assert [a["labels"]["alertname"] for a in got] == ["Down"]
    assert asked == [("http://mimir/alertmanager/api/v2/alerts", "acme", "Bearer gw-secret")]


def test_an_alert_in_the_tenant_labelled_as_another_customer_is_dropped(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers = {"acme": [[_alert("Mine", "acme"), _alert("Odd", "globex")]]}
    _mimir(ctx, monkeypatch, tmp_path, answers)
    got = customers.firing(ctx, acme, silenced=True, inhibited=True)
    assert [a["labels"]["alertname"] for a in got] == ["Mine"]


def test_counts_ask_the_scoped_tenant_only_and_an_admin_every_customer(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers = {
        "acme": [[_alert("A", "acme")], [_alert("A", "acme")]],
        "globex": [[_alert("G1", "globex"), _alert("G2", "globex")]],
    }
    asked = _mimir(ctx, monkeypatch, tmp_path, answers)
    assert customers.firing_counts(ctx, ["acme", "globex"], "acme", 1.0) == {"acme": 1, "globex": 0}
    assert [t for _, t, _ in asked] == ["acme"]
    asked.clear()
    counts = customers.firing_counts(ctx, ["acme", "globex"], None, 1.0)
    assert counts == {"acme": 1, "globex": 2}
    assert sorted(t for _, t, _ in asked if t) == ["acme", "globex"]


def test_no_alertmanager_for_the_tenant_is_nothing_firing_and_5xx_is_retried(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers = {"acme": [_error(404), _error(500), OSError("reset"), [_alert("Down", "acme")]]}
    asked = _mimir(ctx, monkeypatch, tmp_path, answers)
    assert customers.firing(ctx, acme, silenced=False, inhibited=False) == []
    got = customers.firing(ctx, acme, silenced=False, inhibited=False)
    assert [a["labels"]["alertname"] for a in got] == ["Down"]
    assert len(asked) == 4


def test_refused_or_down_is_upstream_failed_never_a_short_answer(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers = {
        "acme": [_error(401), [_alert("A", "acme")]],
        "globex": [_error(503), _error(503), _error(503)],
    }
    _mimir(ctx, monkeypatch, tmp_path, answers)
    with pytest.raises(UpstreamFailed, match=r"refused \(HTTP 401\)"):
        customers.firing(ctx, acme, silenced=False, inhibited=False)
    with pytest.raises(UpstreamFailed, match="did not answer"):
        customers.firing_counts(ctx, ["acme", "globex"], None, 5.0)


def test_an_unreadable_token_file_is_upstream_failed_without_its_path_content(
    ctx: Context, acme: Access, tmp_path: Path
) -> None:
    ctx.settings.mimir = MimirAlertmanager("http://mimir", str(tmp_path / "missing"))
    with pytest.raises(UpstreamFailed, match="cannot read --mimir-token-file"):
        customers.firing(ctx, acme, silenced=False, inhibited=False)

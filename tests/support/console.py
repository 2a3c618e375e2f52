"""The web console as a browser sees it (FastAPI's TestClient): sign in, forms with their
CSRF token, the messages on a page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alertplane.manifests import load_paths
from alertplane.validate import parse_documents
from tests.support.api_env import (
    ApiEnv,
    api_env,
)
from tests.support.paths import EXAMPLES
from tests.support.waiting import eventually

C = "/console"


def client(env: ApiEnv, token: str | None) -> TestClient:
    """A browser of its own (own cookie jar), signed in with `token`."""
    c = TestClient(env.client.app, raise_server_exceptions=False)
    if token is not None:
        r = sign_in(c, token)
        assert r.status_code == 303 and r.headers["location"] == f"{C}/", r.text
    return c


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(c: TestClient, token: str, next_page: str = "") -> Any:
    form = c.get(f"{C}/signin")
    assert form.status_code == 200
    data = {"csrf": csrf_of(form.text), "token": token, "next": next_page}
    return c.post(f"{C}/signin", data=data, follow_redirects=False)


def post(c: TestClient, page: str, action: str, data: dict[str, str]) -> Any:
    """Submit a form as a browser would: with the CSRF token of the page it is on."""
    token = csrf_of(c.get(page).text)
    return c.post(action, data={"csrf": token, **data}, follow_redirects=False)


def phases(page: str) -> list[str]:
    return re.findall(r'data-phase="(\w+)"', page)


def field_errors(page: str, field: str) -> list[str]:
    """Messages shown next to a form field (tied to it by aria-describedby)."""
    found = re.search(rf'<(?:input|textarea|select)[^>]*id="f-{field}"[^>]*>', page, re.S)
    assert found, f"no field {field}"
    ids = re.search(r'aria-describedby="([^"]*)"', found.group(0))
    out = []
    for ident in ids.group(1).split() if ids else []:
        msg = re.search(rf'<p class="field-error" id="{ident}">(.*?)</p>', page, re.S)
        if msg:
            out.append(html.unescape(msg.group(1)))
    return out


def assert_page(r: Any, status: int = 200) -> str:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("text/html")
    assert "Traceback" not in r.text and "Internal error" not in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    return str(r.text)


def alert_form(name: str = "CpuHot", customer: str = "acme", **over: str) -> dict[str, str]:
    form = {
        "alertName": name,
        "severity": "warning",
        "category": "infrastructure",
        "urgency": "",
        "expr": f'node_cpu_busy_ratio{{customer_id="{customer}"}} > 0.9',
        "for": "5m",
        "keepFiringFor": "",
        "enabled": "on",
        "labels": "team=ops",
        "summary": "{{ $labels.instance }} is busy",
        "description": "",
        "impact": "",
        "action": "",
        "runbookUrl": "",
        "annotations": "",
    }
    form.update(over)
    return form


SECRET = "https://hooks.slack.com/services/T000/B000/s3cr3t-value"


def receiver_form_data(name: str = "pager", **over: str) -> dict[str, str]:
    form = {
        "receiverName": name,
        "email-0-to": "ops@acme.example\nsre@acme.example",
        "email-0-subjectTemplate": "[acme] {{ .CommonLabels.alertname }}",
        "email-0-sendResolved": "true",
        "webhook-0-url": "",
        "route-priority": "30",
        "route-severity-critical": "on",
        "route-labels": "team=checkout",
        "route-groupBy": "alertname, service",
        "route-groupWait": "30s",
    }
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def browser(app: TestClient, token: str) -> TestClient:
    """A browser of its own (own cookie jar), signed in with `token`."""
    c = TestClient(app.app, raise_server_exceptions=False)
    r = sign_in(c, token)
    assert (r.status_code, r.headers.get("location")) == (303, f"{C}/"), r.text
    return c


SETTLED = ("Synced", "Disabled")


def apply_examples(env: ApiEnv) -> None:
    loaded = load_paths([str(EXAMPLES / "customers")])
    parsed, problems = parse_documents(loaded.documents)
    assert not problems and not loaded.problems
    env.store.apply([p.obj for p in parsed], "demo", "import")
    env.reconciler.notify()
    eventually(lambda: all(s.status and s.status.phase in SETTLED for s in env.store.get()))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'console.db'}", tmp_path) as found:
        yield found


@pytest.fixture
def examples(env: ApiEnv) -> ApiEnv:
    apply_examples(env)
    return env

"""What a customer (or anyone without a token) can learn about other customers: nothing.

Every GET endpoint of the REST API and every console page — `/metrics` included — is
asked the same questions with acme's token and without a token, in three worlds: globex
never existed; globex has several alerts and a receiver, synced (so the self-monitoring
counters moved); globex's objects were deleted again (it exists only in the audit log).
The answers must be identical (up to the clock: ages and timestamps of acme's own objects).

`/metrics` counts every customer's objects, so on the API port it answers only admin
tokens (401 without a token, 403 for a customer token); the platform's scrape uses
`serve --metrics-port` (tests/integration/test_serve_http.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from alertplane.service.tokens import token_line
from tests.support.api_env import (
    ACME,
    ACME_TOKEN,
    ADMIN,
    ApiEnv,
    alert_spec,
    api_env,
    receiver_spec,
    record_spec,
)
from tests.support.console import client
from tests.support.processes import free_port
from tests.support.slo import slo_spec
from tests.support.waiting import eventually

# Values for every path parameter: acme's own, globex's, and ones nobody has.
PARAMS = {
    "customerId": ("acme", "globex", "nobody"),
    "cid": ("acme", "globex", "nobody"),
    "alertName": ("HighErrorRate", "GlobexAlert0", "Missing"),
    "receiverName": ("oncall", "globex-pager", "missing"),
    "record": ("job:errors:rate5m", "globex:only:rate5m", "x:missing"),
    "sloName": ("checkout", "globex-checkout", "missing"),
    # The platform's alert templates (console forms) belong to no customer.
    "template": ("error-rate", "missing"),
    "name": (
        "HighErrorRate",
        "oncall",
        "GlobexAlert0",
        "globex-pager",
        "job:errors:rate5m",
        "globex:only:rate5m",
        "checkout",
        "globex-checkout",
        "app.css",
    ),
    "rest": ("customers/globex", "nothing"),
    "silenceId": ("0b9c6f3e-1d2a-4c5b-8e7f-123456789abc", "not-a-silence"),
    "sid": ("0b9c6f3e-1d2a-4c5b-8e7f-123456789abc", "not-a-silence"),
}
EXTRA = (
    "/export?customer=globex",
    "/customers/acme/audit?name=globex-globexalert0",
    "/console/customers/acme/audit?name=globex-globexalert0",
)
VOLATILE = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?"), "<time>"),
    (re.compile(r"\b\d+(\.\d+)?\s?(ms|s|m|h|d)\b( ago)?"), "<age>"),
    (re.compile(r'name="csrf" value="[^"]*"'), 'name="csrf" value=""'),
)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path) as e:
        for path, body in (
            ("/customers/acme/alerts", alert_spec()),
            ("/customers/acme/receivers", receiver_spec()),
            ("/customers/acme/recordingrules", record_spec()),
            ("/customers/acme/slos", slo_spec()),
        ):
            r = e.client.post(f"{path}?wait=true", json=body, headers=ACME)
            assert r.status_code == 201 and r.json()["status"]["phase"] == "Synced", r.text
        yield e


def urls(env: ApiEnv) -> list[str]:
    """Every GET route, each path parameter filled with every value of PARAMS."""
    out: list[str] = list(EXTRA)
    for route in _routes(env.client.app.routes):
        if "GET" not in route.methods:
            continue
        paths = [route.path]
        for param in route.param_convertors:
            paths = [p.replace(f"{{{param}}}", v) for p in paths for v in PARAMS[param]]
            paths = [p.replace(f"{{{param}:path}}", v) for p in paths for v in PARAMS[param]]
        out.extend(paths)
    return sorted(set(out))


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    """The app's routes, also those of included routers (paths already prefixed)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)


def answers(env: ApiEnv, browsers: dict[str, TestClient]) -> dict[tuple[str, str], str]:
    seen = {}
    for url in urls(env):
        for who, browser in browsers.items():
            headers = ACME if who == "acme" else {}
            r = browser.get(url, headers=headers, follow_redirects=False)
            text = r.text
            for pattern, fixed in VOLATILE:
                text = pattern.sub(fixed, text)
            location = r.headers.get("location", "")
            seen[(who, url)] = f"{r.status_code} {location}\n{text}"
    return seen


def test_a_customer_learns_nothing_about_another_from_any_get(env: ApiEnv) -> None:
    browsers = {"acme": client(env, ACME_TOKEN), "anonymous": client(env, None)}
    before = answers(env, browsers)
    assert len(before) > 100  # the table really covers the routes
    assert before[("acme", "/console/customers/acme/audit")].startswith("200 \n")
    assert before[("acme", "/customers/acme/alerts")].startswith("200 \n")
    assert before[("anonymous", "/metrics")].startswith("401")
    assert before[("acme", "/metrics")].startswith("403")

    # globex appears: objects, a sync, every counter and gauge moves.
    for i in range(3):
        body = alert_spec(f"GlobexAlert{i}", "globex")
        r = env.client.post("/customers/globex/alerts", json=body, headers=ADMIN)
        assert r.status_code == 201, r.text
    r = env.client.post(
        "/customers/globex/receivers", json=receiver_spec("globex-pager"), headers=ADMIN
    )
    assert r.status_code == 201, r.text
    body = record_spec("globex:only:rate5m", "globex")
    r = env.client.post("/customers/globex/recordingrules", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    body = slo_spec("globex", "globex-checkout")
    r = env.client.post("/customers/globex/slos", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text

    def globex_synced() -> bool:
        found = env.store.get(customer="globex")
        return len(found) == 6 and all(s.status and s.status.phase == "Synced" for s in found)

    eventually(globex_synced)
    admin_view = env.client.get("/metrics", headers=ADMIN).text
    assert 'alertplane_objects{kind="CustomerAlert",phase="Synced"} 4.0' in admin_view
    with_globex = answers(env, browsers)
    assert _differences(before, with_globex) == []

    # globex's objects go again: it exists only in the audit log now.
    env.store.delete([s.ref for s in env.store.get(customer="globex")], "ops", "cli")
    env.reconciler.notify()
    eventually(lambda: "alertplane_objects" in env.client.get("/metrics", headers=ADMIN).text)
    assert _differences(before, answers(env, browsers)) == []


def _differences(a: dict[tuple[str, str], str], b: dict[tuple[str, str], str]) -> list[str]:
    return [
        f"{who} GET {url}:\n{a[(who, url)]}\n---\n{b[(who, url)]}"
        for who, url in a
        if a[(who, url)] != b[(who, url)]
    ]


def test_a_real_serve_keeps_metrics_off_the_customers_port(tmp_path: Path) -> None:
    """`alertplane serve --metrics-port`: the API port answers /metrics to admins only,
    the metrics port to the scrape without a token, and serves nothing else."""
    port, metrics_port = free_port(), free_port()
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        token_line("ops", "admin", "ap_admin") + "\n" + token_line("a", "customer:acme", "ap_a")
    )
    cmd = [
        sys.executable, "-m", "alertplane.cli", "serve", f"--db=sqlite:///{tmp_path / 'a.db'}",
        f"--out={tmp_path / 'out'}", f"--port={port}", f"--metrics-port={metrics_port}",
        f"--tokens={tokens}",
    ]  # fmt: skip
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:

        def get(url: str, token: str | None = None) -> tuple[int, str]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        api, scrape = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"

        def up() -> bool:
            try:
                return get(f"{api}/readyz")[0] == 200
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                return False

        eventually(up, 60)
        assert get(f"{api}/metrics")[0] == 401
        assert get(f"{api}/metrics", "ap_a")[0] == 403
        code, text = get(f"{api}/metrics", "ap_admin")
        assert code == 200 and "alertplane_syncs_total" in text
        code, text = get(f"{scrape}/metrics")
        assert code == 200 and "alertplane_syncs_total" in text
        assert get(f"{scrape}/customers", "ap_admin")[0] == 404
        assert get(f"{scrape}/console/")[0] == 404
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()

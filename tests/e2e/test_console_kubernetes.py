"""The web console and GET /customers/{id}/firing with `alertplane serve --kubernetes`: on
the same real cluster, operator and PostgreSQL mirror as the API's tests
(tests/support/api_k8s_env.py). A console form becomes a custom resource written by
`alertplane-api` with the console's annotations, its pages read the mirror, and the wait for
the verdict after a write ends on the operator's status."""

from __future__ import annotations

import re

import pytest

from tests.support.api_env import ACME, ACME_TOKEN, ADMIN_TOKEN, GLOBEX, alert_spec, receiver_spec
from tests.support.api_k8s_env import Env
from tests.support.console import (
    alert_form,
    assert_page,
    browser,
    csrf_of,
    field_errors,
    phases,
    post,
)
from tests.support.firing import firing, post_alerts
from tests.support.operator_env import wait_for
from tests.support.processes import Alertmanager

C = "/console"
ALERT = "CustomerAlert"


@pytest.fixture
def env(kube_api: Env) -> Env:
    return kube_api


def test_console_form_writes_a_custom_resource_that_reaches_synced(env: Env) -> None:
    c = browser(env.client, ACME_TOKEN)
    new = f"{C}/customers/acme/new-alert"

    # Refused before anything reaches the cluster, shown on the field, as standalone.
    r = post(c, new, new, alert_form("FromConsole", expr="node_cpu_busy_ratio > 0.9"))
    assert field_errors(assert_page(r, 422), "expr")[0].startswith("spec.expr: selector")
    assert env.cr(ALERT, "acme-fromconsole") is None

    r = post(c, new, new, alert_form("FromConsole"))
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{C}/customers/acme?notice=created&what=FromConsole"
    cr = env.cr(ALERT, "acme-fromconsole")
    assert cr is not None and cr["spec"]["labels"] == {"team": "ops"}
    notes = cr["metadata"]["annotations"]
    assert (notes["alertplane.io/changed-by"], notes["alertplane.io/change-source"]) == (
        "acme-team",
        "console",
    )
    assert "alertplane-api" in {m["manager"] for m in cr["metadata"]["managedFields"]}
    # The redirect waited for the verdict: the pages (read from the mirror) show it.
    page = assert_page(c.get(r.headers["location"]))
    assert "Alert FromConsole created." in page and "FromConsole" in page
    one = f"{C}/customers/acme/alerts/FromConsole"
    assert phases(assert_page(c.get(one))) == ["Synced"]

    # Disable, then delete, through the console's forms.
    token = csrf_of(assert_page(c.get(f"{C}/customers/acme")))
    r = c.post(f"{one}/enabled", data={"csrf": token, "enabled": "false"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert env.cr(ALERT, "acme-fromconsole")["spec"]["enabled"] is False  # type: ignore[index]
    wait_for(lambda: phases(assert_page(c.get(one))) == ["Disabled"], 10, "Disabled")
    r = c.post(f"{one}/delete", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    wait_for(lambda: env.cr(ALERT, "acme-fromconsole") is None, 20, "the CR is gone")
    assert_page(c.get(one), 404)

    audit = assert_page(c.get(f"{C}/customers/acme/audit?name=acme-fromconsole"))
    assert "console" in audit and "acme-team" in audit
    assert env.audit("acme-fromconsole") == [
        ("create", 1, "acme-team", "console"),
        ("disable", 2, "acme-team", "console"),
        ("delete", 2, "acme-team", "console"),
    ]


def test_console_customer_token_sees_only_its_customer(env: Env) -> None:
    for cid, token in (("acme", ACME), ("globex", GLOBEX)):
        spec = alert_spec("Seen", customer=cid)
        r = env.client.post(f"/customers/{cid}/alerts?wait=true", json=spec, headers=token)
        assert r.status_code in (201, 409), r.text

    admin = browser(env.client, ADMIN_TOKEN)
    listed = re.findall(r'href="/console/customers/([a-z0-9-]+)"', assert_page(admin.get(f"{C}/")))
    assert {"acme", "globex"} <= set(listed)

    acme = browser(env.client, ACME_TOKEN)
    overview = assert_page(acme.get(f"{C}/"))
    assert re.findall(r'href="/console/customers/([a-z0-9-]+)"', overview) == ["acme"]
    for page in ("", "/status", "/audit", "/receivers", "/alerts/Seen"):
        assert "globex" not in assert_page(acme.get(f"{C}/customers/acme{page}")).lower()
    missing = assert_page(acme.get(f"{C}/customers/nobody"), 404)
    for page in ("", "/status", "/audit", "/alerts/Seen", "/firing"):
        assert assert_page(acme.get(f"{C}/customers/globex{page}"), 404) == missing
    token = csrf_of(overview)
    r = acme.post(f"{C}/customers/globex/alerts/Seen/delete", data={"csrf": token})
    assert assert_page(r, 404) == missing
    r = acme.post(f"{C}/customers/globex/new-alert", data={"csrf": token, **alert_form("X")})
    assert assert_page(r, 404) == missing
    assert env.cr(ALERT, "globex-seen", "globex") is not None
    assert env.cr(ALERT, "globex-x", "globex") is None


def test_firing_from_a_real_alertmanager(env: Env) -> None:
    r = env.client.post(
        "/customers/acme/receivers?wait=true", json=receiver_spec("firing"), headers=ACME
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"]["phase"] == "Synced"
    r = env.client.get("/customers/acme/firing", headers=ACME)  # no --alertmanager-url
    assert r.status_code == 503 and "no Alertmanager URL configured" in r.json()["detail"]

    # Alertmanager runs the configuration the operator's files sink wrote.
    with Alertmanager(env.out / "alertmanager.yml") as am:
        api = env.app(alertmanager_url=am.url)
        post_alerts(
            am.url,
            firing(
                [
                    ("acme", "DiskFull"),
                    ("acme", "HighErrorRate"),
                    ("globex", "GlobexQueue"),
                ],
                severity="info",
            ),
        )
        wait_for(lambda: len(am.alerts()) == 3, 20, "Alertmanager has the alerts")

        r = api.get("/customers/acme/firing", headers=ACME)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [a["labels"]["alertname"] for a in items] == ["DiskFull", "HighErrorRate"]
        assert items[0]["annotations"] == {"summary": "DiskFull of acme"}
        assert all(rcv.startswith("acme/") for a in items for rcv in a["receivers"])
        assert api.get("/customers/globex/firing", headers=ACME).status_code == 404
        globex = api.get("/customers/globex/firing", headers=GLOBEX).json()["items"]
        assert [a["labels"]["alertname"] for a in globex] == ["GlobexQueue"]

        # The console's firing page, from the same Alertmanager.
        c = browser(api, ACME_TOKEN)
        page = assert_page(c.get(f"{C}/customers/acme/fragments/firing"))
        assert re.findall(r'<th scope="row">(\w+)</th>', page) == ["DiskFull", "HighErrorRate"]
        assert "globex" not in page.lower()
    r = api.get("/customers/acme/firing", headers=ACME)
    assert r.status_code == 502 and r.json()["detail"].startswith("Alertmanager did not")
    assert "Alertmanager unreachable" in assert_page(c.get(f"{C}/customers/acme/firing"))


def test_console_receiver_with_a_clear_secret_is_refused_on_its_field(env: Env) -> None:
    # In Kubernetes mode a clear Slack URL has nowhere safe to go (the custom resource is
    # readable by everyone who can read the namespace): refused, said on the field, never
    # echoed back, and nothing reaches the cluster.
    from tests.support.console import SECRET, receiver_form_data

    c = browser(env.client, ACME_TOKEN)
    new = f"{C}/customers/acme/new-receiver"
    form = receiver_form_data("clearslack", **{"slack-0-apiURL": SECRET})
    r = post(c, new, new, form)
    page = assert_page(r, 422)
    assert "s3cr3t" not in page
    (message,) = field_errors(page, "slack-0-apiURL")
    assert message.startswith("spec.slack[0].apiURL: a secret in clear is not written into")
    assert "Kubernetes Secret in namespace acme" in message
    assert env.cr("CustomerReceiver", "acme-clearslack") is None

"""The web console through FastAPI's TestClient: every page for an admin and a customer
token, sign-in/out, CSRF, isolation between customers, inline validation messages,
writes audited as "console", and no page ever a 500 with a traceback."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from alertplane.manifests import load_paths
from alertplane.model import CustomerAlert
from alertplane.store.repo import Store
from alertplane.validate import parse_document, parse_documents
from tests.support.api_env import (
    ACME,
    ACME_TOKEN,
    ADMIN_TOKEN,
    GLOBEX_TOKEN,
    ApiEnv,
    alert_spec,
    receiver_spec,
)
from tests.support.console import (
    C,
    alert_form,
    assert_page,
    client,
    csrf_of,
    env,
    examples,
    field_errors,
    phases,
    post,
    sign_in,
)
from tests.support.firing import firing, post_alerts
from tests.support.paths import EXAMPLES
from tests.support.processes import Alertmanager
from tests.support.waiting import eventually

__all__ = ["env", "examples"]  # fixtures (tests/support/console.py)
OTHERS = ("globex", "initech")  # customers an acme token must never see


CUSTOMER_PAGES = (
    "",
    "/new-alert",
    "/alerts/HighErrorRate",
    "/receivers",
    "/new-receiver",
    "/receivers/oncall",
    "/firing",
    "/fragments/firing",
    "/fragments/alerts",
    "/fragments/receivers",
    "/status",
    "/audit",
    "/audit?name=acme-high-error-rate",
    "/preview",
    "/preview?alert=TargetDown",
)


def test_signed_out_is_sent_to_sign_in(env: ApiEnv) -> None:
    c = client(env, None)
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == f"{C}/"
    for page in ["/", "", *(f"/customers/acme{p}" for p in CUSTOMER_PAGES)]:
        r = c.get(C + page, follow_redirects=False)
        assert r.status_code == 303, page
        assert r.headers["location"].startswith(f"{C}/signin?next=%2Fconsole")
    # A page asked for before signing in is where signing in leads.
    r = sign_in(c, ACME_TOKEN, next_page=f"{C}/customers/acme/audit")
    assert r.headers["location"] == f"{C}/customers/acme/audit"
    # Refreshing fragments and forms get a 401 fragment, not a redirect to a full page.
    anon = client(env, None)
    r = anon.get(f"{C}/customers/acme/fragments/firing", headers={"X-Console-Fragment": "1"})
    assert_page(r, 401)
    assert_page(anon.post(f"{C}/customers/acme/alerts/X/enabled", data={}), 401)


def test_sign_in_cookie_sign_out(env: ApiEnv) -> None:
    c = TestClient(env.client.app, raise_server_exceptions=False)
    r = c.get(f"{C}/signin")
    page = assert_page(r)
    assert '<label for="token">Token</label>' in page and 'type="password"' in page
    r = c.post(f"{C}/signin", data={"csrf": csrf_of(page), "token": "ap_wrong"})
    assert "That token is not valid" in assert_page(r, 401)
    assert "alertplane_console" not in c.cookies
    # Without the sign-in form's own token (double-submit cookie): refused.
    fresh = TestClient(env.client.app, raise_server_exceptions=False)
    r = fresh.post(f"{C}/signin", data={"csrf": "forged", "token": ADMIN_TOKEN})
    assert "did not come from this console" in assert_page(r, 403)

    r = sign_in(c, ADMIN_TOKEN, next_page="https://evil.example/")
    assert r.headers["location"] == f"{C}/"  # never off-site
    cookie = r.headers["set-cookie"]
    assert "alertplane_console=" in cookie
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/console"):
        assert attribute in cookie
    page = assert_page(c.get(f"{C}/"))
    assert "Signed in as <strong>platform-admin</strong>" in page
    # Sign out needs the CSRF token too, then every page asks to sign in again.
    assert_page(c.post(f"{C}/signout", data={"csrf": "nope"}), 403)
    r = post(c, f"{C}/", f"{C}/signout", {})
    assert r.status_code == 303 and r.headers["location"] == f"{C}/signin?signedout=1"
    assert c.get(f"{C}/", follow_redirects=False).status_code == 303
    assert "You are signed out" in c.get(f"{C}/signin?signedout=1").text


def test_revoked_token_signs_the_session_out(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    assert c.get(f"{C}/").status_code == 200
    lines = env.tokens_file.read_text().splitlines()
    env.tokens_file.write_text("\n".join(x for x in lines if "acme-team" not in x) + "\n")
    # The tokens file is re-read (at most once a second) when it changes.
    eventually(lambda: c.get(f"{C}/", follow_redirects=False).status_code == 303, timeout=5)


def test_every_page_as_admin(examples: ApiEnv) -> None:
    c = client(examples, ADMIN_TOKEN)
    page = assert_page(c.get(f"{C}/"))
    for cid in ("acme", "globex", "initech"):
        assert f'href="{C}/customers/{cid}"' in page
    assert "Alertmanager not configured" in page
    assert "Start a customer" in page  # admins only
    for p in CUSTOMER_PAGES:
        for cid in ("acme", "globex"):
            acme_only = ("HighErrorRate", "TargetDown", "acme-", "oncall")
            if cid != "acme" and any(x in p for x in acme_only):
                continue
            assert_page(c.get(f"{C}/customers/{cid}{p}"))
    alerts = assert_page(c.get(f"{C}/customers/acme"))
    for name in ("HighErrorRate", "SlowResponses", "DiskAlmostFull", "TargetDown"):
        assert f'data-alert="{name}"' in alerts
    assert set(phases(alerts)) == {"Synced"}
    receivers = assert_page(c.get(f"{C}/customers/acme/receivers"))
    # Ordered as Alertmanager tries them: oncall (priority 10) before team (20).
    assert receivers.index('data-receiver="oncall"') < receivers.index('data-receiver="team"')
    assert "e-mail to ops@acme.example, sre@acme.example" in receivers
    status = assert_page(c.get(f"{C}/customers/acme/status"))
    assert status.count("Reloaded") + status.count("Written") >= 6
    # Unknown customers and pages: the same plain 404 page.
    for page_path in ("/customers/nobody", "/customers/Not_A_Label", "/no/such/page"):
        assert "There is nothing here" in assert_page(c.get(C + page_path), 404)


def test_customer_token_sees_only_its_customer(examples: ApiEnv) -> None:
    c = client(examples, ACME_TOKEN)
    bodies = [assert_page(c.get(f"{C}/"))]
    bodies += [assert_page(c.get(f"{C}/customers/acme{p}")) for p in CUSTOMER_PAGES]
    bodies.append(
        assert_page(post(c, f"{C}/customers/acme/receivers", f"{C}/customers/acme/routing/test",
                         {"severity": "critical"}))
    )  # fmt: skip
    for body in bodies:
        for other in OTHERS:
            assert other not in body.lower()
    assert "Start a customer" not in bodies[0]
    assert re.findall(r'href="/console/customers/([a-z0-9-]+)"', bodies[0]) == ["acme"]

    # Another customer's pages read exactly like a customer that does not exist.
    missing = assert_page(c.get(f"{C}/customers/nobody"), 404)
    token = csrf_of(bodies[0])
    before = [(s.ref, s.generation) for s in examples.store.get()]
    for p in CUSTOMER_PAGES:
        r = c.get(f"{C}/customers/globex{p.replace('HighErrorRate', 'QueueBacklog')}")
        assert assert_page(r, 404) == missing
    for action, data in (
        ("/alerts/QueueBacklog/enabled", {"enabled": "false"}),
        ("/alerts/QueueBacklog/delete", {}),
        ("/alerts/QueueBacklog", {"alertName": "QueueBacklog", "expr": "up"}),
        ("/new-alert", {**alert_form(customer="globex")}),
        ("/audit/rollback", {"kind": "CustomerAlert", "namespace": "globex",
                             "object": "globex-queue-backlog", "version": "1"}),
        ("/routing/test", {"severity": "critical"}),
        ("/preview", {"email": "ops:0"}),
    ):  # fmt: skip
        r = c.post(f"{C}/customers/globex{action}", data={"csrf": token, **data})
        assert assert_page(r, 404) == missing, action
    # Nor by naming a globex object through an acme path.
    r = c.post(
        f"{C}/customers/acme/audit/rollback",
        data={"csrf": token, "kind": "CustomerAlert", "namespace": "globex",
              "object": "globex-queue-backlog", "version": "1"},
    )  # fmt: skip
    assert "globex" not in assert_page(r, 404)
    assert [(s.ref, s.generation) for s in examples.store.get()] == before


def test_csrf_is_required_for_every_form(examples: ApiEnv) -> None:
    acme = client(examples, ACME_TOKEN)
    admin = client(examples, ADMIN_TOKEN)
    admin_token = csrf_of(admin.get(f"{C}/").text)
    base = f"{C}/customers/acme"
    forms: tuple[tuple[str, dict[str, str]], ...] = (
        ("/alerts/TargetDown/enabled", {"enabled": "false"}),
        ("/alerts/TargetDown/delete", {}),
        ("/alerts/TargetDown", alert_form(name="TargetDown")),
        ("/new-alert", alert_form(name="Fresh")),
        ("/audit/rollback", {"kind": "CustomerAlert", "namespace": "acme",
                             "object": "acme-target-down", "version": "1"}),
        ("/routing/test", {"severity": "critical"}),
        ("/preview", {"email": "team:0"}),
    )  # fmt: skip
    before = [(s.ref, s.generation) for s in examples.store.get()]
    for action, data in forms:
        for token in (None, "", "0" * 64, admin_token):  # another session's token is no good
            body = dict(data) if token is None else {**data, "csrf": token}
            r = acme.post(base + action, data=body)
            assert "did not come from this console" in assert_page(r, 403), (action, token)
    assert [(s.ref, s.generation) for s in examples.store.get()] == before
    assert len(examples.store.history(customer="acme")) == 6


def test_create_with_a_mistake_shows_the_message_then_fix(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    new = f"{C}/customers/acme/new-alert"
    page = assert_page(c.get(new))
    for field in ("alertName", "severity", "category", "expr", "for", "summary", "labels"):
        assert f'<label for="f-{field}">' in page  # every input has a label

    # Schema problems first (as `alertplane validate` reports them), then the rest.
    r = post(c, new, new, alert_form(**{"for": "5 minutes"}))
    page = assert_page(r, 422)
    assert field_errors(page, "for") == [
        "spec.for: '5 minutes' is not a valid duration; use a Prometheus duration such as "
        "30s, 5m, 1h30m or 7d"
    ]
    assert 'aria-invalid="true"' in page and "5 minutes" in page  # what was typed stays
    r = post(c, new, new, alert_form(expr="node_cpu_busy_ratio > 0.9"))
    page = assert_page(r, 422)
    assert field_errors(page, "expr") == [
        'spec.expr: selector node_cpu_busy_ratio{} has no customer_id="acme" matcher; '
        'add customer_id="acme" inside its braces'
    ]
    assert field_errors(page, "for") == []
    # The summary lists the lines `alertplane validate` prints, linked to the fields.
    assert "CustomerAlert acme/acme-cpuhot: spec.expr: selector" in html.unescape(page)
    assert '<li><a href="#f-expr">' in page
    assert env.store.get() == []  # nothing stored

    r = post(c, new, new, alert_form(labels="team ops"))
    assert field_errors(assert_page(r, 422), "labels") == [
        "spec.labels: line 1: expected name=value; write one label per line, e.g. team=checkout"
    ]
    r = post(c, new, new, alert_form(severity="", alertName=""))
    page = assert_page(r, 422)
    assert field_errors(page, "severity") and field_errors(page, "alertName")

    r = post(c, new, new, alert_form())
    assert r.status_code == 303
    assert r.headers["location"] == f"{C}/customers/acme?notice=created&what=CpuHot"
    page = assert_page(c.get(r.headers["location"]))
    assert "Alert CpuHot created." in page and phases(page) == ["Synced"]
    ((stored,),) = [env.store.get(kind="CustomerAlert")]
    assert stored.spec["labels"] == {"team": "ops"}
    assert stored.spec["for"] == "5m"
    (entry,) = env.store.history(customer="acme")
    assert (entry.actor, entry.source, entry.action) == ("acme-team", "console", "create")
    # The same name again: refused on the name field.
    r = post(c, new, new, alert_form())
    assert field_errors(assert_page(r, 422), "alertName") == [
        "spec.alertName: an alert named 'CpuHot' at severity 'warning' already exists; "
        "choose another name or severity, or edit that alert"
    ]


def test_edit_toggle_delete_and_rollback(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    assert env.client.post("/customers/acme/alerts?wait=true", json=alert_spec(), headers=ACME)
    base = f"{C}/customers/acme"
    edit = f"{base}/alerts/HighErrorRate"
    page = assert_page(c.get(edit))
    assert 'id="f-alertName" name="alertName" value="HighErrorRate"' in page
    assert "readonly" in page
    form = alert_form(name="HighErrorRate", severity="info", expr=alert_spec()["expr"])
    r = post(c, edit, edit, form)
    assert r.headers["location"] == f"{base}?notice=saved&what=HighErrorRate"
    r = post(c, edit, edit, {**form, "expr": "up"})
    assert field_errors(assert_page(r, 422), "expr")

    r = post(c, base, f"{edit}/enabled", {"enabled": "false"})
    assert r.headers["location"] == f"{base}?notice=disabled&what=HighErrorRate"
    page = assert_page(c.get(r.headers["location"]))
    assert 'class="is-disabled"' in page and "disabled</span>" in page
    assert 'aria-checked="false"' in page and phases(page) == ["Disabled"]

    audit = assert_page(c.get(f"{base}/audit"))
    actions = re.findall(r'<span class="action">(\w+)</span>', audit)
    assert actions == ["disable", "update", "create"]
    assert '<span class="d-del">-severity: critical</span>' in audit
    assert '<span class="d-add">+severity: info</span>' in audit
    assert "by <strong>acme-team</strong> via console" in audit
    assert "by <strong>acme-team</strong> via api" in audit
    versions = re.findall(r'name="version" value="(\d+)"', audit)
    assert versions == ["2", "1"]  # the current version (3) cannot be restored onto itself
    r = post(c, f"{base}/audit", f"{base}/audit/rollback",
             {"kind": "CustomerAlert", "namespace": "acme", "object": "acme-higherrorrate",
              "version": "1"})  # fmt: skip
    assert r.status_code == 303
    page = assert_page(c.get(r.headers["location"]))
    assert "Alert HighErrorRate (to version 1) rolled back." in page
    stored = env.store.get(kind="CustomerAlert")[0]
    assert stored.spec == env.store.version(stored.ref, 1)
    assert stored.spec["severity"] == "critical" and stored.spec["enabled"] is True
    assert env.store.history()[-1].source == "console"
    # A version that does not exist: a clean 404 page.
    r = post(c, f"{base}/audit", f"{base}/audit/rollback",
             {"kind": "CustomerAlert", "namespace": "acme", "object": "acme-higherrorrate",
              "version": "99"})  # fmt: skip
    assert_page(r, 404)

    r = post(c, edit, f"{edit}/delete", {})
    assert r.headers["location"] == f"{base}?notice=deleted&what=HighErrorRate"
    assert "No alerts yet" in assert_page(c.get(r.headers["location"]))
    assert_page(c.get(edit), 404)


def test_a_template_only_promtool_rejects_is_stored_then_shown_invalid(env: ApiEnv) -> None:
    # What only promtool finds does not refuse the write (core.admit's one policy, as at
    # every door): the reconciler marks the alert Invalid, and its form shows the problem
    # on the field.
    c = client(env, ACME_TOKEN)
    new = f"{C}/customers/acme/new-alert"
    assert_page(c.get(new))
    r = post(c, new, new, alert_form(summary="{{ $labels.instance "))
    assert r.status_code == 303
    item = f"{C}/customers/acme/alerts/CpuHot"

    def pinned() -> list[str] | None:
        return field_errors(assert_page(c.get(item)), "summary") or None

    (message,) = eventually(pinned)
    assert message.startswith("spec.annotations.summary: invalid template")


def test_invalid_stored_alert_shows_its_problems_on_the_fields(env: ApiEnv) -> None:
    loaded = load_paths([str(EXAMPLES / "invalid" / "bad-annotation-template.yaml")])
    (parsed,), _ = parse_documents(loaded.documents)
    assert isinstance(parsed.obj, CustomerAlert)
    env.store.apply([parsed.obj], "cli-user", "cli")
    env.reconciler.notify()
    name, cid = parsed.obj.spec.alert_name, parsed.obj.spec.customer_id
    eventually(lambda: [s.status.phase for s in env.store.get() if s.status] == ["Invalid"])
    c = client(env, ADMIN_TOKEN)
    page = assert_page(c.get(f"{C}/customers/{cid}/alerts/{name}"))
    assert phases(page)[0] == "Invalid"
    errors = [e for f in ("summary", "description", "annotations") for e in field_errors(page, f)]
    assert errors and all(e.startswith("spec.annotations.") for e in errors)
    assert "invalid template" in errors[0]
    assert "This version is invalid (the last valid one stays live): 1 problem" in page


def test_route_tester_agrees_with_the_api(examples: ApiEnv) -> None:
    c = client(examples, ACME_TOKEN)
    page = f"{C}/customers/acme/receivers"
    action = f"{C}/customers/acme/routing/test"
    for labels in (
        {"severity": "critical"},
        {"severity": "warning", "category": "application"},
        {"alertname": "X", "severity": "info", "labels": "team=checkout\nservice=cart"},
        {},
    ):
        r = post(c, page, action, labels)
        body = assert_page(r)
        shown = re.findall(r"<li><strong>(.*?)</strong></li>", body)
        api_labels = {k: v for k, v in labels.items() if k != "labels"}
        for line in labels.get("labels", "").splitlines():
            key, _, value = line.partition("=")
            api_labels[key] = value
        expected = examples.client.post(
            "/customers/acme/routing/test", json={"labels": api_labels}, headers=ACME
        ).json()["receivers"]
        assert shown == expected, labels
        assert ("platform's default receiver" in body) == (not expected)
    # The enhanced (fetch) form gets just the result fragment.
    token = csrf_of(c.get(page).text)
    r = c.post(
        action, data={"csrf": token, "severity": "critical"}, headers={"X-Console-Fragment": "1"}
    )
    assert r.status_code == 200 and "<html" not in r.text and "oncall" in r.text
    r = c.post(action, data={"csrf": token, "labels": "customer_id=globex"})
    assert "labels.customer_id: must be the customer of the path" in assert_page(r, 422)


def test_template_preview_renders_with_amtool(examples: ApiEnv) -> None:
    c = client(examples, ACME_TOKEN)
    preview = f"{C}/customers/acme/preview"
    page = assert_page(c.get(f"{preview}?alert=HighErrorRate"))
    assert '<option value="team:0"' in page
    assert "alertname=HighErrorRate" in page and "service=" not in page
    form = {
        "email": "team:0",
        "status": "firing",
        "alert": "HighErrorRate",
        "labels": "alertname=HighErrorRate\nseverity=critical\nservice=checkout",
        "annotations": "summary=checkout: 7% of requests fail",
    }
    page = html.unescape(assert_page(post(c, preview, preview, form)))
    assert "[acme][FIRING] HighErrorRate (1)" in page  # subjectTemplate of acme's team
    assert "HighErrorRate on checkout: checkout: 7% of requests fail" in page  # textTemplate
    assert "<h1>HighErrorRate</h1>" in page  # htmlTemplate, shown in a sandboxed frame
    assert 'sandbox=""' in page
    page = html.unescape(assert_page(post(c, preview, preview, {**form, "status": "resolved"})))
    assert "[acme][RESOLVED] HighErrorRate (1)" in page

    # Receivers without their own templates show Alertmanager's defaults, rendered.
    spec = receiver_spec("mail", webhook=[], email=[{"to": ["a@acme.example"]}])
    r = examples.client.post("/customers/acme/receivers", json=spec, headers=ACME)
    assert r.status_code == 201, r.text
    page = html.unescape(assert_page(post(c, preview, preview, {**form, "email": "mail:0"})))
    assert page.count("Alertmanager default") == 2
    assert "[FIRING:1]" in page and "HighErrorRate" in page  # email.default.subject
    assert "Not set: Alertmanager sends no text body." in page
    # A template Alertmanager cannot execute (stored by apply, which only warns).
    bad = examples.store.get(kind="CustomerReceiver", customer="acme")[0]
    spec = {**bad.spec, "email": [{"to": ["x@acme.example"], "subjectTemplate": "{{ .Nope }}"}]}
    obj, problems = parse_document({**bad.manifest(with_status=False), "spec": spec})
    assert obj is not None and not problems
    examples.store.apply([obj], "cli-user", "cli")
    chosen = f"{bad.spec['receiverName']}:0"
    page = html.unescape(assert_page(post(c, preview, preview, {**form, "email": chosen})))
    assert "Alertmanager cannot render this template" in page and "Nope" in page
    r = post(c, preview, preview, {**form, "email": "nobody:0"})
    assert "choose one of the e-mail configurations" in assert_page(r, 422)


def test_firing_from_a_real_alertmanager(examples: ApiEnv) -> None:
    admin, acme = client(examples, ADMIN_TOKEN), client(examples, ACME_TOKEN)
    assert "Alertmanager not configured" in acme.get(f"{C}/customers/acme/firing").text
    with Alertmanager(examples.out / "alertmanager.yml") as am:
        examples.reconciler.settings.alertmanager_url = am.url
        assert "Nothing is firing" in assert_page(acme.get(f"{C}/customers/acme/firing"))
        post_alerts(
            am.url,
            firing(
                [
                    ("acme", "TargetDown"),
                    ("acme", "HighErrorRate"),
                    ("globex", "QueueBacklog"),
                ]
            ),
        )
        eventually(lambda: len(am.alerts()) == 3)
        page = assert_page(acme.get(f"{C}/customers/acme/fragments/firing"))
        assert "<html" not in page
        assert re.findall(r'<th scope="row">(\w+)</th>', page) == ["HighErrorRate", "TargetDown"]
        assert "TargetDown of acme" in page and "globex" not in page.lower()
        page = assert_page(acme.get(f"{C}/customers/acme/firing"))
        assert 'data-refresh-url="/console/customers/acme/fragments/firing"' in page
        overview = assert_page(admin.get(f"{C}/"))
        counts = re.findall(r'customers/(\w+)/firing" class="firing-count[^"]*">(\d+)<', overview)
        assert counts == [("acme", "2"), ("globex", "1"), ("initech", "0")]
        assert re.findall(r'customers/(\w+)/firing"', assert_page(acme.get(f"{C}/"))) == ["acme"]
    # Alertmanager gone: said plainly, on the page and the overview.
    page = assert_page(acme.get(f"{C}/customers/acme/firing"))
    assert "Alertmanager unreachable" in page
    assert "Alertmanager unreachable" in assert_page(admin.get(f"{C}/"))


def test_empty_states(env: ApiEnv) -> None:
    admin, acme = client(env, ADMIN_TOKEN), client(env, ACME_TOKEN)
    assert "No customers yet" in assert_page(admin.get(f"{C}/"))
    page = assert_page(acme.get(f"{C}/"))
    assert "no objects" in page and "No customers yet" not in page
    assert "No alerts yet" in assert_page(acme.get(f"{C}/customers/acme"))
    assert "No receivers yet" in assert_page(acme.get(f"{C}/customers/acme/receivers"))
    assert "No changes recorded" in assert_page(acme.get(f"{C}/customers/acme/audit"))
    assert "No e-mail receivers" in assert_page(acme.get(f"{C}/customers/acme/preview"))
    assert "No objects" in assert_page(acme.get(f"{C}/customers/acme/status"))
    # An admin starts a customer with its first alert; a bad id is said so.
    r = admin.get(f"{C}/start?customer=newco", follow_redirects=False)
    assert r.headers["location"] == f"{C}/customers/newco/new-alert"
    assert_page(admin.get(r.headers["location"]))
    assert "DNS label" in assert_page(admin.get(f"{C}/start?customer=New_Co"), 422)
    r = post(admin, r.headers["location"], r.headers["location"], alert_form(customer="newco"))
    assert r.status_code == 303
    assert "newco" in admin.get(f"{C}/").text


def test_odd_requests_get_plain_pages(examples: ApiEnv) -> None:
    c = client(examples, ADMIN_TOKEN)
    token = csrf_of(c.get(f"{C}/").text)
    odd = [
        c.get(f"{C}/customers/acme/alerts/%00"),
        c.get(f"{C}/customers/acme/alerts/" + "x" * 5000),
        c.get(f"{C}/customers/acme/alerts/%ED%A0%80"),
        c.get(f"{C}/customers/" + "a" * 300),
        c.get(f"{C}/customers/acme/audit?name=" + "y" * 400),
        c.get(f"{C}/static/..%2F..%2Fsetup.py"),
        c.post(f"{C}/customers/acme/status", data={"csrf": token}),
        c.put(f"{C}/customers/acme"),
        c.post(f"{C}/customers/acme/new-alert", content=b"\xff\xfe", headers={
            "content-type": "application/x-www-form-urlencoded"}),
        c.post(f"{C}/customers/acme/new-alert", files={"a": b"b"}),
        c.post(f"{C}/customers/acme/new-alert", content=b"csrf=" + b"x" * 2_000_000,
               headers={"content-type": "application/x-www-form-urlencoded"}),
        c.post(f"{C}/customers/acme/new-alert", data={"csrf": token, "expr": "up\x00"}),
        c.post(f"{C}/customers/acme/alerts/TargetDown/enabled", data={"csrf": token}),
        c.post(f"{C}/customers/acme/audit/rollback", data={"csrf": token, "kind": "Pod"}),
        c.post(f"{C}/customers/acme/preview", data={"csrf": token, "email": "team:99"}),
    ]  # fmt: skip
    for r in odd:
        assert r.status_code < 500, (r.request.url, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
        assert "Traceback" not in r.text
    css = c.get(f"{C}/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text
    js = c.get(f"{C}/static/console.js")
    assert js.headers["content-type"].startswith("text/javascript")
    # The API's docs come from this server (no CDN: /docs works offline).
    docs = c.get("/docs").text
    assert "/docs/static/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert c.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    # The REST API is unchanged next to the console, and does not list console routes.
    assert "/console/" not in str(c.get("/openapi.json").json()["paths"])
    r = c.get("/customers", headers={"Authorization": f"Bearer {GLOBEX_TOKEN}"})
    assert [i["customerId"] for i in r.json()["items"]] == ["globex"]


def test_failures_are_plain_pages(env: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug or a database outage is a page that says so, never a traceback."""
    c = client(env, ADMIN_TOKEN)

    def down(*_: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    def bug(*_: object) -> None:
        raise RuntimeError("secret detail of a bug")

    for broken, status, words in (
        (down, 503, "The database is unavailable; retry later."),
        (bug, 500, "Internal error; the server log has the details."),
    ):
        monkeypatch.setattr(Store, "known_customers", broken)
        r = c.get(f"{C}/")
        assert r.status_code == status and r.headers["content-type"].startswith("text/html")
        assert words in r.text
        assert "Traceback" not in r.text and "secret detail" not in r.text
        assert "connection refused" not in r.text

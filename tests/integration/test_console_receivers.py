"""The console's receiver form through FastAPI's TestClient: create with mistakes (the
core's messages on the fields, nothing stored), fix, edit without losing a field, delete;
secrets typed into the form become references and are never shown again; a customer
token cannot touch another customer's receivers."""

from __future__ import annotations

import html
import re
from typing import Any

from alertplane.console import receiver_form
from tests.support.api_env import ACME, ACME_TOKEN, ADMIN_TOKEN, ApiEnv, receiver_spec
from tests.support.console import (
    SECRET,
    C,
    assert_page,
    client,
    csrf_of,
    env,
    examples,
    field_errors,
    phases,
    post,
    receiver_form_data,
)
from tests.support.waiting import eventually

__all__ = ["env", "examples"]  # fixtures
BASE = f"{C}/customers/acme"
NEW = f"{BASE}/new-receiver"


def flat(values: dict[str, Any]) -> dict[str, str]:
    """The form data a browser submits for the values the page shows."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if key in receiver_form.CHANNELS:
            for i, entry in enumerate(value):
                out.update({f"{key}-{i}-{name}": text for name, text in entry.items()})
        elif isinstance(value, list):
            out.update({f"{key}-{choice}": "on" for choice in value})
        elif value:
            out[key] = value
    return out


def test_create_with_mistakes_then_fix(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    page = assert_page(c.get(NEW))
    for field in ("receiverName", "email-0-to", "slack-0-apiURL", "route-priority"):
        assert f'<label for="f-{field}">' in page  # every input has a label
    assert 'id="f-slack-0-apiURL" name="slack-0-apiURL" type="password" value=""' in page

    # A schema problem, on its field; a Slack secret typed alongside is not shown again.
    form = receiver_form_data(**{"route-groupWait": "5 minutes", "slack-0-apiURL": SECRET})
    page = assert_page(post(c, NEW, NEW, form), 422)
    assert field_errors(page, "route-groupWait") == [
        "spec.route.groupWait: '5 minutes' is not a valid duration; use a Prometheus duration "
        "such as 30s, 5m, 1h30m or 7d"
    ]
    assert "s3cr3t" not in page and "Type the secret again" in page
    assert "ops@acme.example\nsre@acme.example" in page  # what was typed stays
    # The core's semantic checks, then amtool's, each on the field it is about.
    page = assert_page(post(c, NEW, NEW, receiver_form_data(**{"email-0-to": "ops"})), 422)
    assert field_errors(page, "email-0-to") == [
        "spec.email[0].to[0]: 'ops' is not an email address; write it as name@example.com"
    ]
    page = assert_page(post(c, NEW, NEW, receiver_form_data(**{"route-priority": "first"})), 422)
    assert field_errors(page, "route-priority") == [
        "spec.route.priority: expected an integer, got the string 'first'; write an integer here"
    ]
    # No channel at all: said once, for the whole receiver; a channel's missing secret on
    # its entry (the page links the problem to it).
    page = assert_page(post(c, NEW, NEW, {"receiverName": "empty"}), 422)
    assert "spec: no notification channel; add at least one of spec.email" in page
    form = receiver_form_data(**{"slack-0-channel": "#ops"})
    page = html.unescape(assert_page(post(c, NEW, NEW, form), 422))
    assert 'href="#f-slack-0"' in page and "spec.slack[0]: apiURLSecretRef is required" in page
    page = assert_page(post(c, NEW, NEW, receiver_form_data(receiverName="Pager")), 422)
    assert field_errors(page, "receiverName")
    assert env.store.get() == []  # nothing stored

    # Fixed, with a Slack webhook URL typed in clear: stored as a reference only.
    form = receiver_form_data(**{"slack-0-apiURL": SECRET, "slack-0-channel": "#ops"})
    r = post(c, NEW, NEW, form)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{BASE}/receivers?notice=receiver-created&what=pager"
    page = assert_page(c.get(r.headers["location"]))
    assert "Receiver pager created." in page and phases(page) == ["Synced"]
    (stored,) = env.store.get(kind="CustomerReceiver")
    spec = stored.spec
    assert spec["email"] == [
        {
            "to": ["ops@acme.example", "sre@acme.example"],
            "subjectTemplate": "[acme] {{ .CommonLabels.alertname }}",
            "sendResolved": True,
        }
    ]
    assert spec["slack"] == [
        {"apiURLSecretRef": {"name": "acme-pager", "key": "slack-api-url-0"}, "channel": "#ops"}
    ]
    assert spec["route"]["match"] == {
        "severity": ["critical"],
        "category": [],
        "labels": {"team": "checkout"},
    }
    assert (spec["route"]["priority"], spec["route"]["groupBy"]) == (30, ["alertname", "service"])
    assert (env.secrets / "acme" / "acme-pager" / "slack-api-url-0").read_text() == SECRET
    assert "s3cr3t" not in env.db_dump()
    (entry,) = env.store.history(customer="acme")
    assert (entry.actor, entry.source, entry.action) == ("acme-team", "console", "create")
    edit = assert_page(c.get(f"{BASE}/receivers/pager"))
    assert "s3cr3t" not in edit and 'value="slack-api-url-0"' in edit
    # The same name again: refused on the name field.
    page = assert_page(post(c, NEW, NEW, receiver_form_data()), 422)
    assert field_errors(page, "receiverName") == [
        "spec.receiverName: a receiver named 'pager' already exists; choose another name, "
        "or edit that receiver"
    ]


def test_edit_keeps_every_field_then_delete(examples: ApiEnv) -> None:
    c = client(examples, ACME_TOKEN)
    for name in ("oncall", "team"):
        edit = f"{BASE}/receivers/{name}"
        page = assert_page(c.get(edit))
        assert "readonly" in page and f'value="{name}"' in page
        stored = examples.store.find_named("CustomerReceiver", "acme", name)
        assert stored is not None
        # The form holds every field of the spec: sent back as shown, nothing changes
        # (the store sees the same spec: no new generation, no audit row).
        form = flat(receiver_form.values_of(stored.spec))
        before = len(examples.store.history(customer="acme"))
        r = post(c, edit, edit, form)
        assert r.headers["location"] == f"{BASE}/receivers?notice=receiver-saved&what={name}"
        assert len(examples.store.history(customer="acme")) == before
        again = examples.store.find_named("CustomerReceiver", "acme", name)
        assert again is not None and again.generation == stored.generation
    edit = f"{BASE}/receivers/team"
    stored = examples.store.find_named("CustomerReceiver", "acme", "team")
    assert stored is not None
    form = flat(receiver_form.values_of(stored.spec))
    # Clear the Slack entry (removed), fill the blank webhook entry (added), move it first.
    form = {k: ("" if k.startswith("slack-0-") else v) for k, v in form.items()}
    form.update({"webhook-0-url": "https://hooks.acme.example/a", "route-priority": "5"})
    r = post(c, edit, edit, form)
    assert r.status_code == 303
    stored = examples.store.find_named("CustomerReceiver", "acme", "team")
    assert stored is not None
    assert stored.spec["slack"] == []
    assert stored.spec["webhook"] == [{"url": "https://hooks.acme.example/a"}]
    assert stored.spec["email"][0]["textTemplate"].endswith("{{ end }}\n")
    page = assert_page(c.get(f"{BASE}/receivers"))
    assert page.index('data-receiver="team"') < page.index('data-receiver="oncall"')
    assert examples.store.history(customer="acme")[-1].source == "console"

    r = post(c, edit, f"{edit}/delete", {})
    assert r.headers["location"] == f"{BASE}/receivers?notice=receiver-deleted&what=team"
    assert "Receiver team deleted." in assert_page(c.get(r.headers["location"]))
    assert_page(c.get(edit), 404)
    assert examples.client.get("/customers/acme/receivers/team", headers=ACME).status_code == 404


def test_other_customers_receivers_and_csrf(examples: ApiEnv) -> None:
    acme, admin = client(examples, ACME_TOKEN), client(examples, ADMIN_TOKEN)
    missing = assert_page(acme.get(f"{C}/customers/nobody"), 404)
    token = csrf_of(acme.get(f"{C}/").text)
    before = [(s.ref, s.generation) for s in examples.store.get()]
    for path in ("/receivers/dispatch-hook", "/new-receiver"):
        assert assert_page(acme.get(f"{C}/customers/globex{path}"), 404) == missing
    for action, data in (
        ("/new-receiver", receiver_form_data()),
        ("/receivers/dispatch-hook", receiver_form_data(name="dispatch-hook")),
        ("/receivers/dispatch-hook/delete", {}),
    ):
        r = acme.post(f"{C}/customers/globex{action}", data={"csrf": token, **data})
        assert assert_page(r, 404) == missing, action
    # Nor through an acme path naming a globex receiver.
    assert_page(acme.post(f"{BASE}/receivers/dispatch-hook/delete", data={"csrf": token}), 404)
    page = assert_page(acme.get(f"{BASE}/receivers"))
    assert "globex" not in page and "dispatch-hook" not in page
    # Every receiver form needs this session's CSRF token.
    admin_token = csrf_of(admin.get(f"{C}/").text)
    for action, data in (
        ("/new-receiver", receiver_form_data()),
        ("/receivers/team", flat(receiver_form.values_of(None))),
        ("/receivers/team/delete", {}),
    ):
        for bad in (None, "", admin_token):
            body = dict(data) if bad is None else {**data, "csrf": bad}
            r = acme.post(BASE + action, data=body)
            assert "did not come from this console" in assert_page(r, 403), (action, bad)
    assert [(s.ref, s.generation) for s in examples.store.get()] == before


def test_a_template_only_amtool_rejects_is_stored_then_shown_invalid(env: ApiEnv) -> None:
    # amtool's findings do not refuse the write (core.admit's one policy): the receiver
    # is stored, the reconciler marks it Invalid, its form shows the problem on the field.
    c = client(env, ACME_TOKEN)
    assert_page(c.get(NEW))
    form = receiver_form_data(**{"email-0-subjectTemplate": "{{ .Nope "})
    assert post(c, NEW, NEW, form).status_code == 303
    (stored,) = env.store.get()
    item = f"{BASE}/receivers/{stored.spec['receiverName']}"

    def pinned() -> list[str] | None:
        return field_errors(assert_page(c.get(item)), "email-0-subjectTemplate") or None

    (message,) = eventually(pinned)
    assert message.startswith("spec.email[0].subjectTemplate: ")


def test_stored_invalid_receiver_shows_its_problems(env: ApiEnv) -> None:
    # Stored through the API (which leaves amtool's template checks to the reconciler).
    spec = receiver_spec("mail", webhook=[], email=[{"to": ["a@acme.example"],
                                                     "subjectTemplate": "{{ .Nope }"}])  # fmt: skip
    r = env.client.post("/customers/acme/receivers?wait=true", json=spec, headers=ACME)
    assert r.status_code == 201 and r.json()["status"]["phase"] == "Invalid", r.text
    c = client(env, ACME_TOKEN)
    page = assert_page(c.get(f"{BASE}/receivers/mail"))
    assert phases(page)[0] == "Invalid"
    (message,) = field_errors(page, "email-0-subjectTemplate")
    assert message.startswith("spec.email[0].subjectTemplate:")
    assert re.search(r"This version is invalid \(the last valid one stays live\): 1 problem", page)

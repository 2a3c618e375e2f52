"""POST /diff and POST /customers/{id}/alerts/preview: what an import would change, and
which series an alert would fire on now, against a real Prometheus 2.42 scraping two
customers' series. A customer token never sees another customer's anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.api_env import ACME, ADMIN, GLOBEX, alert_spec, api_env
from tests.support.factories import alert, receiver
from tests.support.preview_env import prometheus_env
from tests.support.processes import free_port

YAML = {"Content-Type": "application/yaml"}


def body(*docs: dict[str, object]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def test_diff_per_object_and_rendered(tmp_path: Path) -> None:
    with api_env(f"sqlite:///{tmp_path / 'db'}", tmp_path) as env:
        c = env.client
        first = body(alert(), receiver())
        assert c.post("/import", content=first, headers={**ADMIN, **YAML}).status_code == 200
        r = c.post("/diff?tools=false", content=first, headers={**ACME, **YAML})
        assert r.status_code == 200, r.text
        assert r.json()["changed"] is False
        assert r.json()["counts"] == {"added": 0, "changed": 0, "unchanged": 2, "deleted": 0}
        later = body(alert(**{"for": "10m"}), receiver())
        out = c.post("/diff?tools=false", content=later, headers={**ACME, **YAML}).json()
        assert out["changed"] is True
        changed = [o for o in out["objects"] if o["action"] == "changed"]
        assert [(o["kind"], o["name"]) for o in changed] == [
            ("CustomerAlert", "acme-higherrorrate")
        ]
        assert "+  for: 10m\n" in changed[0]["diff"]
        assert [(o["path"], o["action"]) for o in out["outputs"]] == [("rules/acme.yml", "changed")]
        # Nothing was stored: the same body diffs the same again.
        again = c.post("/diff?tools=false", content=later, headers={**ACME, **YAML}).json()
        assert again["counts"] == out["counts"]


def test_diff_customer_token_is_confined(tmp_path: Path) -> None:
    with api_env(f"sqlite:///{tmp_path / 'db'}", tmp_path) as env:
        c = env.client
        both = body(alert(), receiver(), alert("globex"), receiver("globex"))
        assert c.post("/import", content=both, headers={**ADMIN, **YAML}).status_code == 200
        # Another customer's document: 403 naming only the document.
        r = c.post("/diff", content=body(alert("globex")), headers={**ACME, **YAML})
        assert r.status_code == 403
        assert r.json()["problems"][0]["message"] == "this document is not of the token's customer"
        # acme's document at the identity globex's object holds: 403, its spec never shown.
        squat = alert(name="x")
        squat["metadata"] = {"name": "globex-higherrorrate", "namespace": "globex"}
        r = c.post("/diff", content=body(squat), headers={**ACME, **YAML})
        assert r.status_code == 403, r.text
        assert 'errors_total{customer_id=\\"globex\\"}' not in r.text
        # acme's route change: the rendered alertmanager.yml shows acme's part only.
        routed = receiver(route={"match": {"severity": ["critical"]}})
        r = c.post("/diff?tools=false&prune=true", content=body(routed), headers={**ACME, **YAML})
        assert r.status_code == 200, r.text
        assert "globex" not in r.text
        out = r.json()
        assert out["counts"] == {"added": 0, "changed": 1, "unchanged": 0, "deleted": 1}
        assert {o["path"] for o in out["outputs"]} == {"alertmanager.yml", "rules/acme.yml"}


def test_diff_refused_documents_are_problems_and_tools_mark(tmp_path: Path) -> None:
    with api_env(f"sqlite:///{tmp_path / 'db'}", tmp_path) as env:
        leaky = alert(name="Leaky", expr="rate(errors_total[5m]) > 1")
        bad_template = alert(name="T", annotations={"summary": "{{ nosuchfunc }}"})
        r = env.client.post(
            "/diff", content=body(alert(), leaky, bad_template), headers={**ACME, **YAML}
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert [p["text"] for p in out["problems"]] == [
            # A YAML body's problem starts with where it is (docs/positions.md): the third
            # document's `expr:` key.
            "body:25:3: CustomerAlert acme/acme-leaky: spec.expr: selector errors_total{} has no "
            'customer_id="acme" matcher; add customer_id="acme" inside its braces'
        ]
        assert [p["path"] for p in out["marked"]] == ["spec.annotations.summary"]
        assert out["counts"]["added"] == 2  # the one with a bad template is still written
        rules = [o for o in out["outputs"] if o["path"] == "rules/acme.yml"]
        assert "alert: HighErrorRate" in rules[0]["diff"]
        assert "nosuchfunc" not in rules[0]["diff"]  # Invalid: not rendered


PREVIEW = "/customers/acme/alerts/preview"


def test_preview_counts_the_customers_own_series_only(tmp_path: Path) -> None:
    with prometheus_env(tmp_path) as (env, _):
        c = env.client
        # globex (0.4) and initech (0.7) would match the threshold too, were they read.
        spec = {"expr": "node_filesystem_avail_ratio < 0.9", "autoInject": True, "for": "5m"}
        r = c.post(PREVIEW, json=spec, headers=ACME)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["expr"] == 'node_filesystem_avail_ratio{customer_id="acme"} < 0.9'
        assert (out["firing"], out["state"], out["truncated"]) == (2, "pending", False)
        assert sorted(s["labels"]["mountpoint"] for s in out["series"]) == ["/", "/data"]
        first = out["series"][0]["labels"]
        assert {k: first[k] for k in ("alertname", "customer_id", "severity", "category")} == {
            "alertname": "Preview",
            "customer_id": "acme",
            "severity": "warning",
            "category": "application",
        }
        assert "__name__" not in first
        # The full spec, as the form sends it: rule labels win over the series'.
        full = alert_spec(expr='node_filesystem_avail_ratio{customer_id="acme"} < 0.1',
                          labels={"host": "overridden"})  # fmt: skip
        out = c.post(PREVIEW, json=full, headers=ACME).json()
        assert out["firing"] == 1 and out["state"] == "firing"
        assert out["series"][0]["labels"]["host"] == "overridden"
        assert out["series"][0]["labels"]["alertname"] == "HighErrorRate"
        assert out["annotationsNote"] == ""


def test_preview_expands_annotations_with_prometheus_engine(tmp_path: Path) -> None:
    with prometheus_env(tmp_path) as (env, _):
        spec = {
            "expr": 'node_filesystem_avail_ratio{customer_id="acme"} < 0.9',
            "labels": {"team": "ops"},
            "annotations": {
                "summary": "{{ $labels.host }}:{{ $labels.mountpoint }} has "
                "{{ $value | humanizePercentage }} free",
                "runbookUrl": "https://runbooks.example/{{ $labels.team }}",
            },
        }
        out = env.client.post(PREVIEW, json=spec, headers=ACME).json()
        got = {s["labels"]["mountpoint"]: s["annotations"] for s in out["series"]}
        # Prometheus' $labels are the series', not the rule's: team is empty, as it will be
        # once the rule is live (the reason the real engine expands them).
        assert got == {
            "/": {"summary": "web-1:/ has 5% free", "runbook_url": "https://runbooks.example/"},
            "/data": {
                "summary": "web-1:/data has 50% free",
                "runbook_url": "https://runbooks.example/",
            },
        }
        assert out["annotationsNote"] == ""


def test_preview_isolation_check_comes_first(tmp_path: Path) -> None:
    with prometheus_env(tmp_path) as (env, _):
        c = env.client
        r = c.post(PREVIEW, json={"expr": "node_filesystem_avail_ratio < 0.9"}, headers=ACME)
        assert r.status_code == 422
        assert [p["text"] for p in r.json()["problems"]] == [
            "CustomerAlert acme/acme-preview: spec.expr: selector node_filesystem_avail_ratio{} "
            'has no customer_id="acme" matcher; add customer_id="acme" inside its braces'
        ]
        other = {"expr": 'node_filesystem_avail_ratio{customer_id="globex"} < 0.9'}
        assert c.post(PREVIEW, json=other, headers=ACME).status_code == 422
        # Another customer's path: 404 as for every path of a customer it may not see.
        assert (
            c.post("/customers/globex/alerts/preview", json=other, headers=ACME).status_code == 404
        )
        r = c.post("/customers/globex/alerts/preview", json=other, headers=GLOBEX)
        assert r.status_code == 200 and r.json()["firing"] == 1


def test_preview_without_prometheus_and_with_it_down(tmp_path: Path) -> None:
    with api_env(f"sqlite:///{tmp_path / 'db'}", tmp_path) as env:
        spec = {"expr": 'up{customer_id="acme"} == 0'}
        r = env.client.post(PREVIEW, json=spec, headers=ACME)
        assert r.status_code == 503
        assert r.json()["detail"] == (
            "no Prometheus to preview against: set alertplane serve --prometheus-url"
        )
        env.reconciler.settings.prometheus_url = f"http://127.0.0.1:{free_port()}"
        r = env.client.post(PREVIEW, json=spec, headers=ACME)
        assert r.status_code == 502
        assert r.json()["detail"] == "Prometheus did not answer; retry later"


@pytest.mark.parametrize(
    ("expr", "detail"),
    [
        (
            'scalar(up{customer_id="acme"})',
            "the expression gives a scalar, not an instant vector: an alerting rule needs a "
            "vector (compare a series, e.g. 'x > 1')",
        ),
    ],
)
def test_preview_refuses_what_is_not_an_alert(tmp_path: Path, expr: str, detail: str) -> None:
    with prometheus_env(tmp_path) as (env, _):
        r = env.client.post(PREVIEW, json={"expr": expr}, headers=ACME)
        assert (r.status_code, r.json()["detail"]) == (422, detail)


RULES = """\
groups:
- name: node
  rules:
  - alert: DiskFull
    expr: node_filesystem_avail_ratio < 0.1
  - alert: Heartbeat
    expr: vector(1)
"""


def test_diff_of_prometheus_rules_before_importing_them(tmp_path: Path) -> None:
    with api_env(f"sqlite:///{tmp_path / 'db'}", tmp_path, run_reconciler=False) as env:
        c = env.client
        r = c.post("/diff?format=prometheus&tools=false", content=RULES, headers={**ACME, **YAML})
        assert r.status_code == 200, r.text
        out = r.json()
        assert [(o["name"], o["action"]) for o in out["objects"]] == [("acme-disk-full", "added")]
        assert (
            '+  expr: node_filesystem_avail_ratio{customer_id="acme"} < 0.1\n'
            in (out["objects"][0]["diff"])
        )
        assert [p["message"] for p in out["refused"]] == [
            "expression selects no series, so it cannot be tied to this customer"
        ]
        assert out["notes"] == []
        r = c.post("/diff?format=prometheus&customer=globex", content=RULES,
                   headers={**ACME, **YAML})  # fmt: skip
        assert r.status_code == 403

"""GET /customers/{id}/firing against a real Alertmanager: each customer sees its own."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alertplane.stack.processes import Alertmanager
from tests.api_env import ACME, ADMIN, GLOBEX, alert_spec, api_env, receiver_spec
from tests.test_runtime_integration import eventually


def firing(pairs: list[tuple[str, str]], severity: str = "critical") -> list[dict[str, object]]:
    """Alerts for Alertmanager's API v2, one per (customer id, alert name), firing for an hour."""
    ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {
            "labels": {"alertname": name, "customer_id": cid, "severity": severity},
            "annotations": {"summary": f"{name} of {cid}"},
            "endsAt": ends,
        }
        for cid, name in pairs
    ]


def post_alerts(am_url: str, alerts: list[dict[str, object]]) -> None:
    req = urllib.request.Request(
        f"{am_url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def test_firing_is_filtered_to_the_customer(db_url: str, tmp_path: Path) -> None:
    with api_env(db_url, tmp_path) as env:
        c = env.client
        for cid, token in (("acme", ACME), ("globex", GLOBEX)):
            c.post(f"/customers/{cid}/receivers?wait=true", json=receiver_spec(), headers=token)
            c.post(f"/customers/{cid}/alerts", json=alert_spec(customer=cid), headers=token)
        with Alertmanager(env.out / "alertmanager.yml") as am:
            env.reconciler.settings.alertmanager_url = am.url
            post_alerts(
                am.url,
                [
                    *firing(
                        [
                            ("acme", "HighErrorRate"),
                            ("acme", "DiskFull"),
                            ("globex", "GlobexQueue"),
                            ("acme-eu", "LookAlike"),  # a prefix is not the customer
                        ]
                    ),
                    {"labels": {"alertname": "NoTenant"}, "annotations": {}},  # no customer
                ],
            )
            eventually(lambda: len(am.alerts()) == 5)

            r = c.get("/customers/acme/firing", headers=ACME)
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            assert [a["labels"]["alertname"] for a in items] == ["DiskFull", "HighErrorRate"]
            assert {a["labels"]["customer_id"] for a in items} == {"acme"}
            assert items[0]["status"]["state"] == "active"
            assert items[0]["receivers"] == ["acme/oncall"]
            assert items[1]["annotations"] == {"summary": "HighErrorRate of acme"}

            globex = c.get("/customers/globex/firing", headers=ADMIN).json()["items"]
            assert [a["labels"]["alertname"] for a in globex] == ["GlobexQueue"]
            assert c.get("/customers/globex/firing", headers=ACME).status_code == 404

        # Alertmanager gone: a clean 502, not a hang or a 500.
        r = c.get("/customers/acme/firing", headers=ACME)
        assert r.status_code == 502 and r.json()["detail"].startswith("Alertmanager did not")

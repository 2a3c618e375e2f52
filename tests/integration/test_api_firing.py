"""GET /customers/{id}/firing against a real Alertmanager: each customer sees its own."""

from __future__ import annotations

from pathlib import Path

from tests.support.api_env import ACME, ADMIN, GLOBEX, alert_spec, api_env, receiver_spec
from tests.support.firing import firing, post_alerts
from tests.support.processes import Alertmanager
from tests.support.waiting import eventually


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

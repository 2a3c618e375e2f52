"""/customers/{id}/silences against a real Alertmanager 0.25: the silence carries the
customer's matcher, each customer sees and changes only its own (another's id is 404),
every change is audited, and Alertmanager down or misconfigured answers cleanly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertplane.service import silences
from tests.support.api_env import ACME, ADMIN, GLOBEX, api_env
from tests.support.firing import firing, post_alerts
from tests.support.silences import am_post_silence, am_silences, silence_body, silence_env
from tests.support.waiting import eventually

TENANT = {"name": "customer_id", "value": "acme", "isRegex": False, "isEqual": True}


def test_create_list_extend_expire_round_trip_and_audit(db_url: str, tmp_path: Path) -> None:
    with silence_env(db_url, tmp_path) as (env, am):
        c = env.client
        r = c.post("/customers/acme/silences", json=silence_body(), headers=ACME)
        assert r.status_code == 201, r.text
        made = r.json()
        sid = made["id"]
        assert r.headers["location"] == f"/customers/acme/silences/{sid}"
        assert made["customerId"] == "acme" and made["createdBy"] == "acme-team"
        assert made["matchers"] == [
            TENANT,
            {"name": "alertname", "value": "DiskFull", "isRegex": False, "isEqual": True},
        ]
        assert made["status"] == {"state": "active"}
        # What Alertmanager holds is what the answer said, the customer's matcher included.
        [held] = am_silences(am.url)
        assert held["id"] == sid and held["matchers"][0] == TENANT
        assert held["endsAt"] == made["endsAt"] and held["comment"] == "maintenance window"

        listed = c.get("/customers/acme/silences", headers=ACME).json()["items"]
        assert [s["id"] for s in listed] == [sid]
        assert c.get(f"/customers/acme/silences/{sid}", headers=ADMIN).json()["id"] == sid

        later = (datetime.now(UTC) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        r = c.patch(f"/customers/acme/silences/{sid}", json={"endsAt": later}, headers=ACME)
        assert r.status_code == 200, r.text
        extended = r.json()
        assert extended["endsAt"].startswith(later[:-1])
        now_held = {s["id"]: s for s in am_silences(am.url)}[extended["id"]]
        assert now_held["endsAt"] == extended["endsAt"]
        assert now_held["status"]["state"] == "active"

        r = c.delete(f"/customers/acme/silences/{extended['id']}", headers=ADMIN)
        assert r.status_code == 200 and r.json()["status"] == {"state": "expired"}
        assert {s["status"]["state"] for s in am_silences(am.url)} == {"expired"}
        # Expiring again changes nothing and is no error.
        r = c.delete(f"/customers/acme/silences/{extended['id']}", headers=ACME)
        assert r.status_code == 200 and r.json()["status"] == {"state": "expired"}
        assert c.get("/customers/acme/silences?state=active", headers=ACME).json() == {"items": []}

        audit = c.get("/customers/acme/audit", headers=ACME).json()["items"]
        rows = [a for a in audit if a["kind"] == "Silence"]
        assert [(a["action"], a["actor"], a["source"]) for a in rows] == [
            ("create", "acme-team", "api"),
            ("extend", "acme-team", "api"),
            ("expire", "platform-admin", "api"),
        ]
        assert rows[0]["name"] == sid and rows[0]["before"] is None
        assert rows[0]["after"]["matchers"] == made["matchers"]
        assert rows[0]["after"]["comment"] == "maintenance window"
        assert rows[1]["before"]["endsAt"] == made["endsAt"]
        assert rows[1]["after"]["endsAt"] == extended["endsAt"]
        assert rows[2]["after"]["status"] == {"state": "expired"}
        # Nobody else's audit shows them.
        globex = c.get("/customers/globex/audit", headers=GLOBEX).json()["items"]
        assert not [a for a in globex if a["kind"] == "Silence"]


def test_another_customers_silence_is_404_and_never_listed(db_url: str, tmp_path: Path) -> None:
    with silence_env(db_url, tmp_path) as (env, am):
        c = env.client
        sid = c.post("/customers/acme/silences", json=silence_body(), headers=ACME).json()["id"]
        for method in ("get", "delete"):
            for path, token in (
                (f"/customers/globex/silences/{sid}", GLOBEX),
                (f"/customers/globex/silences/{sid}", ADMIN),
            ):
                r = getattr(c, method)(path, headers=token)
                assert (r.status_code, r.json()) == (404, {"detail": "silence not found"})
            r = getattr(c, method)(f"/customers/acme/silences/{sid}", headers=GLOBEX)
            assert (r.status_code, r.json()) == (404, {"detail": "customer not found"})
        r = c.patch(f"/customers/globex/silences/{sid}", json={"duration": "9h"}, headers=GLOBEX)
        assert (r.status_code, r.json()) == (404, {"detail": "silence not found"})
        assert c.get("/customers/globex/silences", headers=GLOBEX).json() == {"items": []}
        # Silences made behind alertplane's back: none of them is acme's.
        ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for matchers in (
            [{"name": "alertname", "value": "DiskFull", "isRegex": False}],
            [{**TENANT, "isRegex": True}],
            [{**TENANT, "value": "acme|globex", "isRegex": True}],
            [TENANT, {**TENANT, "value": "globex"}],
        ):
            foreign = am_post_silence(
                am.url,
                {
                    "matchers": matchers,
                    "startsAt": datetime.now(UTC).isoformat(),
                    "endsAt": ends,
                    "createdBy": "operator",
                    "comment": "made with amtool",
                },
            )
            r = c.get(f"/customers/acme/silences/{foreign}", headers=ACME)
            assert r.status_code == 404, matchers
            assert c.delete(f"/customers/acme/silences/{foreign}", headers=ACME).status_code == 404
        assert [
            s["id"] for s in c.get("/customers/acme/silences", headers=ACME).json()["items"]
        ] == [sid]
        # The untouched still hold in Alertmanager.
        assert sum(s["status"]["state"] == "active" for s in am_silences(am.url)) == 5
        # Ids that are no silence id never reach Alertmanager's URL.
        for bad in ("..%2F..%2Fstatus", "x" * 65, "a b"):
            assert c.get(f"/customers/acme/silences/{bad}", headers=ACME).status_code in (404, 422)


def test_a_silence_silences_only_its_customers_alert(db_url: str, tmp_path: Path) -> None:
    with silence_env(db_url, tmp_path) as (env, am):
        post_alerts(am.url, firing([("acme", "DiskFull"), ("globex", "DiskFull")]))
        eventually(lambda: len(am.alerts()) == 2)
        body = silence_body(matchers=[{"name": "alertname", "value": "Disk.*", "isRegex": True}])
        sid = env.client.post("/customers/acme/silences", json=body, headers=ACME).json()["id"]

        def silenced() -> dict[str, list[str]]:
            return {a["labels"]["customer_id"]: a["status"]["silencedBy"] for a in am.alerts()}

        assert eventually(lambda: silenced() == {"acme": [sid], "globex": []})


def test_refusals_name_the_field(db_url: str, tmp_path: Path) -> None:
    with silence_env(db_url, tmp_path) as (env, am):
        c = env.client
        body = silence_body(matchers=[{"name": "customer_id", "value": "globex"}])
        r = c.post("/customers/acme/silences", json=body, headers=ACME)
        assert r.status_code == 422
        assert [p["text"] for p in r.json()["problems"]] == [
            'matchers[0]: a matcher on customer_id must be customer_id="acme" (equal, not a '
            'regex); leave it out; alertplane adds customer_id="acme" to every silence'
        ]
        # Alertmanager's own check (RE2 has no lookahead): its message, as a problem.
        body = silence_body(matchers=[{"name": "alertname", "value": "(?=x)", "isRegex": True}])
        r = c.post("/customers/acme/silences", json=body, headers=ACME)
        assert r.status_code == 422, r.text
        [problem] = r.json()["problems"]
        assert problem["path"] == "matchers"
        assert problem["message"].startswith("Alertmanager refused the silence: ")
        assert "invalid or unsupported Perl syntax" in problem["message"]
        assert am_silences(am.url) == []
        r = c.post("/customers/acme/silences", data=b"not json", headers=ACME)
        assert r.status_code == 422


def test_per_customer_cap(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(silences, "MAX_SILENCES", 2)
    with silence_env(db_url, tmp_path) as (env, _):
        c = env.client
        for name in ("A", "B"):
            assert (
                c.post(
                    "/customers/acme/silences", json=silence_body(name), headers=ACME
                ).status_code
                == 201
            )
        r = c.post("/customers/acme/silences", json=silence_body("C"), headers=ACME)
        assert (r.status_code, r.json()["detail"]) == (
            409,
            "the customer has 2 active or pending silences, the most alertplane allows is 2; "
            "expire some first",
        )
        # Another customer is not held back by acme's.
        assert (
            c.post("/customers/globex/silences", json=silence_body(), headers=GLOBEX).status_code
            == 201
        )


def test_alertmanager_down_or_missing_is_503(db_url: str, tmp_path: Path) -> None:
    with silence_env(db_url, tmp_path) as (env, am):
        am.close()
        c = env.client
        for r in (
            c.get("/customers/acme/silences", headers=ACME),
            c.post("/customers/acme/silences", json=silence_body(), headers=ACME),
            c.delete("/customers/acme/silences/0f0e0d0c-0000-0000-0000-000000000000", headers=ACME),
        ):
            assert (r.status_code, r.json()) == (
                503,
                {"detail": "Alertmanager did not answer; silences need Alertmanager, retry later"},
            )
    with api_env(db_url, tmp_path / "none", run_reconciler=False) as env:
        r = env.client.get("/customers/acme/silences", headers=ACME)
        assert (r.status_code, r.json()["detail"]) == (
            503,
            "no Alertmanager URL configured, so there are no silences (alertplane serve "
            "--alertmanager-url, or alertmanager.replicas[].url in the platform config)",
        )

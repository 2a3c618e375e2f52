"""/customers/{id}/silences against a real Alertmanager 0.25: the silence carries the
customer's matcher, each customer sees and changes only its own (another's id is 404),
every change is audited, and Alertmanager down or misconfigured answers cleanly."""

from __future__ import annotations

import http.server
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertplane.errors import Invalid
from alertplane.service import silences
from alertplane.service.access import Access
from alertplane.service.context import ApiSettings, Context
from alertplane.service.tokens import Principal
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
        for bad in ("..%2F..%2Fstatus", "a b", "----", "abc", sid + "0", sid[:-1]):
            for method in ("GET", "DELETE"):
                r = c.request(method, f"/customers/acme/silences/{bad}", headers=ACME)
                assert (r.status_code, r.json()) == (404, {"detail": "silence not found"}), bad
        assert c.get(f"/customers/acme/silences/{'x' * 65}", headers=ACME).status_code == 422


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


def test_an_expired_silence_cannot_be_extended(db_url: str, tmp_path: Path) -> None:
    with silence_env(db_url, tmp_path) as (env, _):
        c = env.client
        sid = c.post("/customers/acme/silences", json=silence_body(), headers=ACME).json()["id"]
        assert c.delete(f"/customers/acme/silences/{sid}", headers=ACME).status_code == 200
        r = c.patch(f"/customers/acme/silences/{sid}", json={"duration": "1h"}, headers=ACME)
        assert (r.status_code, r.json()) == (
            409,
            {"detail": "the silence has expired; create a new one"},
        )
        r = c.put(f"/customers/acme/silences/{sid}", json={"until": "later"}, headers=ACME)
        assert r.status_code == 409  # the state is checked before the body
        r = c.get("/customers/acme/silences?state=gone", headers=ACME)
        assert r.status_code == 422
        with pytest.raises(Invalid) as caught:
            access = Access(Principal("acme-team", "acme"), "acme")
            ctx = Context(None, env.store, ApiSettings(alertmanager_url="http://127.0.0.1:9"))
            silences.list_silences(ctx, access, "gone")
        assert [str(p) for p in caught.value.problems] == [
            "state: unknown state 'gone'; one of active, pending, expired"
        ]


class _Broken(http.server.BaseHTTPRequestHandler):
    """An Alertmanager that answers every request with a 500 (a bad upstream)."""

    def do_GET(self) -> None:
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"internal error")

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_alertmanager_answering_badly_is_502(db_url: str, tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with api_env(db_url, tmp_path, run_reconciler=False, alertmanager_url=url) as env:
            r = env.client.get("/customers/acme/silences", headers=ACME)
            assert (r.status_code, r.json()) == (
                502,
                {"detail": "Alertmanager failed to list silences (HTTP 500); retry later"},
            )
            r = env.client.get(
                "/customers/acme/silences/0b9c6f3e-1d2a-4c5b-8e7f-123456789abc", headers=ACME
            )
            assert (r.status_code, r.json()) == (
                502,
                {"detail": "Alertmanager failed to read the silence (HTTP 500); retry later"},
            )
    finally:
        server.shutdown()
        server.server_close()


def test_sixty_concurrent_writers_stay_within_the_cap(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 writers creating acme's silences at once against a cap of 25: exactly 25 are
    created, the others refused with 409; globex, writing at the same time, is not held
    back; every creation is audited once."""
    monkeypatch.setattr(silences, "MAX_SILENCES", 25)
    with silence_env(db_url, tmp_path) as (env, am):

        def create(i: int) -> int:
            cid, token = ("acme", ACME) if i % 4 else ("globex", GLOBEX)
            body = silence_body(f"A{i}")
            return env.client.post(
                f"/customers/{cid}/silences", json=body, headers=token
            ).status_code

        with ThreadPoolExecutor(60) as pool:
            codes = list(pool.map(create, range(80)))
        acme = [c for i, c in enumerate(codes) if i % 4]
        globex = [c for i, c in enumerate(codes) if not i % 4]
        assert (acme.count(201), acme.count(409), len(acme)) == (25, 35, 60)
        assert globex == [201] * 20
        held = am_silences(am.url)
        assert sorted(s["matchers"][0]["value"] for s in held) == ["acme"] * 25 + ["globex"] * 20
        rows = [h for h in env.store.history(customer="acme") if h.kind == "Silence"]
        assert len(rows) == 25


def test_a_ten_megabyte_body_is_refused_without_reaching_alertmanager(
    db_url: str, tmp_path: Path
) -> None:
    with silence_env(db_url, tmp_path) as (env, am):
        big = silence_body(comment="x" * (10 << 20))
        r = env.client.post("/customers/acme/silences", json=big, headers=ACME)
        assert r.status_code == 422
        assert [p["text"] for p in r.json()["problems"]] == [
            "comment: longer than 2048 characters; shorten it"
        ]
        many = silence_body(matchers=[{"name": "a", "value": "v" * 2000}] * 5000)
        r = env.client.post("/customers/acme/silences", json=many, headers=ACME)
        assert [p["text"] for p in r.json()["problems"]] == [
            "matchers: more than 16 matchers; use fewer"
        ]
        assert am_silences(am.url) == []

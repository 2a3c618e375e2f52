"""Acknowledged writes are never lost: concurrent PUTs, PATCHes, rollbacks, deletes and
creates through the REST API (TestClient, and a real `alertplane serve` with several HTTP
clients), on SQLite and PostgreSQL.

Each acknowledged change is one generation and one audit row, in one order (see
concurrency_env.check_chain); `If-Match` with a stale ETag is refused with 412 and leaves
nothing; after the reconciler runs every object is Synced with the final spec rendered.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.service.objects import object_name
from tests.adversarial.concurrency_env import (
    Ack,
    at_once,
    check_chain,
    eventually,
    marker,
    rules_text,
)
from tests.support.api_env import ACME, ADMIN, ApiEnv, alert_spec, api_env, receiver_spec
from tests.support.factories import alert

BASE = "/customers/acme/alerts"
NAME = "HighErrorRate"
N = 60


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


def spec(mark: str, name: str = NAME, **over: Any) -> dict[str, Any]:
    return alert_spec(name, annotations={"summary": "s", "description": mark}, **over)


def audit_of(api: ApiEnv, name: str = NAME, customer: str = "acme") -> list[Any]:
    return api.store.history(name=object_name(customer, name), limit=100_000)


def settled(api: ApiEnv, name: str = NAME) -> dict[str, Any]:
    """The object once the reconciler has synced its newest generation."""

    def synced() -> dict[str, Any] | None:
        body: dict[str, Any] = api.client.get(f"{BASE}/{name}", headers=ACME).json()
        st_ = body.get("status") or {}
        done = st_.get("observedGeneration") == body["metadata"]["generation"]
        want = "Synced" if body["spec"].get("enabled", True) else "Disabled"
        return body if done and st_.get("phase") == want else None

    found: dict[str, Any] = eventually(synced, what=f"{name} Synced")
    return found


def test_concurrent_puts_are_one_generation_each(api: ApiEnv) -> None:
    c = api.client
    assert c.post(BASE, json=spec("w-create"), headers=ACME).status_code == 201
    marks = [f"w{i}" for i in range(N)]
    answers = at_once(
        [lambda m=m: c.put(f"{BASE}/{NAME}", json=spec(m), headers=ACME) for m in marks]
    )
    assert [r.status_code for r in answers] == [200] * N, [
        r.text for r in answers if r.status_code != 200
    ]
    acks = [Ack("create", 1, "w-create")]
    acks += [
        Ack("put", r.json()["metadata"]["generation"], m)
        for r, m in zip(answers, marks, strict=True)
    ]
    assert sorted(a.generation for a in acks) == list(range(1, N + 2))
    rows = audit_of(api)
    check_chain(rows, acks)
    assert len(rows) == N + 1
    final = settled(api)
    assert final["metadata"]["generation"] == N + 1
    assert marker(final["spec"]) == marker(rows[-1].after)  # the last write by generation
    assert c.get(f"{BASE}/{NAME}", headers=ACME).headers["etag"] == f'"{N + 1}"'
    assert f"description: {marker(final['spec'])}" in rules_text(api.out, "acme")


def test_put_racing_patch_enabled_loses_nothing(api: ApiEnv) -> None:
    c = api.client
    assert c.post(BASE, json=spec("w-create"), headers=ACME).status_code == 201
    calls = []
    for i in range(30):
        calls.append(
            lambda i=i: ("put", f"p{i}", c.put(f"{BASE}/{NAME}", json=spec(f"p{i}"), headers=ACME))
        )
        on = bool(i % 2)
        calls.append(
            lambda on=on: (
                "patch",
                on,
                c.patch(f"{BASE}/{NAME}/enabled", json={"enabled": on}, headers=ACME),
            )
        )
    answers = at_once(calls)
    acks = [Ack("create", 1, "w-create")]
    for op, what, r in answers:
        assert r.status_code == 200, r.text
        gen = r.json()["metadata"]["generation"]
        acks.append(Ack("put", gen, what) if op == "put" else Ack("patch", gen, enabled=what))
    rows = audit_of(api)
    check_chain(rows, acks)
    final = settled(api)
    assert final["spec"] == rows[-1].after
    text = rules_text(api.out, "acme")
    if final["spec"].get("enabled", True):
        assert f"description: {marker(final['spec'])}" in text
    else:
        assert NAME not in text


def test_stale_if_match_is_refused_and_leaves_nothing(api: ApiEnv) -> None:
    c = api.client
    r = c.post(BASE, json=spec("w-create"), headers=ACME)
    assert (r.status_code, r.headers["etag"]) == (201, '"1"')
    assert c.get(f"{BASE}/{NAME}", headers=ACME).headers["etag"] == '"1"'
    r = c.put(f"{BASE}/{NAME}", json=spec("w1"), headers={**ACME, "If-Match": '"1"'})
    assert (r.status_code, r.headers["etag"]) == (200, '"2"'), r.text
    before = audit_of(api)
    stale = {**ACME, "If-Match": '"1"'}
    for r in (
        c.put(f"{BASE}/{NAME}", json=spec("w-stale"), headers=stale),
        c.patch(f"{BASE}/{NAME}/enabled", json={"enabled": False}, headers=stale),
        c.post(f"{BASE}/{NAME}/rollback", json={"version": 1}, headers=stale),
        c.delete(f"{BASE}/{NAME}", headers=stale),
    ):
        assert r.status_code == 412, r.text
        assert r.headers["etag"] == '"2"'
        (problem,) = r.json()["problems"]
        assert problem["path"] == "If-Match"
        assert problem["message"] == "alert 'HighErrorRate' is at generation 2, not 1"
        assert problem["hint"].startswith("read it again (GET")
    assert [x.id for x in audit_of(api)] == [x.id for x in before]
    # Matching ETags (also weak, and '*') are taken.
    ok = {**ACME, "If-Match": 'W/"2"'}
    r = c.patch(f"{BASE}/{NAME}/enabled", json={"enabled": False}, headers=ok)
    assert (r.status_code, r.headers["etag"]) == (200, '"3"'), r.text
    r = c.post(f"{BASE}/{NAME}/rollback", json={"version": 2}, headers={**ACME, "If-Match": '"3"'})
    assert (r.status_code, r.headers["etag"]) == (200, '"4"'), r.text
    r = c.put(f"{BASE}/{NAME}", json=spec("w-any"), headers={**ACME, "If-Match": "*"})
    assert (r.status_code, r.headers["etag"]) == (200, '"5"'), r.text
    r = c.put(f"{BASE}/{NAME}", json=spec("w-bad"), headers={**ACME, "If-Match": "abc"})
    assert r.status_code == 412 and r.json()["problems"][0]["path"] == "If-Match"
    assert c.delete(f"{BASE}/{NAME}", headers={**ACME, "If-Match": '"5"'}).status_code == 204
    assert [x.action for x in audit_of(api)] == [
        "create", "update", "disable", "rollback", "update", "delete"
    ]  # fmt: skip


def test_concurrent_if_match_one_wins(api: ApiEnv) -> None:
    """Every writer read generation 1: exactly one may write, the others get 412."""
    c = api.client
    assert c.post(BASE, json=spec("w-create"), headers=ACME).status_code == 201
    hdr = {**ACME, "If-Match": '"1"'}
    answers = at_once(
        [lambda i=i: c.put(f"{BASE}/{NAME}", json=spec(f"w{i}"), headers=hdr) for i in range(30)]
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [412] * 29, codes
    (won,) = [i for i, r in enumerate(answers) if r.status_code == 200]
    rows = audit_of(api)
    check_chain(rows, [Ack("create", 1, "w-create"), Ack("put", 2, f"w{won}")])
    assert [r.generation for r in rows] == [1, 2]


def test_concurrent_deletes_and_puts_never_resurrect(api: ApiEnv) -> None:
    c = api.client
    assert c.post(BASE, json=spec("w-create"), headers=ACME).status_code == 201
    calls = []
    for i in range(20):
        calls.append(
            lambda i=i: ("put", f"p{i}", c.put(f"{BASE}/{NAME}", json=spec(f"p{i}"), headers=ACME))
        )
    for _ in range(5):
        calls.append(lambda: ("delete", None, c.delete(f"{BASE}/{NAME}", headers=ACME)))
    random.Random(7).shuffle(calls)
    acks = [Ack("create", 1, "w-create")]
    for op, mark, r in at_once(calls):
        assert r.status_code in ((200, 404) if op == "put" else (204, 404)), r.text
        if op == "put" and r.status_code == 200:
            acks.append(Ack("put", r.json()["metadata"]["generation"], mark))
    rows = audit_of(api)
    check_chain(rows, acks)
    assert [r.action for r in rows].count("delete") == 1
    assert c.get(f"{BASE}/{NAME}", headers=ACME).status_code == 404
    eventually(lambda: "HighErrorRate" not in rules_text(api.out, "acme"), what="rule removed")


def test_cli_apply_racing_api_puts(api: ApiEnv, db_url: str, tmp_path: Path) -> None:
    """`alertplane apply` (another process, the same store code) and API PUTs at once."""
    c = api.client
    assert c.post(BASE, json=spec("w-create"), headers=ACME).status_code == 201
    files = []
    for i in range(6):
        manifest = alert(**spec(f"cli{i}"))
        path = tmp_path / f"cli{i}.yaml"
        path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
        files.append(path)
    platform = tmp_path / "platform.yaml"
    platform.write_text(yaml.safe_dump({"secretsDir": str(api.secrets)}), encoding="utf-8")

    def apply(path: Path) -> tuple[str, str, Any]:
        argv = ["apply", "--db", db_url, "--platform-config", str(platform), "-f", str(path)]
        done = subprocess.run(
            [sys.executable, "-m", "alertplane.cli", *argv], capture_output=True, text=True
        )
        return "apply", path.stem, done

    calls = [lambda p=p: apply(p) for p in files]
    calls += [
        lambda i=i: ("put", f"p{i}", c.put(f"{BASE}/{NAME}", json=spec(f"p{i}"), headers=ACME))
        for i in range(20)
    ]
    acks = [Ack("create", 1, "w-create")]
    for op, mark, r in at_once(calls):
        if op == "apply":
            assert r.returncode == 0, r.stderr
            assert r.stdout == "customeralert/acme-higherrorrate configured\n", r.stdout
            acks.append(Ack("apply", 0, mark))
        else:
            assert r.status_code == 200, r.text
            acks.append(Ack("put", r.json()["metadata"]["generation"], mark))
    check_chain(audit_of(api), acks)
    final = settled(api)
    assert final["metadata"]["generation"] == 27


def test_concurrent_creates_of_one_name_one_wins(api: ApiEnv) -> None:
    c = api.client
    answers = at_once(
        [lambda i=i: c.post(BASE, json=spec(f"c{i}"), headers=ACME) for i in range(20)]
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * 19, codes
    for r in answers:
        if r.status_code == 409:
            assert r.json() == {
                "detail": "alert 'HighErrorRate' at severity 'critical' already exists; "
                "change it with PUT"
            }
    (won,) = [i for i, r in enumerate(answers) if r.status_code == 201]
    rows = audit_of(api)
    check_chain(rows, [Ack("create", 1, f"c{won}")])


def test_routing_racing_receiver_puts(api: ApiEnv) -> None:
    """POST …/routing rewrites receivers' specs it read: a PUT in between is not lost."""
    c, item = api.client, "/customers/acme/receivers/oncall"

    def url(spec: dict[str, Any] | None) -> str | None:
        return None if spec is None else spec["webhook"][0]["url"]

    def body(mark: str) -> dict[str, Any]:
        return receiver_spec(webhook=[{"url": f"http://127.0.0.1:9097/{mark}"}])

    assert c.post("/customers/acme/receivers", json=body("w0"), headers=ACME).status_code == 201
    calls = []
    for i in range(15):
        calls.append(lambda i=i: ("put", f"p{i}", c.put(item, json=body(f"p{i}"), headers=ACME)))
        routes = {"routes": {"oncall": {"priority": i + 1}}}
        calls.append(
            lambda r=routes: ("route", "", c.post("/customers/acme/routing", json=r, headers=ACME))
        )
    acks = [Ack("create", 1, "http://127.0.0.1:9097/w0")]
    for op, mark, r in at_once(calls):
        assert r.status_code == 200, r.text
        if op == "put":
            gen = r.json()["metadata"]["generation"]
            acks.append(Ack("put", gen, f"http://127.0.0.1:9097/{mark}"))
        else:
            acks.append(Ack("route", 0))
    rows = api.store.history(name=object_name("acme", "oncall"), limit=100_000)
    check_chain(rows, acks, url)
    assert rows[-1].generation == 31


def test_concurrent_creates_are_all_synced(api: ApiEnv) -> None:
    """100 creates for 100 customers at once (admin token): each is seen by the reconciler's
    change feed, none stays Pending (on PostgreSQL a create committed after a later id was
    skipped for good)."""
    c = api.client
    customers = [f"c{i:03d}" for i in range(100)]
    answers = at_once(
        [
            lambda cu=cu: c.post(
                f"/customers/{cu}/alerts", json=alert_spec(NAME, cu), headers=ADMIN
            )
            for cu in customers
        ],
        workers=40,
    )
    assert [r.status_code for r in answers] == [201] * 100

    def all_synced() -> bool:
        phases = {s.customer_id: s.status.phase if s.status else None for s in api.store.get()}
        return all(phases.get(cu) == "Synced" for cu in customers)

    eventually(all_synced, what="every create Synced")
    for cu in customers:
        assert f"alert: {NAME}" in rules_text(api.out, cu), cu


OPS = st.sampled_from(["put", "put", "patch-on", "patch-off", "rollback", "delete", "create"])


_examples = itertools.count()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schedule=st.lists(OPS, min_size=2, max_size=24), seed=st.integers(0, 2**16))
def test_any_concurrent_schedule_keeps_one_chain(
    api: ApiEnv, schedule: list[str], seed: int
) -> None:
    _run_schedule(api, f"Sched{next(_examples)}", schedule, seed)


def _run_schedule(api: ApiEnv, name: str, schedule: list[str], seed: int) -> None:
    c = api.client
    item = f"{BASE}/{name}"
    assert c.post(BASE, json=spec("w-create", name), headers=ACME).status_code == 201
    rnd = random.Random(seed)

    def call(i: int, op: str) -> tuple[str, str, Any]:
        mark = f"s{i}"
        if op == "put":
            return op, mark, c.put(item, json=spec(mark, name), headers=ACME)
        if op.startswith("patch"):
            return (
                op,
                mark,
                c.patch(f"{item}/enabled", json={"enabled": op == "patch-on"}, headers=ACME),
            )
        if op == "rollback":
            return (
                op,
                mark,
                c.post(f"{item}/rollback", json={"version": rnd.randint(1, 3)}, headers=ACME),
            )
        if op == "delete":
            return op, mark, c.delete(item, headers=ACME)
        return op, mark, c.post(BASE, json=spec(mark, name), headers=ACME)

    acks = [Ack("create", 1, "w-create")]
    for op, mark, r in at_once([lambda i=i, op=op: call(i, op) for i, op in enumerate(schedule)]):
        assert r.status_code < 500, r.text
        if op in ("put", "create") and r.status_code in (200, 201):
            acks.append(Ack(op, r.json()["metadata"]["generation"], mark))
        elif op in ("put", "create", "rollback") or op.startswith("patch"):
            # refused: gone (404), exists (409), version missing (404) or not valid (422)
            assert r.status_code in (200, 404, 409, 422), (op, r.status_code, r.text)
    rows = audit_of(api, name)
    check_chain(rows, acks)
    now = c.get(item, headers=ACME)
    if rows[-1].action == "delete":
        assert now.status_code == 404
    else:
        assert now.json()["spec"] == rows[-1].after
        assert now.headers["etag"] == f'"{rows[-1].generation}"'

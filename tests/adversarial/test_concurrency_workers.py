"""60 concurrent writers over 3 API worker processes (`serve --workers 3`) on one
database: no acknowledged write is lost, the conflict rules hold across processes
(If-Match: exactly one of N conditional writes of one generation wins; a create of a
taken name is 409 whichever process took it), the audit trail stays one chain per object,
and every acknowledged change reaches the output the reconciler — another process —
writes. On SQLite and PostgreSQL alike (the locks are the database's, not a process's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from alertplane.service.objects import object_name
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.adversarial.concurrency_env import Ack, at_once, check_chain, eventually, marker
from tests.adversarial.test_concurrency_serve import call
from tests.support.api_env import alert_spec
from tests.support.api_serve import ApiServer

WORKERS = 3
CREATES, DUPS, CAS, PUTS, STALE = 25, 10, 10, 12, 3  # 60 writers


def spec(mark: str, name: str = "HighErrorRate", customer: str = "acme") -> dict[str, Any]:
    return alert_spec(name, customer, annotations={"summary": "s", "description": mark})


def owner(sent: dict[str, Any]) -> str:
    """The customer of create number i (mark "c<i>"): they alternate."""
    return ("acme", "beta")[int(str(marker(sent))[1:]) % 2]


def tokens(path: Path) -> dict[str, str]:
    out = {}
    for who in ("acme", "beta"):
        created = subprocess.run(
            [sys.executable, "-m", "alertplane.cli", "token", "create", f"{who}-ci",
             "--role", f"customer:{who}", "--append", str(path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        out[who] = created.stdout.splitlines()[0]
    return out


def writers(url: str, tok: dict[str, str]) -> list[Any]:
    """The 60 writes, each answering (op, mark, (status, body, etag))."""
    acme = f"{url}/customers/acme/alerts"
    calls: list[Any] = []
    for i in range(CREATES):  # distinct alerts of two customers: every one must land
        body = spec(f"c{i}", f"W{i}", ("acme", "beta")[i % 2])
        who = owner(body)
        base = f"{url}/customers/{who}/alerts"
        calls.append(lambda b=body, u=base, t=tok[who]: ("create", b, call(u, "POST", t, b)))
    for i in range(DUPS):  # one name created ten times at once: one 201, nine 409
        body = spec(f"d{i}", "Dup")
        calls.append(lambda b=body: ("dup", b, call(acme, "POST", tok["acme"], b)))
    for i in range(CAS):  # ten PUTs of generation 1: one 200, nine 412
        body = spec(f"cas{i}", "Cas")
        calls.append(lambda b=body: ("cas", b, call(f"{acme}/Cas", "PUT", tok["acme"], b, '"1"')))
    for i in range(PUTS):  # unconditional PUTs of one alert: a single chain, none lost
        body = spec(f"p{i}")
        calls.append(
            lambda b=body: ("put", b, call(f"{acme}/HighErrorRate", "PUT", tok["acme"], b))
        )
    for _ in range(STALE):
        body = spec("stale")
        calls.append(
            lambda b=body: ("stale", b, call(f"{acme}/HighErrorRate", "PUT", tok["acme"], b, '"1"'))
        )
    assert len(calls) == 60
    return calls


def test_sixty_writers_over_three_api_processes(db_url: str, tmp_path: Path) -> None:
    tok = tokens(tmp_path / "tokens.csv")
    platform = tmp_path / "platform.yaml"
    platform.write_text(f"secretsDir: {tmp_path / 'secrets'}\n")
    out = tmp_path / "out"
    args = ["--db", db_url, "--out", str(out), "--platform-config", str(platform),
            "--tokens", str(tmp_path / "tokens.csv"), "--workers", str(WORKERS)]  # fmt: skip
    with ApiServer(tmp_path / "serve", args, {}) as server:
        acme = f"{server.url}/customers/acme/alerts"
        for name in ("HighErrorRate", "Cas"):
            status, body, _ = call(acme, "POST", tok["acme"], spec("w-create", name))
            assert status == 201, body
        status, body, tag = call(f"{acme}/HighErrorRate", "PUT", tok["acme"], spec("w-first"))
        assert (status, tag) == (200, '"2"'), body  # the stale writers' If-Match "1" is old
        acks = [Ack("create", 1, "w-create"), Ack("put", 2, "w-first")]
        results = at_once(writers(server.url, tok))
        won: dict[str, list[str]] = {"dup": [], "cas": []}
        created: list[dict[str, Any]] = []
        for op, sent, (status, body, tag) in results:
            mark = marker(sent)
            if op == "create":
                assert status == 201, body
                created.append(sent)
            elif op in won:
                assert status in (201, 200, 409, 412), body
                if status in (200, 201):
                    won[op].append(str(mark))
                else:
                    assert status == (409 if op == "dup" else 412), body
            elif op == "stale":
                assert status == 412 and body["problems"][0]["path"] == "If-Match", body
            else:
                assert status == 200 and tag == f'"{body["metadata"]["generation"]}"', body
                acks.append(Ack("put", body["metadata"]["generation"], mark))
        assert len(won["dup"]) == 1 and len(won["cas"]) == 1, won
        _check_store(db_url, acks, created, won)
        _check_output(server.url, tok, out, created, won)
        if db_url.startswith("postgresql"):
            _check_spread(db_url)


def _check_store(
    db_url: str, acks: list[Ack], created: list[dict[str, Any]], won: dict[str, list[str]]
) -> None:
    """Every acknowledged write is in the database, once; refused ones left nothing."""
    store = Store(open_db(db_url))
    try:
        rows = store.history(name=object_name("acme", "HighErrorRate"), limit=100_000)
        check_chain(rows, acks)
        assert "stale" not in {marker(r.after) for r in rows}
        every = {(o.customer_id, o.spec["alertName"]): o for o in store.get()}
        for sent in created:
            obj = every[(owner(sent), sent["alertName"])]
            assert (obj.generation, marker(obj.spec)) == (1, marker(sent)), obj
        dup = store.history(name=object_name("acme", "Dup"))
        assert [(r.action, marker(r.after)) for r in dup] == [("create", won["dup"][0])]
        cas = store.history(name=object_name("acme", "Cas"))
        assert [(r.action, r.generation, marker(r.after)) for r in cas] == [
            ("create", 1, "w-create"),
            ("update", 2, won["cas"][0]),
        ]
    finally:
        store.engine.dispose()


def _check_output(
    url: str, tok: dict[str, str], out: Path, created: list[dict[str, Any]], won: dict[str, Any]
) -> None:
    """The reconciler (the serve process) saw every change through the feed: each object
    observed at its generation, and the rules files hold every acknowledged spec."""

    def settled() -> bool:
        for who in ("acme", "beta"):
            status, body, _ = call(f"{url}/customers/{who}/alerts", "GET", tok[who])
            assert status == 200, body
            items = body["items"]
            for item in items:
                st = item.get("status") or {}
                if st.get("observedGeneration") != item["metadata"]["generation"]:
                    return False
                assert st["phase"] == "Synced", item
        return True

    eventually(settled, what="every object observed at its generation")
    text = {who: (out / "rules" / f"{who}.yml").read_text() for who in ("acme", "beta")}
    for sent in created:
        assert f"description: {marker(sent)}" in text[owner(sent)], sent["alertName"]
    assert f"description: {won['dup'][0]}" in text["acme"]
    assert f"description: {won['cas'][0]}" in text["acme"]
    _, final, _ = call(f"{url}/customers/acme/alerts/HighErrorRate", "GET", tok["acme"])
    assert f"description: {marker(final['spec'])}" in text["acme"]


def _check_spread(db_url: str) -> None:
    """The writes were served by several processes: their database sessions are named
    per worker (workers.py) and more than one of them opened connections."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            names = set(
                conn.execute(
                    text(
                        "SELECT DISTINCT application_name FROM pg_stat_activity "
                        "WHERE application_name LIKE 'alertplane-api-%'"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()
    assert len(names) >= 2, names

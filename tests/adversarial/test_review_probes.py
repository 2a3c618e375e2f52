"""Review probes of the places where session 9's branches met (issue 10): the reconciler's
crash containment under the RECONCILE policy, moves inside the write transaction, and a
hostile `customer:acme` token against the merged defences.

Each test names the mistake it would catch."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from alertplane.errors import ObjectRef
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.store.txn import EXISTS, Stale
from alertplane.sync import Reconciler, SyncSettings
from tests.support.factories import alert, obj, receiver

GLOBEX_URL = "https://hooks.slack.com/services/TGLOBEX/BGLOBEX/globexsecret"
ACME_URL = "https://hooks.slack.com/services/TACME/BACME/acmesecret"


def _status(store: Store, name: str) -> dict[str, Any]:
    (found,) = [s for s in store.get() if s.name == name]
    status: dict[str, Any] = found.manifest()["status"]
    return status


# -- 1. crash containment maps each problem to its own stored object ----------------------
def test_a_crashing_check_after_schema_failures_marks_the_right_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored objects that no longer parse come before the one whose check raises: the
    crash must be pinned on that object (by its Source.document), not on a neighbour, and
    the schema failures stay on their own objects."""
    import alertplane.validate as validate

    real = validate.CHECKS["CustomerAlert"]

    def broken_check(o: Any) -> Any:
        if o.spec.alert_name == "Crashing":
            raise ValueError("a check broke")
        return real(o)

    # The per-kind table holds the function (not the module attribute): patch its entry.
    monkeypatch.setitem(validate.CHECKS, "CustomerAlert", broken_check)
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    names = ["First", "Unparsable1", "Unparsable2", "Crashing", "Last"]
    store.apply([obj(alert("acme", n)) for n in names], "a", "test")
    with store.engine.begin() as conn:  # stored before a check existed: no longer valid
        for n in ("Unparsable1", "Unparsable2"):
            row = conn.execute(
                text("SELECT id, spec FROM objects WHERE name = :n"), {"n": f"acme-{n.lower()}"}
            ).one()
            conn.execute(
                text("UPDATE objects SET spec = :s WHERE id = :i"),
                {"s": json.dumps({"customerId": "acme", "alertName": n, "bogus": 1}), "i": row.id},
            )
    out = tmp_path / "out"
    report = Reconciler(store, SyncSettings(out_dir=out, coalesce_s=0.05, poll_s=0.02)).sync_all()
    assert report.outcome == "invalid"
    crashing = _status(store, "acme-crashing")
    assert crashing["phase"] == "Invalid"
    assert "could not check this object (ValueError)" in crashing["conditions"][0]["message"]
    for n in ("unparsable1", "unparsable2"):
        st = _status(store, f"acme-{n}")
        assert st["phase"] == "Invalid", st
        assert "could not check" not in st["conditions"][0]["message"], st
    for n in ("first", "last"):
        assert _status(store, f"acme-{n}")["phase"] == "Synced"
    rules = (out / "rules" / "acme.yml").read_text()
    assert "First" in rules and "Last" in rules and "Crashing" not in rules


# -- 2. moves in the store's write transaction ----------------------------------------------
def _hook(customer: str, url: str, namespace: str = "globex") -> Any:
    m = receiver(customer, "hook", slack=[{"channel": "#x", "apiURL": url}])
    m["metadata"] = {"name": "globex-hook", "namespace": namespace}
    del m["spec"]["webhook"]
    return obj(m)


def test_a_moves_secret_lands_in_the_new_customers_folder(db_url: str, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    store = Store(open_db(db_url), secrets_dir=str(secrets))
    store.apply([_hook("globex", GLOBEX_URL)], "globex-token", "api")
    globex_file = secrets / "globex" / "globex-hook" / "slack-api-url-0"
    assert globex_file.read_text() == GLOBEX_URL
    (change,) = store.apply([_hook("acme", ACME_URL)], "admin", "import")
    assert change.ref == ObjectRef("CustomerReceiver", "acme", "globex-hook")
    assert (change.action, change.generation) == ("created", 1)
    # acme's value in acme's folder, under the key its stored reference names
    (moved,) = [s for s in store.get() if s.customer_id == "acme"]
    ref = moved.spec["slack"][0]["apiURLSecretRef"]
    assert (secrets / "acme" / ref["name"] / ref["key"]).read_text() == ACME_URL
    assert globex_file.read_text() == GLOBEX_URL  # globex's file untouched
    assert not list((secrets / "globex").rglob("*acme*"))
    rows = store.history(name="globex-hook")
    assert [(r.action, r.namespace, r.customer_id, r.generation) for r in rows] == [
        ("create", "globex", "globex", 1),
        ("delete", "globex", "globex", 1),
        ("create", "acme", "acme", 1),
    ]
    assert ACME_URL not in str([r.after for r in rows]) + str([r.before for r in rows])


def test_a_move_racing_puts_keeps_one_audit_chain_per_life(db_url: str, tmp_path: Path) -> None:
    """globex PUTs (If-Match: *) race the admin's move: every acknowledged PUT is one
    generation and one audit row before the deletion; none is acknowledged after it (the
    object is gone: Stale), and acme's life starts at 1."""
    store = Store(open_db(db_url), secrets_dir=str(tmp_path / "secrets"))
    store.apply([obj(alert("globex", "Moving"))], "g", "api")
    ref = ObjectRef("CustomerAlert", "globex", "globex-moving")
    acked: list[int] = []
    stale: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(9)

    def put(n: int) -> None:
        start.wait()
        try:
            m = alert("globex", "Moving", severity="warning" if n % 2 else "critical")
            m["spec"]["annotations"] = {"summary": f"put {n}"}
            (c,) = store.apply([obj(m)], "g", "api", {ref: EXISTS})
            acked.append(c.generation)
        except Stale:
            stale.append(n)
        except BaseException as exc:
            errors.append(exc)

    def move() -> None:
        start.wait()
        m = alert("acme", "Moving")
        m["metadata"] = {"name": "globex-moving", "namespace": "globex"}
        try:
            store.apply([obj(m)], "admin", "import")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=move))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    rows = store.history(name="globex-moving")
    globex = [(r.action, r.generation) for r in rows if r.namespace == "globex"]
    acme = [(r.action, r.generation) for r in rows if r.namespace == "acme"]
    assert acme == [("create", 1)]
    n = len(acked)
    assert sorted(acked) == list(range(2, n + 2))
    assert globex == [("create", 1), *(("update", g) for g in range(2, n + 2)), ("delete", n + 1)]
    assert len(stale) == 8 - n


# -- 3. moves in Kubernetes mode: a move that cannot be written deletes nothing -------------
def test_kubernetes_move_that_cannot_be_written_keeps_the_old_object(kube_api: Any) -> None:
    """The admin moves globex's object to acme, whose namespace (`--customer-namespace`)
    does not exist: the write of acme's object is refused, so globex's must still be
    there — a move deletes the old object only once the new one is known to be writable."""
    from tests.support.api_env import ADMIN, alert_spec
    from tests.support.api_k8s_env import api_app

    env = kube_api
    env.cluster.namespace("review-shared", "acme.globex")
    api = api_app(env.store, env.kube, env.tokens, namespace_template="review-{customer}")
    doc = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerAlert",
        "metadata": {"name": "review-moved", "namespace": "review-shared"},
        "spec": {**alert_spec("ReviewMoved", "globex"), "customerId": "globex"},
    }
    r = api.post("/import", json=[doc], headers=ADMIN)
    assert r.status_code == 200, r.text
    before = env.cluster.get("CustomerAlert", "review-shared", "review-moved")
    assert before is not None
    doc["spec"] = {**alert_spec("ReviewMoved", "acme"), "customerId": "acme"}
    r = api.post("/import", json=[doc], headers=ADMIN)
    assert r.status_code >= 400, r.text
    assert "review-acme" in r.text, r.text
    after = env.cluster.get("CustomerAlert", "review-shared", "review-moved")
    assert after is not None, "the move deleted globex's object and wrote nothing"
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["spec"]["customerId"] == "globex"


def test_a_refused_batch_changes_no_secret_file(db_url: str, tmp_path: Path) -> None:
    """An import whose later object is refused inside the write transaction (a move into a
    name another customer holds) writes nothing — acme's Slack webhook file included: the
    files Alertmanager reads are written only once every row of the batch is."""
    from alertplane.errors import UsageError

    secrets = tmp_path / "secrets"
    store = Store(open_db(db_url), secrets_dir=str(secrets))
    hook = receiver("acme", "oncall", slack=[{"channel": "#x", "apiURL": ACME_URL}])
    del hook["spec"]["webhook"]
    store.apply([obj(hook)], "acme", "api")
    acme_file = secrets / "acme" / "acme-oncall" / "slack-api-url-0"
    assert acme_file.read_text() == ACME_URL
    taken = alert("initech", "Taken")  # an admin put initech's object at (acme, shared)
    taken["metadata"] = {"name": "shared", "namespace": "acme"}
    moving = alert("globex", "Moving")
    moving["metadata"] = {"name": "shared", "namespace": "globex"}
    store.apply([obj(taken), obj(moving)], "admin", "import")
    changed = receiver("acme", "oncall", slack=[{"channel": "#x", "apiURL": GLOBEX_URL}])
    del changed["spec"]["webhook"]
    moved = alert("acme", "Moving")
    moved["metadata"] = {"name": "shared", "namespace": "globex"}
    with pytest.raises(UsageError, match="belongs to another customer"):
        store.apply([obj(changed), obj(moved)], "admin", "import")
    assert acme_file.read_text() == ACME_URL, "a refused import changed acme's webhook"
    assert [r.action for r in store.history(name="acme-oncall")] == ["create"]


# -- 4. a hostile customer:acme token against a real `alertplane serve` ----------------------
def test_a_real_serve_tells_acme_nothing_of_globex_and_survives_its_worst(tmp_path: Path) -> None:
    """acme's view of every open or own endpoint (/healthz, /readyz, /metrics on the API
    port, its lists, /export, another customer's paths) is the same before and after
    globex creates objects (a receiver with a Slack secret included); acme's hostile
    writes are refused with the field named, and the server still answers globex."""
    from alertplane.service.tokens import token_line
    from tests.support.api_env import alert_spec, receiver_spec
    from tests.support.api_serve import ApiServer, call

    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        token_line("a", "customer:acme", "ap_acme") + "\n"
        + token_line("g", "customer:globex", "ap_globex") + "\n"
    )  # fmt: skip
    platform = tmp_path / "platform.yaml"
    platform.write_text(f"secretsDir: {tmp_path / 'secrets'}\n")
    args = [
        f"--db=sqlite:///{tmp_path / 'a.db'}", f"--out={tmp_path / 'out'}",
        f"--platform-config={platform}", f"--tokens={tokens}",
    ]  # fmt: skip
    views = [
        "/healthz", "/readyz", "/metrics", "/customers", "/export", "/export?customer=globex",
        "/customers/globex/alerts", "/customers/globex/alerts/Leak",
        "/customers/globex/receivers/pager", "/customers/globex/audit",
        "/customers/globex/firing", "/customers/acme/audit", "/customers/acme/alerts",
    ]  # fmt: skip
    with ApiServer(tmp_path / "serve", args, {}) as server:

        def acme_view() -> list[tuple[str, int, Any]]:
            return [(v, *call(f"{server.url}{v}", token="ap_acme")) for v in views]

        before = acme_view()
        g = f"{server.url}/customers/globex"
        for name in ("Leak", "Other"):
            status, _ = call(
                f"{g}/alerts?wait=true", "POST", alert_spec(name, "globex"), "ap_globex"
            )
            assert status == 201
        pager = receiver_spec("pager", slack=[{"channel": "#g", "apiURL": GLOBEX_URL}])
        del pager["webhook"]
        assert call(f"{g}/receivers?wait=true", "POST", pager, "ap_globex")[0] == 201
        after = acme_view()
        assert after == before
        assert "globex" not in str([answer for _, *answer in after])

        a = f"{server.url}/customers/acme"
        hostile = alert_spec(
            "Peek",
            annotations={"description": '{{ range query "up" }}{{ .Labels.instance }}{{ end }}'},
        )
        status, body = call(f"{a}/alerts", "POST", hostile, "ap_acme")
        assert status == 422 and body["problems"][0]["path"] == "spec.annotations.description"
        climb = receiver_spec(
            "climb", slack=[{"channel": "#x", "apiURLSecretRef": {"name": "..", "key": "k"}}]
        )
        del climb["webhook"]
        status, body = call(f"{a}/receivers", "POST", climb, "ap_acme")
        assert status == 422, body
        assert any("apiURLSecretRef.name" in p["path"] for p in body["problems"]), body
        deep = alert_spec("Deep", expr="-" * 9000 + 'up{customer_id="acme"}')
        assert call(f"{a}/alerts", "POST", deep, "ap_acme")[0] == 422
        assert call(f"{server.url}/healthz")[0] == 200
        status, got = call(f"{g}/alerts/Leak", token="ap_globex")
        assert status == 200 and got["status"]["phase"] == "Synced"
        log = server.log.read_text(errors="replace")
        assert "serving on" in log and GLOBEX_URL not in log


def test_a_customer_import_never_moves_another_customers_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Standalone, /import checks the owners of the body's names before writing; an admin
    may put globex's object at that name in between (here: the check sees nothing, as it
    would just before that write). acme's import must not move globex's object to acme —
    only an admin's write moves (the store decides inside its write transaction)."""
    from tests.support.api_env import ACME, ADMIN, alert_spec, api_env

    with api_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, run_reconciler=False) as env:
        doc = {
            "apiVersion": "alertplane.io/v1alpha1",
            "kind": "CustomerAlert",
            "metadata": {"name": "acme-raced", "namespace": "acme"},
            "spec": {**alert_spec("GlobexRaced", "globex"), "customerId": "globex"},
        }
        assert env.client.post("/import", json=[doc], headers=ADMIN).status_code == 200
        monkeypatch.setattr(Store, "owners", lambda self, refs: {})  # the check ran first
        mine = {**doc, "spec": {**alert_spec("Raced"), "customerId": "acme"}}
        r = env.client.post("/import", json=[mine], headers=ACME)
        assert r.status_code == 409, r.text
        assert "globex" not in r.text and "GlobexRaced" not in r.text
        (kept,) = [s for s in env.store.get() if s.name == "acme-raced"]
        assert (kept.customer_id, kept.generation) == ("globex", 1)
        assert [h.action for h in env.store.history(name="acme-raced")] == ["create"]
        # the admin's import still moves it
        r = env.client.post("/import", json=[mine], headers=ADMIN)
        assert r.status_code == 200, r.text
        assert [(s.customer_id, s.ref.namespace) for s in env.store.get()] == [("acme", "acme")]

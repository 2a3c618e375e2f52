"""The Mimir sink on the real Grafana Mimir (monolithic, filesystem storage, ruler and
Alertmanager on, tests/support/mimir_env.py): customers as tenants, rules evaluated on
remote-written series, alerts delivered by Mimir's Alertmanager to each customer's own
capture receiver only, secrets inlined into Mimir and nowhere else, a customer Mimir
refuses Failed with Mimir's words while the others stay live."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.errors import ObjectRef
from alertplane.render.platform import PlatformConfig
from alertplane.sinks.factory import SinkSettings, build_sink
from alertplane.stack.capture import Capture
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.support.api_serve import ApiServer
from tests.support.factories import alert, obj, receiver
from tests.support.mimir_env import Mimir, remote_write
from tests.support.processes import free_port
from tests.support.waiting import eventually

GOOD = ("acme", "globex", "initech")
BAD = "umbrella"  # Mimir allows this tenant 1 rule per group (a runtime override)
KEY = "rk-{}-7f3a9c"  # each customer's PagerDuty routing key: a secret


@pytest.fixture(scope="module")
def mimir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mimir]:
    overrides = {BAD: {"ruler_max_rules_per_rule_group": 1}}
    with Mimir(tmp_path_factory.mktemp("mimir"), overrides=overrides) as m:
        yield m


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Capture]]:
    """One capture receiver per customer, and one standing in for PagerDuty's API."""
    found = {}
    for name in (*GOOD, BAD, "hooli", "pied-piper", "pagerduty"):
        out = tmp_path_factory.mktemp(f"capture-{name}")
        found[name] = Capture(out, free_port(), free_port()).start()
    yield found
    for c in found.values():
        c.stop()


class Feeder:
    """Remote-writes every customer's series every 2 s (Mimir evaluates a minute behind:
    -ruler.evaluation-delay-duration, 1m by default), after a backfill of 3 minutes."""

    def __init__(self, mimir: Mimir, customers: tuple[str, ...]) -> None:
        self.mimir, self.customers = mimir, customers
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _write(self, stamps: list[int]) -> None:
        for cid in self.customers:
            labels = {"__name__": "errors_total", "customer_id": cid, "service": "api"}
            remote_write(self.mimir.url, cid, [(labels, [(ms, 5.0) for ms in stamps])])

    def _run(self) -> None:
        while not self.stop.wait(2.0):
            self._write([int(time.time() * 1000)])

    def __enter__(self) -> Feeder:
        now = int(time.time() * 1000)
        self._write([now - s * 1000 for s in range(180, -1, -15)])
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _status(store: Store, name: str) -> dict[str, Any]:
    (found,) = [s for s in store.get() if s.name == name]
    status: dict[str, Any] = found.manifest()["status"]
    return status


def _synced(store: Store, name: str) -> dict[str, Any]:
    status = _status(store, name)
    assert status["phase"] == "Synced", status
    return status


def _received(capture: Capture) -> list[dict[str, Any]]:
    import json

    return [json.loads(p.read_text()) for p in sorted(capture.out.glob("http-*.json"))]


def _alerts(customer: str, n: int = 1, **spec: Any) -> list[Any]:
    expr = f'errors_total{{customer_id="{customer}"}} > 0'
    return [obj(alert(customer, f"Errors{i}", expr=expr, **spec)) for i in range(n)]


def _receiver(customer: str, captures: dict[str, Capture]) -> Any:
    url = f"http://127.0.0.1:{captures[customer].http_port}/{customer}/oncall"
    hook = [{"url": url}]
    pd = [{"routingKey": KEY.format(customer)}]
    route = {"groupWait": "1s", "groupInterval": "1s", "repeatInterval": "1h"}
    return obj(receiver(customer, "oncall", webhook=hook, pagerduty=pd, route=route))


@pytest.fixture
def running(
    tmp_path: Path, mimir: Mimir, captures: dict[str, Capture]
) -> Iterator[tuple[Store, Reconciler]]:
    pd = f"http://127.0.0.1:{captures['pagerduty'].http_port}/pd"
    platform = PlatformConfig.model_validate(
        {"secretsDir": str(tmp_path / "secrets"), "alertmanager": {"global": {"pagerduty_url": pd}}}
    )
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "secrets"))
    sink = build_sink(SinkSettings(kind="mimir", mimir_url=mimir.url, platform=platform))
    settings = SyncSettings(out_dir=tmp_path / "out", platform=platform, poll_s=0.05, sink=sink)
    rec = Reconciler(store, settings)
    stop = threading.Event()
    thread = threading.Thread(target=rec.run, args=(stop,), daemon=True)
    thread.start()
    yield store, rec
    stop.set()
    thread.join(30)


def test_customers_are_tenants_alerts_reach_only_their_receivers(
    running: tuple[Store, Reconciler],
    mimir: Mimir,
    captures: dict[str, Capture],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, rec = running
    objects = [o for cid in GOOD for o in (*_alerts(cid), _receiver(cid, captures))]
    objects += [*_alerts(BAD, 2), _receiver(BAD, captures)]
    store.apply(objects, "test", "cli")
    rec.notify()
    with Feeder(mimir, (*GOOD, BAD)):
        for cid in GOOD:
            st = eventually(lambda cid=cid: _synced(store, f"{cid}-errors0"), 120)
            # where it went (SyncHooks.locate is the sink's location, standalone too)
            assert st["renderedTo"] == [f"Mimir tenant {cid}: ruler namespaces alertplane-*"]
            eventually(lambda cid=cid: _synced(store, f"{cid}-oncall"), 120)
            groups = mimir.rules(cid)
            assert [(g["file"], g["name"]) for g in groups] == [
                ("alertplane-application", f"{cid}-application")
            ]
            config = mimir.config(cid)
            assert config is not None and "_file" not in config["alertmanager_config"]
            assert KEY.format(cid) in config["alertmanager_config"]  # inlined, in Mimir only
        # The customer Mimir refuses: Failed with Mimir's words; nobody else is.
        bad = eventually(lambda: _status(store, f"{BAD}-errors0")["phase"] == "Failed" and
                         _status(store, f"{BAD}-errors0"), 120)  # fmt: skip
        synced = bad["conditions"][1]
        assert synced["reason"] == "Rejected"
        assert (
            "per-user rules per rule group limit (limit: 1 actual: 2) exceeded"
            in (synced["message"])
        )
        assert mimir.rules(BAD) == []
        # Each customer's alert reaches its own capture receiver, and only its own.
        for cid in GOOD:
            got = eventually(lambda cid=cid: _received(captures[cid]), 240)
            for message in got:
                assert message["path"] == f"/{cid}/oncall"
                labels = [a["labels"] for a in message["body"]["alerts"]]
                assert {lab["customer_id"] for lab in labels} == {cid}, labels
        keys = eventually(
            lambda: (
                {m["body"].get("routing_key") for m in _received(captures["pagerduty"])}
                >= {KEY.format(c) for c in GOOD}
                and {m["body"].get("routing_key") for m in _received(captures["pagerduty"])}
            ),
            120,
        )
        assert KEY.format(BAD) not in keys  # its receiver is live; its rules are not
    assert _received(captures[BAD]) == []  # its refused rules never evaluated
    # The secrets went to Mimir and nowhere else of alertplane's: database, logs.
    db = (tmp_path / "a.db").read_bytes()
    for cid in (*GOOD, BAD):
        assert KEY.format(cid).encode() not in db
        assert KEY.format(cid) not in caplog.text


def test_split_only_changes_pushed_and_removal(
    running: tuple[Store, Reconciler], mimir: Mimir, captures: dict[str, Capture]
) -> None:
    store, rec = running
    cid = "hooli"
    store.apply([*_alerts(cid, 45), _receiver(cid, captures)], "test", "cli")
    rec.notify()
    eventually(lambda: _synced(store, f"{cid}-errors44"), 120)
    names = [g["name"] for g in mimir.rules(cid)]
    assert names == [f"{cid}-application", f"{cid}-application-2", f"{cid}-application-3"]
    assert [len(g["rules"]) for g in mimir.rules(cid)] == [20, 20, 5]
    # One alert changed: only its group is pushed again; the configuration is not.
    calls: list[tuple[str, str]] = []
    client = rec.sink.client  # type: ignore[attr-defined]
    real = client.call

    def counted(method: str, path: str, *args: Any) -> Any:
        calls.append((method, path))
        return real(method, path, *args)

    client.call = counted
    (changed,) = _alerts(cid, 45, severity="warning")[44:]
    store.apply([changed], "test", "cli")
    rec.notify()
    eventually(lambda: _synced(store, f"{cid}-errors44")["observedGeneration"] == 2, 120)
    writes = [c for c in calls if c[0] != "GET"]
    assert writes == [("POST", "/prometheus/config/v1/rules/alertplane-application")], calls
    severities = {r["name"]: r["labels"]["severity"] for g in mimir.rules(cid) for r in g["rules"]}
    assert severities.pop("Errors44") == "warning"
    assert set(severities.values()) == {"critical"}
    # Deleting the alerts and the receiver removes alertplane's namespace and configuration.
    refs = [ObjectRef("CustomerAlert", cid, f"{cid}-errors{i}") for i in range(45)]
    store.delete([*refs, ObjectRef("CustomerReceiver", cid, f"{cid}-oncall")], "test", "cli")
    rec.notify()
    eventually(lambda: mimir.rules(cid) == [], 120)
    eventually(lambda: mimir.config(cid) is None, 60)
    status, text = mimir.get("/prometheus/config/v1/rules", cid)
    assert "alertplane-application" not in text, (status, text)


def test_mimir_down_is_write_failed_then_heals(
    tmp_path: Path, captures: dict[str, Capture]
) -> None:
    """Mimir stopped: the change is WriteFailed saying Mimir did not answer (after the
    client's retries); Mimir back: the reconciler's retry makes it Synced."""
    cid = "hooli"
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    mimir = Mimir(tmp_path / "mimir")
    with mimir:
        platform = PlatformConfig.model_validate({"secretsDir": str(tmp_path / "s")})
        sink = build_sink(SinkSettings(kind="mimir", mimir_url=mimir.url, platform=platform))
        settings = SyncSettings(tmp_path / "out", platform, poll_s=0.05, sink=sink)
        rec = Reconciler(store, settings)
        stop = threading.Event()
        thread = threading.Thread(target=rec.run, args=(stop,), daemon=True)
        thread.start()
        try:
            store.apply([*_alerts(cid), _receiver(cid, captures)], "test", "cli")
            rec.notify()
            eventually(lambda: _synced(store, f"{cid}-errors0"), 120)
            mimir.stop()
            store.apply(_alerts(cid, severity="warning"), "test", "cli")
            rec.notify()

            def write_failed() -> dict[str, Any] | None:
                st = _status(store, f"{cid}-errors0")
                synced = st["conditions"][1]
                return st if synced["reason"] == "WriteFailed" else None

            st = eventually(write_failed, 120)
            assert f"Mimir at {mimir.url}" in st["conditions"][1]["message"]
            mimir.start()
            eventually(lambda: _synced(store, f"{cid}-errors0")["observedGeneration"] == 2, 180)
            rule = mimir.rules(cid)[0]["rules"][0]
            assert rule["labels"]["severity"] == "warning"
        finally:
            stop.set()
            thread.join(30)


def test_serve_sink_mimir_pushes_what_apply_stores(tmp_path: Path, mimir: Mimir) -> None:
    """`alertplane serve --sink mimir` as a process: what `alertplane apply` stores reaches
    the customer's tenant; `--mimir-url` without `--sink mimir` is a usage error."""
    cid = "vandelay"
    db = f"sqlite:///{tmp_path / 'a.db'}"
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    manifest = tmp_path / "alert.yaml"
    manifest.write_text(yaml.safe_dump(alert(cid, "Down", expr=f'up{{customer_id="{cid}"}} == 0')))
    run = [sys.executable, "-m", "alertplane.cli"]
    apply = subprocess.run([*run, "apply", "-f", str(manifest), "--db", db], capture_output=True)
    assert apply.returncode == 0, apply.stderr
    args = ["--db", db, "--sink", "mimir", "--mimir-url", mimir.url, "--out", str(tmp_path / "o")]
    with ApiServer(tmp_path / "serve", args, env):
        eventually(lambda: [g["name"] for g in mimir.rules(cid)] == [f"{cid}-application"], 120)
    assert not (tmp_path / "o" / "rules").exists()  # nothing written to --out
    wrong = subprocess.run(
        [*run, "serve", "--db", db, "--mimir-url", mimir.url, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrong.returncode != 0
    assert "--mimir-url needs --sink mimir" in wrong.stderr


def test_sixty_concurrent_writers_every_tenant_gets_exactly_its_alerts(
    running: tuple[Store, Reconciler], mimir: Mimir
) -> None:
    """60 writers at once (20 customers × 3 alerts, one apply each) while the reconciler
    runs: every acknowledged alert reaches its own tenant, and no tenant holds another's."""
    store, rec = running
    customers = [f"load-{i:02d}" for i in range(20)]
    errors: list[BaseException] = []

    def write(cid: str, n: int) -> None:
        try:
            expr = f'errors_total{{customer_id="{cid}"}} > {n}'
            store.apply([obj(alert(cid, f"Load{n}", expr=expr))], f"writer-{cid}-{n}", "cli")
            rec.notify()
        except BaseException as exc:  # reported below, on the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c, n)) for c in customers for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors

    def all_live() -> bool:
        for cid in customers:
            names = sorted(r["name"] for g in mimir.rules(cid) for r in g["rules"])
            if names != ["Load0", "Load1", "Load2"]:
                return False
        return True

    eventually(all_live, 240)
    for cid in customers:
        for group in mimir.rules(cid):
            assert {r["labels"]["customer_id"] for r in group["rules"]} == {cid}
            assert group["name"] == f"{cid}-application"
        eventually(lambda cid=cid: _synced(store, f"{cid}-load2"), 120)


def test_a_tenant_configured_by_someone_else_is_not_taken_over(
    running: tuple[Store, Reconciler], mimir: Mimir, captures: dict[str, Capture]
) -> None:
    """A customer id that is also a tenant the platform configured itself: alertplane
    refuses to replace that Alertmanager configuration (Failed, saying why); its own rules
    namespaces still go in, and the tenant's other namespaces are never touched."""
    import urllib.request

    cid = "pied-piper"
    theirs = "route:\n  receiver: ops\nreceivers:\n- name: ops\n"
    body = yaml.safe_dump({"alertmanager_config": theirs, "template_files": {}})
    for path, text in (
        ("/api/v1/alerts", body),
        (
            "/prometheus/config/v1/rules/theirs",
            "name: theirs\nrules:\n- record: x\n  expr: vector(1)\n",
        ),
    ):
        req = urllib.request.Request(
            mimir.url + path, data=text.encode(), method="POST",
            headers={"X-Scope-OrgID": cid, "Content-Type": "application/yaml"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=30):
            pass
    store, rec = running
    store.apply([*_alerts(cid), _receiver(cid, captures)], "test", "cli")
    rec.notify()
    st = eventually(lambda: _status(store, f"{cid}-oncall")["phase"] == "Failed"
                    and _status(store, f"{cid}-oncall"), 120)  # fmt: skip
    assert (
        "has an Alertmanager configuration alertplane did not write"
        in (st["conditions"][1]["message"])
    )
    config = mimir.config(cid)
    assert config is not None and config["alertmanager_config"] == theirs
    eventually(lambda: _synced(store, f"{cid}-errors0"), 120)
    files = sorted({g["file"] for g in mimir.rules(cid)})
    assert files == ["alertplane-application", "theirs"]

"""Per-customer recording rules on a real Prometheus 2.42 (issue 14 §2), through the store
and the reconciler like every object: loaded into the customer's rules file as the group
`<id>-records`, evaluated, every recorded series carrying its customer's customer_id, an
alert of the customer reading it firing on that customer's series only, and the object's
status following (Synced, Disabled, Invalid with the last good version live)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertplane.errors import ObjectRef
from alertplane.stack.exporter import serve
from alertplane.stack.processes import free_port
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.integration.test_runtime import PLATFORM, Stack
from tests.support.factories import alert, obj, recording_rule
from tests.support.processes import Alertmanager, Prometheus
from tests.support.waiting import eventually

RECORD = "service:app_http_errors:ratio_rate1m"


def _ratio(customer: str) -> str:
    own = f'customer_id="{customer}"'
    return (
        f'sum by (service) (rate(app_http_requests_total{{{own}, code="500"}}[1m]))\n'
        f"/ sum by (service) (rate(app_http_requests_total{{{own}}}[1m]))"
    )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The runtime with Prometheus scraping the demo exporter (acme's checkout fails 10% of
    its requests, globex's dispatch 0.05%) every second."""
    out = tmp_path / "out"
    store = Store(open_db(f"sqlite:///{tmp_path / 'alertplane.db'}"))
    settings = SyncSettings(out_dir=out, platform=PLATFORM, coalesce_s=0.1, poll_s=0.02)
    Reconciler(store, settings).sync_all()  # Alertmanager needs a config file to start
    exporter = serve(free_port())
    target = f"127.0.0.1:{exporter.server_address[1]}"
    try:
        with (
            Alertmanager(out / "alertmanager.yml") as am,
            Prometheus(out / "rules", am.url, scrape_targets={"demo": target}) as prom,
        ):
            settings.prometheus_url, settings.alertmanager_url = prom.url, am.url
            rec = Reconciler(store, settings)
            stop = threading.Event()
            worker = threading.Thread(target=rec.run, args=(stop,), daemon=True)
            worker.start()
            assert rec.ready.wait(30)
            try:
                yield Stack(store, rec, prom, am, out)
            finally:
                stop.set()
                worker.join(10)
    finally:
        exporter.shutdown()
        exporter.server_close()


def _recorded(stack: Stack) -> dict[tuple[str, str], float]:
    return {
        (r["metric"].get("customer_id", ""), r["metric"].get("service", "")): float(r["value"][1])
        for r in stack.prometheus.query(RECORD)
    }


def test_recorded_series_keep_their_customer_and_feed_its_alerts_only(stack: Stack) -> None:
    stack.store.apply(
        [
            obj(recording_rule("acme", RECORD, expr=_ratio("acme"), labels={"team": "web"})),
            obj(recording_rule("globex", RECORD, expr=_ratio("globex"))),
            obj(alert("acme", "ErrorRatio", expr=f'{RECORD}{{customer_id="acme"}} > 0.05')),
            obj(alert("globex", "ErrorRatio", expr=f'{RECORD}{{customer_id="globex"}} > 0')),
        ],
        "t",
        "cli",
    )
    name = "acme-service-app-http-errors-ratio-rate1m"
    eventually(lambda: stack.status(name)["phase"] == "Synced", timeout=60)
    assert stack.status(name)["renderedTo"] == ["rules/acme.yml"]
    loaded = {(r["group"], r["name"]): r for r in stack.prometheus.rules()}
    acme = loaded[("acme-records", RECORD)]
    assert (acme["type"], acme["labels"]) == ("recording", {"customer_id": "acme", "team": "web"})
    assert loaded[("globex-records", RECORD)]["labels"] == {"customer_id": "globex"}
    series = eventually(lambda: len(s := _recorded(stack)) == 3 and s, timeout=60)
    assert set(series) == {("acme", "checkout"), ("acme", "search"), ("globex", "dispatch")}
    assert series[("acme", "checkout")] == pytest.approx(0.10, abs=0.01)

    def firing() -> list[tuple[str, str]]:
        found = [a["labels"] for a in stack.prometheus.alerts() if a["state"] == "firing"]
        assert all(labels["alertname"] == "ErrorRatio" for labels in found)
        return sorted((labels["customer_id"], labels["service"]) for labels in found)

    # acme's alert reads acme's recorded series only: checkout (10%) fires, search (0%)
    # does not; globex's alert fires on globex's dispatch, never on acme's.
    eventually(lambda: len(firing()) >= 2, timeout=60)
    assert firing() == [("acme", "checkout"), ("globex", "dispatch")]


def test_disable_invalid_and_delete_follow_on_prometheus(stack: Stack) -> None:
    name = "acme-service-app-http-errors-ratio-rate1m"
    good = recording_rule("acme", RECORD, expr=_ratio("acme"))
    stack.store.apply([obj(good)], "t", "cli")
    eventually(lambda: stack.status(name)["phase"] == "Synced", timeout=60)

    unscoped = recording_rule("acme", RECORD, expr="sum(rate(app_http_requests_total[1m]))")
    stack.store.apply([obj(unscoped)], "t", "cli")
    eventually(lambda: stack.status(name)["phase"] == "Invalid", timeout=60)
    message = stack.status(name)["conditions"][0]["message"]
    assert message.startswith(
        'spec.expr: selector app_http_requests_total{} has no customer_id="acme"'
    ), message
    live = {(r["group"], r["name"]): r["query"] for r in stack.prometheus.rules()}
    assert 'customer_id="acme"' in live[("acme-records", RECORD)]  # the last good version

    stack.store.apply([obj(recording_rule("acme", RECORD, expr=_ratio("acme"), enabled=False))],
                      "t", "cli")  # fmt: skip
    eventually(lambda: stack.status(name)["phase"] == "Disabled", timeout=60)
    eventually(lambda: not [r for r in stack.prometheus.rules() if r["group"] == "acme-records"])

    stack.store.apply([obj(good)], "t", "cli")
    eventually(lambda: [r for r in stack.prometheus.rules() if r["group"] == "acme-records"])
    stack.store.delete([ObjectRef("CustomerRecordingRule", "acme", name)], "t", "cli")
    eventually(lambda: not (stack.out / "rules" / "acme.yml").exists())

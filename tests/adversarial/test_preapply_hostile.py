"""Hostile customers against the pre-apply doors: the live preview (a Prometheus that
hangs, many previews at once, expressions that read other customers or return huge
answers) and POST /diff (another customer's identities, names or namespaces; a large
body)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from alertplane.errors import Invalid, Unavailable, UpstreamFailed
from alertplane.render.platform import PlatformConfig
from alertplane.service import preview as preview_mod
from alertplane.service.access import Access
from alertplane.service.context import ApiSettings, Context
from alertplane.service.tokens import Principal
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.api_env import ACME, ADMIN, api_env
from tests.support.factories import alert
from tests.support.waiting import eventually

ACME_ACCESS = Access(Principal("acme-ci", "acme"), "acme")
SPEC = {"expr": 'up{customer_id="acme"} == 0'}


class BlackHole:
    """A Prometheus that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def hole() -> Iterator[BlackHole]:
    found = BlackHole()
    yield found
    found.close()


def sharded_ctx(tmp_path: Path, url: str) -> Context:
    """The customer's Prometheus is its shard's (one shard: everyone's)."""
    platform = PlatformConfig.model_validate(
        {"prometheus": {"shards": [{"name": "a", "url": url}]}}
    )
    store = Store(open_db(f"sqlite:///{tmp_path / 'db.sqlite'}"), secrets_dir=str(tmp_path))
    return Context(None, store, ApiSettings(), platform=platform)


def test_a_hanging_prometheus_costs_its_deadline(tmp_path: Path, hole: BlackHole) -> None:
    ctx = sharded_ctx(tmp_path, hole.url)
    with pytest.raises(UpstreamFailed) as caught:
        preview_mod.preview(ctx, ACME_ACCESS, SPEC, timeout_s=1.0)
    assert caught.value.detail in (
        "Prometheus did not answer within 1 s",
        "Prometheus did not answer; retry later",  # the socket's own timeout came first
    )


def test_previews_at_once_are_bounded_not_queued(tmp_path: Path, hole: BlackHole) -> None:
    """One customer holds at most PER_CUSTOMER slots (its next preview is refused while
    another customer still gets one); AT_ONCE in all; nothing waits for a slot."""
    ctx = sharded_ctx(tmp_path, hole.url)
    per, n = preview_mod.PER_CUSTOMER, preview_mod.AT_ONCE
    customers = [f"c{i}" for i in range(n // per)]
    calls = [(Access(Principal(f"{c}-ci", c), c), c) for c in customers for _ in range(per)]
    with ThreadPoolExecutor(n) as pool:
        held = [
            pool.submit(preview_mod.preview, ctx, who, {"expr": f'up{{customer_id="{c}"}}'}, 120.0)
            for who, c in calls
        ]
        eventually(lambda: len(hole.conns) >= n, timeout=60)  # every slot is taken
        first = Access(Principal("c0-ci", "c0"), "c0")
        with pytest.raises(Unavailable) as caught:
            preview_mod.preview(ctx, first, {"expr": 'up{customer_id="c0"}'}, 120.0)
        assert (
            caught.value.detail == f"{per} previews of customer c0 are running; retry in a moment"
        )
        with pytest.raises(Unavailable) as caught:
            preview_mod.preview(ctx, ACME_ACCESS, SPEC, 120.0)
        assert caught.value.detail == f"{n} previews are running; retry in a moment"
        hole.close()  # Prometheus "answers" (closes): the slots are given back
        for future in held:
            with pytest.raises(UpstreamFailed):
                future.result(timeout=60)
    # and a later preview gets a slot again (refused by the closed port, not by the bound)
    with pytest.raises(UpstreamFailed):
        preview_mod.preview(ctx, ACME_ACCESS, SPEC, 5.0)


def test_one_customer_cannot_take_every_slot(tmp_path: Path, hole: BlackHole) -> None:
    ctx = sharded_ctx(tmp_path, hole.url)
    per = preview_mod.PER_CUSTOMER
    with ThreadPoolExecutor(per + 1) as pool:
        held = [pool.submit(preview_mod.preview, ctx, ACME_ACCESS, SPEC, 120.0) for _ in range(per)]
        eventually(lambda: len(hole.conns) >= per, timeout=60)
        globex = Access(Principal("globex-ci", "globex"), "globex")
        other = pool.submit(
            preview_mod.preview, ctx, globex, {"expr": 'up{customer_id="globex"}'}, 120.0
        )
        eventually(lambda: len(hole.conns) >= per + 1, timeout=60)  # globex reached Prometheus
        hole.close()
        for future in [*held, other]:
            with pytest.raises(UpstreamFailed):
                future.result(timeout=60)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('up{customer_id="globex"}', 'selector up{customer_id="globex"} selects customer'),
        ('up{customer_id=~"acme|globex"}', "customer_id"),
        ("vector(1)", "no series"),
        ('up{customer_id="acme"} or up', 'selector up{} has no customer_id="acme" matcher'),
    ],
)
def test_expressions_reading_other_customers_never_reach_prometheus(
    tmp_path: Path, hole: BlackHole, expr: str, message: str
) -> None:
    ctx = sharded_ctx(tmp_path, hole.url)
    with pytest.raises(Invalid) as caught:
        preview_mod.preview(ctx, ACME_ACCESS, {"expr": expr}, 5.0)
    assert any(message in p.message for p in caught.value.problems), caught.value.problems
    assert [p.path for p in caught.value.problems] == ["spec.expr"]
    assert hole.conns == []  # Prometheus was never asked


def test_a_customer_id_in_the_body_is_the_paths(tmp_path: Path, hole: BlackHole) -> None:
    ctx = sharded_ctx(tmp_path, hole.url)
    with pytest.raises(Invalid) as caught:
        preview_mod.preview(ctx, ACME_ACCESS, {**SPEC, "customerId": "globex"}, 5.0)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("spec.customerId", "does not match the customer in the path")
    ]
    assert hole.conns == []


def test_diff_bodies_that_reach_for_another_customer(tmp_path: Path) -> None:
    with api_env(f"sqlite:///{tmp_path / 'db'}", tmp_path, run_reconciler=False) as env:
        c = env.client
        globex = yaml.safe_dump(alert("globex", expr='up{customer_id="globex"} == 0'))
        assert c.post("/import", content=globex, headers=ADMIN).status_code == 200
        headers = {**ACME, "Content-Type": "application/yaml"}
        # acme's document in globex's namespace: 403, nothing of globex in the answer.
        moved = alert()
        moved["metadata"]["namespace"] = "globex"
        r = c.post("/diff", content=yaml.safe_dump(moved), headers=headers)
        assert r.status_code == 403 and "up{customer_id" not in r.text
        assert r.json()["problems"][0]["path"] == "metadata.namespace"
        # prune with acme's documents never lists globex's objects as deleted.
        r = c.post("/diff?prune=true&tools=false", content=yaml.safe_dump(alert()), headers=headers)
        assert r.status_code == 200 and "globex" not in r.text
        # A body past the API's limit: 413 before anything is read into the diff.
        big = "x" * (16 * 1024 * 1024 + 1)
        assert c.post("/diff", content=big, headers=headers).status_code == 413


class Answers:
    """A server in Prometheus' place that answers every query with one canned reply:
    what a broken proxy, an overloaded or a hostile upstream sends."""

    def __init__(self, status: int, body: bytes) -> None:
        import http.server

        reply = (status, body)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(reply[0])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply[1])))
                self.end_headers()
                self.wfile.write(reply[1])

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (
            422,
            b'{"status":"error","errorType":"execution","error":"query timed out"}',
            "Prometheus could not evaluate the expression: query timed out",
        ),
        (500, b"<html>oops</html>", "Prometheus answered 500"),
        (200, b"not json", "Prometheus gave an answer that is not JSON"),
        (
            200,
            b'{"status":"error","error":"bad"}',
            "Prometheus could not evaluate the expression: bad",
        ),
        (
            200,
            b'{"status":"success","data":{"resultType":"vector","result":['
            + b",".join([b'{"metric":{"a":"' + b"x" * 1000 + b'"},"value":[1,"1"]}'] * 9000)
            + b"]}}",
            "the expression returns too much (the answer is larger than 8 MiB); narrow it "
            "down (e.g. topk)",
        ),
    ],
)
def test_a_broken_or_hostile_prometheus_is_a_clear_502(
    tmp_path: Path, status: int, body: bytes, detail: str
) -> None:
    upstream = Answers(status, body)
    try:
        ctx = sharded_ctx(tmp_path, upstream.url)
        with pytest.raises(UpstreamFailed) as caught:
            preview_mod.preview(ctx, ACME_ACCESS, SPEC, 30.0)
        assert caught.value.detail == detail
    finally:
        upstream.server.shutdown()


def test_a_shard_without_url_names_the_setting(tmp_path: Path) -> None:
    platform = PlatformConfig.model_validate({"prometheus": {"shards": [{"name": "a"}]}})
    store = Store(open_db(f"sqlite:///{tmp_path / 'db.sqlite'}"), secrets_dir=str(tmp_path))
    ctx = Context(None, store, ApiSettings(), platform=platform)
    with pytest.raises(Unavailable) as caught:
        preview_mod.preview(ctx, ACME_ACCESS, SPEC, 5.0)
    assert caught.value.detail == (
        "no Prometheus to preview against: set prometheus.shards[a].url in the platform config"
    )


def test_many_series_listed_to_the_cap_annotations_to_theirs(tmp_path: Path) -> None:
    result = b",".join(b'{"metric":{"host":"h%d"},"value":[1,"%d"]}' % (i, i) for i in range(150))
    upstream = Answers(200, b'{"status":"success","data":{"resultType":"vector","result":['
                       + result + b"]}}")  # fmt: skip
    try:
        ctx = sharded_ctx(tmp_path, upstream.url)
        spec = {**SPEC, "annotations": {"summary": "{{ $labels.host }}"}}
        done = preview_mod.preview(ctx, ACME_ACCESS, spec, 30.0)
    finally:
        upstream.server.shutdown()
    assert (done.firing, len(done.series), done.truncated) == (150, 100, True)
    assert done.annotations_note == "annotations are expanded for the first 20 series"
    with_notes = [s for s in done.series if "annotations" in s]
    assert [s["annotations"]["summary"] for s in with_notes] == [f"h{i}" for i in range(20)]


def test_kubernetes_mode_asks_the_apis_own_prometheus_setting(tmp_path: Path) -> None:
    """No reconciler in Kubernetes mode: `serve --kubernetes --prometheus-url` is the API's."""
    answer = (
        b'{"status":"success","data":{"resultType":"vector","result":'
        b'[{"metric":{"__name__":"up","job":"x"},"value":[1,"0"]}]}}'
    )
    upstream = Answers(200, answer)
    try:
        store = Store(open_db(f"sqlite:///{tmp_path / 'db.sqlite'}"), secrets_dir=str(tmp_path))
        settings = ApiSettings(prometheus_url=upstream.url)
        ctx = Context(None, store, settings, platform=PlatformConfig())
        done = preview_mod.preview(ctx, ACME_ACCESS, SPEC, 10.0)
    finally:
        upstream.server.shutdown()
    assert (done.firing, done.series[0]["labels"]["job"]) == (1, "x")
    assert "__name__" not in done.series[0]["labels"]

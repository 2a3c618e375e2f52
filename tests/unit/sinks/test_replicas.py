"""HA Alertmanager (`alertmanager.replicas`): every replica is reloaded, the output is live
only when every replica has loaded it, a replica that is down is Pending naming it (the pass
does not fail), one that refuses is Failed naming it; the files and the ConfigMap sink alike.

The replicas' HTTP answers are played per URL; tests/integration/test_ha_alertmanager.py runs
3 real Alertmanager 0.25 replicas in a gossip cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alertplane.errors import UsageError
from alertplane.render import ALERTMANAGER_PATH
from alertplane.render.platform import PlatformConfig
from alertplane.sinks import configmap, files, loaded_query, sharded
from alertplane.sinks import reload as reload_module
from alertplane.sinks.base import Liveness, ReloadOutcome, Sink, fails_pass
from alertplane.sinks.factory import CONFIGMAP, FILES, SinkSettings, build_sink
from alertplane.sinks.loaded_query import text_hash
from alertplane.sinks.reload import ATTEMPTS_DOWN, WAIT_DOWN_S, Reloader
from alertplane.sinks.replicas import check_single_url, replica_targets, with_replicas
from tests.unit.sinks.test_conformance import FakeKube
from tests.unit.sinks.test_loaded_check import CUSTOMERS, _alertmanager, _rules

NAMES = ("am-0", "am-1", "am-2")
PLATFORM = PlatformConfig.model_validate(
    {"alertmanager": {"replicas": [{"name": n, "url": f"http://{n}"} for n in NAMES]}}
)


class Replicas:
    """What each replica (by URL) has loaded and answers; who was reloaded."""

    def __init__(self) -> None:
        self.config: dict[str, str] = {}
        self.down: set[str] = set()
        self.refusing: set[str] = set()
        self.reloads: list[str] = []
        self.written = ""

    def reload(self, url: str, attempts: int = 4, timeout_s: float | None = None) -> ReloadOutcome:
        self.reloads.append(url)
        if url in self.down:
            return ReloadOutcome(
                False, 4, f"{url}/-/reload: [Errno 111] Connection refused", answered=False
            )
        if url in self.refusing:
            return ReloadOutcome(False, 1, f"{url}/-/reload: HTTP 500: bad config")
        self.config[url] = self.written
        return ReloadOutcome(True, 1)

    def config_hash(self, url: str) -> float:
        return text_hash(self.config.get(url, ""))

    def loaded_config(self, url: str) -> str:
        return self.config.get(url, "")


@pytest.fixture(params=[FILES, CONFIGMAP])
def sink(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Sink, Replicas]:
    replicas = Replicas()
    monkeypatch.setattr(reload_module, "reload", replicas.reload)
    monkeypatch.setattr(loaded_query, "config_hash", replicas.config_hash)
    monkeypatch.setattr(loaded_query, "loaded_config", replicas.loaded_config)
    for module in (files, configmap):
        monkeypatch.setattr(module, "check_output", lambda outputs: None, raising=False)
    settings = SinkSettings(request.param, tmp_path / "out", platform=PLATFORM)
    built = build_sink(settings, FakeKube())
    built.start()
    return built, replicas


def _write(s: Sink, replicas: Replicas, channel: str) -> list[str]:
    text, receivers = _alertmanager(channel)
    replicas.written = text
    return s.write({ALERTMANAGER_PATH: text, "rules/acme.yml": _rules("acme", 2)}, receivers)


def test_every_replica_is_reloaded_and_live_only_when_every_one_has_it(
    sink: tuple[Sink, Replicas],
) -> None:
    s, replicas = sink
    outcomes = s.make_live(_write(s, replicas, "#a"))
    assert sorted(outcomes) == [f"alertmanager/{n}" for n in NAMES]
    assert replicas.reloads == [f"http://{n}" for n in NAMES]
    assert all(s.liveness(ALERTMANAGER_PATH, c) == Liveness(True, "Reloaded") for c in CUSTOMERS)
    # A rule file is Prometheus' business, whatever the replicas.
    assert s.liveness("rules/acme.yml", "acme").reason == "Written"
    # am-1 answers 200 but keeps the old file (a ConfigMap not yet refreshed in its pod).
    replicas.reloads.clear()
    old = replicas.written
    s.make_live(_write(s, replicas, "#b"))
    replicas.config["http://am-1"] = old
    live = s.liveness(ALERTMANAGER_PATH, "beta")
    assert (live.synced, live.reason) == (False, "Pending")
    assert live.message.startswith("alertmanager/am-1: written; Alertmanager still has the prev")
    assert "(also not live" not in live.message


def test_a_replica_down_is_pending_naming_it_until_it_returns(
    sink: tuple[Sink, Replicas],
) -> None:
    s, replicas = sink
    replicas.down = {"http://am-2"}
    outcomes = s.make_live(_write(s, replicas, "#a"))
    assert not outcomes["alertmanager/am-2"].ok
    assert not any(fails_pass(t, o) for t, o in outcomes.items())  # the others serve
    assert s.liveness(ALERTMANAGER_PATH, "acme") == Liveness(
        False,
        "Pending",
        "alertmanager/am-2: down, reloaded again until it answers: "
        "http://am-2/-/reload: [Errno 111] Connection refused",
    )
    replicas.reloads.clear()
    s.make_live([])  # the re-check: still down, asked again
    assert replicas.reloads == ["http://am-2"]
    replicas.down.clear()
    replicas.reloads.clear()
    s.make_live([])  # it returned: only it is reloaded, and the output converges
    assert replicas.reloads == ["http://am-2"]
    assert s.liveness(ALERTMANAGER_PATH, "acme") == Liveness(True, "Reloaded")


def test_every_replica_down_names_them_all(sink: tuple[Sink, Replicas]) -> None:
    s, replicas = sink
    replicas.down = {f"http://{n}" for n in NAMES}
    s.make_live(_write(s, replicas, "#a"))
    live = s.liveness(ALERTMANAGER_PATH, "gamma")
    assert (live.reason, live.message.split(":")[0]) == ("Pending", "alertmanager/am-0")
    assert live.message.endswith("(also not live on alertmanager/am-1, alertmanager/am-2)")


def test_a_replica_that_refuses_fails_naming_it(sink: tuple[Sink, Replicas]) -> None:
    s, replicas = sink
    replicas.refusing = {"http://am-1"}
    outcomes = s.make_live(_write(s, replicas, "#a"))
    assert fails_pass("alertmanager/am-1", outcomes["alertmanager/am-1"])
    assert s.liveness(ALERTMANAGER_PATH, "acme") == Liveness(
        False, "ReloadFailed", "alertmanager/am-1: http://am-1/-/reload: HTTP 500: bad config"
    )


def test_the_single_alertmanager_down_still_fails_the_pass() -> None:
    down = ReloadOutcome(
        False, 4, "http://am/-/reload: [Errno 111] Connection refused", answered=False
    )
    assert fails_pass("alertmanager", down)  # nothing else serves
    assert fails_pass("prometheus/shard-a", down)
    assert not fails_pass("alertmanager/am-0", down)
    assert fails_pass("alertmanager/am-0", ReloadOutcome(False, 1, "HTTP 500"))


def test_replicas_differing_from_each_other_are_parsed_once_each(
    sink: tuple[Sink, Replicas], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the replicas hold different configurations, each loaded one is parsed once
    per pass, not once per customer (the configuration holds every customer: megabytes)."""
    s, replicas = sink
    parsed: list[str] = []
    real = loaded_query.routing

    def counting(text: str | None, what: str) -> Any:
        parsed.append(what)
        return real(text, what)

    monkeypatch.setattr(loaded_query, "routing", counting)
    s.make_live(_write(s, replicas, "#new"))
    replicas.config["http://am-0"] = _alertmanager("#old-0")[0]
    replicas.config["http://am-1"] = _alertmanager("#old-1")[0]
    for cid in CUSTOMERS:
        assert s.liveness(ALERTMANAGER_PATH, cid).reason == "Pending"
    assert sorted(parsed) == ["alertmanager.yml", "its config.original", "its config.original"]


def test_targets_and_the_usage_error() -> None:
    assert replica_targets(PlatformConfig()) == ("alertmanager",)
    targets = with_replicas(PLATFORM)
    assert targets(ALERTMANAGER_PATH) == tuple(f"alertmanager/{n}" for n in NAMES)
    assert targets("rules/acme.yml") == ("prometheus",)
    check_single_url(PlatformConfig(), "http://am")  # no replicas: the flag is the one
    with pytest.raises(UsageError) as refused:
        check_single_url(PLATFORM, "http://am")
    assert str(refused.value) == (
        "--alertmanager-url http://am: the platform config names Alertmanager replicas "
        "(am-0, am-1, am-2) at alertmanager.replicas; leave --alertmanager-url out; give "
        "each replica's url in alertmanager.replicas"
    )
    with pytest.raises(UsageError):
        SinkSettings(FILES, Path("out"), platform=PLATFORM, alertmanager_url="http://am").check()


def test_a_hanging_replica_never_holds_the_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known down, a replica is asked once per pass and waited on briefly: one that hangs
    (its reload in flight, reload_flight.py) is Pending, fails no pass, and is asked again
    on the next re-check with the same brief wait, until it answers."""
    calls: list[tuple[str, int, float | None]] = []
    answers: dict[str, ReloadOutcome] = {
        "http://am-1": ReloadOutcome(False, 4, "http://am-1/-/reload: refused", answered=False)
    }

    def reload(url: str, attempts: int = 4, timeout_s: float | None = None) -> ReloadOutcome:
        calls.append((url, attempts, timeout_s))
        return answers.get(url, ReloadOutcome(True, 1))

    monkeypatch.setattr(reload_module, "reload", reload)
    urls = {f"alertmanager/{n}": f"http://{n}" for n in NAMES}
    reloader = Reloader(lambda: urls, with_replicas(PLATFORM))
    reloader.make_live([ALERTMANAGER_PATH])
    assert reloader.down == {"alertmanager/am-1"}
    assert [c for c in calls if c[0] == "http://am-1"] == [("http://am-1", 4, None)]
    hanging = "http://am-1/-/reload: reloading for 12 s (took 0.0 s last time)"
    answers["http://am-1"] = ReloadOutcome(False, 1, hanging, in_flight=True)
    calls.clear()
    outcomes = reloader.make_live([])  # the re-check: only am-1, once, briefly
    assert calls == [("http://am-1", ATTEMPTS_DOWN, WAIT_DOWN_S)]
    assert not fails_pass("alertmanager/am-1", outcomes["alertmanager/am-1"])
    assert reloader.liveness(ALERTMANAGER_PATH) == Liveness(
        False, "Pending", f"alertmanager/am-1: {hanging}"
    )
    assert reloader.down == {"alertmanager/am-1"}  # still in flight: still waited on briefly
    del answers["http://am-1"]
    calls.clear()
    assert reloader.make_live([]) == {"alertmanager/am-1": ReloadOutcome(True, 1)}
    assert calls == [("http://am-1", ATTEMPTS_DOWN, WAIT_DOWN_S)]
    assert reloader.down == set()
    assert reloader.liveness(ALERTMANAGER_PATH) == Liveness(True, "Reloaded")


def test_a_replica_that_stops_answering_questions_is_reloaded_in_the_background(
    sink: tuple[Sink, Replicas], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It answered its reload, then not the question of what it loaded: Pending, and its
    next reload goes to the background, so it is not asked inline on every re-check."""
    s, replicas = sink
    s.make_live(_write(s, replicas, "#a"))

    def hung(url: str) -> float:
        if url == "http://am-0":
            raise loaded_query.QueryFailed(f"{url}/metrics: timed out")
        return replicas.config_hash(url)

    monkeypatch.setattr(loaded_query, "config_hash", hung)
    live = s.liveness(ALERTMANAGER_PATH, "acme")
    assert (live.reason, live.message) == (
        "Pending",
        "alertmanager/am-0: reloaded; asking Alertmanager what it loaded failed: "
        "http://am-0/metrics: timed out",
    )
    replicas.reloads.clear()
    s.make_live([])
    assert replicas.reloads == ["http://am-0"]  # once, from the background


def test_sharded_rules_and_replicated_alertmanager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sharding changes nothing for Alertmanager: alertmanager.yml still reaches, and is
    live only on, every replica; a rule file reloads its shard alone."""
    replicas = Replicas()
    monkeypatch.setattr(reload_module, "reload", replicas.reload)
    monkeypatch.setattr(loaded_query, "config_hash", replicas.config_hash)
    for module in (sharded, files):
        monkeypatch.setattr(module, "check_output", lambda outputs: None)
    shards = [{"name": "s1", "url": "http://s1"}, {"name": "s2", "url": "http://s2"}]
    platform = PLATFORM.model_copy(
        update={
            "prometheus": PlatformConfig.model_validate(
                {"prometheus": {"shards": shards}}
            ).prometheus
        }
    )
    s = build_sink(SinkSettings(FILES, tmp_path / "out", platform=platform))
    s.start()
    text, receivers = _alertmanager("#a")
    replicas.written = text
    s.make_live(s.write({ALERTMANAGER_PATH: text}, receivers))
    assert sorted(replicas.reloads) == [f"http://{n}" for n in NAMES]
    replicas.down = {"http://am-0"}
    replicas.reloads.clear()
    text, receivers = _alertmanager("#b")
    replicas.written = text
    s.make_live(s.write({ALERTMANAGER_PATH: text}, receivers))
    live = s.liveness(ALERTMANAGER_PATH, "acme")
    assert (live.reason, live.message.split(":")[0]) == ("Pending", "alertmanager/am-0")
    replicas.reloads.clear()
    s.make_live(s.write({"rules/acme.yml": _rules("acme", 3)}, receivers))
    assert [u for u in replicas.reloads if "am-" not in u] in (["http://s1"], ["http://s2"])

"""The files and ConfigMap sinks are live only once the targets report the written output
loaded (sinks/loaded_query.py): stale ⇒ Pending and one reload on the next pass; a failed
question ⇒ Pending, no reload; one question per target per pass, however many customers.

The HTTP questions are replaced by what a target would answer (tests/support/loaded_api.py);
tests/integration/test_loaded_live.py asks the real Prometheus and Alertmanager.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alertplane.model import CustomerAlert, CustomerReceiver
from alertplane.render import ALERTMANAGER_PATH
from alertplane.render.alertmanager import render_alertmanager
from alertplane.render.platform import PlatformConfig
from alertplane.render.rules import render_rules
from alertplane.sinks import configmap, files, loaded_query
from alertplane.sinks import reload as reload_module
from alertplane.sinks.base import Liveness, ReloadOutcome, Sink
from alertplane.sinks.factory import CONFIGMAP, FILES, SinkSettings, build_sink
from alertplane.sinks.loaded import loaded_rule_files
from alertplane.sinks.loaded_query import QueryFailed, text_hash
from tests.support.factories import alert, receiver
from tests.support.loaded_api import api_groups
from tests.unit.sinks.test_conformance import FakeKube

CUSTOMERS = ("acme", "beta", "gamma")
HINT = {
    FILES: "after a reload: do its rule_files include the output directory's rules?",
    CONFIGMAP: "the kubelet has not refreshed the ConfigMap yet",
}
AM_HINT = {
    FILES: "after a reload: is its --config.file the written alertmanager.yml?",
    CONFIGMAP: "the kubelet has not refreshed the ConfigMap yet",
}


def _rules(cid: str, threshold: int) -> str:
    spec = CustomerAlert.model_validate(
        alert(cid, expr=f'rate(errors_total{{customer_id="{cid}"}}[5m]) > {threshold}')
    ).spec
    text = render_rules(cid, [spec])
    assert text is not None
    return text


def _alertmanager(channel: str) -> tuple[str, dict[str, list[Any]]]:
    receivers = {
        cid: [(cid, CustomerReceiver.model_validate(receiver(cid, slack=[
            {"apiURL": "https://hooks.example/x", "channel": channel}
        ])).spec)]
        for cid in CUSTOMERS
    }  # fmt: skip
    return render_alertmanager(receivers, PlatformConfig()), receivers


class Targets:
    """What the fake Prometheus and Alertmanager have loaded, and who asked what."""

    def __init__(self) -> None:
        self.rules: dict[str, str | None] = {}
        self.config = ""
        self.reloads: list[str] = []
        self.questions: list[str] = []
        self.down = False

    def reload(self, url: str) -> ReloadOutcome:
        self.reloads.append(url)
        return ReloadOutcome(True, 1)

    def loaded_rules(self, url: str) -> dict[str, Any]:
        self.questions.append(url)
        if self.down:
            raise QueryFailed(f"{url}/api/v1/rules: [Errno 111] Connection refused")
        groups = [g for cid, t in self.rules.items() for g in api_groups(t, f"/r/{cid}.yml")]
        return loaded_rule_files(groups)

    def loaded_config(self, url: str) -> str:
        self.questions.append(url)
        return self.config

    def config_hash(self, url: str) -> float:
        self.questions.append(f"{url}/metrics")
        return text_hash(self.config)


@pytest.fixture(params=[FILES, CONFIGMAP])
def sink(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Sink, Targets]:
    targets = Targets()
    monkeypatch.setattr(reload_module, "reload", targets.reload)
    monkeypatch.setattr(loaded_query, "loaded_rules", targets.loaded_rules)
    monkeypatch.setattr(loaded_query, "loaded_config", targets.loaded_config)
    monkeypatch.setattr(loaded_query, "config_hash", targets.config_hash)
    for module in (files, configmap):
        monkeypatch.setattr(module, "check_output", lambda outputs: None, raising=False)
    settings = SinkSettings(
        request.param, tmp_path / "out", prometheus_url="http://prom", alertmanager_url="http://am"
    )
    built = build_sink(settings, FakeKube())
    built.start()
    return built, targets


def _write(sink: Sink, threshold: int, channel: str) -> list[str]:
    am, receivers = _alertmanager(channel)
    outputs: dict[str, str | None] = {f"rules/{c}.yml": _rules(c, threshold) for c in CUSTOMERS}
    outputs[ALERTMANAGER_PATH] = am
    return sink.write(outputs, receivers)


def test_stale_rules_are_pending_and_reloaded_on_the_next_pass(
    sink: tuple[Sink, Targets],
) -> None:
    s, targets = sink
    targets.rules = {c: _rules(c, 1) for c in CUSTOMERS}  # the previous version
    s.make_live(_write(s, 2, "#a"))
    assert targets.reloads == ["http://am", "http://prom"]
    assert s.liveness("rules/acme.yml", "acme") == Liveness(
        False,
        "Pending",
        f"written; Prometheus still has the previous rules for acme ({HINT[s.name]}): "
        "group acme-application: rule HighErrorRate: the query differs",
    )
    for cid in CUSTOMERS[1:]:
        assert s.liveness(f"rules/{cid}.yml", cid).reason == "Pending"
    assert targets.questions == ["http://prom"]  # one question for three customers

    targets.reloads.clear()
    s.make_live([])  # the re-check: nothing written, the stale target reloaded once
    assert targets.reloads == ["http://prom"]
    targets.rules["acme"] = _rules("acme", 2)  # the kubelet caught up for acme only
    assert s.liveness("rules/acme.yml", "acme") == Liveness(True, "Reloaded", "")
    assert s.liveness("rules/beta.yml", "beta").reason == "Pending"

    targets.rules = {c: _rules(c, 2) for c in CUSTOMERS}
    targets.reloads.clear()
    s.make_live([])
    assert targets.reloads == ["http://prom"]  # beta was still stale after the last pass
    assert all(s.liveness(f"rules/{c}.yml", c).synced for c in CUSTOMERS)
    targets.reloads.clear()
    assert s.make_live([]) == {} and targets.reloads == []  # all live: no reload


def test_live_output_is_not_asked_about_again_until_reloaded_or_rewritten(
    sink: tuple[Sink, Targets],
) -> None:
    s, targets = sink
    targets.rules = {c: _rules(c, 2) for c in CUSTOMERS}
    targets.config = _alertmanager("#a")[0]
    s.make_live(_write(s, 2, "#a"))
    outputs = [(f"rules/{c}.yml", c) for c in CUSTOMERS] + [
        (ALERTMANAGER_PATH, c) for c in CUSTOMERS
    ]
    assert all(s.liveness(o, c).synced for o, c in outputs)
    assert targets.questions == ["http://prom", "http://am/metrics"]
    for _ in range(3):  # resyncs: nothing reloaded, nothing rewritten, nothing asked
        s.make_live([])
        assert all(s.liveness(o, c).synced for o, c in outputs)
    assert targets.questions == ["http://prom", "http://am/metrics"]
    targets.rules["acme"] = None  # Prometheus lost acme's file (someone moved it)
    s.make_live(_write(s, 3, "#a"))  # a reload: asked again, and the loss is seen
    assert s.liveness("rules/acme.yml", "acme").reason == "Pending"
    assert targets.questions[2:] == ["http://prom"]


def test_rules_not_loaded_at_all_are_pending(sink: tuple[Sink, Targets]) -> None:
    s, _ = sink
    s.make_live(_write(s, 2, "#a"))
    assert s.liveness("rules/acme.yml", "acme") == Liveness(
        False,
        "Pending",
        f"written; Prometheus has not loaded the rules for acme yet ({HINT[s.name]}): "
        "no rule file acme.yml is loaded",
    )


def test_stale_routes_are_pending_and_live_once_loaded(sink: tuple[Sink, Targets]) -> None:
    s, targets = sink
    targets.rules = {c: _rules(c, 2) for c in CUSTOMERS}
    targets.config = _alertmanager("#old")[0]
    s.make_live(_write(s, 2, "#new"))
    assert s.liveness(ALERTMANAGER_PATH, "beta") == Liveness(
        False,
        "Pending",
        f"written; Alertmanager still has the previous routes for beta ({AM_HINT[s.name]}): "
        "receiver beta/oncall.slack_configs[0].channel differs",
    )
    assert s.liveness("rules/beta.yml", "beta") == Liveness(True, "Reloaded", "")
    targets.reloads.clear()
    targets.config = _alertmanager("#new")[0]
    s.make_live([])
    assert targets.reloads == ["http://am"]
    assert [s.liveness(ALERTMANAGER_PATH, c).synced for c in CUSTOMERS] == [True] * 3
    # The configuration is read back only while its hash says it is not the written file.
    assert targets.questions == [
        "http://am/metrics",
        "http://am",
        "http://prom",
        "http://am/metrics",
    ]


def test_a_failed_question_is_pending_without_a_reload(sink: tuple[Sink, Targets]) -> None:
    s, targets = sink
    targets.down = True
    s.make_live(_write(s, 2, "#a"))
    message = (
        "reloaded; asking Prometheus what it loaded failed: "
        "http://prom/api/v1/rules: [Errno 111] Connection refused"
    )
    for cid in CUSTOMERS:
        assert s.liveness(f"rules/{cid}.yml", cid) == Liveness(False, "Pending", message)
    assert targets.questions == ["http://prom"]  # not asked again in the same pass
    targets.reloads.clear()
    assert s.make_live([]) == {}  # the reload took; only the question is asked again
    targets.down = False
    targets.rules = {c: _rules(c, 2) for c in CUSTOMERS}
    assert s.liveness("rules/acme.yml", "acme") == Liveness(True, "Reloaded", "")


def test_without_urls_nothing_is_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = Targets()
    monkeypatch.setattr(loaded_query, "loaded_rules", targets.loaded_rules)
    monkeypatch.setattr(files, "check_output", lambda outputs: None)
    s = build_sink(SinkSettings(FILES, tmp_path / "out"))
    s.make_live(_write(s, 2, "#a"))
    assert s.liveness("rules/acme.yml", "acme").reason == "Written"
    assert targets.questions == []


def test_an_answer_that_is_not_a_configuration_is_pending(sink: tuple[Sink, Targets]) -> None:
    s, targets = sink
    targets.config = "route: [unclosed"  # not what Alertmanager prints
    s.make_live(_write(s, 2, "#a"))
    live = s.liveness(ALERTMANAGER_PATH, "acme")
    assert live.reason == "Pending"
    assert live.message.startswith(
        "reloaded; asking Alertmanager what it loaded failed: its config.original is not YAML: "
    )


def test_no_config_hash_means_the_configuration_is_read_back(
    sink: tuple[Sink, Targets], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, targets = sink
    monkeypatch.setattr(loaded_query, "config_hash", lambda url: None)  # an older Alertmanager
    targets.config = _alertmanager("#a")[0]
    s.make_live(_write(s, 2, "#a"))
    assert s.liveness(ALERTMANAGER_PATH, "acme") == Liveness(True, "Reloaded", "")
    assert targets.questions == ["http://am"]

"""Every sink implements the whole sink protocol (sinks/base.py) the same way.

The same cases run against the files sink (a temporary directory), the ConfigMap sink and
the prometheus-operator sink (an in-memory Kubernetes API). The real promtool/amtool check
(validate/output.py) is replaced by a recorder: these tests are about the protocol, and
the recorder proves that every output a sink writes went through the one check first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.errors import OutputRejected
from alertplane.model import CustomerAlert, CustomerReceiver, CustomerRecordingRule
from alertplane.render import ALERTMANAGER_PATH
from alertplane.render.alertmanager import render_alertmanager
from alertplane.render.platform import PlatformConfig
from alertplane.render.rules import render_rules
from alertplane.sinks import configmap, files, loaded_query, promop
from alertplane.sinks import reload as reload_module
from alertplane.sinks.base import Files, Liveness, ReloadOutcome, Sink
from alertplane.sinks.factory import KINDS, MIMIR, SinkSettings, build_sink
from alertplane.sinks.loaded import loaded_rule_files
from tests.support.factories import alert, receiver, recording_rule
from tests.support.loaded_api import api_groups
from tests.support.slo import slo_obj

PLATFORM = PlatformConfig()
RULES = "rules/acme.yml"


class FakeKube:
    """Objects by API path; `list` filters by an `a=b` label selector."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def get(self, path: str) -> dict[str, Any] | None:
        return self.objects.get(path)

    def list(self, path: str, label_selector: str | None = None) -> Iterator[dict[str, Any]]:
        key, _, value = (label_selector or "").partition("=")
        for p, obj in sorted(self.objects.items()):
            labels = obj.get("metadata", {}).get("labels", {})
            if p.rsplit("/", 1)[0] == path and (not key or labels.get(key) == value):
                yield obj

    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.writes += 1
        self.objects[path] = body
        return body

    def delete(self, path: str) -> bool:
        self.writes += 1
        return self.objects.pop(path, None) is not None


class Checked:
    """Stands in for validate/output.check_output: records what was checked, refuses on ask."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}
        self.refuse = False

    def __call__(self, outputs: Files) -> None:
        if self.refuse:
            raise OutputRejected("promtool rejected the rendered rules", "refused for the test")
        self.seen.update({rel: text for rel, text in outputs.items() if text is not None})


def _receivers() -> dict[str, list[Any]]:
    obj = CustomerReceiver.model_validate(receiver("acme"))
    return {"acme": [("acme", obj.spec)]}


def _outputs() -> dict[str, str | None]:
    spec = CustomerAlert.model_validate(alert("acme")).spec
    # A recording rule too: every sink takes the customer's rules file as a whole.
    record = CustomerRecordingRule.model_validate(recording_rule("acme")).spec
    text = render_rules("acme", [spec, record, slo_obj("acme").spec])  # and an SLO's group
    assert text is not None
    return {RULES: text, ALERTMANAGER_PATH: render_alertmanager(_receivers(), PLATFORM)}


Factory = Callable[[], Sink]


# The Mimir sink has no reload URLs and no local storage to fake: its protocol is held to
# the real Mimir (tests/integration/test_mimir_sink.py; its members: test_mimir_sink_unit.py).
@pytest.fixture(params=[k for k in KINDS if k != MIMIR])
def make(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Factory, Checked]:
    """A factory of sinks over one storage (a new sink over it is a restart)."""
    checked = Checked()
    for module in (files, configmap, promop):
        monkeypatch.setattr(module, "check_output", checked, raising=False)
    kube = FakeKube()
    settings = SinkSettings(kind=request.param, out_dir=tmp_path / "out", platform=PLATFORM)

    def factory() -> Sink:
        sink = build_sink(settings, kube)
        sink.start()
        return sink

    return factory, checked


def test_every_sink_has_the_whole_protocol(make: tuple[Factory, Checked]) -> None:
    sink = make[0]()
    for member in (
        "name", "written_message", "start", "refresh", "generated_outputs", "write",
        "make_live", "liveness", "check_receiver", "location",
    ):  # fmt: skip
        assert hasattr(sink, member), member
    assert sink.name in KINDS


def test_writes_what_changed_after_the_check(make: tuple[Factory, Checked]) -> None:
    factory, checked = make
    sink = factory()
    assert sink.generated_outputs() == []
    outputs = _outputs()
    assert sorted(sink.write(outputs, _receivers())) == sorted(outputs)
    assert checked.seen[RULES] == outputs[RULES]
    assert sink.generated_outputs() == [RULES]
    assert sink.write(outputs, _receivers()) == []  # unchanged: nothing written
    assert factory().generated_outputs() == [RULES]  # a restart finds its own output


def test_none_removes_an_output(make: tuple[Factory, Checked]) -> None:
    factory, _ = make
    sink = factory()
    sink.write(_outputs(), _receivers())
    assert sink.write({RULES: None}, _receivers()) == [RULES]
    assert sink.generated_outputs() == []
    assert sink.write({RULES: None}, _receivers()) == []


def test_a_refused_output_is_not_written(make: tuple[Factory, Checked]) -> None:
    factory, checked = make
    sink = factory()
    checked.refuse = True
    with pytest.raises(OutputRejected):
        sink.write(_outputs(), _receivers())
    assert sink.generated_outputs() == []
    assert factory().generated_outputs() == []


def test_refresh_sees_what_another_writer_did(make: tuple[Factory, Checked]) -> None:
    factory, _ = make
    sink, other = factory(), factory()
    other.write(_outputs(), _receivers())
    sink.refresh()
    assert sink.generated_outputs() == [RULES]


def test_written_without_reload_urls_is_live(make: tuple[Factory, Checked]) -> None:
    sink = make[0]()
    written = sink.write(_outputs(), _receivers())
    assert sink.make_live(written) == {}
    for output in (RULES, ALERTMANAGER_PATH):
        assert sink.liveness(output, "acme") == Liveness(
            True, "Written", "written; no reload URL configured"
        )


def test_a_failed_reload_stays_pending_until_it_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: tuple[Factory, Checked]
) -> None:
    answers = [
        ReloadOutcome(False, 4, "http://prom/-/reload: HTTP 500: bad"),
        ReloadOutcome(True, 1),
    ]
    asked: list[str] = []

    def fake_reload(url: str) -> ReloadOutcome:
        asked.append(url)
        return answers.pop(0)

    monkeypatch.setattr(reload_module, "reload", fake_reload)
    loaded = loaded_rule_files(api_groups(_outputs()[RULES], "/etc/prometheus/rules/acme.yml"))
    monkeypatch.setattr(loaded_query, "loaded_rules", lambda url: loaded)  # what it has
    kind = make[0]().name
    sink = build_sink(
        SinkSettings(kind, tmp_path / "out", prometheus_url="http://prom"), FakeKube()
    )
    sink.start()
    outputs = {RULES: _outputs()[RULES]}
    outcomes = sink.make_live(sink.write(outputs, _receivers()))
    assert list(outcomes) == ["prometheus"] and not outcomes["prometheus"].ok
    failed = Liveness(False, "ReloadFailed", "http://prom/-/reload: HTTP 500: bad")
    assert sink.liveness(RULES, "acme") == failed
    assert sink.make_live([])["prometheus"].ok  # asked again with nothing new written
    assert sink.liveness(RULES, "acme") == Liveness(True, "Reloaded", "")
    assert sink.make_live([]) == {}  # nothing pending: nobody asked
    assert asked == ["http://prom", "http://prom"]


def test_location_and_receiver_checks(make: tuple[Factory, Checked]) -> None:
    sink = make[0]()
    for output in (RULES, ALERTMANAGER_PATH):
        assert sink.location(output, "acme")
    obj = CustomerReceiver.model_validate(receiver("acme"))
    assert sink.check_receiver(obj) == []

"""A customer whose rule test holds promtool must not stop every customer's sync.

promtool's cost is not bounded by the sizes spec.tests is checked for: an alert's own
expression (nested subqueries over the input series) makes each of up to 1,440
evaluations expensive, so a few such alerts keep one `promtool test rules` process of the
batch busy past tools.TIMEOUT_S. Before the fix the batch's timeout was a ToolError ("the
tools are stuck: nobody's input explains it"), which the reconciler re-raises: every
customer's sync failed, again at every retry.

The hang is injected, not timed: ALERTPLANE_PROMTOOL points at a wrapper that runs the
real promtool, except that a run whose files hold the hostile test's marker never ends
(as a test that takes longer than any timeout). So the verdicts do not depend on the
machine's speed: the hostile alert is Invalid with a message naming the time limit, the
other customer's passing test passes and its failing test fails with promtool's words.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
import yaml

from alertplane.admission import RECONCILE, admit
from alertplane.manifests import load_text
from alertplane.validate import ruletests, tools
from tests.support.factories import alert

MARKER = "hang_forever_marker"
WRAPPER = """#!/bin/sh
# the real promtool, except that a run over a file holding the marker hangs
for arg in "$@"; do
  if [ -f "$arg" ] && grep -q {marker} "$arg"; then exec sleep 3600; fi
done
exec {real} "$@"
"""


def _test(series: str, expect: list[dict[str, object]]) -> dict[str, object]:
    return {
        "inputSeries": [{"series": series, "values": "0+120x20"}],
        "alertRuleTests": [{"evalTime": "10m", "expAlerts": expect}],
    }


@pytest.fixture
def hanging_promtool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which("promtool")
    assert real, "promtool must be installed (.ci/build-tools)"
    script = tmp_path / "promtool"
    script.write_text(WRAPPER.format(marker=MARKER, real=real))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("ALERTPLANE_PROMTOOL", str(script))
    # The hang never ends: any limit shows what happens at the limit. 10 s leaves the
    # honest tests (tens of milliseconds) room on a loaded machine.
    monkeypatch.setattr(tools, "TIMEOUT_S", 10.0)
    monkeypatch.setattr(ruletests, "ALONE_TIMEOUT_S", 3.0)
    monkeypatch.setattr(ruletests, "_VERDICTS", {})


def test_a_test_that_holds_promtool_costs_its_own_alert_only(hanging_promtool: None) -> None:
    fires = {"expLabels": {"service": "a"}, "expAnnotations": {"summary": "a fails"}}
    docs = [
        alert("acme", "Hog", tests=[_test(f'errors_total{{service="{MARKER}"}}', [])]),
        alert("globex", "Passes", tests=[_test('errors_total{service="a"}', [fires])]),
        alert("initech", "Fails", tests=[_test('errors_total{service="a"}', [])]),
    ]
    loaded = load_text(yaml.safe_dump_all(docs), "crowd.yaml")
    result = admit(loaded.documents, RECONCILE, None)  # before the fix: raises ToolError
    lines = sorted(
        f"{p.obj.namespace if p.obj else ''}: {p.path}: {p.message}" for p in result.marked
    )
    assert lines[0] == (
        "acme: spec.tests[0]: the test fails: promtool did not finish within 3s "
        "(the alert's expression or its tests ask too much of promtool)"
    )
    assert len(lines) == 2 and lines[1].startswith(
        "initech: spec.tests[0]: the test fails: alertname: Fails, time: 10m"
    ), lines
    assert not result.refused


def test_many_expensive_tests_cost_one_limit_not_one_each(
    hanging_promtool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file alone up to ALONE_TIMEOUT_S, all of them within TIMEOUT_S: the first hog
    is the alert's failure, what the time left does not reach is "not tested this time"
    (the object Invalid for now, the verdict not kept: the next check runs it again)."""
    monkeypatch.setattr(tools, "TIMEOUT_S", 6.0)
    monkeypatch.setattr(ruletests, "ALONE_TIMEOUT_S", 4.0)
    docs = [
        alert("acme", "Hog1", tests=[_test(f'errors_total{{service="{MARKER}"}}', [])]),
        alert("acme", "Hog2", tests=[_test(f'errors_total{{service="{MARKER}2"}}', [])]),
        alert("globex", "Late", tests=[_test('errors_total{service="a"}', [])]),
    ]
    loaded = load_text(yaml.safe_dump_all(docs), "crowd.yaml")
    result = admit(loaded.documents, RECONCILE, None)
    lines = [f"{p.obj.name if p.obj else ''}: {p.message}" for p in result.marked]
    not_run = (
        "spec.tests[0]: the test fails: not tested this time (other tests of this check "
        "took promtool's time)"
    )
    assert lines == [
        "acme-hog1: the test fails: promtool did not finish within 4s (the alert's "
        "expression or its tests ask too much of promtool)",
        f"acme-hog2: {not_run.removeprefix('spec.tests[0]: ')}",
        f"globex-late: {not_run.removeprefix('spec.tests[0]: ')}",
    ]
    assert sorted(ruletests._VERDICTS.values()) == [
        lines[0].split(": ", 1)[1].removeprefix("the test fails: ")
    ]


def test_the_reconciler_tries_tests_not_reached_again(
    hanging_promtool: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A customer whose test was "not tested this time" is synced again soon (a retry),
    not left Invalid until its objects change."""
    from alertplane.model import CustomerAlert
    from alertplane.store.db import open_db
    from alertplane.store.repo import Store
    from alertplane.sync import Reconciler, SyncSettings

    monkeypatch.setattr(tools, "TIMEOUT_S", 6.0)
    monkeypatch.setattr(ruletests, "ALONE_TIMEOUT_S", 4.0)
    docs = [
        alert("acme", "Hog1", tests=[_test(f'errors_total{{service="{MARKER}"}}', [])]),
        alert("acme", "Hog2", tests=[_test(f'errors_total{{service="{MARKER}2"}}', [])]),
        alert("globex", "Late", tests=[_test('errors_total{service="a"}', [])]),
    ]
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    store.apply([CustomerAlert.model_validate(d) for d in docs], "a", "test")
    reconciler = Reconciler(store, SyncSettings(out_dir=tmp_path / "out", poll_s=0.02))
    assert reconciler.sync_all().outcome == "invalid"
    assert reconciler._retry >= {"globex"}

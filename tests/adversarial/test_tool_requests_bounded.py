"""A customer token cannot take every core and worker with tool checks.

POST /validate, /import and /diff with tools=true run promtool (spec.tests included) in
the request. Before the bound, one customer sending requests whose tests hold promtool
got every one of them run at once. Now a customer has at most PER_CUSTOMER such requests
running (then 503, never a queue) while another customer's are still answered.

No timing decides: the promtool wrapper hangs (until tools.TIMEOUT_S) on files with the
marker and records each hang, so the test waits until two hang before it asks again.
"""

from __future__ import annotations

import shutil
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.validate import ruletests, tools
from tests.support.api_env import ACME, ADMIN, api_env
from tests.support.factories import alert
from tests.support.waiting import eventually

MARKER = "hang_forever_marker"
WRAPPER = """#!/bin/sh
for arg in "$@"; do
  if [ -f "$arg" ] && grep -q {marker} "$arg"; then touch {hangs}/$$; exec sleep 3600; fi
done
exec {real} "$@"
"""


def _hog(name: str) -> str:
    test = {
        "inputSeries": [{"series": f'errors_total{{service="{MARKER}"}}', "values": "0x5"}],
        "alertRuleTests": [{"evalTime": "1m"}],
    }
    return yaml.safe_dump(alert("acme", name, tests=[test]))


@pytest.fixture
def hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    real = shutil.which("promtool")
    assert real, "promtool must be installed (.ci/build-tools)"
    found = tmp_path / "hangs"
    found.mkdir()
    script = tmp_path / "promtool"
    script.write_text(WRAPPER.format(marker=MARKER, real=real, hangs=found))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("ALERTPLANE_PROMTOOL", str(script))
    monkeypatch.setattr(tools, "TIMEOUT_S", 30.0)  # ends the hangs when the test is done
    monkeypatch.setattr(ruletests, "ALONE_TIMEOUT_S", 30.0)  # the alone phase: not reached
    monkeypatch.setattr(ruletests, "_VERDICTS", {})
    return found


def test_a_customer_has_two_tool_checks_at_once_others_still_answered(
    tmp_path: Path, hangs: Path
) -> None:
    with api_env(f"sqlite:///{tmp_path / 'db'}", tmp_path, run_reconciler=False) as env:
        c = env.client
        headers = {**ACME, "Content-Type": "application/yaml"}
        answers: list[Any] = []

        def send(name: str) -> None:
            answers.append(c.post("/validate", content=_hog(name), headers=headers))

        held = [threading.Thread(target=send, args=(f"Hog{i}",), daemon=True) for i in (1, 2)]
        for thread in held:
            thread.start()
        eventually(lambda: len(list(hangs.iterdir())) == 2, 60)  # two promtool runs hang
        third = c.post("/validate", content=_hog("Hog3"), headers=headers)
        assert third.status_code == 503, third.text
        assert third.json()["detail"] == (
            "2 checks with the tools for customer acme are running; retry in a moment "
            "(or send tools=false)"
        )
        diff = c.post("/diff", content=_hog("Hog3"), headers=headers)
        assert diff.status_code == 503
        # Without the tools, and for the platform team, nothing is held back.
        quick = c.post("/validate?tools=false", content=_hog("Hog3"), headers=headers)
        assert quick.status_code == 200, quick.text
        admin = c.post(
            "/validate?tools=false",
            content=_hog("Hog4"),
            headers={**ADMIN, "Content-Type": "application/yaml"},
        )
        assert admin.status_code == 200, admin.text
        for thread in held:
            thread.join(timeout=120)
        assert [a.status_code for a in answers] == [200, 200]

"""Hostile receiver templates against the batched amtool checks (issue 12, defect A).

Receiver templates are checked by `amtool template render` in batches: each text wrapped in
a named template of one file, one call for thousands of them. What a customer can do to that:

- End the wrapper early: `ok{{ end }}{{ if true }}{{ .Nope }}` closed its named template
  with its own `{{ end }}`, leaving the rest outside it, never executed: the batch passed
  and the template, refused by amtool alone, was accepted (on main, `validate` said
  "3 valid"). A text whose blocks do not balance is now checked alone.
- Send a template amtool cannot be given on its command line: 64 Ki characters (the field's
  limit) of 4-byte UTF-8 are 256 KiB, twice Linux' limit for one argument. Checked alone
  (the invalid one is), it made exec fail (E2BIG) and the whole run, every customer's,
  failed with "install the Debian package": now it is read from a file, and refused with
  amtool's own words at the right column.
- Both through every door: `alertplane validate`, and the REST API with the reconciler
  behind it (the hostile customer's objects Invalid on the field, the next one Synced).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.cli import main
from tests.support.api_env import ACME, GLOBEX, ApiEnv, api_env, receiver_spec
from tests.support.cli import write
from tests.support.factories import receiver
from tests.support.problems import unplaced

NOPE = "can't evaluate field Nope in type template.Data"
WIDE = "\U0001f600" * 60_000  # 60,000 characters, 240,000 bytes of UTF-8
ESCAPES = [
    "ok{{ end }}{{ if true }}{{ .Nope }}",  # ends the wrapper, hides the rest
    "ok{{ end }}{{ with .Nope }}x",  # the same, with the wrapper's own end closing it
    '{{ end }}{{ define "alertplane.all" }}{{ end }}{{ if true }}',  # replace the caller
]


def _slack(customer: str, title: str) -> dict[str, Any]:
    channel = {"apiURLSecretRef": {"name": "s", "key": "k"}, "channel": "#x"}
    return receiver(customer, "oncall", webhook=[], slack=[{**channel, "titleTemplate": title}])


def _validate(tmp_path: Path, capsys: pytest.CaptureFixture[str], *docs: Any) -> list[str]:
    code = main(["validate", "-f", write(tmp_path / "m.yaml", *docs)])
    out, err = capsys.readouterr()
    assert "Argument list too long" not in out + err and "Debian" not in out + err, err
    assert "Traceback" not in out + err
    assert code == (1 if out else 0), (code, out, err)
    return unplaced(out).splitlines()


def test_a_template_cannot_end_its_wrapper_to_hide_from_the_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [_slack(f"good{i}", "{{ .CommonLabels.alertname }}") for i in range(20)]
    bad = [_slack(f"bad{i}", text) for i, text in enumerate(ESCAPES)]
    lines = _validate(tmp_path, capsys, *good[:10], *bad, *good[10:])
    assert [line.split(": ")[0] for line in lines] == [
        f"CustomerReceiver bad{i}/bad{i}-oncall" for i in range(len(ESCAPES))
    ]
    assert all("spec.slack[0].titleTemplate: " in line for line in lines), lines


def test_a_template_too_long_for_a_command_line_is_checked_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _validate(
        tmp_path,
        capsys,
        _slack("wide", WIDE + "{{ .Nope }}"),  # checked alone: refused
        _slack("widefine", WIDE),  # passes its batch
        _slack("next", "{{ .Nope }}"),  # another customer, refused as ever
    )
    assert lines == [
        "CustomerReceiver wide/wide-oncall: spec.slack[0].titleTemplate: invalid template: "
        f'at 1:240003: executing "" at <.Nope>: {NOPE}; fix the Alertmanager template '
        "(e.g. {{ .CommonLabels.alertname }})",
        "CustomerReceiver next/next-oncall: spec.slack[0].titleTemplate: invalid template: "
        f'at 1:3: executing "" at <.Nope>: {NOPE}; fix the Alertmanager template '
        "(e.g. {{ .CommonLabels.alertname }})",
    ]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'api.db'}", tmp_path) as env:
        yield env


def test_rest_api_marks_the_hostile_customer_invalid_and_serves_the_next(api: ApiEnv) -> None:
    # The API stores what passes the pure checks; amtool's verdict comes from the
    # reconciler (?wait=true: the status after it): Invalid, on the field, never a failed
    # run for everyone.
    slack = {"apiURL": "https://hooks.slack.com/services/x"}
    for i, title in enumerate([WIDE + "{{ .Nope }}", *ESCAPES[:2]]):
        spec = receiver_spec(f"hostile{i}", webhook=[], slack=[{**slack, "titleTemplate": title}])
        r = api.client.post("/customers/acme/receivers?wait=true", json=spec, headers=ACME)
        assert r.status_code == 201, r.text[:2000]
        status = r.json()["status"]
        assert status["phase"] == "Invalid", str(status)[:2000]
        assert "spec.slack[0].titleTemplate" in json.dumps(status), str(status)[:2000]
    define = receiver_spec("define", webhook=[], slack=[{**slack, "titleTemplate": ESCAPES[2]}])
    r = api.client.post("/customers/acme/receivers", json=define, headers=ACME)
    assert r.status_code == 422, r.text[:2000]  # a pure check refuses `define` outright
    assert [p["path"] for p in r.json()["problems"]] == ["spec.slack[0].titleTemplate"]
    fine = receiver_spec("fine", webhook=[], slack=[{**slack, "titleTemplate": WIDE}])
    r = api.client.post("/customers/globex/receivers?wait=true", json=fine, headers=GLOBEX)
    assert r.status_code == 201, r.text[:2000]
    assert r.json()["status"]["phase"] == "Synced", str(r.json()["status"])[:2000]

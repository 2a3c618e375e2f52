"""Tool batches bounded by size at every size (issue 12, defect A), with the real tools.

One `amtool template render` used to carry every receiver template's call in a single
argument: past ~3,300 templates (Linux' MAX_ARG_STRLEN, 128 KiB per argument) exec failed
with E2BIG, shown as "Argument list too long; install the Debian package ...". Here 3,500
receivers with two templates each go through every door that checks templates: `alertplane
validate`, `alertplane render`, POST /import and the reconciler behind it. The argument
list of promtool/amtool runs over many files is bounded too: proven under a small stack
limit (which lowers the system's ARG_MAX), where the same run failed before.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.errors import ToolError
from alertplane.validate import tools
from tests.support.api_env import ADMIN, ApiEnv, api_env
from tests.support.cli import Run, in_process, write
from tests.support.factories import receiver
from tests.support.paths import EXAMPLES
from tests.support.problems import unplaced
from tests.support.waiting import eventually

MANY = 3_500  # receivers, two templates each: 7,000 templates, twice the old breaking point
BAD = "{{ .CommonLabels.alertname }} {{ .Nope }}"  # amtool refuses it when it executes it
NOPE = "can't evaluate field Nope in type template.Data"
YAML = {"content-type": "application/yaml"}


def _receivers(n: int, bad: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    return [
        receiver(
            f"c{i:05d}",
            "mail",
            webhook=[],
            email=[
                {
                    "to": [f"ops@c{i}.example"],
                    "subjectTemplate": BAD if i in bad else "[{{ .Status }}] c" + str(i),
                    "textTemplate": "{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}",
                }
            ],
        )
        for i in range(n)
    ]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    return in_process(capsys)


def _no_e2big(text: str) -> None:
    assert "Argument list too long" not in text and "Debian package" not in text, text


def test_validate_many_templated_receivers_names_only_the_bad_ones(
    cli: Run, tmp_path: Path
) -> None:
    f = write(tmp_path / "m.yaml", *_receivers(MANY, bad=frozenset({7, MANY - 1})))
    code, out, err = cli("validate", "-f", f)
    _no_e2big(out + err)
    assert code == 1
    out = unplaced(out)  # the positions are tests/unit/validate/test_positions.py's
    assert [line.split(": spec")[0] for line in out.splitlines()] == [
        "CustomerReceiver c00007/c00007-mail",
        f"CustomerReceiver c{MANY - 1:05d}/c{MANY - 1:05d}-mail",
    ]
    assert all(
        "spec.email[0].subjectTemplate: invalid template: at 1:" in line
        for line in out.splitlines()
    )
    assert all(NOPE in line for line in out.splitlines())


def test_render_many_templated_receivers(cli: Run, tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", *_receivers(MANY))
    out_dir = tmp_path / "out"
    platform = str(EXAMPLES / "platform.yaml")
    code, out, err = cli("render", "-f", f, "--out", str(out_dir), "--platform-config", platform)
    _no_e2big(out + err)
    assert code == 0, err
    am = yaml.safe_load((out_dir / "alertmanager.yml").read_text())
    names = {r["name"] for r in am["receivers"]}
    assert {f"c{i:05d}/mail" for i in range(MANY)} <= names


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, wait_timeout_s=60) as env:
        yield env


def test_import_and_reconcile_many_templated_receivers(api: ApiEnv) -> None:
    docs = _receivers(MANY, bad=frozenset({MANY // 2}))
    headers = {**ADMIN, **YAML}
    r = api.client.post("/import", content=yaml.safe_dump_all(docs), headers=headers)
    _no_e2big(r.text)
    assert r.status_code == 200, r.text[:2000]
    bad = f"CustomerReceiver c{MANY // 2:05d}/c{MANY // 2:05d}-mail: "
    problems = [unplaced(p["text"]) for p in r.json()["problems"]]
    assert all(p["where"].startswith("body:") for p in r.json()["problems"])
    assert problems and all(p.startswith(bad) and NOPE in p for p in problems), problems

    def rendered() -> bool:  # the reconciler checked and wrote every one of them
        am = yaml.safe_load((api.out / "alertmanager.yml").read_text())
        mail = [r for r in am["receivers"] if r["name"].endswith("/mail")]
        assert len(mail) == MANY - 1  # all but the bad one
        return True

    eventually(rendered, timeout=300)


# -- many files: the argument list itself, under a system limit lowered for the test ---------

_CHILD = """
import json, sys
from alertplane.validate import rulecheck, blame
kind, n = sys.argv[1], int(sys.argv[2])
name = "c" * 58
if kind == "rules":
    rule = "groups:\\n- name: g\\n  rules:\\n  - alert: A\\n    expr: vector(1)\\n"
    files = {f"{name}{i:05d}.yml": rule for i in range(n)}
    files[f"{name}00003.yml"] = "groups:\\n- name: g\\n  rules:\\n  - alert: A\\n    expr: (\\n"
    verdicts = rulecheck.check_rule_texts(files)
else:
    cfg = "route: {receiver: r}\\nreceivers: [{name: r}]\\n"
    files = {f"{name}{i:05d}.yml": cfg for i in range(n)}
    files[f"{name}00003.yml"] = "route: {receiver: nobody}\\nreceivers: [{name: r}]\\n"
    verdicts = blame.check_configs(files)
print(json.dumps(sorted(k for k, v in verdicts.items() if v)))
"""


def _limited_stack() -> None:
    # ARG_MAX is a quarter of the stack limit: 1 MiB of stack leaves 256 KiB for exec.
    resource.setrlimit(resource.RLIMIT_STACK, (1024 * 1024, 1024 * 1024))


@pytest.mark.parametrize("kind", ["rules", "configs"])
def test_many_files_fit_the_argument_list_of_a_small_system(kind: str) -> None:
    n = 12_000  # names of 67 bytes: 800 KB of arguments, 400 KB per core on 2, over 256 KiB
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(n)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_limited_stack,
        timeout=600,
        check=False,
    )
    _no_e2big(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [f"{'c' * 58}00003.yml"]


def test_exec_refusing_the_arguments_is_not_a_missing_tool() -> None:
    with pytest.raises(ToolError) as caught:
        tools.run("amtool", ["template", "render", "--template.text=" + "x" * tools.ARG_STRLEN])
    message = str(caught.value)
    assert "arguments are too long for this system" in message
    assert "Debian package" not in message and "ALERTPLANE_AMTOOL" not in message
    assert "alertplane's batching" in message

"""`alertplane apply|get|history|rollback|delete`: kubectl-like output, audit, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from alertplane.cli import main
from tests.support.factories import alert, receiver
from tests.support.paths import EXAMPLES

Run = tuple[int, str, str]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    platform = tmp_path / "platform.yaml"
    platform.write_text(yaml.safe_dump({"secretsDir": str(tmp_path / "secrets")}))
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*argv: str) -> Run:
        command, *rest = argv
        extra = ["--db", db, "--platform-config", str(platform)]
        if command in {"apply", "delete", "rollback"}:
            extra += ["--actor", "alice"]
        code = main([command, *extra, *rest])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def write(tmp_path: Path, name: str, *docs: dict[str, object]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def test_apply_prints_kubectl_like_lines(cli, tmp_path: Path) -> None:
    f = write(tmp_path, "a.yaml", alert(), receiver())
    assert cli("apply", "-f", f) == (
        0,
        "customeralert/acme-higherrorrate created\ncustomerreceiver/acme-oncall created\n",
        "",
    )
    code, out, _ = cli("apply", "-f", f)
    assert (code, out) == (
        0,
        "customeralert/acme-higherrorrate unchanged\ncustomerreceiver/acme-oncall unchanged\n",
    )
    f2 = write(tmp_path, "b.yaml", alert(severity="warning"))
    assert cli("apply", "-f", f2)[1] == "customeralert/acme-higherrorrate configured\n"


def test_apply_refuses_schema_and_semantic_errors_like_validate(cli, tmp_path: Path) -> None:
    # One admission policy (core.admit): what `validate` refuses, apply refuses too.
    bad = alert(name="Broken", severity="fatal")
    leaky = alert(name="Leaky", expr="up > 0")
    fine = alert(name="Fine")
    code, out, err = cli("apply", "-f", write(tmp_path, "x.yaml", bad, leaky, fine))
    assert code == 1
    assert out == "customeralert/acme-fine created\n"
    assert "CustomerAlert acme/acme-broken: spec.severity:" in err
    assert (
        'CustomerAlert acme/acme-leaky: spec.expr: selector up{} has no customer_id="acme"' in err
    )
    assert "warning:" not in err


def test_get_table_yaml_and_json(cli, tmp_path: Path) -> None:
    cli("apply", "-f", str(EXAMPLES / "customers"))
    code, out, _ = cli("get", "alerts", "-c", "acme")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == (
        [
            "NAMESPACE",
            "NAME",
            "CUSTOMER",
            "ALERT",
            "SEVERITY",
            "ENABLED",
            "GEN",
            "PHASE",
            "AGE",
            "MESSAGE",
        ]
    )
    assert len(lines) == 1 + 4 and all(line.split()[2] == "acme" for line in lines[1:])
    assert all(line.split()[7] == "Pending" for line in lines[1:])  # nothing synced yet
    listed = yaml.safe_load(cli("get", "receivers", "-o", "yaml")[1])
    assert listed["kind"] == "List"
    names = {i["metadata"]["name"] for i in listed["items"]}
    assert {"acme-oncall", "globex-catch-all", "initech-webhook"} <= names
    as_json = json.loads(cli("get", "alerts", "-c", "globex", "-o", "json")[1])
    assert {i["spec"]["customerId"] for i in as_json["items"]} == {"globex"}


def test_history_shows_diffs_and_rollback_is_a_new_change(cli, tmp_path: Path) -> None:
    cli("apply", "-f", write(tmp_path, "1.yaml", alert()))
    cli("apply", "-f", write(tmp_path, "2.yaml", alert(severity="warning")))
    cli("apply", "-f", write(tmp_path, "3.yaml", alert(severity="warning", enabled=False)))
    code, out, _ = cli("history", "acme-higherrorrate")
    assert code == 0
    heads = [line for line in out.splitlines() if not line.startswith("    ")]
    assert [h.split()[2] for h in heads] == ["create", "update", "disable"]  # oldest first
    assert all("by alice (cli)" in h for h in heads)
    assert "    -severity: critical\n    +severity: warning" in out
    code, out, _ = cli("rollback", "alert", "acme-higherrorrate", "--to", "1")
    assert code == 0 and "acme-higherrorrate" in out
    spec = yaml.safe_load(cli("get", "alerts", "-o", "yaml")[1])["items"][0]["spec"]
    assert (spec["severity"], spec["enabled"]) == ("critical", True)
    heads = [ln for ln in cli("history")[1].splitlines() if not ln.startswith("    ")]
    assert heads[-1].split()[2] == "rollback" and "generation 4" in heads[-1]


def test_delete_by_name_and_by_file(cli, tmp_path: Path) -> None:
    f = write(tmp_path, "a.yaml", alert(), receiver())
    cli("apply", "-f", f)
    assert cli("delete", "alert", "acme-higherrorrate") == (
        0,
        "customeralert/acme-higherrorrate deleted\n",
        "",
    )
    # Like kubectl: what exists is deleted, what is already gone is named, exit 1.
    assert cli("delete", "-f", f) == (
        1,
        "customerreceiver/acme-oncall deleted\n",
        "customeralert/acme-higherrorrate not found\n",
    )
    assert yaml.safe_load(cli("get", "receivers", "-o", "yaml")[1])["items"] == []
    actions = [ln.split()[2] for ln in cli("history")[1].splitlines() if ln[:1].isdigit()]
    assert actions.count("delete") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("get", "pods"),
            "error: unknown kind 'pods'; use alerts, receivers, recordingrules or slos",
        ),
        (("delete",), "error: nothing to delete; give -f PATH or KIND NAME"),
        (
            ("rollback", "alert", "nope", "--to", "1"),
            "error: CustomerAlert */nope not found; list objects with 'alertplane get'",
        ),
    ],
)
def test_usage_errors_exit_2_without_traceback(
    cli, tmp_path: Path, argv: tuple[str, ...], message: str
) -> None:
    cli("apply", "-f", write(tmp_path, "a.yaml", alert()))  # the database exists
    code, _, err = cli(*argv)
    assert code == 2
    assert err.strip().splitlines()[-1] == message
    assert "Traceback" not in err


def test_rollback_to_unknown_version_is_a_clear_error(cli, tmp_path: Path) -> None:
    cli("apply", "-f", write(tmp_path, "a.yaml", alert()))
    code, _, err = cli("rollback", "alert", "acme-higherrorrate", "--to", "9")
    assert code in (2, 3) and "Traceback" not in err
    assert "9" in err


def test_serve_refuses_alertmanager_url_with_replicas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = tmp_path / "platform.yaml"
    replicas = [{"name": "am-0", "url": "http://am-0:9093"}]
    platform.write_text(yaml.safe_dump({"alertmanager": {"replicas": replicas}}))
    argv = ["serve", "--platform-config", str(platform), "--alertmanager-url", "http://am:9093"]
    assert main(argv) == 2  # before anything listens or starts
    err = capsys.readouterr().err
    assert "--alertmanager-url http://am:9093: the platform config names Alertmanager" in err
    assert "give each replica's url in alertmanager.replicas" in err


def test_recording_rules_apply_get_and_delete(cli, tmp_path: Path) -> None:
    from tests.support.factories import recording_rule

    f = write(tmp_path, "r.yaml", recording_rule(labels={"team": "web"}))
    assert cli("apply", "-f", f)[:2] == (
        0,
        "customerrecordingrule/acme-job-errors-rate5m created\n",
    )
    for kind in ("recordingrules", "records", "crr", "customerrecordingrules"):
        code, out, _ = cli("get", kind)
        header, row = out.splitlines()
        assert header.split()[:6] == [
            "NAMESPACE",
            "NAME",
            "CUSTOMER",
            "RECORDING_RULE",
            "SEVERITY",
            "ENABLED",
        ]
        assert row.split()[:6] == [
            "acme",
            "acme-job-errors-rate5m",
            "acme",
            "job:errors:rate5m",
            "-",
            "true",
        ]
    bad = recording_rule(record="job:bad", labels={"customer_id": "acme"})
    code, out, err = cli("apply", "-f", write(tmp_path, "b.yaml", bad))
    assert (code, out) == (1, "")
    assert err.startswith(
        f"{tmp_path / 'b.yaml'}:11:5: CustomerRecordingRule acme/acme-job-bad: "
        "spec.labels.customer_id: label 'customer_id' is set by alertplane"
    )
    assert cli("delete", "recordingrule", "acme-job-errors-rate5m", "-n", "acme")[0] == 0
    assert cli("get", "recordingrules")[1].splitlines()[1:] == []

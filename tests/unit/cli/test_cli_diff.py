"""`alertplane diff -f PATH` against the store: per object and rendered-file diffs, exit
codes like kubectl diff, another customer never shown, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alertplane.cli import main
from tests.support.factories import alert, receiver

Run = tuple[int, str, str]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    platform = tmp_path / "platform.yaml"
    platform.write_text(yaml.safe_dump({"secretsDir": str(tmp_path / "secrets")}))
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*argv: str) -> Run:
        command, *rest = argv
        extra = ["--db", db, "--platform-config", str(platform)]
        code = main([command, *extra, *rest])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


def write(tmp_path: Path, name: str, *docs: dict[str, object]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def test_nothing_changes_exit_0(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", alert(), receiver())
    assert cli("apply", "-f", path)[0] == 0
    code, out, err = cli("diff", "-f", path, "--no-tools")
    assert (code, out) == (0, "")
    assert err == (
        "0 added, 0 changed, 2 unchanged, 0 deleted; 0 rendered file(s) changed; "
        "0 refused, 0 would be Invalid\n"
    )


def test_a_change_is_shown_per_object_and_in_the_rule_file_exit_1(cli, tmp_path: Path) -> None:
    assert cli("apply", "-f", write(tmp_path, "a.yaml", alert(), receiver()))[0] == 0
    changed = write(tmp_path, "b.yaml", alert(**{"for": "10m"}), receiver())
    code, out, err = cli("diff", "-f", changed, "--no-tools")
    assert code == 1
    assert out.startswith(
        "# CustomerAlert/acme/acme-higherrorrate: changed\n"
        "--- CustomerAlert/acme/acme-higherrorrate (now)\n"
        "+++ CustomerAlert/acme/acme-higherrorrate (after apply)\n"
    )
    assert "+  for: 10m\n" in out
    assert "# rendered rules/acme.yml: changed\n--- rules/acme.yml\n+++ rules/acme.yml\n" in out
    assert "+    for: 10m\n" in out
    assert "alertmanager.yml" not in out  # the receivers did not change
    assert err.endswith("0 added, 1 changed, 1 unchanged, 0 deleted; 1 rendered file(s) "
                        "changed; 0 refused, 0 would be Invalid\n")  # fmt: skip


def test_added_object_and_the_new_rule_file(cli, tmp_path: Path) -> None:
    assert cli("apply", "-f", write(tmp_path, "g.yaml", alert("globex")))[0] == 0
    code, out, _ = cli("diff", "-f", write(tmp_path, "a.yaml", alert()), "--no-tools")
    assert code == 1
    assert "# CustomerAlert/acme/acme-higherrorrate: added\n" in out
    assert "# rendered rules/acme.yml: added\n" in out
    # The customer's first object gives it its subtree in alertmanager.yml.
    assert '+    - customer_id="acme"\n' in out


def test_a_route_change_shows_in_alertmanager_yml(cli, tmp_path: Path) -> None:
    assert cli("apply", "-f", write(tmp_path, "a.yaml", receiver()))[0] == 0
    routed = receiver(route={"match": {"severity": ["critical"]}})
    code, out, _ = cli("diff", "-f", write(tmp_path, "b.yaml", routed), "--no-tools")
    assert code == 1
    assert "# rendered alertmanager.yml: changed\n" in out
    assert '+      - severity="critical"\n' in out


def test_prune_lists_what_the_documents_lack_of_their_customers_only(cli, tmp_path: Path) -> None:
    docs = (alert(), alert(name="Other"), alert("globex"), receiver())
    assert cli("apply", "-f", write(tmp_path, "a.yaml", *docs))[0] == 0
    only = write(tmp_path, "b.yaml", alert(), receiver())
    assert cli("diff", "-f", only, "--no-tools")[0] == 0  # without --prune: nothing
    code, out, err = cli("diff", "-f", only, "--no-tools", "--prune")
    assert code == 1
    assert "# CustomerAlert/acme/acme-other: deleted\n" in out
    assert "globex" not in out  # another customer is neither pruned nor rendered
    assert "0 added, 0 changed, 2 unchanged, 1 deleted" in err


def test_the_rendered_diff_never_shows_another_customer(cli, tmp_path: Path) -> None:
    both = (alert(), receiver(), alert("globex"), receiver("globex"))
    assert cli("apply", "-f", write(tmp_path, "a.yaml", *both))[0] == 0
    routed = receiver(route={"match": {"severity": ["critical"]}})
    code, out, _ = cli("diff", "-f", write(tmp_path, "b.yaml", routed), "--no-tools")
    assert code == 1
    assert "# rendered alertmanager.yml: changed\n" in out
    assert "globex" not in out


def test_a_refused_document_exits_2_and_the_others_are_diffed(cli, tmp_path: Path) -> None:
    assert cli("apply", "-f", write(tmp_path, "g.yaml", alert("globex")))[0] == 0
    bad = alert(name="Leaky", expr="rate(errors_total[5m]) > 1")
    code, out, err = cli("diff", "-f", write(tmp_path, "a.yaml", alert(), bad), "--no-tools")
    assert code == 2
    assert "# CustomerAlert/acme/acme-higherrorrate: added\n" in out
    assert "acme-leaky" not in out
    assert (
        "refused: CustomerAlert acme/acme-leaky: spec.expr: selector errors_total{} has no "
        'customer_id="acme" matcher' in err
    )


def test_clear_secrets_are_never_shown_and_compare_as_stored(cli, tmp_path: Path) -> None:
    slack = receiver(slack=[{"apiURL": "https://hooks.slack.example/T0/SECRET-1", "channel": "#a"}])
    path = write(tmp_path, "a.yaml", slack)
    assert cli("apply", "-f", write(tmp_path, "g.yaml", alert("globex")))[0] == 0
    code, out, _ = cli("diff", "-f", path, "--no-tools")
    assert code == 1
    assert "SECRET-1" not in out
    assert cli("apply", "-f", path)[0] == 0
    assert cli("diff", "-f", path, "--no-tools")[:2] == (0, "")  # stored as a reference


def test_no_database_is_a_usage_error(cli, tmp_path: Path) -> None:
    code, out, err = cli("diff", "-f", write(tmp_path, "a.yaml", alert()), "--no-tools")
    assert (code, out) == (2, "")
    assert err.startswith("error: no database at ")


def test_documents_that_are_no_objects_are_refused_not_a_crash(cli, tmp_path: Path) -> None:
    assert cli("apply", "-f", write(tmp_path, "g.yaml", alert("globex")))[0] == 0
    path = tmp_path / "odd.yaml"
    path.write_text("- a list\n- not an object\n---\n42\n")
    code, out, err = cli("diff", "-f", str(path), "--no-tools")
    assert (code, out) == (2, "")
    assert "0 added, 0 changed, 0 unchanged, 0 deleted" in err

"""`alertplane render` into a directory Prometheus and Alertmanager read: one bad edit
must not take a customer's live alerts or notifications down.

A customer with an invalid alert keeps its previous rule file as it was (DESIGN: its last
good output), said so on stderr, and the exit code is still 1; with no previous file, its
valid alerts are written. Only customers the input holds no alerts for
lose their file; when some input cannot be read, no file is removed at all.

Likewise a customer with an invalid receiver keeps its part of alertmanager.yml (its route
subtree and receivers) from the previous file; the other customers' parts are rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.cli import main
from alertplane.validate.tools import routes_test
from tests.support.cli import Run, write
from tests.support.factories import DROP, alert, receiver

KEPT = "kept as it was: {}; fix the problems above"
KEPT_ACME = KEPT.format("customer acme has invalid alerts")
KEPT_UNREAD = KEPT.format("some input could not be read or names no customer")
AM_KEPT = "alertmanager.yml: acme's part kept as it was: {}; fix the problems above"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _render(cli: Run, tmp_path: Path, *docs: Any, broken: str = "") -> tuple[int, str, str]:
    files = [write(tmp_path / "m.yaml", *docs)]
    if broken:
        (tmp_path / "broken.yaml").write_text(broken)
        files.append(str(tmp_path / "broken.yaml"))
    args = [a for f in files for a in ("-f", f)]
    return cli("render", *args, "--out", str(tmp_path / "out"))


@pytest.fixture
def live(cli: Run, tmp_path: Path) -> dict[str, str]:
    """A first render: acme and globex each have a live rule file."""
    assert _render(cli, tmp_path, alert("acme"), alert("globex"), receiver("acme"))[0] == 0
    rules = tmp_path / "out" / "rules"
    return {p.name: p.read_text() for p in sorted(rules.iterdir())}


BAD_ACME: dict[str, dict[str, Any]] = {
    "isolation": alert("acme", expr="up > 0"),
    "schema": alert("acme", severity="fatal"),
    "snake_case customer id": alert("acme", customerId=DROP, customer_id="acme"),
    "no customer id: its namespace": alert("acme", customerId=DROP),
}


@pytest.mark.parametrize("bad", BAD_ACME.values(), ids=BAD_ACME.keys())
def test_a_customer_whose_alerts_are_all_invalid_keeps_its_rule_file(
    cli: Run, tmp_path: Path, live: dict[str, str], bad: dict[str, Any]
) -> None:
    docs = (bad, alert("globex", severity="warning"), receiver("acme"))
    code, out, err = _render(cli, tmp_path, *docs)
    out_dir = tmp_path / "out"
    assert code == 1
    assert err.splitlines()[-1] == f"{out_dir}/rules/acme.yml: {KEPT_ACME}"
    assert out == (
        f"{out_dir}: 1 written, 1 unchanged, 0 removed, 1 kept; 2 valid, 1 invalid, 1 problem(s)\n"
    )
    assert (out_dir / "rules" / "acme.yml").read_text() == live["acme.yml"]
    assert "severity: warning" in (out_dir / "rules" / "globex.yml").read_text()


def test_a_customer_without_objects_loses_its_rule_file(
    cli: Run, tmp_path: Path, live: dict[str, str]
) -> None:
    code, out, err = _render(cli, tmp_path, alert("globex"))
    assert (code, err) == (0, "")
    assert out.startswith(f"{tmp_path / 'out'}: 1 written, 1 unchanged, 1 removed, 0 kept;")
    assert not (tmp_path / "out" / "rules" / "acme.yml").exists()


def test_a_customer_whose_alerts_are_all_disabled_loses_its_rule_file(
    cli: Run, tmp_path: Path, live: dict[str, str]
) -> None:
    code, out, _ = _render(cli, tmp_path, alert("acme", enabled=False), alert("globex"))
    assert code == 0 and ", 1 removed, 0 kept;" in out
    assert not (tmp_path / "out" / "rules" / "acme.yml").exists()


def test_an_invalid_receiver_does_not_hold_a_deleted_customers_rules(
    cli: Run, tmp_path: Path, live: dict[str, str]
) -> None:
    code, out, _ = _render(cli, tmp_path, receiver("acme", webhook=[]), alert("globex"))
    assert code == 1 and ", 1 removed, 0 kept;" in out


def test_unreadable_input_removes_nothing(cli: Run, tmp_path: Path, live: dict[str, str]) -> None:
    # acme's objects may be in the broken file: no customer can be called gone.
    code, out, err = _render(
        cli, tmp_path, alert("globex"), broken="kind: CustomerAlert\nspec: [\n"
    )
    out_dir = tmp_path / "out"
    assert code == 1
    assert err.splitlines()[-2:] == [
        f"{out_dir}/rules/acme.yml: {KEPT_UNREAD}",
        # acme's receiver may be in the broken file too: it does not go silent either.
        f"{out_dir}/" + AM_KEPT.format("some input could not be read or names no customer"),
    ]
    assert ", 0 removed, 1 kept;" in out
    assert (out_dir / "rules" / "acme.yml").read_text() == live["acme.yml"]


def test_an_invalid_document_naming_no_customer_removes_nothing(
    cli: Run, tmp_path: Path, live: dict[str, str]
) -> None:
    anonymous = {**alert("acme", customerId=DROP), "metadata": {"name": "x"}}
    code, out, err = _render(cli, tmp_path, anonymous, alert("globex"))
    assert code == 1
    assert err.splitlines()[-1] == f"{tmp_path / 'out'}/rules/acme.yml: {KEPT_UNREAD}"
    assert ", 0 removed, 1 kept;" in out


def test_one_invalid_alert_keeps_the_whole_previous_file(
    cli: Run, tmp_path: Path, live: dict[str, str]
) -> None:
    # acme's good alert changed too: nothing of acme moves until the bad one is fixed.
    docs = (
        alert("acme", severity="warning"),
        alert("acme", name="Bad", expr="up > 0"),
        alert("globex"),
    )
    code, out, err = _render(cli, tmp_path, *docs)
    out_dir = tmp_path / "out"
    assert code == 1
    assert err.splitlines()[-1] == f"{out_dir}/rules/acme.yml: {KEPT_ACME}"
    assert ", 0 removed, 1 kept;" in out
    assert (out_dir / "rules" / "acme.yml").read_text() == live["acme.yml"]


def test_without_a_previous_file_the_valid_alerts_are_written(cli: Run, tmp_path: Path) -> None:
    docs = (alert("acme"), alert("acme", name="Bad", expr="up > 0"))
    code, out, _ = _render(cli, tmp_path, *docs)
    assert code == 1 and ", 0 kept;" in out
    assert "alert: HighErrorRate" in (tmp_path / "out" / "rules" / "acme.yml").read_text()


# --- alertmanager.yml


def _part(out_dir: Path, cid: str) -> tuple[list[Any], list[Any]]:
    data = yaml.safe_load((out_dir / "alertmanager.yml").read_text())
    routes = [r for r in data["route"]["routes"] if r["matchers"] == [f'customer_id="{cid}"']]
    receivers = [r for r in data["receivers"] if r["name"].startswith(f"{cid}/")]
    return routes, receivers


def _routed(out_dir: Path, cid: str) -> list[str]:
    return routes_test(out_dir / "alertmanager.yml", {"customer_id": cid, "severity": "critical"})


GLOBEX_MOVED = receiver("globex", webhook=[{"url": "http://127.0.0.1:9097/moved"}])


@pytest.fixture
def live_am(cli: Run, tmp_path: Path) -> Path:
    """A first render: acme and globex each notify their `oncall` receiver."""
    docs = (alert("acme"), alert("globex"), receiver("acme"), receiver("globex"))
    assert _render(cli, tmp_path, *docs)[0] == 0
    out_dir = tmp_path / "out"
    assert _routed(out_dir, "acme") == ["acme/oncall"]
    return out_dir


def test_an_invalid_receiver_keeps_the_customers_alertmanager_part(
    cli: Run, tmp_path: Path, live_am: Path
) -> None:
    before = _part(live_am, "acme")
    # acme's oncall breaks while a new valid `pager` appears; globex's receiver moves.
    docs = (
        alert("acme"),
        alert("globex"),
        receiver("acme", webhook=[]),
        receiver("acme", "pager"),
        GLOBEX_MOVED,
    )
    code, out, err = _render(cli, tmp_path, *docs)
    assert code == 1
    assert err.splitlines()[-1] == f"{live_am}/" + AM_KEPT.format(
        "customer acme has invalid receivers"
    )
    assert out == (
        f"{live_am}: 1 written, 2 unchanged, 0 removed, 0 kept; 4 valid, 1 invalid, 1 problem(s)\n"
    )
    assert _part(live_am, "acme") == before
    assert _part(live_am, "globex")[1][0]["webhook_configs"][0]["url"].endswith("/moved")
    # Alertmanager itself still sends acme's alerts where they went before the bad edit.
    assert _routed(live_am, "acme") == ["acme/oncall"]
    assert _routed(live_am, "globex") == ["globex/oncall"]
    # Fixed: acme's new part lands.
    docs = (alert("acme"), alert("globex"), receiver("acme", "pager"), GLOBEX_MOVED)
    assert _render(cli, tmp_path, *docs)[:2] == (
        0,
        f"{live_am}: 1 written, 2 unchanged, 0 removed, 0 kept; 4 valid, 0 invalid, 0 problem(s)\n",
    )
    assert _routed(live_am, "acme") == ["acme/pager"]


def test_a_customer_whose_receivers_are_all_invalid_still_notifies(
    cli: Run, tmp_path: Path, live_am: Path
) -> None:
    before = _part(live_am, "acme")
    code, _, err = _render(cli, tmp_path, receiver("acme", webhook=[]), alert("globex"))
    assert code == 1
    assert err.splitlines()[-1] == f"{live_am}/" + AM_KEPT.format(
        "customer acme has invalid receivers"
    )
    assert _part(live_am, "acme") == before
    assert _routed(live_am, "acme") == ["acme/oncall"]


def test_without_a_previous_file_the_valid_receivers_are_written(cli: Run, tmp_path: Path) -> None:
    docs = (receiver("acme", webhook=[]), receiver("acme", "pager"))
    code, _, err = _render(cli, tmp_path, *docs)
    assert code == 1 and "part kept" not in err
    assert _routed(tmp_path / "out", "acme") == ["acme/pager"]


@pytest.mark.parametrize(
    ("previous", "why"),
    [
        ("route:\n  receiver: mine\nreceivers:\n- name: mine\n", "it is not alertplane's"),
        (
            "# Generated by alertplane; do not edit: changes are overwritten on the next sync.\n"
            "route: [\n",
            "it cannot be parsed (line 3)",
        ),
    ],
    ids=["foreign", "unparseable"],
)
def test_an_unusable_previous_file_keeps_nothing_and_says_so(
    cli: Run, tmp_path: Path, previous: str, why: str
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "alertmanager.yml").write_text(previous)
    code, _, err = _render(cli, tmp_path, receiver("acme", webhook=[]), receiver("acme", "pager"))
    assert code == 1
    line = err.splitlines()[-1]
    assert line.startswith(
        f"{tmp_path}/out/alertmanager.yml: nothing kept from the previous file: "
    )
    assert why in line and line.endswith("; valid receivers are written as rendered")
    assert _routed(tmp_path / "out", "acme") == ["acme/pager"]

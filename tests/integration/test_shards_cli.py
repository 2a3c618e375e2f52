"""`alertplane shards`: the placement the sinks use, what a new list moves, the export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alertplane.render.placement import moves, placement
from alertplane.render.platform import PrometheusSettings
from alertplane.stack.processes import find_binary
from tests.support.cli import Run, in_process, write
from tests.support.factories import alert

CUSTOMERS = [f"cust-{i:02d}" for i in range(40)]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    return in_process(capsys)


def _config(path: Path, names: str, **extra: object) -> str:
    shards = [{"name": n, "url": f"http://{n}.example:9090"} for n in names]
    path.write_text(yaml.safe_dump({"prometheus": {"shards": shards, **extra}}))
    return str(path)


@pytest.fixture
def db(tmp_path: Path, cli: Run) -> str:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    manifests = write(tmp_path / "m.yaml", *(alert(c) for c in CUSTOMERS))
    assert cli("apply", "-f", manifests, "--db", url)[0] == 0
    return url


def test_placement_counts_and_moves_are_the_sinks(tmp_path: Path, cli: Run, db: str) -> None:
    four = _config(tmp_path / "four.yaml", "abcd", pins={"cust-00": "a"})
    five = _config(tmp_path / "five.yaml", "abcde", pins={"cust-00": "a"})
    code, out, err = cli(
        "shards", "--db", db, "--platform-config", four, "--to", five, "-o", "json"
    )
    assert (code, err) == (0, "")
    report = json.loads(out)
    before = PrometheusSettings.model_validate(yaml.safe_load(Path(four).read_text())["prometheus"])
    after = PrometheusSettings.model_validate(yaml.safe_load(Path(five).read_text())["prometheus"])
    assert report["placement"] == placement(CUSTOMERS, before)
    assert report["placement"]["cust-00"] == "a"
    assert sum(s["customers"] for s in report["shards"]) == len(CUSTOMERS)
    expected = [
        {"customerId": m.customer_id, "from": m.source, "to": m.target}
        for m in moves(CUSTOMERS, before, after)
    ]
    assert report["to"]["moves"] == expected
    assert expected and all(m["to"] == "e" for m in expected)  # only to the new shard
    code, text, _ = cli("shards", "--db", db, "--platform-config", four, "--to", five)
    assert code == 0
    assert f"the new list moves {len(expected)} of 40 customer(s)" in text


def test_export_splits_targets_and_keeps_each_shards_customers(
    tmp_path: Path, cli: Run, db: str
) -> None:
    groups = [
        {"targets": [f"h{i}:9100"], "labels": {"customer_id": c}} for i, c in enumerate(CUSTOMERS)
    ]
    groups.append({"targets": ["shared:9100"]})  # no customer_id: on no shard's list
    groups.append({"targets": ["n:1"], "labels": {"customer_id": "newcomer"}})  # no rules yet
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps(groups))
    config = _config(tmp_path / "p.yaml", "abc")
    out = tmp_path / "export"
    code, _, err = cli(
        "shards",
        "--db",
        db,
        "--platform-config",
        config,
        "--export",
        str(out),
        "--targets",
        str(targets),
    )
    assert (code, err) == (0, "")
    settings = PrometheusSettings.model_validate(
        yaml.safe_load(Path(config).read_text())["prometheus"]
    )
    where = placement([*CUSTOMERS, "newcomer"], settings)
    for shard in "abc":
        listed = json.loads((out / shard / "targets.json").read_text())
        mine = {c for c, at in where.items() if at == shard}
        assert {g["labels"]["customer_id"] for g in listed} == mine
        (rule,) = yaml.safe_load((out / shard / "relabel.yml").read_text())
        assert rule["action"] == "keep" and rule["source_labels"] == ["customer_id"]
        assert set(rule["regex"].split("|")) == mine


def test_without_shards_or_config_it_says_what_to_do(tmp_path: Path, cli: Run, db: str) -> None:
    code, _, err = cli("shards", "--db", db)
    assert code == 2 and "--platform-config" in err
    empty = tmp_path / "p.yaml"
    empty.write_text("prometheus: {}\n")
    code, _, err = cli("shards", "--db", db, "--platform-config", str(empty))
    assert code == 2 and "prometheus.shards is empty" in err


def test_the_export_is_configuration_prometheus_accepts(tmp_path: Path, cli: Run, db: str) -> None:
    """promtool checks a shard's scrape config built from the export: the file_sd list, the
    keep rule as relabel_configs, metric_relabel_configs and remote write's
    write_relabel_configs (an empty shard's rule too)."""
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps([{"targets": ["h:1"], "labels": {"customer_id": "cust-01"}}]))
    config = _config(tmp_path / "p.yaml", "abcdefgh")  # some shards hold nobody
    out = tmp_path / "export"
    assert (
        cli(
            "shards",
            "--db",
            db,
            "--platform-config",
            config,
            "--export",
            str(out),
            "--targets",
            str(targets),
        )[0]
        == 0
    )
    for shard in "abcdefgh":
        keep = yaml.safe_load((out / shard / "relabel.yml").read_text())
        prom = {
            "scrape_configs": [
                {
                    "job_name": "customers",
                    "file_sd_configs": [{"files": [str(out / shard / "targets.json")]}],
                    "relabel_configs": keep,
                    "metric_relabel_configs": keep,
                }
            ],
            "remote_write": [
                {"url": "http://shard.example/api/v1/write", "write_relabel_configs": keep}
            ],
        }
        path = tmp_path / f"prometheus-{shard}.yml"
        path.write_text(yaml.safe_dump(prom))
        done = subprocess.run(
            [find_binary("promtool"), "check", "config", "--syntax-only", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_placement_is_the_same_in_every_process(tmp_path: Path, db: str) -> None:
    """Separate processes with different string-hash seeds (Python's `hash` is salted per
    process; the placement must not be) place every customer alike."""
    config = _config(tmp_path / "p.yaml", "abcd")
    seen = []
    argv = ["shards", "--db", db, "--platform-config", config, "-o", "json"]
    for seed in ("1", "2", "random"):
        done = subprocess.run(
            [sys.executable, "-m", "alertplane.cli", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert done.returncode == 0, done.stderr
        seen.append(json.loads(done.stdout)["placement"])
    assert seen[0] == seen[1] == seen[2]
    assert len(seen[0]) == len(CUSTOMERS)


def test_a_pin_naming_no_customer_is_pointed_out(tmp_path: Path, cli: Run, db: str) -> None:
    """A typo in a pin (`cust-0` for `cust-00`) pins nobody: the customer meant moves with
    the others. The report says which pins name no customer, in text and JSON."""
    config = _config(tmp_path / "p.yaml", "ab", pins={"cust-0": "a", "cust-01": "b"})
    code, text, _ = cli("shards", "--db", db, "--platform-config", config)
    assert code == 0
    assert "pinned: cust-0 → a (no such customer)" in text, text
    assert "pinned: cust-01 → b\n" in text, text
    code, out, _ = cli("shards", "--db", db, "--platform-config", config, "-o", "json")
    assert json.loads(out)["unknownPins"] == ["cust-0"]

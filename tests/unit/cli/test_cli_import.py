"""`alertplane import`: manifests on stdout or one file per customer and group, each refusal
on stderr with the rule and the reason, exit 1 when any was refused, 2 on usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alertplane.cli import main

RULES = {
    "groups": [
        {"name": "Node Rules", "rules": [{"alert": "Down", "expr": "up == 0"}]},
        {
            "name": "other",
            "rules": [
                {"alert": "Beat", "expr": "vector(1)"},
                {"alert": "Up", "expr": "up == 1", "labels": {"severity": "info"}},
            ],
        },
    ]
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["import", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_stdout_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "rules.yml"
    f.write_text(yaml.safe_dump(RULES))
    code, out, err = run(capsys, "-f", str(f), "--customer", "acme")
    assert code == 1
    docs = list(yaml.safe_load_all(out))
    assert [d["spec"]["expr"] for d in docs] == [
        'up{customer_id="acme"} == 0',
        'up{customer_id="acme"} == 1',
    ]
    assert err.splitlines() == [
        f"refused: {f}:1 (document 1) group 'other' rule 1 (Beat): expression selects no "
        "series, so it cannot be tied to this customer",
        "2 imported, 1 refused, 0 note(s)",
    ]


def test_out_writes_one_file_per_customer_and_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "rules.yml"
    f.write_text(yaml.safe_dump({"groups": RULES["groups"][:1]}))
    code, out, err = run(capsys, "-f", str(f), "--customer", "acme", "--out", str(tmp_path / "o"))
    assert (code, out) == (0, "")
    written = tmp_path / "o" / "acme" / "node-rules.yaml"
    assert f"{written}: 1 object(s)" in err
    assert yaml.safe_load(written.read_text())["metadata"]["name"] == "acme-down"
    # What was written is what `alertplane validate` accepts.
    assert main(["validate", "--no-tools", "-f", str(tmp_path / "o")]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--customer", "Acme"], "error: --customer 'Acme' is not a customer id"),
        (["--customer-label", "t", "--customer-map", "x"], "error: --customer-map 'x': expected"),
        (["--customer", "acme", "--severity-map", "P1"], "error: --severity-map 'P1': expected"),
    ],
)
def test_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    f = tmp_path / "rules.yml"
    f.write_text(yaml.safe_dump(RULES))
    code, out, err = run(capsys, "-f", str(f), *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message), err


def test_customer_or_label_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-f", "x.yml")
    assert code == 2 and "one of the arguments --customer --customer-label is required" in err

"""`alertplane render` evaluates a chunk of customers at a time (cli_render.py): the same
files and the same problems as all at once, with what must be checked together together.

Chunks of 3 documents (instead of 2,000) over an input with invalid alerts and receivers,
a customer with more documents than a chunk, duplicates within a customer and an object
named twice by two customers: every output file and every problem line equals the
one-chunk run's, and unreadable input still keeps every customer's previous files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alertplane import cli_render
from alertplane.cli import main
from tests.support.cli import write
from tests.support.factories import alert, receiver
from tests.support.paths import EXAMPLES

PLATFORM = str(EXAMPLES / "platform.yaml")


def _docs() -> list[dict[str, object]]:
    docs: list[dict[str, object]] = []
    for c in range(6):
        cid = f"cust{c}"
        docs += [alert(cid, f"A{i}") for i in range(4)]  # more than a chunk per customer
        docs.append(receiver(cid, "oncall"))
    docs.append(alert("cust1", "A2", severity="fatal"))  # cust1-a2 again, and invalid
    docs.append(alert("cust2", "Leak", expr="up > 0"))  # refused: no customer_id matcher
    mail = {"to": ["a@b.example"], "subjectTemplate": "{{ .Nope }}"}  # amtool refuses it
    docs.append(receiver("cust3", "mail", webhook=[], email=[mail]))
    twin = alert("cust5", "Twin")
    twin["metadata"] = {"name": "cust4-a0", "namespace": "cust4"}  # cust4's object's name
    docs.append(twin)
    return docs


def _render(tmp_path: Path, capsys: pytest.CaptureFixture[str], out: str) -> tuple[int, str]:
    f = write(tmp_path / "m.yaml", *_docs())
    code = main(["render", "-f", f, "--out", str(tmp_path / out), "--platform-config", PLATFORM])
    stdout, stderr = capsys.readouterr()
    assert "Traceback" not in stdout + stderr
    return code, stderr + stdout.replace(str(tmp_path / out), "OUT")


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_chunks_render_what_one_pass_renders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _render(tmp_path, capsys, "whole")
    monkeypatch.setattr(cli_render, "CHUNK", 3)
    assert len(cli_render.chunks(cli_render.Packed(cli_render.load_packed(
        [str(tmp_path / "m.yaml")])[0].items), 3)) > 3  # fmt: skip
    chunked = _render(tmp_path, capsys, "chunked")
    assert chunked[0] == whole[0] == 1
    assert sorted(chunked[1].splitlines()) == sorted(whole[1].splitlines())
    # The object cust5 names like cust4's: refused, though the customers differ.
    assert "CustomerAlert cust4/cust4-a0 is defined twice" in whole[1], whole[1]
    assert "30 valid, 4 invalid, 4 problem(s)" in whole[1]
    assert _files(tmp_path / "chunked") == _files(tmp_path / "whole")


def test_unreadable_input_keeps_every_customers_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_render, "CHUNK", 3)
    assert _render(tmp_path, capsys, "out")[0] == 1
    before = _files(tmp_path / "out")
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")
    code = main(["render", "-f", str(tmp_path / "m.yaml"), "-f", str(tmp_path / "broken.yaml"),
                 "--out", str(tmp_path / "out"), "--platform-config", PLATFORM])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "broken.yaml" in err
    assert _files(tmp_path / "out") == before

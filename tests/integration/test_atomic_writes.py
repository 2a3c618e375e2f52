"""A crash at any point of a write leaves the old file or the new one, never a partial one.

The "crash" is a real SIGKILL of a child process that is writing, at the moment between
staging (temp file written and fsynced) and the rename, and in the middle of staging.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from alertplane.errors import OutputRejected
from alertplane.render import Rendered
from alertplane.sinks.files import write_files, write_rendered

OLD = "# old\n"

CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from alertplane import atomic

    target = Path(sys.argv[1])
    where = sys.argv[2]
    def crash(*_a, **_k):
        os.kill(os.getpid(), 9)

    if where == "before-rename":
        atomic.commit = crash
    body = "x" * (4 << 20) if where == "mid-write" else ""
    atomic.write_atomic(target, "# new\\n" + body)
    """
)


@pytest.mark.parametrize("where", ["before-rename", "mid-write"])
def test_sigkill_during_write_leaves_the_old_file(tmp_path: Path, where: str) -> None:
    target = tmp_path / "rules" / "acme.yml"
    target.parent.mkdir()
    target.write_text(OLD)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(target), where])
    if where == "mid-write":
        # Kill while the 4 MiB temp file is being written or fsynced (or after: both ok).
        while proc.poll() is None and not list(target.parent.glob(".acme.yml.*.tmp")):
            pass
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL or where == "mid-write"
    text = target.read_text()
    assert text == OLD or (where == "mid-write" and text.startswith("# new\n") and len(text) > 4e6)
    # A leftover temp file has a dotted name Prometheus' `rules/*.yml` glob never matches.
    for leftover in target.parent.iterdir():
        assert leftover == target or (leftover.name.startswith(".") and leftover.suffix == ".tmp")


def test_rejected_output_writes_nothing_and_leaves_no_temp_files(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "acme.yml").write_text(OLD)
    bad_rules = "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: 'sum(('\n"
    with pytest.raises(OutputRejected):
        write_files(tmp_path, {"rules/acme.yml": bad_rules, "rules/globex.yml": bad_rules})
    assert (tmp_path / "rules" / "acme.yml").read_text() == OLD
    assert sorted(p.name for p in (tmp_path / "rules").iterdir()) == ["acme.yml"]


def test_rejected_alertmanager_config_keeps_every_file_old(tmp_path: Path) -> None:
    good_rules = "groups: []\n"
    (tmp_path / "alertmanager.yml").write_text(OLD)
    rendered = Rendered(rules={"rules/acme.yml": good_rules}, alertmanager="route: {receiver: x}\n")
    with pytest.raises(OutputRejected, match="amtool rejected"):
        write_rendered(tmp_path, rendered)
    assert (tmp_path / "alertmanager.yml").read_text() == OLD
    assert not (tmp_path / "rules" / "acme.yml").exists()  # all or nothing
    assert [p.name for p in tmp_path.rglob("*.tmp")] == []

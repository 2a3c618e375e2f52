"""`alertplane diff` with the tools (the default): what only promtool/amtool find is
reported as "would be Invalid" with the tool's message, the object still counts as a
change (apply stores it), and its rule stays out of the rendered "after"."""

from __future__ import annotations

from pathlib import Path

import yaml

from alertplane.cli import main
from tests.support.factories import alert


def test_what_only_the_tools_find(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    first = tmp_path / "a.yaml"
    first.write_text(yaml.safe_dump(alert()))
    assert main(["apply", "--db", db, "-f", str(first)]) == 0
    bad = alert(name="Broken", annotations={"summary": "{{ $labels.x | nosuchfunc }}"})
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump_all([alert(), bad]))
    capsys.readouterr()
    code = main(["diff", "--db", db, "-f", str(path)])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "# CustomerAlert/acme/acme-broken: added\n" in out
    assert "rules/acme.yml" not in out  # Invalid: its rule is not rendered
    assert err.splitlines() == [
        "would be Invalid: CustomerAlert acme/acme-broken: spec.annotations.summary: invalid "
        'template: at 1: function "nosuchfunc" not defined; fix the Go template syntax '
        "({{ $labels.name }}, {{ $value }})",
        "1 added, 0 changed, 1 unchanged, 0 deleted; 0 rendered file(s) changed; 0 refused, "
        "1 would be Invalid",
    ]

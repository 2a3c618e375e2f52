"""`alertplane operator` refuses incomplete options before it starts."""

from __future__ import annotations

import pytest


def test_operator_command_refuses_incomplete_options(capsys: pytest.CaptureFixture[str]) -> None:
    from alertplane.cli import main

    assert main(["operator", "--sink", "files"]) == 2
    assert "--sink files needs --out DIR" in capsys.readouterr().err
    assert main(["operator", "--sink", "configmap", "--webhook-port", "9443"]) == 2
    assert "--webhook-port needs --webhook-cert and --webhook-key" in capsys.readouterr().err

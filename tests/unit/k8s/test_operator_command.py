"""`alertplane operator` refuses incomplete options before it starts."""

from __future__ import annotations

import pytest


def test_operator_command_refuses_incomplete_options(capsys: pytest.CaptureFixture[str]) -> None:
    from alertplane.cli import main

    assert main(["operator", "--sink", "files"]) == 2
    assert "--sink files needs --out DIR" in capsys.readouterr().err
    assert main(["operator", "--sink", "configmap", "--webhook-port", "9443"]) == 2
    assert "--webhook-port needs --webhook-cert and --webhook-key" in capsys.readouterr().err


def test_operator_command_refuses_bad_promop_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """The objects whose state makes output live are checked before anything starts."""
    from alertplane.cli import main

    sink = ["operator", "--sink", "prometheus-operator"]
    assert main([*sink, "--promop-prometheus", "main", "--promop-prometheus", "Obs/Main"]) == 2
    assert "--promop-prometheus 'Obs/Main' does not name a Prometheus object" in (
        capsys.readouterr().err
    )
    assert main([*sink, "--promop-alertmanager", "monitoring/main"]) == 2
    err = capsys.readouterr().err
    assert "the Alertmanager must live in the sink namespace: give its NAME only" in err
    assert main(["operator", "--sink", "configmap", "--promop-alertmanager", "main"]) == 2
    assert "need --sink prometheus-operator" in capsys.readouterr().err

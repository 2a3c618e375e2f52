"""The validating admission webhook on a real API server: `kubectl apply` of an invalid
object is refused with the lines `alertplane validate` prints; valid objects go through and
are audited with the user the API server authenticated.

The ValidatingWebhookConfiguration is the Helm chart's (its paths, operations, namespace
selector; only the Service is replaced by a URL, as KubeEnv has no Service routing), and the
operator runs with the chart's flags and RBAC: a path the operator does not serve would let
every invalid object through, and the refusals below would not happen.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

from tests.support.factories import alert, receiver, recording_rule
from tests.support.operator_env import Cluster, wait_for
from tests.support.problems import unplaced
from tests.support.slo import slo
from tests.support.webhook import NS, kubectl_apply


def test_invalid_apply_is_refused_with_the_validate_messages(
    hooked: tuple[Cluster, str], tmp_path: Path
) -> None:
    cluster, _ = hooked
    bad = alert(NS, expr="rate(errors_total[5m]) / rate(requests_total[5m]) > 1")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    validate = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
    )
    lines = unplaced(validate.stdout).splitlines()  # (positions: test_positions.py)
    assert validate.returncode == 1 and len(lines) == 2  # one per selector

    # Until the webhook answers (it starts with the operator), kubectl may see a refused
    # connection; what counts is the answer once it is up.
    def refused() -> str | None:
        out = kubectl_apply(cluster, bad)
        return out.stderr if out.returncode != 0 and "denied the request" in out.stderr else None

    stderr = wait_for(refused, 30, "the webhook's refusal")
    for line in lines:
        assert line in stderr
    assert cluster.get("CustomerAlert", NS, f"{NS}-higherrorrate") is None

    duplicate = receiver(NS, name="pager") | {"metadata": {"name": "dup", "namespace": NS}}
    assert kubectl_apply(cluster, receiver(NS, name="pager")).returncode == 0
    out = kubectl_apply(cluster, duplicate)
    assert out.returncode != 0
    assert "spec.receiverName: customer 'hook-co' already has receiver 'pager'" in out.stderr


def test_valid_apply_passes_and_is_audited_with_the_user(hooked: tuple[Cluster, str]) -> None:
    cluster, db = hooked
    good = alert(NS, name="Fine")
    out = kubectl_apply(cluster, good)
    assert out.returncode == 0, out.stderr
    cluster.wait_phase("CustomerAlert", NS, f"{NS}-fine")
    edited = alert(NS, name="Fine", severity="warning")
    assert kubectl_apply(cluster, edited).returncode == 0
    cluster.wait_phase("CustomerAlert", NS, f"{NS}-fine")

    expected = 2

    def rows() -> list[dict[str, Any]] | None:
        engine = create_engine(db)
        try:
            with engine.connect() as conn:
                found = [
                    dict(r._mapping)
                    for r in conn.execute(
                        text("SELECT * FROM audit WHERE name = :n ORDER BY id"), {"n": f"{NS}-fine"}
                    )
                ]
        finally:
            engine.dispose()
        return found if len(found) == expected else None

    created, updated = wait_for(rows, 20, "two audit rows")
    assert (created["action"], updated["action"]) == ("create", "update")
    # The token file names this user (tests/support/k8s_env.py); the webhook saw it.
    assert created["actor"] == updated["actor"] == "kubeenv-admin"

    cluster.env.kubectl("delete", "customeralert", f"{NS}-fine", "-n", NS)
    expected = 3
    *_, deleted = wait_for(rows, 20, "the delete audit row")
    assert (deleted["action"], deleted["actor"]) == ("delete", "kubeenv-admin")


def test_recording_rules_go_through_the_webhook_too(hooked: tuple[Cluster, str]) -> None:
    """The chart's webhook lists every kind (customerrecordingrules included) and the
    operator serves its path: an unscoped recording rule, or one whose record and labels are
    taken, is refused by the API server with validate's words."""
    cluster, _ = hooked
    bad = recording_rule(NS, "job:bad:rate5m", expr="sum(rate(errors_total[5m]))")

    def refused() -> str | None:
        out = kubectl_apply(cluster, bad)
        return out.stderr if out.returncode != 0 and "denied the request" in out.stderr else None

    stderr = wait_for(refused, 30, "the webhook's refusal")
    assert 'spec.expr: selector errors_total{} has no customer_id="hook-co"' in stderr
    assert kubectl_apply(cluster, recording_rule(NS)).returncode == 0
    other = recording_rule(NS, labels={"reason": "x"}) | {
        "metadata": {"name": "ok", "namespace": NS}
    }
    assert kubectl_apply(cluster, other).returncode == 0  # same record, other labels
    same = recording_rule(NS) | {"metadata": {"name": "dup", "namespace": NS}}
    out = kubectl_apply(cluster, same)
    assert out.returncode != 0
    assert (
        "spec.record: customer 'hook-co' already has recording rule 'job:errors:rate5m' with "
        "the same labels"
    ) in out.stderr


def test_slos_go_through_the_webhook_too(hooked: tuple[Cluster, str]) -> None:
    """CustomerSLO (session 13): an SLO whose query selects every customer, or whose
    sloName the customer already has, is refused by the API server with validate's words;
    a valid one is admitted."""
    cluster, _ = hooked
    events = {
        "errorQuery": 'sum(rate(errors_total{code="500"}[{{.window}}]))',
        "totalQuery": f'sum(rate(errors_total{{customer_id="{NS}"}}[{{{{.window}}}}]))',
    }
    bad = slo(NS, "unscoped", sli={"events": events})

    def refused() -> str | None:
        out = kubectl_apply(cluster, bad)
        return out.stderr if out.returncode != 0 and "denied the request" in out.stderr else None

    stderr = wait_for(refused, 30, "the webhook's refusal")
    assert (
        'spec.sli.events.errorQuery: selector errors_total{code="500"} has no '
        f'customer_id="{NS}" matcher'
    ) in stderr
    assert kubectl_apply(cluster, slo(NS)).returncode == 0
    same = slo(NS) | {"metadata": {"name": "dup-slo", "namespace": NS}}
    out = kubectl_apply(cluster, same)
    assert out.returncode != 0
    assert f"spec.sloName: customer '{NS}' already has SLO 'checkout'" in out.stderr

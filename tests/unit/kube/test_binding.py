"""Tenant binding (kube/binding.py): which customers a namespace may hold, and what is wrong
with a namespace's binding."""

from __future__ import annotations

from alertplane.kube.binding import binding_of, binding_problem, bound_customers


def test_binding_label_and_annotation_add_up() -> None:
    meta = {
        "labels": {"alertplane.io/customer": "acme.globex"},
        "annotations": {"alertplane.io/customer": "initech, hooli"},
    }
    assert bound_customers(binding_of(meta)) == ["acme", "globex", "hooli", "initech"]
    assert binding_of({"labels": {"team": "x"}}) is None
    assert binding_problem("team-a", "acme", "acme.globex") is None


def test_binding_problems_name_namespace_label_and_customer() -> None:
    missing = binding_problem("team-a", "acme", None)
    assert missing is not None
    assert missing.text() == (
        'spec.customerId: namespace "team-a" has no label alertplane.io/customer, so it may '
        'not hold resources of customer "acme"; ask the platform team to label it '
        "alertplane.io/customer=acme, or create the resource in a namespace bound to acme"
    )
    foreign = binding_problem("team-a", "globex", "acme")
    assert foreign is not None
    assert 'namespace "team-a" is bound to acme (alertplane.io/customer="acme")' in foreign.text()
    assert 'customer "globex"' in foreign.text()

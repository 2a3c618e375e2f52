"""The API server's refusals as the domain's errors (kube/answers.py `refusal`): never an
HTTP type, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from alertplane.errors import (
    Conflict,
    Invalid,
    NotFound,
    ObjectRef,
    Refused,
    Unavailable,
    UpstreamFailed,
)
from alertplane.kube.answers import refusal
from alertplane.kube.client import ApiError

REF = ObjectRef("CustomerAlert", "acme", "acme-high-error")


def refused(status: int, **body: Any) -> Refused:
    return refusal(ApiError(status, f"HTTP {status}", body), REF)


@pytest.mark.parametrize("status", [0, 429, 500, 502, 503, 504])
def test_outages_are_unavailable(status: int) -> None:
    assert isinstance(refused(status), Unavailable)


def test_not_found() -> None:
    assert isinstance(refused(404, reason="NotFound"), NotFound)


def test_missing_namespace_is_invalid() -> None:
    answer = refused(404, message='namespaces "acme" not found', details={"kind": "namespaces"})
    assert isinstance(answer, Invalid)
    assert [p.path for p in answer.problems] == ["metadata.namespace"]


def test_conflicts() -> None:
    exists = refused(409, reason="AlreadyExists")
    assert isinstance(exists, Conflict) and "already exists" in str(exists)
    changed = refused(409, reason="Conflict")
    assert isinstance(changed, Conflict) and "changed by someone else" in str(changed)


def test_schema_refusal_keeps_the_causes() -> None:
    causes = [{"field": "spec.severity", "message": "Unsupported value"}]
    answer = refused(422, message="invalid", details={"causes": causes})
    assert isinstance(answer, Invalid)
    assert [(p.path, p.message) for p in answer.problems] == [
        ("spec.severity", "Unsupported value")
    ]


def test_other_refusals_are_upstream_failures() -> None:
    assert isinstance(refused(403, message="forbidden"), UpstreamFailed)

"""A write the store refused for its precondition, as the domain's refusal."""

from __future__ import annotations

from alertplane.errors import Conflict, NotFound, ObjectRef, PreconditionFailed
from alertplane.service.preconditions import HEADER, MALFORMED, refusal
from alertplane.store.txn import ABSENT, EXISTS, Stale

REF = ObjectRef("CustomerAlert", "acme", "acme-x")


def test_gone_is_not_found_and_taken_is_a_conflict() -> None:
    assert isinstance(refusal("alert", "X", Stale(REF, EXISTS, None)), NotFound)
    assert isinstance(refusal("alert", "X", Stale(REF, ABSENT, 1)), Conflict)


def test_another_generation_names_the_current_one() -> None:
    found = refusal("alert", "X", Stale(REF, 3, 4))
    assert isinstance(found, PreconditionFailed)
    assert found.current_generation == 4
    (problem,) = found.problems
    assert problem.path == HEADER
    assert "generation 4, not 3" in problem.message


def test_a_malformed_precondition_matches_no_generation() -> None:
    found = refusal("receiver", "oncall", Stale(REF, MALFORMED, 2))
    assert isinstance(found, PreconditionFailed)
    assert "not an ETag of this API" in found.problems[0].message

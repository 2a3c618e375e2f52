"""Who may see which customer: one decision for the API and the console."""

from __future__ import annotations

import pytest

from alertplane.errors import NotFound, Unauthenticated
from alertplane.service.access import (
    NOT_FOUND_CUSTOMER,
    Access,
    access,
    authenticate,
    export_scope,
)
from alertplane.service.tokens import TokenFile
from tests.unit.service.conftest import ACME, ADMIN


def test_a_scoped_token_reaches_its_own_customer_only() -> None:
    assert access(ACME, "acme") == Access(ACME, "acme")
    assert access(ACME, "acme").own and access(ACME, "acme").actor == "acme-ci"
    with pytest.raises(NotFound, match=NOT_FOUND_CUSTOMER):
        access(ACME, "globex")


def test_an_admin_reaches_every_customer_but_never_a_name_no_customer_can_have() -> None:
    assert not access(ADMIN, "globex").own
    for bad in ("Acme", "a_b", "", "x" * 64):
        with pytest.raises(NotFound, match=NOT_FOUND_CUSTOMER):
            access(ADMIN, bad)


def test_no_token_or_an_unknown_one_is_unauthenticated() -> None:
    tokens = TokenFile(None)
    for token in (None, "", "ap_nobody"):
        with pytest.raises(Unauthenticated):
            authenticate(tokens, token)


def test_export_scope() -> None:
    assert export_scope(ADMIN, None) is None
    assert export_scope(ADMIN, "globex") == "globex"
    assert export_scope(ACME, None) == "acme"
    assert export_scope(ACME, "acme") == "acme"
    for who, customer in ((ACME, "globex"), (ADMIN, "Not-A-Label")):
        with pytest.raises(NotFound, match=NOT_FOUND_CUSTOMER):
            export_scope(who, customer)

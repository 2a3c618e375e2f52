"""Who may see and write which customer: the authorization decisions every door shares.

A scoped token asking for another customer gets exactly the answer a customer that does
not exist gets (NotFound "customer not found"), so it cannot even learn which customers
exist. How a door reads the credentials (a bearer header, a session cookie) is the
door's business; what they allow is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NotFound, Unauthenticated
from ..model.common import is_dns_label
from .tokens import Principal, TokenFile

NOT_FOUND_CUSTOMER = "customer not found"


@dataclass(frozen=True)
class Access:
    """An authenticated caller allowed to act on `customer`."""

    principal: Principal
    customer: str

    @property
    def own(self) -> bool:
        """A scoped token on its own customer: that customer always exists for it."""
        return self.principal.customer == self.customer

    @property
    def actor(self) -> str:
        return self.principal.name


def authenticate(tokens: TokenFile, token: str | None) -> Principal:
    """The principal a token names; `Unauthenticated` for none or one nobody issued."""
    found = tokens.lookup(token) if token else None
    if found is None:
        raise Unauthenticated()
    return found


def export_scope(who: Principal, customer: str | None) -> str | None:
    """The one customer whose objects `who` asks for (None: every customer, admins
    only); another customer's, or a name no customer can have, is NotFound."""
    if customer is not None and (who.customer not in (None, customer)):
        raise NotFound(NOT_FOUND_CUSTOMER)
    scope = who.customer or customer
    if scope is not None and not is_dns_label(scope):
        raise NotFound(NOT_FOUND_CUSTOMER)
    return scope


def access(who: Principal, customer_id: str) -> Access:
    """`who` acting on `customer_id`, or NotFound as for a customer that does not exist."""
    if not is_dns_label(customer_id) or not who.may(customer_id):
        raise NotFound(NOT_FOUND_CUSTOMER)
    return Access(who, customer_id)

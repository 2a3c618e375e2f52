"""Bearer tokens in HTTP: FastAPI's dependencies that read them and check the customer.

The decisions themselves (who a token is, which customers it may see) are the service's
(service/access.py), shared with the console; this module only reads the Authorization
header and the path's customer id, and refuses unknown query parameters.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Path, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import Invalid, Problem
from ..service.access import Access, access, authenticate
from ..service.tokens import Principal, TokenFile

bearer = HTTPBearer(
    auto_error=False,
    description="A token from the tokens file (alertplane token create NAME --role ROLE).",
)

BEARER = Depends(bearer)
CUSTOMER_ID = Path(alias="customerId", description="The customer id.")


def unknown_query(request: Request) -> None:
    """A query parameter the route does not know, or one given twice, is an error
    (`?wiat=true` would otherwise silently not wait)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route)
    problems = []
    for key in sorted(set(request.query_params)):
        if key not in known:
            hint = f"allowed here: {', '.join(sorted(known)) or 'none'}"
            problems.append(Problem("query", "unknown query parameter", hint))
        elif len(request.query_params.getlist(key)) > 1:
            problems.append(Problem(f"query.{key}", "given more than once", "give it once"))
    if problems:
        raise Invalid(problems)


# Cached on the route object itself, not by id(route): an id can be reused by a new route
# once an app (and its routes) is gone, which handed a route another route's parameters.
_ATTR = "_alertplane_query_names"


def _query_names(route: APIRoute) -> frozenset[str]:
    names: frozenset[str] | None = getattr(route, _ATTR, None)
    if names is None:
        found: set[str] = set()
        pending: list[Any] = [route.dependant]
        while pending:
            dependant = pending.pop()
            found.update(str(p.alias) for p in dependant.query_params)
            pending.extend(dependant.dependencies)
        names = frozenset(found)
        setattr(route, _ATTR, names)
    return names


class Auth:
    def __init__(self, tokens: TokenFile) -> None:
        self.tokens = tokens

        async def principal(
            request: Request, credentials: HTTPAuthorizationCredentials | None = BEARER
        ) -> Principal:
            who = self.authenticate(credentials.credentials if credentials else None)
            unknown_query(request)
            return who

        authenticated = Depends(principal)

        async def customer(
            customer_id: str = CUSTOMER_ID,
            who: Principal = authenticated,
        ) -> Access:
            return self.access(who, customer_id)

        self.principal = principal
        self.customer = customer

    def authenticate(self, token: str | None) -> Principal:
        return authenticate(self.tokens, token)

    @staticmethod
    def access(who: Principal, customer_id: str) -> Access:
        return access(who, customer_id)

    def bearer(self, request: Request) -> Principal:
        """The principal of the request's `Authorization: Bearer` header (outside the
        dependencies: routes FastAPI does not authenticate, requests it rejected)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return self.authenticate(token.strip() if scheme.lower() == "bearer" else None)

    async def precheck(self, request: Request) -> None:
        """Authentication and customer access for a request rejected before its
        dependencies ran; raises the error those would have raised."""
        who = self.bearer(request)
        customer_id = request.path_params.get("customerId")
        if isinstance(customer_id, str):
            self.access(who, customer_id)

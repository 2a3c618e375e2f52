"""/customers/{customerId}/alerts, …/receivers, …/recordingrules: one router shape for
every kind of the table (model/kinds.py).

The kinds have the same create/read/update/delete/rollback routes; they differ in the
path, the name field, the words in the documentation, and PATCH enabled for the kinds
that can be switched off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from ..model import Severity, info
from ..service import crud
from ..service.access import Access
from ..service.context import Context
from ..service.objects import ALERT, NAME_KEY, RECEIVER, RECORDING_RULE, SLO
from . import etags, pathnames
from .auth import Auth
from .responses import JSONResponse
from .schemas import EnabledIn, ObjectList, ObjectOut, RollbackIn, responses, spec_body

WAIT = Query(
    False,
    description="Block until the reconciler has synced the change or found it invalid "
    "(at most 10 s), then answer with the status it reached.",
)
SPEC = Body(None)  # parsed by the core, not by FastAPI: see service/objects.build
IF_MATCH = Header(None, alias=etags.HEADER, description=etags.DESCRIPTION)


def tagged(out: dict[str, Any], status_code: int = 200, **headers: str) -> JSONResponse:
    """One object as the answer, with its generation as the ETag."""
    headers["ETag"] = etags.etag(int(out["metadata"]["generation"]))
    return JSONResponse(out, status_code=status_code, headers=headers)


@dataclass(frozen=True)
class Kind:
    kind: str
    one: str  # alert, receiver, recordingrule: the routes' operation names
    schema: str  # Alert, Receiver: the spec schemas' prefix
    listed: str  # the list route's description
    created: str  # the create route's description
    body: str  # the create body's description

    @property
    def key(self) -> str:
        return NAME_KEY[self.kind]

    @property
    def codes(self) -> tuple[int, ...]:
        """The errors of a path naming one object: an alert's may name a pair without its
        severity (409) or a severity that is none (422); a recording rule's record may be
        shared by rules of other labels (409)."""
        return (401, 404, 409, 422) if self.kind == ALERT else (401, 404, 409)

    @property
    def plural(self) -> str:
        return info(self.kind).rest  # the collection's path segment

    @property
    def noun(self) -> str:
        return info(self.kind).noun  # the documentation's word

    @property
    def item(self) -> str:
        return f"/{{{self.key}}}"  # the path of one object under the list's


ALERTS = Kind(
    ALERT,
    "alert",
    "Alert",
    "The customer's alerts with their status.",
    "Create an alert; its status starts Pending. 409 when the alertName exists.",
    "The CustomerAlert spec (customerId optional).",
)
RECEIVERS = Kind(
    RECEIVER,
    "receiver",
    "Receiver",
    "The customer's receivers with their status. Secrets appear only as references.",
    "Create a receiver. 409 when the receiverName exists.",
    "The CustomerReceiver spec (customerId optional). A clear apiURL/routingKey is moved "
    "into a secret file and replaced by a reference before it is stored (Kubernetes mode: "
    "refused; reference a Kubernetes Secret instead).",
)
RECORDING_RULES = Kind(
    RECORDING_RULE,
    "recordingrule",
    "RecordingRule",
    "The customer's recording rules with their status.",
    "Create a recording rule; its status starts Pending. 409 when the record exists.",
    "The CustomerRecordingRule spec (customerId optional).",
)
SLOS = Kind(
    SLO,
    "slo",
    "SLO",
    "The customer's SLOs with their status.",
    "Create an SLO: its recording rules and burn-rate alerts render into the customer's "
    "rule file (docs/slo.md); its status starts Pending. 409 when the sloName exists.",
    "The CustomerSLO spec (customerId optional).",
)
# Every kind's router, in the table's order (api/app.py mounts them all).
KINDS = (ALERTS, RECEIVERS, RECORDING_RULES, SLOS)


async def written(
    ctx: Context, wait: bool, write: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """Run a write in a worker thread; with `wait`, then wait for its outcome without one."""
    out = await run_in_threadpool(write, *args)
    return await ctx.settle(out) if wait else out


def router(ctx: Context, auth: Auth, k: Kind) -> APIRouter:
    api = APIRouter(prefix=f"/customers/{{customerId}}/{k.plural}", tags=[k.plural])
    customer = Depends(auth.customer)
    name_in_path = Depends(_name_in_path(k))
    _add_collection(api, ctx, k, customer)
    _add_item(api, ctx, k, customer, name_in_path)
    _add_removal(api, ctx, k, customer, name_in_path)
    return api


SEVERITY = Query(
    None,
    description="Which alert of a warning/critical pair (two alerts of one customer with "
    "one alertName): without it a pair answers 409 naming each severity's path; for a "
    "unique alertName it is optional and checked (404 when the alert has another).",
)


def _severity_of(k: Kind) -> Any:
    """The `?severity=` query parameter of alert paths (receivers have none)."""
    if k.kind != ALERT:
        return Depends(_no_severity)

    def severity(severity: Severity | None = SEVERITY) -> str | None:
        return None if severity is None else severity.value

    return Depends(severity)


def _no_severity() -> str | None:
    return None


def _name_in_path(k: Kind) -> Callable[..., str]:
    """The object's name from its path segment, `/` and `%` restored (api/pathnames.py)."""
    described = Path(
        alias=k.key,
        description=f"spec.{k.key} of the {k.noun}, percent-encoded (`/` as %2F, `%` as %25).",
    )

    def name(matched: str = described) -> str:
        return pathnames.restore(matched)

    return name


def _add_collection(api: APIRouter, ctx: Context, k: Kind, customer: Any) -> None:
    kind, plural = k.kind, k.plural

    @api.get(
        "",
        name=f"list_{plural}",
        description=k.listed,
        response_model=ObjectList,
        responses=responses(401, 404),
    )
    def list_objects(access: Access = customer) -> JSONResponse:
        return JSONResponse({"items": crud.list_objects(ctx, access, kind)})

    @api.post(
        "",
        name=f"create_{k.one}",
        description=k.created,
        status_code=201,
        response_model=ObjectOut,
        responses=responses(401, 404, 409, 422),
        openapi_extra=spec_body(f"{k.schema}SpecIn", k.body),
    )
    async def create(
        access: Access = customer, body: Any = SPEC, wait: bool = WAIT
    ) -> JSONResponse:
        out = await written(ctx, wait, crud.create, ctx, access, kind, body)
        location = await run_in_threadpool(crud.path_of, ctx, access, out)
        return tagged(out, 201, Location=location)


def _add_item(api: APIRouter, ctx: Context, k: Kind, customer: Any, name_in_path: Any) -> None:
    kind, item = k.kind, k.item
    severity_in_query = _severity_of(k)

    @api.get(
        item,
        name=f"get_{k.one}",
        description=f"One {k.noun} with its status (phase, Valid/Synced conditions).",
        response_model=ObjectOut,
        responses=responses(*k.codes),
    )
    def get(
        access: Access = customer,
        name: str = name_in_path,
        severity: str | None = severity_in_query,
    ) -> JSONResponse:
        return tagged(crud.get_object(ctx, access, kind, name, severity=severity))

    @api.put(
        item,
        name=f"update_{k.one}",
        description=f"Replace {'an' if k.noun[0] in 'aeiou' else 'a'} {k.noun}'s spec.",
        response_model=ObjectOut,
        responses=responses(*k.codes, 412, 422),
        openapi_extra=spec_body(f"{k.schema}SpecUpdate", "The new spec (replaces the old one)."),
    )
    async def update(
        access: Access = customer,
        name: str = name_in_path,
        body: Any = SPEC,
        wait: bool = WAIT,
        if_match: str | None = IF_MATCH,
        severity: str | None = severity_in_query,
    ) -> JSONResponse:
        expected = etags.expected_of(if_match)
        update = partial(crud.update, severity=severity)
        return tagged(await written(ctx, wait, update, ctx, access, kind, name, body, expected))

    if info(kind).toggles:

        @api.patch(
            f"{item}/enabled",
            name="set_enabled" if kind == ALERT else f"set_{k.one}_enabled",
            description=f"Enable or disable {'an' if k.noun[0] in 'aeiou' else 'a'} {k.noun} "
            f"(disabled {k.noun}s are kept but not rendered).",
            response_model=ObjectOut,
            responses=responses(401, 404, 409, 412, 422),
        )
        async def set_enabled(
            change: EnabledIn,
            access: Access = customer,
            name: str = name_in_path,
            wait: bool = WAIT,
            if_match: str | None = IF_MATCH,
            severity: str | None = severity_in_query,
        ) -> JSONResponse:
            enable = partial(crud.set_enabled, kind=kind, severity=severity)
            to, expected = change.enabled, etags.expected_of(if_match)
            return tagged(await written(ctx, wait, enable, ctx, access, name, to, expected))


def _add_removal(api: APIRouter, ctx: Context, k: Kind, customer: Any, name_in_path: Any) -> None:
    kind, item = k.kind, k.item
    severity_in_query = _severity_of(k)

    @api.delete(item, name=f"delete_{k.one}", status_code=204, responses=responses(*k.codes, 412))
    def delete(
        access: Access = customer,
        name: str = name_in_path,
        if_match: str | None = IF_MATCH,
        severity: str | None = severity_in_query,
    ) -> Response:
        crud.delete(ctx, access, kind, name, etags.expected_of(if_match), severity=severity)
        return Response(status_code=204)

    @api.post(
        f"{item}/rollback",
        name=f"rollback_{k.one}",
        description="Restore the spec of an earlier generation (see the audit) as a new change.",
        response_model=ObjectOut,
        responses=responses(401, 404, 409, 412, 422),
    )
    async def rollback(
        target: RollbackIn,
        access: Access = customer,
        name: str = name_in_path,
        wait: bool = WAIT,
        if_match: str | None = IF_MATCH,
        severity: str | None = severity_in_query,
    ) -> JSONResponse:
        version, expected = target.version, etags.expected_of(if_match)
        back = partial(crud.rollback, severity=severity)
        return tagged(await written(ctx, wait, back, ctx, access, kind, name, version, expected))

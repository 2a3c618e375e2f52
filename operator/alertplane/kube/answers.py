"""What the REST API's writer (kube/writer.py) says about the cluster's answers: the API
server's refusals as the domain's errors (errors.py: Invalid, Conflict, NotFound,
Unavailable, UpstreamFailed — api/errors.py maps them to HTTP), a custom resource as the
API's views take it, the namespace template's check, and what the writer refuses to
write into an object (secrets in clear)."""

from __future__ import annotations

from typing import Any

from ..errors import (
    Conflict,
    Invalid,
    NotFound,
    ObjectRef,
    Problem,
    Refused,
    Unavailable,
    UpstreamFailed,
    UsageError,
)
from ..model import NAME_FIELDS, CustomerAlert, Resource, info
from ..model.common import dump_spec, is_dns_label
from ..model.secrets import SECRET_FIELDS
from .client import ApiError as KubeError


def check_template(template: str) -> None:
    try:
        sample = template.format(customer="acme")
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(
            f"--customer-namespace {template!r}: {exc}",
            "use a namespace name, optionally with {customer}, e.g. 'alerts-{customer}'",
        ) from None
    if not is_dns_label(sample):
        raise UsageError(
            f"--customer-namespace {template!r} gives {sample!r}, not a namespace name",
            "use lowercase letters, digits and '-', optionally with {customer}",
        )


def refusal(exc: KubeError, ref: ObjectRef) -> Refused:
    """The API server's answer as a domain error: a clear kind and message, never a 500."""
    status = exc.body
    message = str(status.get("message") or exc)
    raw = status.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    what = f"{ref.kind} {ref.namespace}/{ref.name}"
    if exc.status == 0 or exc.status in (429, 500, 502, 503, 504):
        return Unavailable(f"the Kubernetes API server is unavailable ({message}); retry later")
    if exc.status == 404 and details.get("kind") == "namespaces":
        return Invalid(
            [
                Problem(
                    "metadata.namespace",
                    f"namespace {ref.namespace!r} does not exist",
                    f"create it (kubectl create namespace {ref.namespace}; with tenant binding "
                    "label it alertplane.io/customer=<customerId>), or choose the namespace "
                    "with `alertplane serve --customer-namespace`",
                ).at(ref)
            ]
        )
    if exc.status == 404:
        return NotFound(f"{what} not found in the cluster")
    if exc.status == 409:
        if status.get("reason") == "AlreadyExists":
            return Conflict(f"{what} already exists in the cluster")
        return Conflict(f"{what} was changed by someone else meanwhile; retry")
    if exc.status in (400, 422) or "admission webhook" in message:
        causes = [c for c in details.get("causes") or [] if isinstance(c, dict)]
        hint = "the Kubernetes API server refused it (CRD schema, CEL rule or admission webhook)"
        problems = [
            Problem(str(c.get("field") or ""), str(c.get("message") or message), hint).at(ref)
            for c in causes
        ] or [Problem("", message, hint).at(ref)]
        return Invalid(problems, "refused by the Kubernetes API server")
    return UpstreamFailed(
        f"the Kubernetes API server refused {what} (HTTP {exc.status}: {message}); "
        "check the API's ServiceAccount permissions (the chart's api RBAC)"
    )


def ref_of(obj: Resource) -> ObjectRef:
    return ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name)


def what_of(obj: Resource) -> str:
    field = NAME_FIELDS.get(obj.kind, "")
    kind = info(obj.kind).noun
    return f"{kind} {dump_spec(obj.spec).get(field)!r}"


def already_exists(obj: Resource) -> str:
    """The 409 of a create whose object exists (found, or a racing create won): an alert
    named by its identity within the customer, name and severity (validate/unique.py), as
    its pair partner at the other severity is a valid second object."""
    at = f" at severity {obj.spec.severity.value!r}" if isinstance(obj, CustomerAlert) else ""
    return f"{what_of(obj)}{at} already exists; change it with PUT"


def no_name(obj: Resource, name: str) -> str:
    # Another customer's object may be in the way: say nothing about it.
    return (
        f"no free object name for {what_of(obj)}: {obj.metadata.namespace}/{name} is taken "
        "by another object; choose another name"
    )


def renamed(obj: Resource, name: str) -> Resource:
    meta = obj.metadata.model_copy(update={"name": name})
    return obj.model_copy(update={"metadata": meta})


def clear_secrets(obj: Resource) -> list[Problem]:
    """A custom resource is readable by whoever may list it: secret values go into a
    Kubernetes Secret, the receiver references it."""
    if obj.kind != "CustomerReceiver":
        return []
    spec = dump_spec(obj.spec)
    out = []
    for channel, clear, secret_ref, _ in SECRET_FIELDS:
        for i, cfg in enumerate(spec.get(channel) or []):
            if isinstance(cfg, dict) and cfg.get(clear) is not None:
                out.append(
                    Problem(
                        f"spec.{channel}[{i}].{clear}",
                        "a secret in clear is not written into the cluster",
                        f"put it into a Kubernetes Secret in namespace {obj.metadata.namespace} "
                        f"and send {secret_ref}: {{name: <secret>, key: <key>}} instead",
                    ).at(ref_of(obj))
                )
    return out

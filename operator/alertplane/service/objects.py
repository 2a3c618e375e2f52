"""Request bodies → validated objects, and stored objects → response bodies.

A body is a spec in the CRD's camelCase shape. The customer in the path wins (a body
naming another one is an error), the object is named `<customerId>-<alertName lower,
_→->` (plus a hash of the name when it holds other characters: object_name) in the
namespace of the customer unless it already exists elsewhere, and every
object is admitted by `core.admit` like at every other door (WRITE: every schema and
check problem refuses, 422; what only promtool/amtool find is left to the reconciler,
which marks the object Invalid before anything goes live).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import urllib.parse
from typing import Any

from ..core import DISABLE, WRITE, admit
from ..errors import Conflict, NotFound, ObjectRef, Problem, Source
from ..manifests import Document
from ..model import API_VERSION, NAME_FIELDS, Resource, info
from ..model.common import DNS_SUBDOMAIN_RE, dump_spec
from ..model.records import ObjectRecord
from ..render.platform import PlatformConfig
from ..validate.unicode import text_problems

ALERT, RECEIVER, RECORDING_RULE = "CustomerAlert", "CustomerReceiver", "CustomerRecordingRule"
SLO = "CustomerSLO"
# An example body per kind, for the refusal of a body that is no JSON object.
_EXAMPLE = {
    ALERT: '{"alertName": ..., "expr": ...}',
    RECEIVER: '{"receiverName": ..., "webhook": [...]}',
    RECORDING_RULE: '{"record": ..., "expr": ...}',
    SLO: '{"sloName": ..., "objective": ..., "sli": {"events": ...}, "alerting": ...}',
}
NAME_KEY = NAME_FIELDS
_DNS_SUBDOMAIN = re.compile(DNS_SUBDOMAIN_RE)
# Names of letters, digits, '_' and '-' (every receiver name, and alert names as they were
# before any text was allowed) keep their readable object name; any other character is
# lost in the slug, so such names always carry a hash of the exact name: `Disk > 90%` and
# `Disk 90` are two objects, whichever is created first.
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def object_name(customer: str, spec_name: str, salted: bool = False, severity: str = "") -> str:
    """`acme` + `High_Error` → `acme-high-error`; `acme` + `Disk > 90%` →
    `acme-disk-90-<hash>`: a DNS subdomain of at most 253 characters, the same for the
    same name. `salted` adds a short hash of the exact spec name to a plain one too, for
    when the plain name is taken by an object of another name (`HighError`, `high_error`).
    `severity` (the second alert of a warning/critical pair) comes after the name:
    `acme-high-error-critical`.
    """
    slug = _NOT_SLUG.sub("-", spec_name.lower()).strip("-") or "object"
    suffix = "-" + hashlib.sha256(spec_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    tail = f"-{severity}" if severity else ""
    base = f"{customer}-{slug}{tail}"
    plain = _PLAIN.fullmatch(spec_name) is not None
    if salted or not plain or len(base) > 253 or _DNS_SUBDOMAIN.fullmatch(base) is None:
        room = 253 - len(customer) - len(tail) - len(suffix) - 1
        base = f"{customer}-{slug[:room]}".rstrip("-") + tail + suffix
    return base


def alert_path(
    customer: str, alert_name: str, severity: str | None, is_pair: bool, *tail: str
) -> str:
    """The path of one alert, the ONE place links to alerts are built (API Location
    headers, the console's links under its own prefix, the board):
    `/customers/acme/alerts/HighErrorRate`, and for one alert of a warning/critical pair
    `…?severity=critical` (without it the API answers 409); `tail` are further path
    parts before the query (`enabled`). A reader of a unique name may pass the severity
    too: it is checked."""
    path = "/".join([f"/customers/{customer}/alerts/{segment(alert_name)}", *map(segment, tail)])
    return f"{path}?severity={severity}" if is_pair and severity else path


def pick(
    kind: str, customer: str, name: str, found: list[ObjectRecord], severity: str | None
) -> ObjectRecord:
    """The one object a path names among those carrying its spec name (oldest first):
    `severity` selects one alert of a pair; without it, a pair is ambiguous (409 naming
    each severity's path); with it, a unique name must have that severity (404)."""
    if kind != ALERT or not found:
        if not found:
            raise NotFound(f"{info(kind).noun} not found")
        return found[0]
    severities = list(dict.fromkeys(str(f.spec.get("severity")) for f in found))
    if severity is not None:
        chosen = [f for f in found if f.spec.get("severity") == severity]
        if not chosen:
            raise NotFound(
                f"alert {name!r} has no severity {severity!r} (it has: {', '.join(severities)})"
            )
        return chosen[0]
    if len(severities) == 1:
        return found[0]
    raise Conflict(
        f"alert {name!r} is a pair: customer {customer!r} has it at severities "
        f"{', '.join(severities)}; choose one with ?severity=<severity>",
        [
            Problem(
                "severity",
                f"{s!r}: {alert_path(customer, name, s, is_pair=True)}",
                f"add ?severity={s}",
            )
            for s in severities
        ],
    )


_ESCAPED = re.compile(r"%(?:2[fF]|25)")


def segment(name: str) -> str:
    """`name` as one URL path segment (API Location headers, console links); `.` and `..`
    escaped too, which clients would otherwise resolve as steps up the path."""
    quoted = urllib.parse.quote(name, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def restore(matched: str) -> str:
    """The name behind a path segment as routed: the HTTP app decodes every escape but
    `%2F` and `%25` before routing (api/pathnames.py), so a `/` in a name is no step."""
    return _ESCAPED.sub(lambda m: urllib.parse.unquote(m.group()), matched)


def bad_text(data: Any, root: str = "spec") -> list[Problem]:
    """Strings no database can hold (NUL, lone surrogates), each with its path and why."""
    return text_problems(data, root)


def build(
    kind: str,
    customer: str,
    body: Any,
    ref: ObjectRef,
    labels: dict[str, str] | None = None,
    path_name: str | None = None,
    platform: PlatformConfig | None = None,
    semantic: bool = True,
) -> tuple[Resource | None, list[Problem]]:
    """Admit one object; `path_name` is the alert/receiver name in the URL; without
    `semantic` (switching an alert off) only the schema must hold (policy DISABLE)."""
    if not isinstance(body, dict):
        return None, [
            Problem(
                "spec",
                "expected the spec as a JSON object",
                f"send the spec's fields, e.g. {_EXAMPLE.get(kind, '{...}')}",
            ).at(ref)
        ]
    bad = bad_text(body)
    if bad:
        return None, [p.at(ref) for p in bad]
    problems: list[Problem] = []
    spec = dict(body)
    if "customerId" in spec and spec["customerId"] != customer:
        problems.append(
            Problem(
                "spec.customerId",
                "does not match the customer in the path",
                "leave customerId out; the path names the customer",
            ).at(ref)
        )
    spec["customerId"] = customer
    key = NAME_KEY[kind]
    if path_name is not None:
        if key in spec and spec[key] != path_name:
            problems.append(
                Problem(
                    f"spec.{key}",
                    "does not match the name in the path",
                    "leave it out; to rename, create a new object and delete this one",
                ).at(ref)
            )
        spec[key] = path_name
    manifest = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": ref.name, "namespace": ref.namespace, "labels": labels or {}},
        "spec": spec,
    }
    policy = WRITE if semantic else DISABLE
    admission = admit([Document(BODY, manifest)], policy, platform)
    problems += [_plain(p, ref) for p in admission.refused]
    admitted = admission.admitted
    return (admitted[0] if admitted and not problems else None), problems


BODY = Source("")


def _plain(problem: Problem, ref: ObjectRef) -> Problem:
    """A problem of the one body: named by the object, not by a source."""
    return dataclasses.replace(problem, obj=problem.obj or ref, source=None)


def what_of(obj: Resource) -> str:
    """`alert 'HighErrorRate'`: an object as a refusal names it."""
    what = info(obj.kind).noun
    return f"{what} {spec_name(dump_spec(obj.spec), obj.kind)!r}"


def spec_name(body: Any, kind: str) -> str | None:
    value = body.get(NAME_KEY[kind]) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def view(record: ObjectRecord) -> dict[str, Any]:
    """The DESIGN shape (model.records.ObjectRecord.view)."""
    return record.view()


def settled(record: ObjectRecord) -> bool:
    """The reconciler has concluded about the current generation."""
    return record.settled()

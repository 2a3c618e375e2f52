"""Foreign formats at the HTTP doors: Prometheus rule files, PrometheusRule objects, Mimir/
Cortex ruler namespaces and alertmanager.yml, converted by importer/ exactly as
`alertplane import` converts them, then validated and imported like manifests
(transfer.py). Tenant rules: a customer token converts for its own customer only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Forbidden, Problem, Source
from ..importer.alerts import Options, parse_severity_map
from ..importer.result import Item, Result
from ..importer.run import import_text
from ..manifests import Document, Loaded
from ..model.alert import Category, Severity
from ..model.common import is_dns_label
from .tokens import Principal

FORMATS = ("manifests", "prometheus")


@dataclass(frozen=True)
class Asked:
    """The query of a conversion (the CLI's flags, same names in camel case)."""

    customer: str | None = None
    customer_label: str | None = None
    customer_map: dict[str, str] = field(default_factory=dict)
    category: Category = Category.application
    severity_map: str = ""
    default_severity: Severity = Severity.warning


@dataclass
class Converted:
    loaded: Loaded
    refused: list[Problem]
    notes: list[Problem]


def options_for(who: Principal, asked: Asked) -> Options:
    """The importer's options; Forbidden when a customer token asks for another customer
    (or for a label mapping, which could name any customer); ValueError on bad values."""
    customer = asked.customer
    if who.customer is not None:
        if asked.customer_label is not None or (customer not in (None, who.customer)):
            raise Forbidden(
                "a customer token imports for its own customer only",
                [
                    Problem(
                        "customer" if asked.customer_label is None else "customerLabel",
                        "this token may only import rules for its own customer",
                        f"leave it out, or use customer={who.customer}",
                    )
                ],
            )
        customer = who.customer
    if customer is None and asked.customer_label is None:
        raise ValueError("say whose rules these are: customer=ID or customerLabel=NAME")
    if customer is not None and not is_dns_label(customer):
        raise ValueError(f"customer {customer!r} is not a customer id")
    return Options(
        customer=customer,
        customer_label=asked.customer_label,
        customer_map=asked.customer_map,
        category=asked.category,
        severity_map=parse_severity_map(asked.severity_map),
        default_severity=asked.default_severity,
    )


def convert(raw: bytes, who: Principal, asked: Asked) -> Converted:
    """The body converted into manifests (as a Loaded, ready for transfer.check/import),
    with the items that were refused or only partly carried over."""
    options = options_for(who, asked)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Converted(
            Loaded([], [Problem("", "the body is not UTF-8 text", "send UTF-8")]), [], []
        )
    result: Result = import_text(text, "body", options)
    docs = [Document(Source("body", i), manifest) for i, manifest in enumerate(result.manifests, 1)]
    return Converted(Loaded(docs, []), _problems(result.refused), _problems(result.notes))


def _problems(items: list[Item]) -> list[Problem]:
    return [Problem(item.where, item.reason) for item in items]

"""What a running Prometheus or Alertmanager has loaded, compared with what was written (pure).

A 200 on `/-/reload` says the target read its files, not that it read the files alertplane
wrote: a mounted ConfigMap reaches the pod a minute or more after it is written (the
kubelet's refresh), and a Prometheus whose `rule_files` miss the output directory reloads
happily without them. So after a reload the sinks ask what is loaded (sinks/loaded_query.py
does the HTTP) and compare one customer's part of it with what they wrote, here.

Both targets print what they loaded in their own words, so the comparison is of meaning, not
text. Prometheus (`GET /api/v1/rules`) re-prints each query from its syntax tree (matchers
sorted, `0.10` → `0.1`, `sum(x) by (a)` → `sum by (a) (x)`), gives durations in seconds and
names the file it read; the query is compared through a canonical form (`Canonical`).
Alertmanager (`GET /api/v2/status`, `config.original`) re-prints its configuration with every
default filled in, matchers sorted and secrets as `<secret>`; what was written must be there
(`covers`), defaults may be added, routes and integrations may not.

Each function answers with the first difference (`Stale`), or None when the loaded part is
the written one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ..model.common import duration_ms, is_duration
from ..routing import RouteConfigError, parse_matcher
from ..validate.promql import SMALL_EXPR, TooComplex, parse

TENANT_LABEL = "customer_id"
SECRET = "<secret>"  # how Alertmanager prints a secret it loaded

# Strings, comments, whitespace: just enough of PromQL's tokens to drop the whitespace and
# comments a re-print changes without touching the inside of a string.
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`|#[^\n]*|\s+|[^"\'`#\s]+|.')

Canonical = Callable[[str], str | None]  # written query → Prometheus' print of it, if known
# libyaml when present: Alertmanager's re-print of a 1,000-customer configuration is megabytes.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Unreadable(ValueError):
    """A configuration that is not YAML: the answer of something that is not the target
    asked, or a written file someone else overwrote (the next resync repairs that)."""


def _yaml(text: str | None, what: str) -> Any:
    if not text:
        return None
    try:
        return yaml.load(text, Loader=_LOADER)  # a safe loader (libyaml or Python)
    except yaml.YAMLError as exc:
        raise Unreadable(f"{what} is not YAML: {' '.join(str(exc).split())}") from exc


@dataclass(frozen=True)
class Stale:
    """How the loaded part differs from the written one. `previous`: the target has an
    older version of the customer's part; otherwise it has none of it (not yet loaded)."""

    previous: bool
    detail: str


def squeeze(query: str) -> str:
    """The query without whitespace and comments outside strings: Prometheus' one-line
    print (the rules API) and its pretty print (`format_query`) differ only there."""
    return "".join(
        tok for tok in _TOKEN.findall(query) if not tok.isspace() and not tok.startswith("#")
    )


def local_canonical(query: str) -> str | None:
    """Prometheus' print of `query` as the parser of validate/promql.py prints it (the same
    rules: sorted matchers, normalized numbers and durations); None when it cannot say
    (too long for this thread's stack, or not parsed). Callers ask Prometheus then."""
    if len(query) > SMALL_EXPR:
        return None
    try:
        return str(parse(query).prettify())
    except (TooComplex, ValueError, TypeError):
        return None


LOCAL: tuple[Canonical, ...] = (local_canonical,)


def same_query(written: str, loaded: str, canonicals: Sequence[Canonical] = LOCAL) -> bool:
    """Whether Prometheus' print of a query (`loaded`) is the written query: the same text,
    or the print of one of `canonicals`, tried in order (the cheap one first)."""
    target = squeeze(loaded)
    if squeeze(written) == target:
        return True
    for canonical in canonicals:
        printed = canonical(written)
        if printed is not None and squeeze(printed) == target:
            return True
    return False


# -- Prometheus rules ------------------------------------------------------------------------
def loaded_rule_files(groups: list[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The rules API's groups by the name of the file they were read from (its last path
    element: a ConfigMap mounted directly, through a projected volume or collected by a
    sidecar keeps the key, `<customerId>.yml`, as the file name)."""
    files: dict[str, list[Mapping[str, Any]]] = {}
    for group in groups:
        name = str(group.get("file", "")).rsplit("/", 1)[-1]
        files.setdefault(name, []).append(group)
    return files


_RULE_FIELDS = ("type", "name", "query", "duration", "keepFiringFor")


def rules_fingerprint(groups: list[Mapping[str, Any]]) -> int:
    """A number that changes when what `rules_stale` compares in loaded groups changes,
    and not with evaluation state (health, alerts, timestamps): a customer whose written
    file and loaded groups are as on the last pass needs no comparison again."""
    return hash(
        tuple(
            (
                g.get("name"),
                g.get("interval"),
                g.get("limit"),
                tuple(
                    (
                        *(r.get(k) for k in _RULE_FIELDS),
                        tuple(sorted(_strings(r.get("labels")).items())),
                        tuple(sorted(_strings(r.get("annotations")).items())),
                    )
                    for r in g.get("rules") or []
                ),
            )
            for g in groups
        )
    )


def rules_stale(
    customer_id: str,
    written: str | None,
    loaded: Mapping[str, list[Mapping[str, Any]]],
    canonical: Sequence[Canonical] = LOCAL,
) -> Stale | None:
    """Whether the rule file written for `customer_id` (None: none) is what Prometheus
    loaded from its `<customerId>.yml` (`loaded_rule_files`)."""
    file = f"{customer_id}.yml"
    groups = loaded.get(file, [])
    want = _written_groups(written)
    if not want:
        if groups:
            return Stale(True, f"{file} is removed, but its rules are still loaded")
        return None
    if not groups:
        return Stale(False, f"no rule file {file} is loaded")
    names = [str(g.get("name")) for g in groups]
    if names != [str(g.get("name")) for g in want]:
        return Stale(True, f"the loaded groups are {', '.join(names)}")
    for w, g in zip(want, groups, strict=True):
        detail = _group_differs(w, g, canonical)
        if detail:
            return Stale(True, f"group {w.get('name')}: {detail}")
    return None


def _written_groups(text: str | None) -> list[Mapping[str, Any]]:
    data = _yaml(text, "the written rule file")
    groups = data.get("groups") if isinstance(data, Mapping) else None
    return [g for g in groups or [] if isinstance(g, Mapping)]


def _group_differs(
    want: Mapping[str, Any], got: Mapping[str, Any], canonical: Sequence[Canonical]
) -> str:
    for key in ("interval", "limit"):  # only when written: else the loaded default stands
        if key in want and _seconds(want[key]) != _seconds(got.get(key, 0)):
            return f"the {key} differs"
    rules = list(got.get("rules") or [])
    wanted = list(want.get("rules") or [])
    if [_rule_name(r) for r in rules] != [_rule_name(r) for r in wanted]:
        return "the loaded rules are " + ", ".join(str(r.get("name")) for r in rules)
    for w, r in zip(wanted, rules, strict=True):
        detail = _rule_differs(w, r, canonical)
        if detail:
            return f"rule {r.get('name')}: {detail}"
    return ""


def _rule_name(rule: Mapping[str, Any]) -> tuple[str, str]:
    if "type" in rule:  # the API's rule
        return str(rule.get("type")), str(rule.get("name"))
    if "alert" in rule:  # the written rule
        return "alerting", str(rule["alert"])
    return "recording", str(rule.get("record"))


def _rule_differs(
    want: Mapping[str, Any], got: Mapping[str, Any], canonical: Sequence[Canonical]
) -> str:
    if not same_query(str(want.get("expr", "")), str(got.get("query", "")), canonical):
        return "the query differs"
    if _strings(want.get("labels")) != _strings(got.get("labels")):
        return "the labels differ"
    if "alert" not in want:
        return ""
    if _strings(want.get("annotations")) != _strings(got.get("annotations")):
        return "the annotations differ"
    for key, api in (("for", "duration"), ("keep_firing_for", "keepFiringFor")):
        if _seconds(want.get(key, 0)) != _seconds(got.get(api, 0)):
            return f"{key} differs"
    return ""


def _strings(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _seconds(value: object) -> float | None:
    """A duration as seconds: the API's number, or a written Prometheus duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    return duration_ms(text) / 1000 if is_duration(text) else None


# -- Alertmanager routes and receivers -------------------------------------------------------
@dataclass(frozen=True)
class Routing:
    """An Alertmanager configuration indexed for the per-customer question: each customer's
    first-level route (the one matching `customer_id="<id>"` alone) and the receivers."""

    routes: dict[str, Mapping[str, Any]]
    receivers: dict[str, Mapping[str, Any]]


def routing(text: str | None, what: str = "the configuration") -> Routing:
    config = _yaml(text, what)
    if not isinstance(config, Mapping):
        return Routing({}, {})
    routes: dict[str, Mapping[str, Any]] = {}
    root = config.get("route")
    for child in (root.get("routes") if isinstance(root, Mapping) else None) or []:
        customer = _customer_of(child)
        if customer is not None:
            routes.setdefault(customer, child)
    receivers = {
        str(r.get("name")): r for r in config.get("receivers") or [] if isinstance(r, Mapping)
    }
    return Routing(routes, receivers)


def _customer_of(route: object) -> str | None:
    if not isinstance(route, Mapping):
        return None
    matchers = _matchers(route.get("matchers"))
    if matchers is None or len(matchers) != 1:
        return None
    ((name, op, value),) = matchers
    return value if name == TENANT_LABEL and op == "=" else None


def routes_stale(customer_id: str, written: Routing, loaded: Routing) -> Stale | None:
    """Whether Alertmanager routes `customer_id` as written: its route subtree and every
    receiver the subtree names are in the loaded configuration (defaults may be added)."""
    want, got = written.routes.get(customer_id), loaded.routes.get(customer_id)
    if want is None:
        return Stale(True, "its route is removed, but still loaded") if got else None
    if got is None:
        return Stale(False, f'no route for customer_id="{customer_id}" is loaded')
    detail = covers(want, got, "route")
    if detail:
        return Stale(True, detail)
    for name in sorted(set(_receivers_of(want))):
        if name not in loaded.receivers:
            return Stale(True, f"receiver {name} is not loaded")
        detail = covers(written.receivers.get(name, {}), loaded.receivers[name], name)
        if detail:
            return Stale(True, f"receiver {detail}")
    return None


def _receivers_of(route: Mapping[str, Any]) -> Iterator[str]:
    if "receiver" in route:
        yield str(route["receiver"])
    for child in route.get("routes") or []:
        if isinstance(child, Mapping):
            yield from _receivers_of(child)


_SETS = ("matchers", "group_by")  # lists whose order means nothing (Alertmanager sorts some)


def _both_ways(key: str) -> bool:
    """Lists whose loaded entries must all be written ones too: a route or integration the
    target still has is a difference, while other keys may carry added defaults."""
    return key == "routes" or key.endswith("_configs")


def covers(written: object, loaded: object, path: str) -> str:
    """Where the loaded value lacks or changes something written ("" when it has all of
    it). Alertmanager adds defaults (`send_resolved`, `http_config`, templates), prints
    durations its own way (`90s` → `1m30s`) and hides secrets, which match anything."""
    if isinstance(written, Mapping):
        if not isinstance(loaded, Mapping):
            return f"{path} differs"
        for key, value in written.items():
            if key not in loaded and _empty(value):
                continue  # a zero value Alertmanager does not print
            if key in _SETS:
                if _as_set(value) != _as_set(loaded.get(key)):
                    return f"{path}.{key} differs"
                continue
            detail = covers(value, loaded.get(key), f"{path}.{key}")
            if detail:
                return detail
        extra = [k for k in loaded if _both_ways(str(k)) and k not in written and loaded[k]]
        return f"{path}.{extra[0]} is still loaded" if extra else ""
    if isinstance(written, list):
        if not isinstance(loaded, list) or len(loaded) != len(written):
            return f"{path} differs"
        for i, (w, got) in enumerate(zip(written, loaded, strict=True)):
            detail = covers(w, got, f"{path}[{i}]")
            if detail:
                return detail
        return ""
    return "" if _same_scalar(written, loaded) else f"{path} differs"


def _same_scalar(written: object, loaded: object) -> bool:
    if loaded == SECRET or written == loaded:
        return True
    if isinstance(written, str) and isinstance(loaded, str):
        both = is_duration(written) and is_duration(loaded)
        return both and duration_ms(written) == duration_ms(loaded)
    return False


def _empty(value: object) -> bool:
    return value is None or value is False or value == 0 or value in ("", [], {})


def _as_set(value: object) -> frozenset[object] | None:
    if not isinstance(value, list):
        return None
    matchers = _matchers(value)
    if matchers is not None:
        return frozenset(matchers)
    return frozenset(str(v) for v in value)


def _matchers(value: object) -> list[tuple[str, str, str]] | None:
    """Matchers as (name, operator, value), however quoted; None if any is not one."""
    if not isinstance(value, list):
        return None
    out = []
    for text in value:
        try:
            m = parse_matcher(str(text))
        except RouteConfigError:
            return None
        out.append((m.name, m.op, m.value))
    return out

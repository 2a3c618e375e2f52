"""Synced means live, for the sinks that reload: ask Prometheus and Alertmanager what they loaded.

The files and ConfigMap sinks make output live with `POST /-/reload` (sinks/reload.py, the
one place reloads happen). A 200 says the target read its files; whether those are the
files just written is asked here, once per target per pass and only when some customer's
liveness is asked: Prometheus `GET /api/v1/rules`, Alertmanager `GET /api/v2/status`
(`config.original`), compared per customer by sinks/loaded.py. A customer whose part is not
loaded yet is `Pending` (the reconciler asks again 0.5 s … 10 s later) and the target is
reloaded on that next pass; one that is loaded is `Reloaded`. A failed question is
`Pending` too (the reload succeeded; what it loaded is unknown), never a reload storm:
each pass asks each target at most once and reloads it at most once.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..render import ALERTMANAGER_PATH
from .base import ALERTMANAGER, PENDING, PROMETHEUS, Liveness, ReloadOutcome
from .loaded import (
    LOCAL,
    Routing,
    Stale,
    loaded_rule_files,
    routes_stale,
    routing,
    rules_stale,
)
from .reload import Reloader, target_of

Written = Callable[[str], str | None]  # output path → the text the sink wrote (None: none)
TIMEOUT_S = 30.0
FORMATTED_MAX = 10_000  # queries whose print Prometheus was asked for, kept per process

# Why a target that answered 200 may still have older files, per sink, for the message.
KUBELET = "the kubelet has not refreshed the ConfigMap yet"
FILES_HINTS = {
    PROMETHEUS: "after a reload: do its rule_files include the output directory's rules?",
    ALERTMANAGER: "after a reload: is its --config.file the written alertmanager.yml?",
}
CONFIGMAP_HINTS = {PROMETHEUS: KUBELET, ALERTMANAGER: KUBELET}
_WHAT = {PROMETHEUS: ("Prometheus", "rules"), ALERTMANAGER: ("Alertmanager", "routes")}


class QueryFailed(Exception):
    """Asking a target what it loaded failed (unreachable, an error, not its API)."""


def get_json(url: str, timeout_s: float = TIMEOUT_S) -> Any:
    """GET `url`'s JSON; QueryFailed says why not (URL, status, a line of the body)."""
    # Imported here, as in sinks/reload.py: render/validate never ask a target anything.
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace").strip().splitlines()
        shown = body[0][:200] if body else exc.reason
        raise QueryFailed(f"{url}: HTTP {exc.code}: {shown}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise QueryFailed(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    except ValueError as exc:  # not JSON: not the API asked for
        raise QueryFailed(f"{url}: not a JSON answer ({exc})") from exc


def loaded_rules(base_url: str) -> dict[str, list[Mapping[str, Any]]]:
    """What Prometheus loaded: its rule groups by file name (`loaded_rule_files`)."""
    url = base_url.rstrip("/") + "/api/v1/rules"
    try:
        groups = get_json(url)["data"]["groups"]
    except (KeyError, TypeError) as exc:
        raise QueryFailed(f"{url}: no data.groups in the answer") from exc
    return loaded_rule_files([g for g in groups if isinstance(g, Mapping)])


def loaded_config(base_url: str) -> str:
    """The configuration Alertmanager loaded, as it prints it (`config.original`)."""
    url = base_url.rstrip("/") + "/api/v2/status"
    try:
        return str(get_json(url)["config"]["original"])
    except (KeyError, TypeError) as exc:
        raise QueryFailed(f"{url}: no config.original in the answer") from exc


def formatted_query(base_url: str, query: str) -> str | None:
    """Prometheus' own print of `query` (`/api/v1/format_query`, its pretty form), None
    when it cannot say (an older Prometheus, unreachable, a query it does not parse)."""
    url = base_url.rstrip("/") + "/api/v1/format_query?" + urllib.parse.urlencode({"query": query})
    try:
        data = get_json(url)["data"]
    except (QueryFailed, KeyError, TypeError):
        return None
    return data if isinstance(data, str) else None


@dataclass
class _Parsed:
    """The last text parsed into a `Routing`, kept while the text stays the same (the
    loaded and the written alertmanager.yml hold every customer: parsed once, not per
    customer, and not again while they do not change)."""

    text: str | None = None
    routing: Routing = field(default_factory=lambda: Routing({}, {}))

    def of(self, text: str | None) -> Routing:
        if text != self.text or self.text is None:
            self.text, self.routing = text, routing(text)
        return self.routing


class LoadedCheck:
    """The reloads of a sink (`Reloader`) and the questions that tell whether they took."""

    def __init__(self, reloader: Reloader, written: Written, hints: Mapping[str, str]) -> None:
        self.reloader = reloader
        self.written = written
        self.hints = hints
        self.asked = 0  # questions asked (tests and benchmarks count them)
        self._rules: dict[str, Mapping[str, Any]] = {}  # Prometheus URL → rule files (a pass)
        self._configs: dict[str, str] = {}  # Alertmanager URL → loaded text (this pass)
        self._failed: dict[str, str] = {}  # URL → why asking failed (this pass)
        self._loaded_am, self._written_am = _Parsed(), _Parsed()
        self._formatted: dict[str, str] = {}

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        outcomes = self.reloader.make_live(written)
        self._rules, self._configs, self._failed = {}, {}, {}  # ask again in this pass
        return outcomes

    def liveness(self, output: str, customer_id: str) -> Liveness:
        live = self.reloader.liveness(output)
        if live.reason != "Reloaded":  # failed, pending, or nobody to ask
            return live
        target = target_of(output)
        url = self.reloader.urls().get(target)
        if url is None:
            return live
        try:
            stale = self._stale(target, url, output, customer_id)
        except QueryFailed as exc:
            name = _WHAT[target][0]
            return Liveness(False, PENDING, f"reloaded; asking {name} what it loaded failed: {exc}")
        if stale is None:
            return live
        self.reloader.reload_again(target)
        return Liveness(False, PENDING, self._message(target, customer_id, stale))

    def _stale(self, target: str, url: str, output: str, customer_id: str) -> Stale | None:
        if url in self._failed:
            raise QueryFailed(self._failed[url])
        try:
            if target == PROMETHEUS:
                return self._rules_stale(url, output, customer_id)
            return self._routes_stale(url, customer_id)
        except QueryFailed as exc:
            self._failed[url] = str(exc)  # one question per target per pass, even failed
            raise

    def _rules_stale(self, url: str, output: str, customer_id: str) -> Stale | None:
        if url not in self._rules:
            self.asked += 1
            self._rules[url] = loaded_rules(url)
        canonicals = (*LOCAL, lambda query: self._format(url, query))
        return rules_stale(customer_id, self.written(output), self._rules[url], canonicals)

    def _routes_stale(self, url: str, customer_id: str) -> Stale | None:
        if url not in self._configs:
            self.asked += 1
            self._configs[url] = loaded_config(url)
        loaded = self._loaded_am.of(self._configs[url])
        return routes_stale(
            customer_id, self._written_am.of(self.written(ALERTMANAGER_PATH)), loaded
        )

    def _format(self, url: str, query: str) -> str | None:
        """Prometheus' print of a query the local parser prints differently (rare: a
        function it names otherwise, an expression too long for it); cached by text."""
        if query in self._formatted:
            return self._formatted[query]
        printed = formatted_query(url, query)
        if printed is not None:  # a failed question is asked again, not remembered
            if len(self._formatted) >= FORMATTED_MAX:
                self._formatted.clear()
            self._formatted[query] = printed
        return printed

    def _message(self, target: str, customer_id: str, stale: Stale) -> str:
        name, what = _WHAT[target]
        hint = self.hints.get(target, "")
        if stale.previous:
            said = f"written; {name} still has the previous {what} for {customer_id}"
        else:
            said = f"written; {name} has not loaded the {what} for {customer_id} yet"
        return f"{said} ({hint}): {stale.detail}" if hint else f"{said}: {stale.detail}"

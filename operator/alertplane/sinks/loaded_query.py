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

import hashlib
import json
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import http_read
from ..render import ALERTMANAGER_PATH
from .base import (
    ALERTMANAGER,
    PENDING,
    PROMETHEUS,
    Liveness,
    ReloadOutcome,
    combine,
    is_replica,
    kind_of,
)
from .loaded import (
    LOCAL,
    Routing,
    Stale,
    Unreadable,
    loaded_rule_files,
    routes_stale,
    routing,
    rules_fingerprint,
    rules_stale,
)
from .reload import Reloader

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


def get_json(url: str, timeout_s: float | None = None) -> Any:
    """GET `url`'s JSON, whole within `timeout_s` (TIMEOUT_S) and at most
    http_read.MAX_ANSWER_BYTES; QueryFailed says why not (URL, status, a line of the body)."""
    # Imported here, as in sinks/reload.py: render/validate never ask a target anything.
    import urllib.error

    try:
        return json.loads(http_read.get(url, TIMEOUT_S if timeout_s is None else timeout_s))
    except urllib.error.HTTPError as exc:
        body = exc.read(4096).decode("utf-8", "replace").strip().splitlines()
        shown = body[0][:200] if body else exc.reason
        raise QueryFailed(f"{url}: HTTP {exc.code}: {shown}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise QueryFailed(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    except http_read.AnswerTooLarge as exc:
        raise QueryFailed(f"{url}: {exc}") from exc
    except ValueError as exc:  # not JSON: not the API asked for
        raise QueryFailed(f"{url}: not a JSON answer ({exc})") from exc


def loaded_rules(base_url: str) -> dict[str, list[Mapping[str, Any]]]:
    """What Prometheus loaded: its rule groups by file name (`loaded_rule_files`)."""
    url = base_url.rstrip("/") + "/api/v1/rules"
    try:
        groups = get_json(url)["data"]["groups"]
    except (KeyError, TypeError) as exc:
        raise QueryFailed(f"{url}: no data.groups in the answer") from exc
    if not isinstance(groups, list) or not all(
        isinstance(g, Mapping) and all(isinstance(r, Mapping) for r in g.get("rules") or [])
        for g in groups
    ):
        raise QueryFailed(f"{url}: data.groups is not a list of rule groups")
    return loaded_rule_files(groups)


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


def config_hash(base_url: str) -> float | None:
    """Alertmanager's `alertmanager_config_hash`: the first 48 bits of the MD5 of the file
    it loaded, byte for byte (None: it does not say). Equal to `text_hash` of the written
    file, every customer is live without reading the configuration back (/metrics is
    ~30 KB; /api/v2/status at 1,000 customers is megabytes of YAML to parse)."""
    url = base_url.rstrip("/") + "/metrics"
    import urllib.error

    try:
        body = http_read.get(url, TIMEOUT_S).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, http_read.AnswerTooLarge) as exc:
        raise QueryFailed(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    for line in body.splitlines():
        if line.startswith("alertmanager_config_hash "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def text_hash(text: str) -> float:
    """`alertmanager_config_hash` of a file holding `text` (Alertmanager's
    md5HashAsMetricValue: the digest's first 6 bytes, little-endian)."""
    digest = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()
    return float(int.from_bytes(digest[:6], "little"))


@dataclass
class _Parsed:
    """The last text parsed into a `Routing`, kept while the text stays the same (the
    loaded and the written alertmanager.yml hold every customer: parsed once, not per
    customer, and not again while they do not change)."""

    text: str | None = None
    routing: Routing = field(default_factory=lambda: Routing({}, {}))

    def of(self, text: str | None, what: str) -> Routing:
        if text != self.text or self.text is None:
            self.text, self.routing = text, routing(text, what)
        return self.routing


@dataclass(frozen=True)
class _Seen:
    """A customer's output found live: the written text's hash, the reload count of its
    target then, the loaded part's fingerprint (rules only)."""

    text: int
    epoch: int
    loaded: int = 0


class LoadedCheck:
    """The reloads of a sink (`Reloader`) and the questions that tell whether they took.

    What a target has loaded changes only when it reloads, so a customer found live stays
    live, without a question, until its written output changes or the target is reloaded
    (`_Seen`); a pass asks each target at most once, and only for customers not known live."""

    def __init__(self, reloader: Reloader, written: Written, hints: Mapping[str, str]) -> None:
        self.reloader = reloader
        self.written = written
        self.hints = hints
        self.asked = 0  # questions asked (tests and benchmarks count them)
        self._reloads: dict[str, int] = {}  # target → successful reloads so far
        self._seen: dict[tuple[str, str], _Seen] = {}  # (target, customer) → found live
        self._answers: dict[str, Any] = {}  # question and URL → answer, in this pass
        self._failed: dict[str, str] = {}  # target → why asking failed, in this pass
        self._am_text: tuple[str | None, float | None] | None = None  # this pass's written
        # Per replica: while replicas hold different configurations (one not reloaded yet),
        # one cache for all would parse megabytes again for every customer asked.
        self._loaded_am: dict[str, _Parsed] = {}
        self._written_am = _Parsed()
        self._formatted: dict[str, str] = {}

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        outcomes = self.reloader.make_live(written)
        for target, outcome in outcomes.items():
            if outcome.ok:
                self._reloads[target] = self._epoch(target) + 1
        self._answers, self._failed, self._am_text = {}, {}, None  # ask again in this pass
        return outcomes

    def liveness(self, output: str, customer_id: str) -> Liveness:
        """Live when every target of `output` has loaded `customer_id`'s part of it."""
        targets = self.reloader.targets(output)
        return combine({t: self._target(t, output, customer_id) for t in targets})

    def _target(self, target: str, output: str, customer_id: str) -> Liveness:
        live = self.reloader.target_liveness(target)
        url = self.reloader.urls().get(target)
        if live.reason != "Reloaded" or url is None:  # failed, pending, or nobody to ask
            return live
        text = self._written(output)
        seen = self._seen.get((target, customer_id))
        if seen is not None and (seen.text, seen.epoch) == (hash(text), self._epoch(target)):
            return live  # found live, and neither reloaded nor rewritten since
        try:
            if target in self._failed:
                raise QueryFailed(self._failed[target])
            stale = self._stale(target, url, customer_id, text, seen)
        except (QueryFailed, Unreadable) as exc:
            if target not in self._failed and is_replica(target):
                # A replica that stopped answering after its reload: reloaded again, as
                # known down (a brief wait, its request kept in flight: sinks/reload.py),
                # so a replica that hangs is not asked, for a full timeout, every re-check.
                self.reloader.down.add(target)
                self.reloader.reload_again(target)
            self._failed[target] = str(exc)  # one question per target per pass, even failed
            name = _WHAT[kind_of(target)][0]
            return Liveness(False, PENDING, f"reloaded; asking {name} what it loaded failed: {exc}")
        if stale is None:
            return live
        self._seen.pop((target, customer_id), None)
        self.reloader.reload_again(target)
        return Liveness(False, PENDING, self._message(target, customer_id, stale))

    def _epoch(self, target: str) -> int:
        return self._reloads.get(target, 0)

    def _written(self, output: str) -> str | None:
        if output != ALERTMANAGER_PATH:
            return self.written(output)
        if self._am_text is None:  # one read of the file every customer shares, per pass
            text = self.written(output)
            self._am_text = (text, None if text is None else text_hash(text))
        return self._am_text[0]

    def _ask(self, url: str, question: Callable[[str], Any]) -> Any:
        key = f"{question.__name__} {url}"
        if key not in self._answers:
            self.asked += 1
            self._answers[key] = question(url)
        return self._answers[key]

    def _stale(
        self, target: str, url: str, customer_id: str, text: str | None, seen: _Seen | None
    ) -> Stale | None:
        epoch = self._epoch(target)
        if kind_of(target) == ALERTMANAGER:
            assert self._am_text is not None  # _written read it
            loaded_hash = self._ask(url, config_hash)
            if loaded_hash is not None and loaded_hash == self._am_text[1]:
                self._seen[target, customer_id] = _Seen(hash(text), epoch)
                return None  # the very file written: every customer is live
            parsed = self._loaded_am.setdefault(target, _Parsed())
            loaded = parsed.of(self._ask(url, loaded_config), "its config.original")
            stale = routes_stale(customer_id, self._written_am.of(text, "alertmanager.yml"), loaded)
            if stale is None:
                self._seen[target, customer_id] = _Seen(hash(text), epoch)
            return stale
        files = self._ask(url, loaded_rules)
        mark = _Seen(hash(text), epoch, rules_fingerprint(files.get(f"{customer_id}.yml", [])))
        if seen is not None and (seen.text, seen.loaded) == (mark.text, mark.loaded):
            self._seen[target, customer_id] = mark  # reloaded, but the same rules
            return None
        canonicals = (*LOCAL, lambda query: self._format(url, query))
        stale = rules_stale(customer_id, text, files, canonicals)
        if stale is None:  # a stale answer is worked out again (it may hinge on a question)
            self._seen[target, customer_id] = mark
        return stale

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
        name, what = _WHAT[kind_of(target)]
        hint = self.hints.get(kind_of(target), "")
        if stale.previous:
            said = f"written; {name} still has the previous {what} for {customer_id}"
        else:
            said = f"written; {name} has not loaded the {what} for {customer_id} yet"
        return f"{said} ({hint}): {stale.detail}" if hint else f"{said}: {stale.detail}"

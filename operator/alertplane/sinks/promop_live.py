"""Whether prometheus-operator made the sink's objects live (`Synced` means live).

The PO objects that decide it are named by the operator's flags (`--promop-prometheus
[NS/]NAME`, `--promop-alertmanager NAME`). Once per pass (`read`, from `make_live`) a
bounded number of calls reads: our PrometheusRules and AlertmanagerConfigs (their uid,
resourceVersion and when we last wrote them), each named Prometheus and Alertmanager object
(its `Reconciled` condition for its current generation), each Prometheus' rule ConfigMaps,
each Alertmanager's generated Secret, and the `InvalidConfiguration` Warning Events in the
sink namespace. Then, per customer (`liveness`), in this order:

- live (`Reloaded`, as for the other sinks): what PO generated for every named object
  equals what we wrote;
- `Rejected` (Failed, PO's event text): PO refused the current version of our object;
- `ReloadFailed` (the object's Reconciled message): PO cannot reconcile a named object for
  its current generation (for Alertmanager, e.g. a configuration no customer can fix);
- else `Pending`, naming what is awaited; the reconciler asks again a little later.

Events: PO v0.85.0 posts core/v1 Events (only when it may create them), and its recorder
folds a repeated event into the first one (count and lastTimestamp change, the
involvedObject's resourceVersion stays the first's). An event is about the current version
of our object when it names that version's resourceVersion, or was last seen after we
wrote it (managedFields time; seconds, so an event in the second of our write is not
believed, and the customer stays Pending until PO reconciles again).
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from ..errors import AlertplaneError
from .base import ALERTMANAGER, PENDING, PROMETHEUS, KubeApi, Liveness, ReloadOutcome
from .kubeobjects import SELECTOR, object_path
from .kubeshards import shard_target
from .promop_match import (
    LOADER,
    GeneratedRoutes,
    customer_part_matches,
    rule_file,
    rule_file_key,
    rule_spec,
)
from .promop_shards import parse_alertmanager as parse_alertmanager  # where it always was
from .promop_shards import parse_prometheus as parse_prometheus
from .promop_shards import selector_problem, shard_of_objects

# The reason of a live customer part: as for the other sinks (docs/architecture.md: the
# system that runs the output accepted it), so the CRDs' documented reasons stay the same.
LIVE = "Reloaded"
MONITORING = "monitoring.coreos.com"
FIELD_MANAGER = "alertplane"  # kube/client.py's (sinks import nothing from kube/)
RULE_CONFIGMAPS = "managed-by=prometheus-operator,prometheus-name={name}"
GENERATED_KEY = "alertmanager.yaml.gz"  # pkg/alertmanager/statefulset.go
INVALID_EVENTS = "type=Warning,reason=InvalidConfiguration"
# The specs of our PrometheusRules and AlertmanagerConfigs, by name.
Ours = tuple[dict[str, Any], dict[str, Any]]


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Written:
    """One of our objects as the API has it now."""

    uid: str
    version: str  # resourceVersion
    at: datetime | None  # when we last changed it (our managedFields entry)
    spec: dict[str, Any]

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Written:
        meta = item.get("metadata") or {}
        times = [
            t
            for entry in meta.get("managedFields") or []
            if entry.get("manager") == FIELD_MANAGER and (t := _time(entry.get("time")))
        ]
        at = max(times) if times else _time(meta.get("creationTimestamp"))
        return cls(
            str(meta.get("uid")), str(meta.get("resourceVersion")), at, item.get("spec") or {}
        )

    def refused(self, events: list[dict[str, Any]]) -> str | None:
        """PO's message when one of `events` is about this version of the object."""
        for event in events:
            involved = event.get("involvedObject") or {}
            if involved.get("uid") != self.uid:
                continue
            seen = _time(event.get("lastTimestamp") or event.get("eventTime"))
            if involved.get("resourceVersion") == self.version or (
                seen is not None and self.at is not None and seen > self.at
            ):
                return str(event.get("message") or "refused by prometheus-operator")
        return None


@dataclass
class Reconciled:
    """A named Prometheus/Alertmanager object's state: None for both when it reconciled
    its current generation."""

    failed: str | None = None  # Reconciled=False for the current generation: its message
    awaited: str | None = None  # not (yet) reconciled: what we are waiting for


def reconciled(kind: str, ns: str, name: str, obj: Mapping[str, Any] | None) -> Reconciled:
    where = f"{kind} {ns}/{name}"
    if obj is None:
        return Reconciled(failed=f"{where} does not exist (named by the operator's flags)")
    generation = (obj.get("metadata") or {}).get("generation")
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") != "Reconciled" or cond.get("observedGeneration") != generation:
            continue
        if cond.get("status") == "True":
            return Reconciled()
        reason = cond.get("reason") or "not reconciled"
        return Reconciled(failed=f"{where}: {reason}: {cond.get('message') or ''}".rstrip(": "))
    return Reconciled(awaited=f"prometheus-operator to reconcile {where} generation {generation}")


@dataclass
class Observed:
    """Everything one pass read."""

    prometheus: dict[tuple[str, str], Reconciled] = field(default_factory=dict)
    rule_files: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    alertmanager: dict[str, Reconciled] = field(default_factory=dict)
    am_config: dict[str, GeneratedRoutes | None] = field(default_factory=dict)
    rules: dict[str, Written] = field(default_factory=dict)  # by object name
    amconfigs: dict[str, Written] = field(default_factory=dict)
    events: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    # a shard's Prometheus that would load other shards' customers: why (promop_shards.py)
    misselecting: dict[tuple[str, str], str] = field(default_factory=dict)
    error: str | None = None  # reading failed: nothing above is known

    def ours(self) -> Ours:
        """The specs of our objects as listed (what `LiveReader.read` compares with)."""
        return (
            {name: w.spec for name, w in self.rules.items()},
            {name: w.spec for name, w in self.amconfigs.items()},
        )


class LiveReader:
    """Reads prometheus-operator's state once per pass and answers liveness from it."""

    def __init__(
        self,
        client: KubeApi,
        namespace: str,
        prometheus: list[tuple[str, str]],
        alertmanager: list[str],
        shards: Mapping[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        """`shards`: shard → its Prometheus objects (promop_shards.py); a customer's rules
        are then asked of its shard's objects only."""
        self.client = client
        self.namespace = namespace
        self.shards = {s: sorted(set(objs)) for s, objs in (shards or {}).items()}
        self.shard_of = shard_of_objects(self.shards)
        self.prometheus = sorted(set(prometheus) | set(self.shard_of))
        self.alertmanager = sorted(set(alertmanager))
        self.seen = Observed()
        # Rule files as last parsed, by key: (text, parsed). A full pass asks about every
        # customer; only files whose text changed are parsed again.
        self._files: dict[str, tuple[str, Any]] = {}
        self._configs: dict[str, tuple[Any, GeneratedRoutes | None]] = {}  # likewise, by name

    def read(self, ours: Ours | None = None) -> dict[str, ReloadOutcome]:
        """Read the state (bounded: at most 3 lists, and 2 calls per named object); what
        each target answered, as the reloads of the other sinks do. `ours`: the specs the
        sink holds for its PrometheusRules and AlertmanagerConfigs (name → spec); when the
        last listing had exactly these, our objects are not listed again (they change only
        when we write them; a resync re-reads them into the sink). None: list them."""
        seen = Observed()
        if not self.prometheus and not self.alertmanager:
            self.seen = seen
            return {}
        listed = self.seen.error is None and ours is not None and ours == self.seen.ours()
        if listed:
            seen.rules, seen.amconfigs = self.seen.rules, self.seen.amconfigs
        try:
            self._read(seen, relist=not listed)
        except AlertplaneError as exc:
            seen.error = f"cannot read prometheus-operator's state: {exc}"
        self.seen = seen
        present = {key for files in seen.rule_files.values() for key in files}
        self._files = {k: v for k, v in self._files.items() if k in present}
        out: dict[str, ReloadOutcome] = {}
        for target, states in self._by_target(seen).items():
            if not states and seen.error is None:
                continue
            failed = [s.failed for s in states if s.failed]
            if seen.error is not None and (
                self.alertmanager if target == ALERTMANAGER else self.prometheus
            ):
                failed = [seen.error]
            out[target] = ReloadOutcome(not failed, 1, "; ".join(failed))
        return out

    def _by_target(self, seen: Observed) -> dict[str, list[Reconciled]]:
        """The named objects' states by target: `prometheus/<shard>` when sharded."""
        out: dict[str, list[Reconciled]] = {ALERTMANAGER: list(seen.alertmanager.values())}
        out.update({shard_target(s): [] for s in self.shards} or {PROMETHEUS: []})
        for obj, state in seen.prometheus.items():
            target = shard_target(self.shard_of.get(obj)) if self.shards else PROMETHEUS
            out[target].append(state)
        return out

    def _read(self, seen: Observed, relist: bool) -> None:
        ns = self.namespace
        if relist and self.prometheus:
            path = object_path(f"{MONITORING}/v1", "prometheusrules", ns)
            for item in self.client.list(path, SELECTOR):
                seen.rules[item["metadata"]["name"]] = Written.of(item)
        if relist and self.alertmanager:
            path = object_path(f"{MONITORING}/v1alpha1", "alertmanagerconfigs", ns)
            for item in self.client.list(path, SELECTOR):
                seen.amconfigs[item["metadata"]["name"]] = Written.of(item)
        for event in self.client.list(
            f"/api/v1/namespaces/{ns}/events?fieldSelector={INVALID_EVENTS}"
        ):
            involved = event.get("involvedObject") or {}
            key = (str(involved.get("kind")), str(involved.get("name")))
            seen.events.setdefault(key, []).append(event)
        for pns, name in self.prometheus:
            obj = self.client.get(object_path(f"{MONITORING}/v1", "prometheuses", pns, name))
            state = reconciled("Prometheus", pns, name, obj)
            shard = self.shard_of.get((pns, name))
            wrong = None if shard is None else selector_problem(obj, shard)
            seen.prometheus[(pns, name)] = Reconciled(failed=wrong) if wrong else state
            if wrong:
                seen.misselecting[(pns, name)] = wrong
            files: dict[str, str] = {}
            path = object_path("v1", "configmaps", pns)
            for cm in self.client.list(path, RULE_CONFIGMAPS.format(name=name)):
                files.update(cm.get("data") or {})
            seen.rule_files[(pns, name)] = files
        for name in self.alertmanager:
            obj = self.client.get(object_path(f"{MONITORING}/v1", "alertmanagers", ns, name))
            seen.alertmanager[name] = reconciled("Alertmanager", ns, name, obj)
            secret = self.client.get(
                object_path("v1", "secrets", ns, f"alertmanager-{name}-generated")
            )
            seen.am_config[name] = self._routes(name, secret)

    def _routes(self, name: str, secret: Mapping[str, Any] | None) -> GeneratedRoutes | None:
        """The generated configuration of Alertmanager `name`, indexed; parsed again only
        when the Secret changed (parsing is most of a pass: ~0.5 s at 1,000 customers)."""
        data = ((secret or {}).get("data") or {}).get(GENERATED_KEY)
        cached = self._configs.get(name)
        if cached is None or cached[0] != data:
            config = generated_config(secret)
            cached = (data, None if config is None else GeneratedRoutes.of(config))
            self._configs[name] = cached
        return cached[1]

    def _rule_file(self, key: str, text: str | None) -> Any:
        if text is None:
            return None
        cached = self._files.get(key)
        if cached is None or cached[0] != text:
            cached = self._files[key] = (text, rule_file(text))
        return cached[1]

    # -- per customer ---------------------------------------------------------------------
    def rules_liveness(
        self, name: str, spec: dict[str, Any] | None, shard: str | None = None
    ) -> Liveness | None:
        """Liveness of our PrometheusRule `name` (`spec`: what we wrote; None: nothing
        written) on the Prometheus objects of `shard` (all named ones when not sharded);
        None when no Prometheus is named."""
        prometheus = self.shards.get(shard, []) if self.shards and shard else self.prometheus
        if not prometheus:
            return None
        seen = self.seen
        if seen.error is not None:
            return Liveness(False, "ReloadFailed", seen.error)
        written = seen.rules.get(name)
        if spec is None or written is None:
            return _nothing_written("PrometheusRule", spec, written)
        wrong = [seen.misselecting[t] for t in prometheus if t in seen.misselecting]
        if wrong:  # generated or not, its shard would evaluate it among others' rules
            return Liveness(False, "ReloadFailed", "; ".join(wrong))
        key = rule_file_key(self.namespace, name, written.uid)
        want = rule_spec(spec)
        waiting = [
            target
            for target in prometheus
            if self._rule_file(key, seen.rule_files[target].get(key)) != want
        ]
        if not waiting:
            return Liveness(True, LIVE, _loaded_message("Prometheus", prometheus))
        refused = written.refused(seen.events.get(("PrometheusRule", name), []))
        if refused is not None:
            return Liveness(False, "Rejected", refused)
        names = ", ".join(f"{pns}/{pname}" for pns, pname in waiting)
        return _not_live(
            [seen.prometheus[target] for target in waiting],
            f"prometheus-operator has not loaded it into Prometheus {names} yet",
        )

    def alertmanager_liveness(self, name: str, spec: dict[str, Any] | None) -> Liveness | None:
        """Liveness of our AlertmanagerConfig `name`; None when no Alertmanager is named."""
        if not self.alertmanager:
            return None
        seen = self.seen
        if seen.error is not None:
            return Liveness(False, "ReloadFailed", seen.error)
        written = seen.amconfigs.get(name)
        if spec is None or written is None:
            return _nothing_written("AlertmanagerConfig", spec, written)
        prefix = f"{self.namespace}/{name}/"
        differs = {}
        for am in self.alertmanager:
            config = seen.am_config[am]
            why = (
                "no generated configuration"
                if config is None
                else customer_part_matches(config, spec, prefix)
            )
            if why is not None:
                differs[am] = why
        if not differs:
            names = [(self.namespace, am) for am in self.alertmanager]
            return Liveness(True, LIVE, _loaded_message("Alertmanager", names))
        refused = written.refused(seen.events.get(("AlertmanagerConfig", name), []))
        if refused is not None:
            return Liveness(False, "Rejected", refused)
        waiting = ", ".join(f"{self.namespace}/{am} ({why})" for am, why in sorted(differs.items()))
        states = [seen.alertmanager[am] for am in differs]
        return _not_live(
            states, f"prometheus-operator has not loaded it into Alertmanager {waiting} yet"
        )


def generated_config(secret: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The configuration in PO's generated Secret (`alertmanager.yaml.gz`), parsed; None
    when there is none (yet) or it does not read."""
    data = ((secret or {}).get("data") or {}).get(GENERATED_KEY)
    if not data:
        return None
    try:
        loaded = yaml.load(gzip.decompress(base64.b64decode(data)), Loader=LOADER)
    except (ValueError, OSError, EOFError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _loaded_message(kind: str, names: list[tuple[str, str]]) -> str:
    where = ", ".join(f"{ns}/{name}" for ns, name in names)
    return f"prometheus-operator generated it for {kind} {where}"


def _nothing_written(kind: str, spec: dict[str, Any] | None, written: Written | None) -> Liveness:
    """No object of ours (a customer with nothing rendered, a deleted one): nothing to
    wait for. Written but not listed (deleted meanwhile): the next pass writes it again."""
    if spec is None:
        return Liveness(True, "Written", f"no {kind} for this customer")
    return Liveness(False, PENDING, f"the {kind} is not in the API yet")


def _not_live(states: list[Reconciled], pending: str) -> Liveness:
    failed = [s.failed for s in states if s.failed]
    if failed:
        return Liveness(False, "ReloadFailed", "; ".join(failed))
    awaited = [s.awaited for s in states if s.awaited]
    return Liveness(
        False, PENDING, pending + (f" (waiting for {'; '.join(awaited)})" if awaited else "")
    )

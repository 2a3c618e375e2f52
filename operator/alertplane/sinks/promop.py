"""prometheus-operator sink: one PrometheusRule and one AlertmanagerConfig per customer,
and the customer's Secret, in the sink namespace.

The objects are rendered by render/promop.py (pure); this module only reads what exists,
copies the Secret keys receivers reference, writes what differs and removes what is no
longer wanted. prometheus-operator loads the objects into Prometheus/Alertmanager itself;
reload URLs, when given, are asked as for the other sinks.

Sharded (`prometheus.shards`): a customer's PrometheusRule is `alertplane-<id>.<shard>`,
labelled `alertplane.io/shard: <shard>`, for the shard's `Prometheus` object
(promop_shards.py); moves keep the old one until the new one is live (kubeshards.py).
AlertmanagerConfigs are not sharded.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Collection, Sequence
from typing import Any

from ..errors import AlertplaneError, Problem
from ..model import CustomerReceiver
from ..model.common import MAX_URL
from ..render import ALERTMANAGER_PATH
from ..render.platform import PlatformConfig
from ..render.promop import (
    BASE_NAME,
    SecretKeys,
    alertmanager_config,
    object_name,
    platform_config,
    prometheus_rule_spec,
    secrets_platform,
    unsupported,
)
from ..validate.output import check_output
from .base import Files, KubeApi, Liveness, Receivers, ReloadOutcome, SinkError
from .kubeobjects import (
    ALERTMANAGER_LABEL,
    RULES_LABEL,
    ManagedObjects,
    customer_of_rules,
    labels,
    object_path,
)
from .kubeshards import Copies, Placement, shard_target
from .promop_live import LiveReader
from .promop_shards import ShardObjects
from .promop_values import Checks, refusal, value_checks, values_ok
from .reload import Reloader

log = logging.getLogger("alertplane.sinks.promop")

MONITORING = "monitoring.coreos.com"
# What one customer's object may weigh (its JSON). etcd stores at most 1.5 MiB per object
# and the API refuses a Secret of more than 1 MiB: an object refused there would fail the
# write, and the whole pass with it, every customer's. One too large is not written (the
# previous one stays) and its customer is Rejected, saying why.
MAX_OBJECT_BYTES = 1024 * 1024


def _rule_labels(customer_id: str, placement: Placement) -> dict[str, str]:
    return labels(customer_id, **{RULES_LABEL: "true"}, **placement.labels(customer_id))


def _specs(objects: ManagedObjects) -> dict[str, Any]:
    """Every spec we wrote (or read at start), by name: what the API should list."""
    return {name: content.get("spec") for name, (_, content) in objects.known.items()}


def _spec(objects: ManagedObjects, name: str) -> dict[str, Any] | None:
    """The spec we wrote (or read at start) for `name`; None when there is no object."""
    known = objects.known.get(name)
    return None if known is None else known[1].get("spec")


class PrometheusOperatorSink:
    name = "prometheus-operator"
    written_message: str | None = (
        "applied; prometheus-operator loads it into Prometheus/Alertmanager"
    )

    def __init__(
        self,
        client: KubeApi,
        namespace: str,
        platform: PlatformConfig,
        reloader: Reloader,
        prometheus: Sequence[tuple[str, str]] = (),
        alertmanager: Sequence[str] = (),
        shards: ShardObjects | None = None,
    ) -> None:
        """`prometheus` ((ns, name)) and `alertmanager` (names, in `namespace`): the
        prometheus-operator objects whose state decides liveness (promop_live.py), or, when
        sharded, `shards` (shard → its Prometheus objects); none: written counts as live,
        as without reload URLs."""
        self.client = client
        self.live = LiveReader(client, namespace, list(prometheus), list(alertmanager), shards)
        self.placement = Placement(platform.prometheus)
        self.namespace = namespace
        self.platform = secrets_platform(platform)
        self.reloader = reloader
        v1, v1alpha1 = f"{MONITORING}/v1", f"{MONITORING}/v1alpha1"
        self.rules = ManagedObjects(client, v1, "PrometheusRule", "prometheusrules", namespace)
        self.amconfigs = ManagedObjects(
            client, v1alpha1, "AlertmanagerConfig", "alertmanagerconfigs", namespace
        )
        self.secrets = ManagedObjects(client, "v1", "Secret", "secrets", namespace)
        self.copies = Copies(
            self.rules,
            self.placement,
            object_name,
            lambda shard: reloader.reload_again(shard_target(shard)),
        )
        self.moves = self.copies.moves  # finished moves, for an audit (serve: the store)
        self._secret_cache: dict[tuple[str, str], dict[str, str] | None] = {}
        self._too_large: dict[tuple[str, str], str] = {}  # (output, customer) → why

    def start(self) -> None:
        for objects in (self.rules, self.amconfigs, self.secrets):
            objects.load()
        self.copies.index()

    def refresh(self) -> None:
        """Re-read the generated objects that exist (the periodic resync compares with
        them; the full sync that follows also re-reads the Secrets receivers reference)."""
        self.start()

    def generated_outputs(self) -> list[str]:
        return [f"rules/{cid}.yml" for cid in self.copies.customers()]

    # -- writing ----------------------------------------------------------------------
    def write(self, files: Files, receivers: Receivers) -> list[str]:
        planned: dict[str, tuple[str, dict[str, Any] | None]] = {}  # rel → (customer, content)
        for rel, text in sorted(files.items()):
            cid = customer_of_rules(rel)
            if cid is None:
                continue
            content = None if text is None else {"spec": prometheus_rule_spec(text)}
            name, rule_labels = self.copies.current(cid), _rule_labels(cid, self.placement)
            if content is None or self.rules.differs(name, rule_labels, content):
                planned[rel] = (cid, content)
        # promtool only for the rule files about to be written (a full resync of unchanged
        # output checks none of them); amtool always, on the whole configuration.
        check_output(
            {
                rel: text
                for rel, text in files.items()
                if rel in planned or not rel.startswith("rules/")
            }
        )
        changed: list[str] = []
        dirty = {cid for rel in files if (cid := customer_of_rules(rel)) is not None}
        try:
            for rel, (cid, content) in planned.items():
                if self._refused_for_size(rel, cid, "PrometheusRule", content):
                    continue
                if content is None:
                    wrote = self.copies.remove_all(cid)
                else:
                    wrote = self.copies.put(cid, _rule_labels(cid, self.placement), content)
                if wrote:
                    changed.append(rel)
            for rel, text in files.items():  # moves: a copy goes once the new one is live
                if (cid := customer_of_rules(rel)) is not None and text is not None:
                    self.copies.settle(cid)
            if ALERTMANAGER_PATH in files and self._write_alertmanager(receivers, dirty):
                changed.append(ALERTMANAGER_PATH)
        finally:
            self._secret_cache = {}
        return changed

    def _write_alertmanager(self, receivers: Receivers, dirty: set[str]) -> bool:
        wrote = self._write_base()
        for output, cid in list(self._too_large):
            if output == ALERTMANAGER_PATH and cid not in receivers:
                del self._too_large[output, cid]
        for cid in sorted(receivers):
            spec, secret_keys = alertmanager_config(cid, receivers[cid], self.platform)
            name = object_name(cid)
            # Its Secret too, at most: a copied value passes value_ok (MAX_URL at most).
            secret = sum(len(k) + (len(v) if isinstance(v, str) else MAX_URL)
                         for k, v in secret_keys.items())  # fmt: skip
            if self._refused_for_size(
                ALERTMANAGER_PATH, cid, "AlertmanagerConfig and Secret", {"spec": spec}, secret
            ):
                continue
            if cid in dirty or name not in self.secrets.known:
                wrote |= self._put_secret(name, labels(cid), secret_keys, value_checks(spec))
            wrote |= self.amconfigs.put(
                name, labels(cid, **{ALERTMANAGER_LABEL: "true"}), {"spec": spec}
            )
        # The base is never "no longer wanted": it routes the alerts of no customer.
        live = {object_name(cid) for cid in receivers} | {BASE_NAME}
        for objects in (self.amconfigs, self.secrets):
            for name in objects.names():
                if name not in live:
                    wrote |= objects.remove(name)
        return wrote

    def _refused_for_size(
        self,
        output: str,
        customer_id: str,
        kind: str,
        content: dict[str, Any] | None,
        more: int = 0,
    ) -> bool:
        """Whether `content` (None: a removal) and `more` bytes are too large to write;
        remembered for `liveness` until the customer's output fits again."""
        size = more + (0 if content is None else len(json.dumps(content, separators=(",", ":"))))
        if size <= MAX_OBJECT_BYTES:
            self._too_large.pop((output, customer_id), None)
            return False
        self._too_large[output, customer_id] = (
            f"not written: its {kind} would be {size} bytes, more than the "
            f"{MAX_OBJECT_BYTES} one Kubernetes object may hold; the previous one stays. "
            "Make this customer's objects smaller (long annotations or templates) or fewer"
        )
        log.warning("%s of customer %s is too large to write (%d bytes)", kind, customer_id, size)
        return True

    def _write_base(self) -> bool:
        """The base configuration (render/promop.py `platform_config`) and its Secret.
        Labelled managed-by only: without `alertplane.io/alertmanager` no Alertmanager
        selecting customers' objects also merges it as a customer route; the Alertmanager
        object names it in `spec.alertmanagerConfiguration`. Its Secret before it, so
        prometheus-operator never sees a reference to a key not yet written."""
        spec, secret_keys = platform_config(self.platform)
        wrote = self._put_secret(BASE_NAME, labels(), secret_keys)
        return self.amconfigs.put(BASE_NAME, labels(), {"spec": spec}) or wrote

    def _put_secret(
        self,
        name: str,
        object_labels: dict[str, str],
        keys: SecretKeys,
        checks: Checks | None = None,
    ) -> bool:
        data = self._secret_data(keys, checks or {})
        if data:
            return self.secrets.put(name, object_labels, {"data": data})
        return self.secrets.remove(name)

    def _secret_data(self, keys: SecretKeys, checks: Checks) -> dict[str, str]:
        """Base64 data of the customer's Secret: copied keys as they are, clear values encoded.
        A copied value that would refuse the whole configuration (`checks`) is left out."""
        data: dict[str, str] = {}
        for key, source in sorted(keys.items()):
            if isinstance(source, str):
                data[key] = base64.b64encode(source.encode()).decode()
                continue
            ns, secret, item = source
            value = (self.read_secret(ns, secret) or {}).get(item)
            if value is None:  # reported on the receiver by check_secrets
                log.warning("Secret %s/%s has no key %s; left out", ns, secret, item)
                continue
            if not values_ok(checks.get(key, set()), value):  # reported on the receiver
                log.warning("Secret %s/%s key %s fails its checks; left out", ns, secret, item)
                continue
            data[key] = value
        return data

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data, base64 as the API returns it (None when absent), once per sync."""
        key = (namespace, name)
        if key not in self._secret_cache:
            try:
                found = self.client.get(object_path("v1", "secrets", namespace, name))
            except AlertplaneError as exc:
                raise SinkError(f"cannot read Secret {namespace}/{name}: {exc}") from exc
            self._secret_cache[key] = None if found is None else dict(found.get("data") or {})
        return self._secret_cache[key]

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        """Every Secret key a receiver references exists (prometheus-operator needs it), and
        the receiver says nothing an AlertmanagerConfig cannot carry."""
        problems = unsupported(obj.spec)
        ns = obj.metadata.namespace
        spec = obj.spec
        refs = [
            (f"spec.slack[{i}].apiURLSecretRef", c.api_url_secret_ref)
            for i, c in enumerate(spec.slack)
        ]
        refs += [
            (f"spec.pagerduty[{i}].routingKeySecretRef", c.routing_key_secret_ref)
            for i, c in enumerate(spec.pagerduty)
        ]
        for path, ref in refs:
            if ref is None:
                continue
            data = self.read_secret(ns, ref.name)
            if data is not None and ref.key in data:
                problems += refusal(path, ns, ref.name, ref.key, data[ref.key])
                continue
            if data is None:
                problems.append(
                    Problem(path, f"Secret {ns}/{ref.name} does not exist", "create it")
                )
            elif ref.key not in data:
                problems.append(
                    Problem(
                        path,
                        f"Secret {ns}/{ref.name} has no key {ref.key!r}",
                        f"add the key or use one of {', '.join(sorted(data)) or '(none)'}",
                    )
                )
        return problems

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        """Reload URLs, when given, are asked; then prometheus-operator's state is read
        once for the whole pass (what `liveness` answers from)."""
        outcomes = self.reloader.make_live(written)
        ours = (_specs(self.rules), _specs(self.amconfigs))
        outcomes.update(self.live.read(ours))
        return outcomes

    def liveness(self, output: str, customer_id: str) -> Liveness:
        too_large = self._too_large.get((output, customer_id))
        if too_large is not None:
            return Liveness(False, "Rejected", too_large)
        reloaded = self.reloader.liveness(output)
        if output == ALERTMANAGER_PATH:
            name = object_name(customer_id)
            live = self.live.alertmanager_liveness(name, _spec(self.amconfigs, name))
            return reloaded if live is None or not reloaded.synced else live
        name, shard = self.copies.current(customer_id), self.placement.shard_of(customer_id)
        live = self.live.rules_liveness(name, _spec(self.rules, name), shard)
        return self.copies.liveness(
            customer_id, reloaded if live is None or not reloaded.synced else live
        )

    def location(self, output: str, customer_id: str) -> str:
        if output == ALERTMANAGER_PATH:
            return self.amconfigs.location(object_name(customer_id))
        where = self.rules.location(self.copies.current(customer_id))
        return where + self.placement.describe(customer_id)

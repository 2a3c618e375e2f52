"""ConfigMap sink: one rules ConfigMap per customer and one Alertmanager ConfigMap.

The same files the files sink writes, as ConfigMaps in the sink namespace:
`alertplane-rules-<customerId>` (key `<customerId>.yml`, label `alertplane.io/rules: "true"`)
and `alertplane-alertmanager` (key `alertmanager.yml`, label `alertplane.io/alertmanager:
"true"`). Prometheus and Alertmanager mount them (e.g. a sidecar that collects ConfigMaps
by label into the rule directory, keeping the key as the file name); the sink then POSTs
`/-/reload` when URLs are configured. The kubelet refreshes a mounted ConfigMap a minute or
more after it is written, so a 200 may load the old files: the output is live once what
Prometheus and Alertmanager report loaded is what the ConfigMaps hold (sinks/loaded_query.py);
until then `Pending`, reloading again on the reconciler's re-checks. Output is checked by
promtool/amtool before anything is written.

Sharded (`prometheus.shards` in the platform config): a customer's rules ConfigMap is
`alertplane-rules-<customerId>.<shard>`, labelled `alertplane.io/shard: <shard>`; each
shard's Prometheus collects the ConfigMaps of its label value (the key stays
`<customerId>.yml`), and only that shard's URL is reloaded and asked (sinks/kubeshards.py,
also for moves without a gap).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..errors import Problem
from ..model import CustomerReceiver
from ..render import ALERTMANAGER_PATH
from ..render.platform import PrometheusSettings
from ..validate.output import check_output
from .base import Files, KubeApi, Liveness, Receivers, ReloadOutcome
from .kubeobjects import (
    ALERTMANAGER_LABEL,
    RULES_LABEL,
    ManagedObjects,
    customer_of_rules,
    labels,
)
from .kubeshards import Copies, Placement, shard_target
from .loaded_query import CONFIGMAP_HINTS, LoadedCheck
from .reload import Reloader

ALERTMANAGER_CONFIGMAP = "alertplane-alertmanager"
# The API refuses a ConfigMap whose data exceeds 1 MiB, and a refused write fails the whole
# pass, every customer's: a customer's rule file larger than that is not written (the
# previous one stays) and that customer alone is Rejected, saying why.
MAX_CONFIGMAP_BYTES = 1024 * 1024


def rules_configmap(customer_id: str) -> str:
    return f"alertplane-rules-{customer_id}"


class ConfigMapSink:
    name = "configmap"
    written_message: str | None = "ConfigMap written"

    def __init__(
        self,
        client: KubeApi,
        namespace: str,
        reloader: Reloader,
        placement: Placement | None = None,
    ) -> None:
        """`placement`: the platform's shards (none: one Prometheus, unsharded names); the
        `reloader`'s targets must place rule outputs the same way."""
        self.namespace = namespace
        self.configmaps = ManagedObjects(client, "v1", "ConfigMap", "configmaps", namespace)
        self.reloader = reloader
        self.placement = placement or Placement(PrometheusSettings())
        self.copies = Copies(
            self.configmaps,
            self.placement,
            rules_configmap,
            lambda shard: reloader.reload_again(shard_target(shard)),
        )
        self.moves = self.copies.moves  # finished moves, for an audit (serve: the store)
        self.loaded = LoadedCheck(reloader, self.written, CONFIGMAP_HINTS)
        self._too_large: dict[str, str] = {}  # rules output → why it is not written

    def start(self) -> None:
        self.configmaps.load()
        self.copies.index()

    def generated_outputs(self) -> list[str]:
        return [f"rules/{cid}.yml" for cid in self.copies.customers()]

    def refresh(self) -> None:
        """Re-read the ConfigMaps that exist (the periodic resync compares with them)."""
        self.start()

    def write(self, files: Files, receivers: Receivers) -> list[str]:
        planned: list[tuple[str, str, dict[str, str] | None, dict[str, Any]]] = []
        for rel, text in sorted(files.items()):
            cid = customer_of_rules(rel)
            if cid is not None and self._too_large_for(rel, text):
                continue
            if cid is not None:
                name = self.copies.current(cid)
                object_labels = labels(cid, **{RULES_LABEL: "true"}, **self.placement.labels(cid))
                content = {"data": {f"{cid}.yml": text}}
            elif rel == ALERTMANAGER_PATH and text is not None:
                name = ALERTMANAGER_CONFIGMAP
                object_labels = labels(None, **{ALERTMANAGER_LABEL: "true"})
                content = {"data": {"alertmanager.yml": text}}
            else:
                continue
            if text is None:
                planned.append((rel, name, None, {}))
            elif self.configmaps.differs(name, object_labels, content):
                planned.append((rel, name, object_labels, content))
        # Only what is about to be written needs promtool/amtool (a full resync of
        # unchanged output checks nothing).
        check_output({rel: files[rel] for rel, _, lbl, _ in planned if lbl is not None})
        changed: list[str] = []
        for rel, name, planned_labels, content in planned:
            cid = customer_of_rules(rel)
            if cid is not None:
                wrote = (
                    self.copies.remove_all(cid)
                    if planned_labels is None
                    else self.copies.put(cid, planned_labels, content)
                )
            elif planned_labels is None:
                wrote = self.configmaps.remove(name)
            else:
                wrote = self.configmaps.put(name, planned_labels, content)
            if wrote:
                changed.append(rel)
        for rel, text in files.items():  # moves: a copy goes once the new one is live
            cid = customer_of_rules(rel)
            if cid is not None and text is not None:
                self.copies.settle(cid)
        return changed

    def _too_large_for(self, rel: str, text: str | None) -> bool:
        # The API counts keys too: `rel` is longer than the key (`<customerId>.yml`).
        size = 0 if text is None else len(text.encode()) + len(rel)
        if size <= MAX_CONFIGMAP_BYTES:
            self._too_large.pop(rel, None)
            return False
        self._too_large[rel] = (
            f"not written: the rule file is {size} bytes, more than the {MAX_CONFIGMAP_BYTES} "
            "a ConfigMap may hold; the previous one stays. Make this customer's alerts "
            "smaller (long annotations) or fewer"
        )
        return True

    def written(self, output: str) -> str | None:
        """The text of `output` as last written or read (what Prometheus should load)."""
        cid = customer_of_rules(output)
        name, key = (
            (ALERTMANAGER_CONFIGMAP, "alertmanager.yml")
            if cid is None
            else (self.copies.current(cid), f"{cid}.yml")
        )
        known = self.configmaps.known.get(name)
        text = (known[1].get("data") or {}).get(key) if known else None
        return text if isinstance(text, str) else None

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        return self.loaded.make_live(written)

    def liveness(self, output: str, customer_id: str) -> Liveness:
        if output in self._too_large:
            return Liveness(False, "Rejected", self._too_large[output])
        live = self.loaded.liveness(output, customer_id)
        if output == ALERTMANAGER_PATH:
            return live
        return self.copies.liveness(customer_id, live)

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        return []  # the mounted configuration reads secret files the platform provides

    def location(self, output: str, customer_id: str) -> str:
        if output == ALERTMANAGER_PATH:
            return self.configmaps.location(ALERTMANAGER_CONFIGMAP)
        where = self.configmaps.location(self.copies.current(customer_id))
        return where + self.placement.describe(customer_id)

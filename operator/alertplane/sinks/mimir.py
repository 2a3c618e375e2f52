"""Grafana Mimir sink: each customer is a Mimir tenant (`X-Scope-OrgID: <customerId>`).

Rules go to the tenant's ruler (one namespace per category, groups split to Mimir's limits:
render/mimir.py), receivers to the tenant's Alertmanager configuration with secrets inlined.
Only the customers of a pass are looked at, and of them only what differs from what Mimir
holds is pushed (sinks/mimir_tenant.py). Synced means Mimir serves it: the ruler answers the
new groups on `GET /prometheus/api/v1/rules` (it loads them on its next sync: seconds with
`-ruler.sync-rules-on-changes-enabled`, docs/mimir.md) and `GET /api/v1/alerts` answers the
new configuration; until then the objects are Pending and the reconciler asks again.
Mimir's refusals (limits, what its newer PromQL no longer accepts, a receiver it rejects)
make the customer's objects Failed with Mimir's words; other customers are unaffected.

Secrets: Mimir refuses every `*_file` field, so the values are inlined into the tenant's
configuration, which Mimir keeps in its bucket and returns on `GET /api/v1/alerts`. They
are never written anywhere else by alertplane: not kept after a push (fingerprints only),
not logged, scrubbed from Mimir's answers before a status or log shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from ..errors import Problem
from ..model import CustomerReceiver
from ..model.common import is_dns_label
from ..render import ALERTMANAGER_PATH
from ..render.mimir import (
    Limits,
    MissingSecret,
    Namespaces,
    SecretLookup,
    TooManyGroups,
    rule_namespaces,
    tenant_alertmanager,
)
from ..render.platform import PlatformConfig
from ..render.rules import rules_path
from ..validate.output import check_output
from .base import PENDING, Files, Liveness, Receivers, ReloadOutcome, SinkError
from .kubeobjects import customer_of_rules
from .mimir_client import MimirClient, MimirUnavailable, json_object
from .mimir_live import am_liveness, rules_liveness
from .mimir_tenant import NotSeparated, Refused, Tenant, config_print

log = logging.getLogger("alertplane.sinks.mimir")

RULER, ALERTMANAGER = "mimir/ruler", "mimir/alertmanager"


class MimirSink:
    name = "mimir"
    written_message: str | None = "pushed to Mimir"

    def __init__(
        self,
        client: MimirClient,
        platform: PlatformConfig,
        lookup: Callable[[], SecretLookup],
        limits: Limits | None = None,
        check_secrets: Callable[[CustomerReceiver], list[Problem]] | None = None,
    ) -> None:
        """`lookup` gives, for one pass, how a secret reference is read (files standalone,
        Kubernetes Secrets in the operator: sinks/mimir_secrets.py)."""
        self.client = client
        self.platform = platform
        self.lookup = lookup
        self.limits = limits or Limits()
        self._check_secrets = check_secrets
        self.tenants: dict[str, Tenant] = {}
        self.refused: dict[tuple[str, str], str] = {}  # (output, customer) → Mimir's words
        self.want_rules: dict[str, Namespaces] = {}  # pushed, not yet seen live
        self.want_config: dict[str, str | None] = {}  # print pushed, not yet seen live
        self.live: dict[tuple[str, str], Liveness] = {}
        self.failed_tenants: dict[str, str] = {}  # of the last write: customer → why

    def _tenant(self, customer_id: str) -> Tenant:
        tenant = self.tenants.get(customer_id)
        if tenant is None:
            tenant = self.tenants[customer_id] = Tenant(self.client, customer_id)
        return tenant

    def start(self) -> None:
        """Nothing to read before the first sync: `generated_outputs` asks Mimir then, so
        a Mimir still starting fails (and retries) the first sync, not the process."""

    def refresh(self) -> None:
        """Forget what was read: the resync reads each tenant again and repairs what
        somebody changed behind alertplane's back."""
        self.tenants = {}

    def generated_outputs(self) -> list[str]:
        """The tenants Mimir's ruler holds rules of: the first sync removes alertplane's
        namespaces of those that are no customer any more."""
        answer = self.client.call("GET", "/ruler/tenants", None)
        if answer.status != 200:
            raise MimirUnavailable(f"Mimir's /ruler/tenants answered HTTP {answer.status}")
        tenants = json_object(answer, "Mimir's /ruler/tenants").get("tenants") or []
        if not isinstance(tenants, list):
            raise SinkError(f"Mimir's /ruler/tenants answered tenants {str(tenants)[:100]!r}")
        # A tenant that is no DNS label is no customer id: never alertplane's.
        return [rules_path(t) for t in sorted(map(str, tenants)) if is_dns_label(t)]

    # -- writing ----------------------------------------------------------------------
    def write(self, files: Files, receivers: Receivers) -> list[str]:
        check_output(files)  # the shared files, as every sink: promtool and amtool
        lookup = self.lookup()
        changed: list[str] = []
        wrote_config = False
        self.failed_tenants = {}
        for rel, text in sorted(files.items()):
            cid = customer_of_rules(rel)
            if cid is None:
                continue
            try:
                if self._write_rules(cid, text):
                    changed.append(rel)
                if ALERTMANAGER_PATH in files and self._write_config(cid, receivers, lookup):
                    wrote_config = True
            except (MimirUnavailable, NotSeparated):
                raise  # no answer (or 5xx), no tenants: for everyone; the pass is retried
            except SinkError as exc:
                self._tenant_failed(cid, str(exc), ALERTMANAGER_PATH in files)
        return [*changed, ALERTMANAGER_PATH] if wrote_config else changed

    def _tenant_failed(self, cid: str, why: str, config: bool) -> None:
        """Mimir (or its gateway) answered about this tenant alone (403: suspended, 429:
        its rate limit): the customer is Failed saying so, the other customers are still
        pushed, and make_live fails the pass so that it is retried."""
        log.warning("Mimir tenant %s not written: %s", cid, why)
        self.tenants.pop(cid, None)  # read it afresh on the retry
        self.failed_tenants[cid] = why
        for output in (rules_path(cid), *([ALERTMANAGER_PATH] if config else [])):
            self.refused[output, cid] = f"not written to Mimir: {why}"

    def _write_rules(self, cid: str, text: str | None) -> bool:
        key = (rules_path(cid), cid)
        try:
            want = rule_namespaces(cid, text, self.limits)
        except TooManyGroups as exc:
            self.refused[key] = f"not pushed to Mimir: {exc}"
            return False
        changed, refusals = self._tenant(cid).push_rules(want)
        if refusals:
            self.refused[key] = "; ".join(refusals)
            self.want_rules.pop(cid, None)  # what Mimir kept is not what was wanted
            log.warning("Mimir refused rules of tenant %s: %s", cid, self.refused[key])
            return changed
        self.refused.pop(key, None)
        if changed or cid in self.want_rules:
            self.want_rules[cid] = want
            self.live.pop(key, None)
        return changed

    def _write_config(self, cid: str, receivers: Receivers, lookup: SecretLookup) -> bool:
        key = (ALERTMANAGER_PATH, cid)
        try:
            want = None
            if cid in receivers:
                want = tenant_alertmanager(cid, receivers[cid], self.platform, lookup)
            changed = self._tenant(cid).push_config(want)
        except (MissingSecret, Refused) as exc:
            self.refused[key] = str(exc)
            log.warning("Alertmanager configuration of tenant %s not pushed: %s", cid, exc)
            return False
        self.refused.pop(key, None)
        if changed or cid in self.want_config:
            self.want_config[cid] = None if want is None else config_print(want.config)
            self.live.pop(key, None)
        return changed

    # -- live -------------------------------------------------------------------------
    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        """Mimir loads on its own; ask it whether it serves what was pushed, once per
        tenant still waiting."""
        outcomes: dict[str, ReloadOutcome] = {}
        for target, wants, check in (
            (RULER, self.want_rules, self._rules_check),
            (ALERTMANAGER, self.want_config, self._config_check),
        ):
            failed = ""
            for cid in sorted(wants):
                try:
                    check(cid)
                except (SinkError, Refused) as exc:
                    failed = str(exc)
                    break
            if wants or failed:
                outcomes[target] = ReloadOutcome(not failed, 1, failed)
        if self.failed_tenants and outcomes.get(RULER, ReloadOutcome(True, 0)).ok:
            first = min(self.failed_tenants)
            said = f"{len(self.failed_tenants)} tenant(s) not written, e.g. {first}: "
            outcomes[RULER] = ReloadOutcome(False, 1, said + self.failed_tenants[first])
        return outcomes

    def _rules_check(self, cid: str) -> None:
        live = rules_liveness(self.want_rules[cid], self._tenant(cid).loaded_rules())
        self.live[rules_path(cid), cid] = live
        if live.synced:
            del self.want_rules[cid]

    def _config_check(self, cid: str) -> None:
        live = am_liveness(self.want_config[cid], self._tenant(cid).held_config())
        self.live[ALERTMANAGER_PATH, cid] = live
        if live.synced:
            del self.want_config[cid]

    def liveness(self, output: str, customer_id: str) -> Liveness:
        refused = self.refused.get((output, customer_id))
        if refused is not None:
            return Liveness(False, "Rejected", refused)
        live = self.live.get((output, customer_id))
        if live is not None:
            return live
        waiting = self.want_rules if output != ALERTMANAGER_PATH else self.want_config
        if customer_id in waiting:
            return Liveness(False, PENDING, "pushed to Mimir; not yet served")
        return Liveness(True, "Reloaded", "")

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        return [] if self._check_secrets is None else self._check_secrets(obj)

    def location(self, output: str, customer_id: str) -> str:
        if output == ALERTMANAGER_PATH:
            return f"Mimir tenant {customer_id}: Alertmanager configuration"
        return f"Mimir tenant {customer_id}: ruler namespaces alertplane-*"

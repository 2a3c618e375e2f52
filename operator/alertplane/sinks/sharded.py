"""The files sink, sharded: each customer's rules in its shard's directory, one Prometheus
per shard (render/placement.py places customers; sinks/sharded_layout.py says where).

A change writes only its customer's file and reloads only that customer's shard
(`prometheus/<shard>`); liveness asks that shard what it loaded (sinks/loaded_query.py).
When the shard list changes (a restart with a new platform config), customers whose shard
changed are moved with sinks/sharded_moves.py: written to the new shard, made live there,
and only then removed from the old one, which is reloaded. A shard that left the config
stays reachable through the URL recorded in state.json until no customer is left on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import Problem
from ..model import CustomerReceiver
from ..render import ALERTMANAGER_PATH
from ..render.placement import place
from ..render.platform import PrometheusSettings
from ..validate.output import check_output
from .base import (
    ALERTMANAGER,
    PROMETHEUS,
    Files,
    Liveness,
    Receivers,
    ReloadOutcome,
    Targets,
    kind_of,
)
from .files import read_previous, write_files
from .loaded_query import FILES_HINTS, LoadedCheck
from .reload import Reloader, single_targets
from .sharded_layout import (
    customer_of,
    read_state,
    remove_empty,
    rules_rel,
    same_file,
    scan,
    shard_dirs,
    write_state,
)
from .sharded_moves import MoveTracker
from .sharded_strays import find_strays, gone
from .sharded_targets import TargetLists

log = logging.getLogger("alertplane.shards")
MAX_PARALLEL = 16  # shards reloaded at once in one pass

Urls = Callable[[], Mapping[str, str | None]]


def shard_target(shard: str) -> str:
    return f"{PROMETHEUS}/{shard}"


class ShardedFileSink:
    """Rule files in one directory per shard, alertmanager.yml beside them."""

    name = "files"
    written_message: str | None = None

    def __init__(
        self,
        out_dir: Path,
        settings: PrometheusSettings,
        urls: Urls,
        alertmanagers: Targets = single_targets,
    ) -> None:
        """`urls`: the other targets' URLs (`alertmanager`, or each replica's), read on
        every pass; `alertmanagers`: the targets alertmanager.yml reaches (one, or every
        replica of an HA cluster: sharding changes nothing there)."""
        self.out_dir = out_dir
        self.settings = settings
        self.base_urls = urls
        self.alertmanagers = alertmanagers
        self.former: dict[str, str | None] = {}  # shards no longer configured → URL
        self.held: dict[str, set[str | None]] = {}  # customer → shards with its file
        self._placed: dict[str, str] = {}
        self.suspects: dict[str, list[str]] = {}  # shards found with strays at start
        self.moves = MoveTracker()
        # One lane per shard (and one for the Alertmanager side), each its own Reloader
        # and LoadedCheck: the shards a pass reloads are reloaded side by side, so a pass
        # touching several shards waits for the slowest reload, not for their sum.
        self.lanes: dict[str, LoadedCheck] = {}
        # Reloads of shards a customer left (moved away, or its rules removed there): a
        # Reloader of its own, so the pass that reloads a customer's new shard can then
        # reload its old one (Reloader reloads each target at most once per pass).
        self.leaving = Reloader(self.urls)
        self._started = False
        self.target_lists = TargetLists(out_dir, settings.targets_file)

    # -- where things are -------------------------------------------------------------
    def placed(self, customer_id: str) -> str:
        found = self._placed.get(customer_id)
        if found is None:
            found = self._placed[customer_id] = place(customer_id, self.settings) or ""
        return found

    def urls(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {shard_target(s): u for s, u in self.former.items()}
        out.update({shard_target(s.name): s.url for s in self.settings.shards})
        out.update((t, u) for t, u in self.base_urls().items() if kind_of(t) != PROMETHEUS)
        return out

    def targets(self, output: str) -> tuple[str, ...]:
        customer = customer_of(output)
        if customer is None:
            return self.alertmanagers(output) if output == ALERTMANAGER_PATH else ()
        return (shard_target(self.placed(customer)),)

    def written_text(self, output: str) -> str | None:
        customer = customer_of(output)
        rel = output if customer is None else rules_rel(self.placed(customer), customer)
        return read_previous(self.out_dir / rel)

    def location(self, output: str, customer_id: str) -> str:
        """`shards/<shard>/rules/<id>.yml`: status.renderedTo names the shard."""
        customer = customer_of(output)
        return output if customer is None else rules_rel(self.placed(customer), customer)

    # -- Sink -------------------------------------------------------------------------
    def start(self) -> None:
        """Read back where every customer's rules are, and the shards that left the config
        (their URL from state.json): customers found off their shard are moved."""
        self._started = True
        configured = {s.name: s.url for s in self.settings.shards}
        recorded = read_state(self.out_dir)
        self.former = {
            name: recorded.get(name)
            for name in {*recorded, *shard_dirs(self.out_dir)}
            if name not in configured
        }
        write_state(self.out_dir, {**self.former, **configured})
        self.refresh()
        self._unload_strays()
        if self.former:
            log.info("former shards, emptied as their customers move: %s", sorted(self.former))

    def refresh(self) -> None:
        self.held = scan(self.out_dir)
        for customer, holders in self.held.items():
            self.moves.note(customer, self.placed(customer), holders)

    def _unload_strays(self) -> None:
        """Reload every shard that has loaded a customer its directory does not hold
        (sinks/sharded_strays.py): after a crash mid-move it would evaluate that customer
        twice until it happens to reload (a shard that left the config: forever). Asked at
        start; asked again after the reload (`_strays_again`)."""
        urls = {s: u for s, u in {**self.former, **self._configured()}.items() if u}
        self.suspects = find_strays(urls, self.held)
        for shard, found in sorted(self.suspects.items()):
            log.warning(
                "%s evaluates %s, not in its directory: reloading it",
                shard_target(shard),
                ", ".join(found),
            )
            self.leaving.pending.add(shard_target(shard))

    def _strays_again(self) -> None:
        """The suspects reloaded since: any still evaluating customers it does not hold
        reads another shard's directory (its `rule_files`), and says so once."""
        done = {s for s in self.suspects if shard_target(s) not in self.leaving.pending}
        known = self.urls()
        urls = {s: u for s in done if (u := known.get(shard_target(s)))}
        for shard, found in sorted(find_strays(urls, self.held).items()):
            log.error(
                "%s still evaluates %s after a reload although shards/%s/rules/ does not "
                "hold them: its Prometheus' rule_files reach another shard's directory, so "
                "they are evaluated twice; list only its own (docs/sharding.md)",
                shard_target(shard),
                ", ".join(found),
                shard,
            )
        self.suspects = {s: c for s, c in self.suspects.items() if s not in done}

    def _configured(self) -> dict[str, str | None]:
        return {s.name: s.url for s in self.settings.shards}

    def _begin(self) -> None:
        """`start` before the first pass, when the caller did not (standalone `serve`)."""
        if not self._started:
            self.start()

    def generated_outputs(self) -> list[str]:
        self._begin()
        return sorted(f"rules/{c}.yml" for c in self.held)

    def write(self, files: Files, receivers: Receivers) -> list[str]:
        self._begin()
        check_output(files)  # every text, before any shard's file is replaced
        physical: dict[str, str | None] = {}
        for output, text in files.items():
            customer = customer_of(output)
            if customer is None:
                physical[output] = text
            elif text is not None:
                physical[rules_rel(self.placed(customer), customer)] = text
            else:  # no rules left: gone from every shard holding it, nothing moves
                for shard in self.held.get(customer, ()):
                    physical[rules_rel(shard, customer)] = None
        result = write_files(self.out_dir, physical)
        changed: set[str] = set()
        for rel in result.written:
            changed.add(self._logical(rel))
        for rel in result.removed:
            changed.add(self._logical(rel))
            self._dropped(rel)
        for output, text in files.items():
            customer = customer_of(output)
            if customer is not None and text is not None:
                holders = self.held.setdefault(customer, set())
                holders.add(self.placed(customer))
                self.moves.note(customer, self.placed(customer), holders)
        self._export()
        return sorted(changed)

    def _export(self) -> None:
        """Each shard's scrape targets: its customers' (and, while one moves, both
        shards'), so a shard's rules never evaluate on another shard's data."""
        shards = sorted({*self.settings.shard_names(), *self.former})
        # The split changes only with the list itself, the shards, or a move (a customer
        # without rules is listed on its own shard all the same): skipped otherwise.
        leaving = self.moves.leaving.items()
        moving = frozenset((c, frozenset(s or "" for s in o)) for c, o in leaving)
        self.target_lists.write(shards, self.holders_of, (tuple(shards), moving))

    def holders_of(self, customer: str) -> set[str]:
        """The shards that evaluate `customer` now or are about to: its own, and any it
        is still leaving."""
        held = {s for s in self.held.get(customer, ()) if s is not None}
        return held | {self.placed(customer)}

    def _logical(self, rel: str) -> str:
        """The output name of a file below the output directory (`rules/<id>.yml` for a
        customer's rules on any shard)."""
        customer = customer_of("/".join(rel.split("/")[-2:]))
        return rel if customer is None else f"rules/{customer}.yml"

    def _dropped(self, rel: str) -> None:
        """`rel` (a customer's file on some shard) was removed: that shard reloads."""
        parts = rel.split("/")
        customer = customer_of("/".join(parts[-2:]))
        if customer is None:
            return
        shard = parts[1] if parts[0] == "shards" else None
        holders = self.held.get(customer, set())
        holders.discard(shard)
        if not holders:
            self.held.pop(customer, None)
            self.moves.forget(customer)
        if shard is not None and shard != self.placed(customer):
            self.leaving.pending.add(shard_target(shard))

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        outcomes = self._reload_lanes(written)
        for customer in self.moves.ready(self._live_on_own):
            self._leave_old(customer)
        if self.leaving.pending:
            outcomes.update(self._reload_left())
            if self.suspects:
                self._strays_again()
            self._forget_emptied()
            self._export()
        return outcomes

    def _reload_left(self) -> dict[str, ReloadOutcome]:
        """Reload the shards customers left. A former shard nobody answers for any more
        (refused, or its name gone) is done with: a stopped Prometheus evaluates nothing,
        and one started again reads the directory without the customers that left."""
        outcomes = self.leaving.make_live(())
        for target, outcome in list(outcomes.items()):
            shard = target.split("/", 1)[1]
            url = self.former.get(shard)
            if not outcome.ok and shard in self.former and url and gone(url):
                log.info("%s (no longer configured) is gone: nothing left to unload", target)
                self.leaving.pending.discard(target)
                outcomes[target] = ReloadOutcome(True, outcome.attempts, "gone")
        return outcomes

    def lane(self, target: str) -> LoadedCheck:
        """The reloads and questions of `target` (every Alertmanager target shares one:
        an HA cluster's replicas are one output's targets, combined in one check)."""
        key = target if kind_of(target) == PROMETHEUS else ALERTMANAGER
        found = self.lanes.get(key)
        if found is None:
            found = self.lanes[key] = LoadedCheck(
                Reloader(self.urls, self.targets), self.written_text, FILES_HINTS
            )
        return found

    def _reload_lanes(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        """Every lane's pass; those with reloads to do side by side (the others only start
        a new pass: fresh answers to this pass's questions)."""
        jobs: dict[int, tuple[LoadedCheck, set[str]]] = {
            id(lane): (lane, set()) for lane in self.lanes.values()
        }
        for output in written:
            for target in self.targets(output):
                lane = self.lane(target)
                jobs.setdefault(id(lane), (lane, set()))[1].add(output)
        busy = [
            key
            for key, (lane, outputs) in jobs.items()
            if outputs or lane.reloader.pending or lane.reloader.again
        ]

        def run(key: int) -> dict[str, ReloadOutcome]:
            lane, outputs = jobs[key]
            return lane.make_live(sorted(outputs))

        outcomes: dict[str, ReloadOutcome] = {}
        with ThreadPoolExecutor(max_workers=max(1, min(len(busy), MAX_PARALLEL))) as pool:
            for got in pool.map(run, busy):
                outcomes.update(got)
        for key in jobs.keys() - set(busy):
            outcomes.update(run(key))
        return outcomes

    def _live_on_own(self, customer: str) -> Liveness:
        return self.liveness(f"rules/{customer}.yml", customer)

    def _leave_old(self, customer: str) -> None:
        placed = self.placed(customer)
        old = {s for s in self.held.get(customer, set()) if s != placed}
        own = self.out_dir / rules_rel(placed, customer)
        for shard in old:
            path = self.out_dir / rules_rel(shard, customer)
            try:
                if same_file(path, own):  # one directory under two names (a link, a mount)
                    log.warning("%s is %s (one directory as two shards): kept", path, own)
                    continue
                path.unlink(missing_ok=True)
            except OSError as exc:  # kept; the next pass tries again (the customer is live)
                log.warning("cannot remove %s after its move: %s", path, exc)
                return
            if shard is not None:
                self.leaving.pending.add(shard_target(shard))
        self.held[customer] = {placed}
        self.moves.finish(customer, placed, old)

    def _forget_emptied(self) -> None:
        """A former shard with no customer left, and reloaded since: no longer recorded."""
        holding = {s for holders in self.held.values() for s in holders}
        gone = [
            s
            for s in self.former
            if s not in holding and shard_target(s) not in self.leaving.pending
        ]
        if gone:
            for shard in gone:
                del self.former[shard]
                remove_empty(self.out_dir, shard)
            configured = {s.name: s.url for s in self.settings.shards}
            write_state(self.out_dir, {**self.former, **configured})
            log.info("former shards now empty: %s", ", ".join(sorted(gone)))

    def liveness(self, output: str, customer_id: str) -> Liveness:
        """As the unsharded sink's, naming the shard when it is not live there (and the
        shard the customer is still evaluated on, while it moves)."""
        targets = self.targets(output)
        if not targets:
            return Liveness(True, "Written", "written; nothing loads it")
        live = self.lane(targets[0]).liveness(output, customer_id)
        customer = customer_of(output)
        if live.synced or customer is None:
            return live
        message = f"{shard_target(self.placed(customer))}: {live.message}"
        leaving = self.moves.leaving.get(customer, set())
        if leaving:
            # Changed during the move: the shard it leaves has the rules before the change.
            own = self.written_text(output)
            older = any(
                read_previous(self.out_dir / rules_rel(s, customer)) != own for s in leaving
            )
            which = "its previous rules still" if older else "still"
            staying = sorted(s or "the unsharded output" for s in leaving)
            message += f" ({which} evaluated on {', '.join(staying)} meanwhile)"
        return Liveness(False, live.reason, message)

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        return []

    def held_by(self) -> dict[str, set[str | None]]:
        """customer → the shards holding its rules now (a move in progress: two)."""
        return {c: set(h) for c, h in self.held.items()}

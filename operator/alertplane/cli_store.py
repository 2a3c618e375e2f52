"""`alertplane apply|delete|get|history|rollback|serve`: the store's command-line door."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import settings
from .core import WRITE, admit, taken
from .errors import ObjectRef, Source, UsageError
from .health import READINESS_GRACE_S
from .kube.kinds import CUSTOM
from .manifests import Document, load_paths
from .model import KINDS, TABLE, info
from .model.records import ObjectRecord
from .ports import bind
from .render.platform import PlatformConfig, load_platform_config
from .render.yamlout import dump
from .sinks.mimir_flags import add_serve_arguments, serve_sink
from .sinks.replicas import check_single_url
from .store.db import DEFAULT_DB, open_db
from .store.repo import Store
from .validate import parse_documents

KIND_ALIASES = {
    # each kind's short names (model/kinds.py): alert(s), ca, receiver(s), cr, …
    **{name: k.kind for k in TABLE for name in k.short},
    # kubectl's names: the singular and the plural (kube/kinds.py)
    **{name: k.kind for k in CUSTOM for name in (k.kind.lower(), k.plural)},
}


def add_commands(sub: Any) -> None:
    _add_store_commands(sub)
    _add_serve(sub.add_parser("serve", help="run the reconciler and the HTTP server"))


def _common(p: argparse.ArgumentParser, db_default: str | None = DEFAULT_DB) -> None:
    settings.add(p, "db", metavar="URL", default=db_default)
    settings.add(p, "platform_config", metavar="FILE")


def _actor(p: argparse.ArgumentParser) -> None:
    settings.add(p, "actor")


def _add_store_commands(sub: Any) -> None:
    """apply, delete, get, history, rollback: the commands on the store."""
    common, actor = _common, _actor
    p = sub.add_parser("apply", help="create or update objects from manifests")
    p.add_argument("-f", "--filename", dest="paths", action="append", required=True, metavar="PATH")
    common(p)
    actor(p)
    p = sub.add_parser("delete", help="delete objects (from manifests or by kind and name)")
    p.add_argument("-f", "--filename", dest="paths", action="append", metavar="PATH")
    p.add_argument("kind", nargs="?", help="alert or receiver")
    p.add_argument("name", nargs="?")
    p.add_argument("-n", "--namespace")
    common(p)
    actor(p)
    p = sub.add_parser("get", help="list objects with phase and conditions")
    p.add_argument("kind", help="alerts or receivers")
    p.add_argument("-c", "--customer")
    p.add_argument("-o", "--output", choices=["table", "yaml", "json"], default="table")
    common(p)
    p = sub.add_parser("history", help="the audit trail, with diffs")
    p.add_argument("name", nargs="?", help="only this object")
    p.add_argument("-c", "--customer")
    p.add_argument("--limit", type=int, default=200)
    common(p)
    p = sub.add_parser("rollback", help="restore an earlier version as a new change")
    p.add_argument("kind", help="alert or receiver")
    p.add_argument("name")
    p.add_argument(
        "--to",
        dest="version",
        type=int,
        required=True,
        metavar="VERSION",
        help="the generation to restore (see 'alertplane history')",
    )
    p.add_argument("-n", "--namespace")
    common(p)
    actor(p)


def _add_serve(p: argparse.ArgumentParser) -> None:
    # No default: --kubernetes needs the operator's; standalone: sqlite:///alertplane.db
    _common(p, db_default=None)
    settings.add(p, "out", metavar="DIR", default="out")
    settings.add(p, "prometheus_url", metavar="URL")
    settings.add(
        p,
        "alertmanager_url",
        metavar="URL",
        help="reloaded after writes; its API v2 answers GET /customers/{id}/firing (also "
        "with --kubernetes)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="also serve /metrics on this port without a token, for Prometheus (on --port, "
        "/metrics needs an admin token)",
    )
    p.add_argument("--workers", type=int, default=1, metavar="N", help="API processes (default 1)")
    window = "changes within this window are synced together (default 0.2)"
    p.add_argument("--coalesce", type=float, default=0.2, metavar="SECONDS", help=window)
    settings.add(p, "tokens", metavar="FILE")
    add_serve_arguments(p)  # --sink files|mimir and Mimir's settings
    p.add_argument(
        "--kubernetes",
        action="store_true",
        help="Kubernetes mode: write CustomerAlert/CustomerReceiver custom resources and read "
        "the operator's database mirror (--db); no reconciler runs here",
    )
    p.add_argument(
        "--kubeconfig",
        help="with --kubernetes: kubeconfig to use (default: in-cluster, else $KUBECONFIG "
        "or ~/.kube/config)",
    )
    settings.add(p, "customer_namespace", metavar="TEMPLATE")
    settings.add(p, "attribution_key_file", metavar="FILE")
    readiness_grace(p)
    p.add_argument(
        "--tenant-binding",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --kubernetes, as the operator's flag: a customer's reads and writes only "
        "see and go to namespaces listed for it in their alertplane.io/customer label "
        "(default on)",
    )


def readiness_grace(p: argparse.ArgumentParser) -> None:
    """`serve` and `operator`: how long syncs may fail before /readyz says 503."""
    p.add_argument(
        "--readiness-grace",
        type=_seconds,
        default=READINESS_GRACE_S,
        metavar="SECONDS",
        help="/readyz answers 503 once syncs (writing output, reloading Prometheus or "
        f"Alertmanager, the database) have failed for this long (default {READINESS_GRACE_S:g})",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value


def _platform(args: argparse.Namespace) -> PlatformConfig:
    return load_platform_config(args.platform_config)


def _store(args: argparse.Namespace, create: bool = False) -> Store:
    """Only `apply` (and `serve`) create the database; every other command refuses one
    that does not exist instead of silently creating an empty ./alertplane.db."""
    secrets_dir = _platform(args).secrets_dir  # every setting is checked before the database
    return Store(open_db(args.db, create=create), secrets_dir=secrets_dir)


def _kind(text: str) -> str:
    kind = KIND_ALIASES.get(text.lower()) or (text if text in KINDS else None)
    if kind is None:
        names = [k.rest for k in TABLE]
        raise UsageError(f"unknown kind {text!r}", f"use {', '.join(names[:-1])} or {names[-1]}")
    return kind


def cmd_apply(args: argparse.Namespace) -> int:
    """Stores the objects admission takes (core.admit, WRITE: what `validate` reports,
    except what only promtool/amtool find); the others are refused with `validate`'s
    lines, exit 1."""
    loaded = load_paths(args.paths)
    store = _store(args, create=True)
    customers = sorted({c for d in loaded.documents if (c := _customer_of(d.data))})
    existing = taken(store.get(customers=customers))  # names they must not duplicate
    admission = admit(
        loaded.documents, WRITE, _platform(args), existing=existing, earlier=loaded.problems
    )
    for p in admission.refused:
        print(p.located(), file=sys.stderr)  # with where the field is, as validate prints
    for change in store.apply(admission.admitted, args.actor, "cli"):
        print(change)
    return 0 if admission.ok else 1


def _customer_of(data: Any) -> str | None:
    spec = data.get("spec") if isinstance(data, dict) else None
    cid = spec.get("customerId") if isinstance(spec, dict) else None
    return cid if isinstance(cid, str) else None


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.paths and not (args.kind and args.name):
        raise UsageError("nothing to delete", "give -f PATH or KIND NAME")
    store = _store(args)
    if args.paths:
        parsed, problems = parse_documents(load_paths(args.paths).documents)
        for p in problems:
            print(p, file=sys.stderr)
        refs = [p.ref for p in parsed]
    else:
        refs = [_resolve(store, _kind(args.kind), args.name, args.namespace)]
    missing = 0
    for change in store.delete(refs, args.actor, "cli", missing_ok=bool(args.paths)):
        if change.action == "not found":
            missing += 1
            print(change, file=sys.stderr)
        else:
            print(change)
    return 1 if missing else 0


def _resolve(store: Store, kind: str, name: str, namespace: str | None) -> ObjectRef:
    found = [
        s.ref
        for s in store.get(kind=kind)
        if s.name == name and (namespace is None or s.namespace == namespace)
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(
            f"{kind} {namespace or '*'}/{name} not found", "list objects with 'alertplane get'"
        )
    raise UsageError(f"{kind} {name} exists in several namespaces", "choose one with -n")


def cmd_get(args: argparse.Namespace) -> int:
    kind = _kind(args.kind)
    items = _store(args).get(kind=kind, customer=args.customer)
    if args.output == "json":
        print(
            json.dumps(
                {"apiVersion": "v1", "kind": "List", "items": [s.manifest() for s in items]},
                indent=2,
                default=str,
            )
        )
    elif args.output == "yaml":
        print(
            dump({"apiVersion": "v1", "kind": "List", "items": [s.manifest() for s in items]}),
            end="",
        )
    else:
        _table(kind, items)
    return 0


def _table(kind: str, items: list[ObjectRecord]) -> None:
    entry = info(kind)
    name_col = entry.noun.upper().replace(" ", "_")
    rows = [
        [
            "NAMESPACE",
            "NAME",
            "CUSTOMER",
            name_col,
            "SEVERITY",
            "ENABLED",
            "GEN",
            "PHASE",
            "AGE",
            "MESSAGE",
        ]
    ]
    now = datetime.now(UTC)
    for s in items:
        spec, st = s.spec, s.status
        message = ""
        if st is not None:
            message = next(
                (
                    c.get("message", "")
                    for c in st.conditions
                    if c.get("status") == "False" and c.get("message")
                ),
                "",
            )
        rows.append(
            [
                s.namespace,
                s.name,
                s.customer_id,
                str(spec.get(entry.name_field, "")),
                spec.get("severity", "-"),
                str(spec.get("enabled", True)).lower() if entry.toggles else "-",
                str(s.generation),
                st.phase if st else "Pending",
                _age(now, s.created_at),
                message,
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])


def _age(now: datetime, then: datetime | None) -> str:
    if then is None:  # a record no store wrote
        return "-"
    seconds = int((now - (then if then.tzinfo else then.replace(tzinfo=UTC))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def cmd_history(args: argparse.Namespace) -> int:
    for row in _store(args).history(args.customer, args.name, args.limit):
        when = row.time.strftime("%Y-%m-%d %H:%M:%S")  # a move (Placement) has no namespace:
        ref = "/".join(p for p in (row.kind.lower(), row.namespace, row.name) if p)
        print(
            f"{when}  {row.action:8s} {ref}  "
            f"generation {row.generation}  by {row.actor} ({row.source})"
        )
        before = dump(row.before).splitlines(keepends=True) if row.before else []
        after = dump(row.after).splitlines(keepends=True) if row.after else []
        for line in difflib.unified_diff(before, after, "before", "after", n=1):
            print("    " + line, end="" if line.endswith("\n") else "\n")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    store = _store(args)
    ref = _resolve(store, _kind(args.kind), args.name, args.namespace)
    current = store.find(ref)
    spec = store.version(ref, args.version)
    if current is not None and spec is not None:
        # The restored version is a write like any other: admitted by the same checks.
        manifest = current.manifest(spec=spec, with_status=False)
        manifest["spec"] = spec  # as stored (references, not redacted)
        others = taken(store.get(kind=ref.kind, customer=str(spec.get("customerId", ""))))
        admission = admit([Document(Source("rollback"), manifest)], WRITE, _platform(args), others)
        if not admission.ok:
            for p in admission.refused:
                print(p, file=sys.stderr)
            print(f"error: version {args.version} is not valid any more", file=sys.stderr)
            return 1
    print(store.rollback(ref, args.version, args.actor))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    check_single_url(platform := _platform(args), args.alertmanager_url)  # no I/O: first
    sock = bind(args.host, args.port)  # then a busy port is told before anything slow
    from .serve import serve  # uvicorn/fastapi only load for this command

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    serve(
        args.db,
        platform,
        Path(args.out),
        args.prometheus_url,
        args.alertmanager_url,
        args.host,
        args.port,
        args.coalesce,
        tokens=args.tokens,
        kubernetes=args.kubernetes,
        kubeconfig=args.kubeconfig,
        customer_namespace=args.customer_namespace,
        attribution_key_file=args.attribution_key_file,
        tenant_binding=args.tenant_binding,
        metrics_port=args.metrics_port,
        readiness_grace_s=args.readiness_grace,
        sock=sock,
        workers=args.workers,
        sink=serve_sink(args, _platform(args)),
    )
    return 0


COMMANDS = {
    "apply": cmd_apply,
    "delete": cmd_delete,
    "get": cmd_get,
    "history": cmd_history,
    "rollback": cmd_rollback,
    "serve": cmd_serve,
}

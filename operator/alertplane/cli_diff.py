"""`alertplane diff -f PATH`: what `apply` would change, per object and in the rendered
rule files and alertmanager.yml, against the store (`--db`) or the cluster
(`--kubernetes`, `--kubeconfig`), before applying (docs/diff.md).

Exit codes as `kubectl diff`: 0 nothing would change, 1 something would, 2 some document
would be refused (each printed on stderr, the others diffed) or a usage error, 3 a
failure no input explains (the database or API server unreachable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from . import settings
from .errors import Source
from .kube.client import KubeClient, login
from .kube.kinds import CUSTOM
from .kube.paths import kind_path
from .manifests import Document, load_paths
from .model.common import dump_spec
from .model.records import ObjectRecord
from .render.platform import load_platform_config
from .service.diff import UNCHANGED, DiffReport, Normalize, as_written, compare, customers_named
from .store.db import DEFAULT_DB, open_db
from .store.repo import Store
from .store.secrets import extract_secrets
from .validate import parse_documents

EXIT_SAME, EXIT_CHANGED, EXIT_REFUSED = 0, 1, 2


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="what apply would change, per object and in the rendered files "
        "(exit 0: nothing, 1: changes, 2: refused documents)",
    )
    p.add_argument(
        "-f", "--filename", dest="paths", action="append", required=True, metavar="PATH",
        help="manifest file or directory (recursive, .yaml/.yml); '-' reads stdin; repeatable",
    )  # fmt: skip
    settings.add(p, "db", metavar="URL", default=DEFAULT_DB)
    settings.add(p, "platform_config", metavar="FILE")
    p.add_argument(
        "--kubernetes",
        action="store_true",
        help="compare with the cluster's custom resources (in-cluster or $KUBECONFIG)",
    )
    p.add_argument("--kubeconfig", metavar="FILE", help="the cluster's kubeconfig (implies it)")
    p.add_argument(
        "--prune",
        action="store_true",
        help="also list the objects of the documents' customers that the documents lack",
    )
    p.add_argument(
        "--no-tools", action="store_true", help="skip the promtool/amtool checks (faster)"
    )
    p.add_argument("--only-objects", action="store_true", help="leave out the rendered files' diff")


def cmd_diff(args: argparse.Namespace) -> int:
    platform = load_platform_config(args.platform_config)
    loaded = load_paths(args.paths)
    customers = customers_named(loaded.documents)
    normalize: Normalize
    if args.kubernetes or args.kubeconfig:
        current, normalize = _cluster(args.kubeconfig, customers, loaded.documents), as_written
    else:
        current, normalize = _stored(args.db, platform.secrets_dir, customers, loaded.documents)
    report = compare(
        current,
        loaded.documents,
        platform,
        normalize=normalize,
        prune=args.prune,
        tools=not args.no_tools,
        earlier=loaded.problems,
    )
    _print(report, args.only_objects)
    if report.problems:
        return EXIT_REFUSED
    return EXIT_CHANGED if report.changed else EXIT_SAME


def _print(report: DiffReport, only_objects: bool) -> None:
    for change in report.objects:
        if change.action != UNCHANGED:
            print(f"# {change.ref.kind}/{change.ref.namespace}/{change.ref.name}: {change.action}")
            sys.stdout.write(change.diff)
    if not only_objects:
        for out in report.outputs:
            print(f"# rendered {out.path}: {out.action}")
            sys.stdout.write(out.diff)
    for p in report.problems:
        print(f"refused: {p}", file=sys.stderr)
    for p in report.marked:
        print(f"would be Invalid: {p}", file=sys.stderr)
    print(report.summary(), file=sys.stderr)


def _stored(
    db: str | None, secrets_dir: str | None, customers: Sequence[str], docs: Sequence[Document]
) -> tuple[list[ObjectRecord], Normalize]:
    """The store's objects of these customers and at the documents' identities; specs
    compared as the store writes them (clear secrets become references)."""
    store = Store(open_db(db, create=False), secrets_dir=secrets_dir)
    found = {r.ref: r for r in store.get(customers=customers)}
    parsed, _ = parse_documents(docs)
    for p in parsed:  # an object of another customer at a document's identity moves
        if p.ref not in found and (rec := store.find(p.ref)) is not None:
            found[rec.ref] = rec

    def normalize(obj: Any) -> dict[str, Any]:
        spec, _ = extract_secrets(
            obj.kind, obj.metadata.name, dump_spec(obj.spec), obj.metadata.namespace
        )
        return spec

    return list(found.values()), normalize


def _cluster(
    kubeconfig: str | None, customers: Sequence[str], docs: Sequence[Document]
) -> list[ObjectRecord]:
    """Every custom resource of these customers (or at a document's identity), in every
    namespace, with its spec in the model's shape (the API server may have added
    defaults the document leaves out)."""
    client = KubeClient(lambda: login(kubeconfig))
    wanted = set(customers)
    refs = {p.ref for p in parse_documents(docs)[0]}
    out: list[ObjectRecord] = []
    try:
        for kind in CUSTOM:
            for item in client.list(kind_path(kind)):
                item = {**item, "kind": kind.kind, "apiVersion": kind.api_version}
                rec = ObjectRecord.from_manifest(item, serial=len(out) + 1)
                if rec.customer_id in wanted or rec.ref in refs:
                    out.append(_in_model_shape(rec))
    finally:
        client.close()
    return out


def _in_model_shape(rec: ObjectRecord) -> ObjectRecord:
    doc = Document(Source("cluster", 1), rec.manifest(with_status=False, redacted=False))
    parsed, _ = parse_documents([doc])
    if not parsed:
        return rec  # an object the model refuses: compared as it is
    rec.spec = dump_spec(parsed[0].obj.spec)
    return rec


COMMANDS = {"diff": cmd_diff}

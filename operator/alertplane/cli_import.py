"""`alertplane import`: Prometheus rule files, PrometheusRule objects, Mimir/Cortex ruler
namespaces and alertmanager.yml → CustomerAlert/CustomerReceiver manifests (docs/import.md).

Exit codes: 0 every item imported, 1 some were refused (each named on stderr with the
reason; the others are written), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .errors import UsageError
from .importer.alerts import Options, parse_severity_map
from .importer.naming import kebab
from .importer.result import Result
from .importer.run import import_text
from .manifests import expand_paths
from .model.alert import Category, Severity
from .model.common import is_dns_label
from .render.yamlout import dump

EXIT_OK, EXIT_REFUSED = 0, 1


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="convert Prometheus/PrometheusRule/Mimir rules and alertmanager.yml to manifests",
    )
    p.add_argument(
        "-f",
        "--filename",
        dest="paths",
        action="append",
        required=True,
        metavar="PATH",
        help="input file or directory (.yaml/.yml); '-' reads stdin",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", metavar="ID", help="every rule and route is this customer's")
    who.add_argument(
        "--customer-label",
        metavar="NAME",
        help="the customer is the rule's label NAME ('namespace': the "
        "PrometheusRule's or ruler namespace); in alertmanager.yml the route "
        'matching NAME="<id>"',
    )
    p.add_argument(
        "--customer-map",
        action="append",
        default=[],
        metavar="VALUE=ID",
        help="with --customer-label: this label value is customer ID; repeatable",
    )
    p.add_argument(
        "--category",
        choices=[c.value for c in Category],
        default=Category.application.value,
        help="category of rules without a category label (default: application)",
    )
    p.add_argument(
        "--severity-map",
        default="",
        metavar="VALUE=SEVERITY,...",
        help="extra severity label values, e.g. error=critical,P3=info (built in: docs/import.md)",
    )
    p.add_argument(
        "--default-severity",
        choices=[s.value for s in Severity],
        default=Severity.warning.value,
        help="severity of rules without a severity label (default: warning)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write <customer>/<group>.yaml files into DIR instead of stdout",
    )


def options_from(args: argparse.Namespace) -> Options:
    if args.customer is not None and not is_dns_label(args.customer):
        raise UsageError(
            f"--customer {args.customer!r} is not a customer id",
            "use lower-case letters, digits and '-'",
        )
    mapping: dict[str, str] = {}
    for entry in args.customer_map:
        value, sep, cid = entry.partition("=")
        if not sep or not is_dns_label(cid):
            raise UsageError(f"--customer-map {entry!r}: expected VALUE=ID", "e.g. team-a=acme")
        mapping[value] = cid
    try:
        severities = parse_severity_map(args.severity_map)
    except ValueError as exc:
        raise UsageError(f"--severity-map {exc}") from None
    return Options(
        customer=args.customer,
        customer_label=args.customer_label,
        customer_map=mapping,
        category=Category(args.category),
        severity_map=severities,
        default_severity=Severity(args.default_severity),
    )


def cmd_import(args: argparse.Namespace) -> int:
    options = options_from(args)
    total = Result()
    for name in expand_paths(args.paths):
        text = sys.stdin.read() if name == "-" else _read(name)
        one = import_text(text, "<stdin>" if name == "-" else name, options)
        total.outputs += one.outputs
        total.refused += one.refused
        total.notes += one.notes
    if args.out is None:
        sys.stdout.write("---\n".join(dump(m) for m in total.manifests))
    else:
        _write_files(Path(args.out), total)
    for item in total.refused:
        print(f"refused: {item}", file=sys.stderr)
    for item in total.notes:
        print(f"note: {item}", file=sys.stderr)
    print(
        f"{len(total.outputs)} imported, {len(total.refused)} refused, {len(total.notes)} note(s)",
        file=sys.stderr,
    )
    return EXIT_REFUSED if total.refused else EXIT_OK


def _read(name: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name}: not UTF-8 text", "save it as UTF-8") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror}") from exc


def _write_files(out: Path, result: Result) -> None:
    files: dict[Path, list[str]] = {}
    for o in result.outputs:
        files.setdefault(out / o.customer / f"{kebab(o.group)}.yaml", []).append(dump(o.manifest))
    for path, docs in sorted(files.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("---\n".join(docs), encoding="utf-8")
        print(f"{path}: {len(docs)} object(s)", file=sys.stderr)


COMMANDS = {"import": cmd_import}

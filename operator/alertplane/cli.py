"""The `alertplane` command: parses arguments, calls the core, reports. Nothing else.

Exit codes: 0 everything valid/written, 1 some input is invalid, 2 usage error,
3 a tool or I/O failure that no input explains. Never a traceback (set
ALERTPLANE_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, TextIO

from sqlalchemy.exc import SQLAlchemyError

from . import (
    __version__,
    cli_diff,
    cli_import,
    cli_shards,
    cli_silence,
    cli_store,
    cli_token,
    settings,
)
from .cli_render import Packed, evaluate_and_render, load_packed
from .core import Outcome, evaluate
from .crds import crd_yaml
from .errors import AlertplaneError, OutputRejected, Problem, UsageError
from .k8s import command as k8s_command
from .manifests import claimed_customer, load_paths
from .render import ALERTMANAGER_PATH, Rendered, template_path
from .render.keep import keep_customer_parts
from .render.keep_rules import Wanted, present_receivers, prune_rules, wanted_alerts
from .render.platform import load_platform_config
from .render.rules import rules_path
from .sinks.files import generated_rule_files, read_previous, write_rendered
from .store.db import FIX_DOWN

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """Every parser and subparser: usage errors exit 2 with a hint, and a flag must be
    spelled out (`--prometheus` is not taken for `--prometheus-url`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        unknown = message.partition("unrecognized arguments: ")[2].split()
        meant = sorted(
            {f for u in unknown if u.startswith("--") for f in self._flags() if f.startswith(u)}
        )
        if meant:
            flags = " or ".join(meant)
            raise UsageError(message, f"did you mean {flags}? Flags must be spelled out")
        raise UsageError(message, f"see '{self.prog} --help'")

    def _flags(self) -> set[str]:
        """Every long flag of this parser and its subcommands."""
        found = {f for a in self._actions for f in a.option_strings if f.startswith("--")}
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    if isinstance(sub, _Parser):
                        found |= sub._flags()
        return found


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alertplane", description="Per-customer alerting control plane.")
    parser.add_argument("--version", action="version", version=f"alertplane {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def manifests(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-f",
            "--filename",
            dest="paths",
            action="append",
            required=True,
            metavar="PATH",
            help="manifest file or directory (recursive, .yaml/.yml); '-' reads stdin; repeatable",
        )
        settings.add(p, "platform_config", metavar="FILE")

    val = sub.add_parser("validate", help="check manifests; one line per problem")
    manifests(val)
    val.add_argument(
        "--no-tools",
        action="store_true",
        help="skip the promtool/amtool template checks (faster, less thorough)",
    )
    ren = sub.add_parser("render", help="render valid manifests into rule files + alertmanager.yml")
    manifests(ren)
    settings.add(ren, "out", required=True, metavar="DIR", help="output directory")
    crd = sub.add_parser("crds", help="print the CustomResourceDefinitions (from the models)")
    crd.add_argument("--out", metavar="DIR", help="write one <name>.yaml per CRD into DIR instead")
    cli_store.add_commands(sub)
    k8s_command.add_parser(sub)
    cli_token.add_commands(sub)
    cli_import.add_commands(sub)
    cli_diff.add_commands(sub)
    cli_shards.add_commands(sub)
    cli_silence.add_commands(sub)
    return parser


def _problems(problems: Sequence[Problem], stream: TextIO) -> None:
    for problem in problems:
        print(problem, file=stream)


def _summary(outcome: Outcome) -> str:
    return _counts(len(outcome.valid), len(outcome.invalid), outcome.problems)


def _counts(valid: int, invalid: int, problems: Sequence[Problem]) -> str:
    bad = invalid + sum(1 for p in problems if p.obj is None)
    return f"{valid} valid, {bad} invalid, {len(problems)} problem(s)"


def cmd_validate(args: argparse.Namespace) -> int:
    platform = load_platform_config(args.platform_config) if args.platform_config else None
    loaded = load_paths(args.paths)
    outcome = evaluate(loaded.documents, platform, tools=not args.no_tools, earlier=loaded.problems)
    _problems(outcome.problems, sys.stdout)
    print(_summary(outcome), file=sys.stderr)
    return EXIT_OK if outcome.ok else EXIT_INVALID


UNREAD = "some input could not be read or names no customer"


def cmd_render(args: argparse.Namespace) -> int:
    platform = load_platform_config(args.platform_config)
    # Documents packed as read, evaluated a chunk of customers at a time (cli_render.py).
    packed, earlier = load_packed(args.paths)
    outcome, rendered = evaluate_and_render(packed, platform, earlier)
    _problems(outcome.problems, sys.stderr)
    out = Path(args.out)
    # A customer with an invalid alert keeps its previous rule file as a whole (DESIGN:
    # last good output): dropping or removing it would take live alerts down for one bad
    # edit. Only customers the input provably holds no alerts for lose their file.
    owners = outcome.invalid_alert_owners
    why = {rules_path(c): f"customer {c} has invalid alerts" for c in owners or ()}
    rendered, am_kept = _keep_alertmanager_parts(
        out, rendered, outcome.invalid_receiver_owners, packed
    )
    rendered = _prune_kept_rules(out, rendered, why, packed, owners is not None)
    why |= {template_path(c): reason for c, reason in am_kept.items()}
    result = write_rendered(out, rendered, owners is not None, set(why))
    for rel in result.kept:
        reason = why.get(rel, UNREAD)
        print(f"{out / rel}: kept as it was: {reason}; fix the problems above", file=sys.stderr)
    for cid, reason in am_kept.items():
        print(
            f"{out / ALERTMANAGER_PATH}: {cid}'s part kept as it was: {reason}; "
            "fix the problems above",
            file=sys.stderr,
        )
    summary = _counts(outcome.valid, len(outcome.invalid), outcome.problems)
    print(
        f"{out}: {len(result.written)} written, {len(result.unchanged)} unchanged, "
        f"{len(result.removed)} removed, {len(result.kept)} kept; {summary}"
    )
    return EXIT_OK if outcome.ok else EXIT_INVALID


def _prune_kept_rules(
    out: Path, rendered: Rendered, why: dict[str, str], packed: Packed, known: bool
) -> Rendered:
    """A rule file that would be kept loses the alerts the input disables or (when all
    input was read) no longer holds: disabling and deleting take effect whatever else
    the input says. Such a file is written instead of kept (and leaves `why`)."""
    wanted = wanted_alerts((d.data for d in packed.documents()), claimed_customer)
    rules = dict(rendered.rules)
    for rel in generated_rule_files(out):
        kept = rel in why or (rel not in rules and not known)
        if not kept:
            continue
        cid = rel.removeprefix("rules/").removesuffix(".yml")
        says = wanted.get(cid, Wanted())
        says.complete = says.complete and known
        text, dropped = prune_rules(read_previous(out / rel) or "", says, cid)
        if not dropped:
            continue
        reason = why.pop(rel, UNREAD)
        if known and "rules:" not in text:
            rules.pop(rel, None)  # nothing left: removed like any customer without alerts
        else:
            rules[rel] = text
        print(
            f"{out / rel}: kept without {', '.join(dropped)} (disabled or removed): "
            f"{reason}; fix the problems above",
            file=sys.stderr,
        )
    return replace(rendered, rules=rules)


def _keep_alertmanager_parts(
    out: Path, rendered: Rendered, owners: set[str] | None, packed: Packed
) -> tuple[Rendered, dict[str, str]]:
    """Like rule files, a customer with an invalid receiver keeps its part of
    alertmanager.yml (routes, receivers, template): rendering only its valid receivers
    would silently stop notifications that worked before the bad edit. Returns the
    rendering to write and, per kept customer, why."""
    if owners is not None and not owners:
        return rendered, {}
    path = out / ALERTMANAGER_PATH
    present = None if owners is None else present_receivers(packed.documents())
    merged = keep_customer_parts(read_previous(path), rendered.alertmanager, owners, present)
    if merged.unusable is not None:
        print(
            f"{path}: nothing kept from the previous file: {merged.unusable}; "
            "valid receivers are written as rendered",
            file=sys.stderr,
        )
    reasons = {c: f"customer {c} has invalid receivers" if owners else UNREAD for c in merged.kept}
    for cid, gone in merged.dropped.items():
        reasons[cid] += f" (without {', '.join(gone)}: removed)"
    return replace(rendered, alertmanager=merged.text), reasons


def cmd_crds(args: argparse.Namespace) -> int:
    files = crd_yaml()
    if args.out is None:
        sys.stdout.write("---\n".join(files.values()))
        return EXIT_OK
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AlertplaneError(f"{out}: {exc.strerror or exc}") from exc
    print(f"{out}: {', '.join(files)}")
    return EXIT_OK


COMMANDS = {
    "validate": cmd_validate,
    "render": cmd_render,
    "crds": cmd_crds,
    **cli_store.COMMANDS,
    "operator": k8s_command.run,
    **cli_token.COMMANDS,
    **cli_import.COMMANDS,
    **cli_diff.COMMANDS,
    **cli_shards.COMMANDS,
    **cli_silence.COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = settings.resolve(build_parser().parse_args(argv))
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OutputRejected as exc:
        print(f"error: {exc}\n{exc.details}", file=sys.stderr)
        return EXIT_FAILURE
    except AlertplaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except SystemExit as exc:  # argparse's --help/--version: main() returns its code
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except SQLAlchemyError as exc:  # the database failed mid-command (e.g. it went down)
        orig = getattr(exc, "orig", None) or exc
        print(f"error: database error: {' '.join(str(orig).split())}; {FIX_DOWN}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:  # e.g. --out is not a writable directory: I/O, not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # last line of defence: users never see a traceback
        if os.environ.get("ALERTPLANE_DEBUG"):
            traceback.print_exc()
        print(
            f"internal error: {type(exc).__name__}: {exc}; this is a bug, please report it "
            "(ALERTPLANE_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

"""Pin every refusal of promtool/amtool on the object that caused it.

The tools are asked about a whole customer (or every customer) at once, which is cheap;
when that batch is refused and the tool's output does not name the object at fault
(promtool's YAML-level errors such as `duration out of range` carry no group/rule
prefix; amtool's check-config never names a receiver), each object is checked alone, all
in one more call, and the refusal lands on the objects refused alone. So no single
object, however malformed, can hold its customer's other objects (or anyone else's)
back: it becomes invalid with the tool's own message, and the rest goes on.

Generic over the key callers use for an object (a `Parsed` when validating, an object
id when the reconciler checks the output it is about to write).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ..errors import Problem, ToolError
from ..model import CustomerReceiverSpec
from ..render.alertmanager import render_alertmanager
from ..render.platform import PlatformConfig
from ..render.rules import RuleSpec, render_rules, rule_name
from . import tools
from .rulecheck import check_rule_texts

K = TypeVar("K", bound=Hashable)

# Go's %q: group and alert names with `"` or `\` in them are escaped.
_PROMTOOL_LINE = re.compile(
    r'^(?:\d+:\d+: )?group "(?:[^"\\]|\\.)*", rule \d+, "((?:[^"\\]|\\.)*)": (.*)$'
)
_PARTS = (
    (re.compile(r'^annotation "([^"]+)": (.*)$'), "spec.annotations.{}"),
    (re.compile(r'^label "([^"]+)": (.*)$'), "spec.labels.{}"),
)
_RULE_HINT = "fix the alert so Prometheus 2.42 accepts it"
_RECEIVER_HINT = "fix the receiver so Alertmanager 0.25 accepts it"


# -- rules (promtool check rules) ------------------------------------------------------------
def rule_problems(
    customers: Mapping[str, Sequence[tuple[K, RuleSpec]]],
    texts: dict[str, str | None] | None = None,
    suspects: Mapping[str, Sequence[tuple[K, RuleSpec]]] | None = None,
) -> dict[K, list[Problem]]:
    """promtool over each customer's rule file as `render_rules` writes it (only enabled
    specs are rendered); every refusal is pinned on one of the keys. `texts`, when
    given, receives each customer's rendered file (None: no file). `suspects`: alerts
    other checks already refuse, each checked alone in the same promtool run (so Prometheus'
    own words are added to theirs, and none holds a customer's file back or is checked
    twice)."""
    files = {}
    for cid, entries in customers.items():
        text = render_rules(cid, [spec for _, spec in entries])
        if texts is not None:
            texts[cid] = text
        if text is not None:
            files[f"{cid}.yml"] = text
    solo, owners = _solo_files(suspects or {}, "s")
    found: dict[K, list[Problem]] = {}
    alone: dict[str, Sequence[str]] = {}  # customer → promtool's unpinned words
    for name, errors in check_rule_texts({**files, **solo}).items():
        if not errors:
            continue
        if name in owners:
            found.setdefault(owners[name], []).extend(_solo_problems(errors))
            continue
        cid = name.removesuffix(".yml")
        pinned = _pin_lines(customers[cid], errors)
        if pinned is None:
            alone[cid] = errors
        else:
            _merge(found, pinned)
    if alone:
        _merge(found, _rules_alone({cid: customers[cid] for cid in alone}, alone))
    return found


def _pin_lines(
    entries: Sequence[tuple[K, RuleSpec]], errors: Sequence[str]
) -> dict[K, list[Problem]] | None:
    """Each error line on the rule it names; None when some line names no rule, or a
    name two rules share (an alert and a recording rule may both be `a:b`)."""
    by_name: dict[str, K | None] = {}
    for key, spec in entries:
        name = rule_name(spec)
        by_name[name] = None if name in by_name else key
    pinned: dict[K, list[Problem]] = {}
    for line in errors:
        found = _PROMTOOL_LINE.match(line)
        owner = by_name.get(go_unquote(found.group(1))) if found else None
        if found is None or owner is None:
            return None
        pinned.setdefault(owner, []).append(rule_problem(found.group(2)))
    return pinned


def _solo_files(
    customers: Mapping[str, Sequence[tuple[K, RuleSpec]]], tag: str = ""
) -> tuple[dict[str, str], dict[str, K]]:
    """One file per alert (names never collide with a customer's: customer ids hold no
    dot) and the key each file stands for."""
    files: dict[str, str] = {}
    owners: dict[str, K] = {}
    for cid, entries in customers.items():
        for i, (key, spec) in enumerate(entries):
            text = render_rules(cid, [spec])
            if text is not None:
                files[f"{cid}.{tag}{i}.yml"] = text
                owners[f"{cid}.{tag}{i}.yml"] = key
    return files, owners


def _solo_problems(errors: Sequence[str]) -> list[Problem]:
    out = []
    for line in dict.fromkeys(errors):  # promtool may print a YAML error twice
        pinned = _PROMTOOL_LINE.match(line)
        out.append(rule_problem(pinned.group(2) if pinned else line))
    return out


def _rules_alone(
    customers: Mapping[str, Sequence[tuple[K, RuleSpec]]],
    together: Mapping[str, Sequence[str]],
) -> dict[K, list[Problem]]:
    """Each alert of these customers alone, all in one promtool run."""
    files, owners = _solo_files(customers)
    found: dict[K, list[Problem]] = {}
    for name, errors in check_rule_texts(files).items():
        if errors:
            found.setdefault(owners[name], []).extend(_solo_problems(errors))
    for cid, entries in customers.items():
        if not any(key in found for key, _ in entries):
            # Refused together, accepted one by one: no single alert is at fault, so
            # each is told (the customer's file cannot be written as it stands), with
            # promtool's words about the file (e.g. its duplicate-rule lint).
            said = "; ".join(dict.fromkeys(together.get(cid, ())))
            for key, _ in entries:
                found.setdefault(key, []).append(
                    Problem(
                        "spec",
                        f"Prometheus rejects {cid}'s rules together though it accepts each "
                        f"alone{': ' + said if said else ''}",
                        _RULE_HINT,
                    )
                )
    return found


_GO_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)
_GO_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def go_unquote(quoted: str) -> str:
    """The text inside a Go `%q` string (promtool quotes alert names so): `\\"`, `\\n`,
    `\\x..`, `\\u....`; printable characters are kept as they are."""

    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] in "xuU" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        return _GO_SIMPLE.get(esc, esc)

    return _GO_ESCAPE.sub(one, quoted)


def rule_problem(text: str) -> Problem:
    """promtool's complaint about one rule, on the field it names when it names one."""
    for pattern, path in _PARTS:
        found = pattern.match(text)
        if found is not None:
            key = "runbookUrl" if found.group(1) == "runbook_url" else found.group(1)
            return Problem(
                path.format(key),
                f"invalid template: {clean(found.group(2))}",
                "fix the Go template syntax ({{ $labels.name }}, {{ $value }})",
            )
    if text.startswith("could not parse expression:"):
        detail = text.removeprefix("could not parse expression:").strip()
        return Problem(
            "spec.expr",
            f"Prometheus rejects the expression: {detail}",
            "fix the expression; it must be valid Prometheus 2.42 PromQL",
        )
    return Problem("spec", f"Prometheus rejects the rule: {_unplaced(text)}", _RULE_HINT)


def clean(output: str) -> str:
    text = " ".join(output.split())
    text = text.removeprefix("amtool: error:").strip()
    text = re.sub(r"template: [^:]*:(\d+(:\d+)?):", r"at \1:", text)
    return text


# -- receivers (amtool check-config) ---------------------------------------------------------
_ACCEPTED: set[str] = set()
_ACCEPTED_MAX = 10_000
_LOCK = threading.Lock()


def receiver_problems(
    receivers: Sequence[tuple[K, str, CustomerReceiverSpec]], platform: PlatformConfig
) -> dict[K, list[Problem]]:
    """amtool check-config over the Alertmanager config these receivers render to (with
    the platform's settings); a refusal is pinned on the receivers refused alone."""
    if not receivers:
        return {}
    texts = {"all.yml": _config(receivers, platform)}
    if not check_configs(texts)["all.yml"]:
        return {}
    alone = {f"{i}.yml": _config([r], platform) for i, r in enumerate(receivers)}
    alone["platform.yml"] = render_alertmanager({}, platform)
    verdicts = check_configs(alone)
    if verdicts["platform.yml"]:
        raise ToolError(
            f"amtool rejects the platform's Alertmanager settings: {verdicts['platform.yml']}",
            "fix the platform config (--platform-config)",
        )
    found: dict[K, list[Problem]] = {}
    for i, (key, _, _) in enumerate(receivers):
        message = verdicts[f"{i}.yml"]
        if message:
            found.setdefault(key, []).append(receiver_problem(message))
    if not found:
        # Refused together, accepted one by one: blame each customer's receivers as a set.
        by_customer: dict[str, list[tuple[K, str, CustomerReceiverSpec]]] = {}
        for r in receivers:
            by_customer.setdefault(r[2].customer_id, []).append(r)
        together = check_configs(
            {f"{cid}.yml": _config(rs, platform) for cid, rs in by_customer.items()}
        )
        for cid, rs in by_customer.items():
            if together[f"{cid}.yml"]:
                for key, _, _ in rs:
                    found.setdefault(key, []).append(receiver_problem(together[f"{cid}.yml"]))
    if not found:
        raise ToolError(f"amtool rejects the Alertmanager config: {verdicts}")
    return found


def receiver_problem(message: str) -> Problem:
    return Problem(
        "spec", f"Alertmanager rejects the receiver: {_unplaced(message)}", _RECEIVER_HINT
    )


def _unplaced(message: str) -> str:
    """Without the line number in a generated file the user never sees."""
    return re.sub(r"^yaml: line \d+: ", "yaml: ", message)


def _config(
    receivers: Sequence[tuple[K, str, CustomerReceiverSpec]], platform: PlatformConfig
) -> str:
    grouped: dict[str, list[tuple[str, CustomerReceiverSpec]]] = {}
    for _, namespace, spec in receivers:
        grouped.setdefault(spec.customer_id, []).append((namespace, spec))
    return render_alertmanager(grouped, platform)


def check_configs(texts: Mapping[str, str]) -> dict[str, str]:
    """File name → amtool check-config's complaint ("" when accepted), one amtool run;
    content amtool accepted before is not asked again."""
    verdicts = {name: "" for name, text in texts.items() if _digest(text) in _ACCEPTED}
    pending = {name: text for name, text in texts.items() if name not in verdicts}
    if not pending:
        return verdicts
    with tempfile.TemporaryDirectory(prefix="alertplane-amtool-") as tmp:
        sizes = {}
        for name, text in pending.items():
            data = text.encode("utf-8", "backslashreplace")
            (Path(tmp) / name).write_bytes(data)
            sizes[name] = len(data)
        # Bounded by bytes of names and files at every size (tools.file_batches).
        calls = tools.file_batches(sorted(pending), sizes)
        with ThreadPoolExecutor(max_workers=min(len(calls), os.cpu_count() or 1)) as pool:
            results = list(pool.map(lambda c: _check_config(tmp, c), calls))
    for names, result in zip(calls, results, strict=True):
        verdicts |= _parse_check(result.output, names)
    with _LOCK:
        if len(_ACCEPTED) > _ACCEPTED_MAX:
            _ACCEPTED.clear()
        _ACCEPTED.update(_digest(pending[n]) for n in pending if not verdicts[n])
    return verdicts


def _check_config(directory: str, names: list[str]) -> tools.Result:
    return tools.run("amtool", ["check-config", *names], cwd=directory)


_CHECKING = re.compile(r"^Checking '([^']*)'\s+(SUCCESS|FAILED: ?(.*))$")


def _parse_check(output: str, names: Sequence[str]) -> dict[str, str]:
    verdicts: dict[str, str] = {}
    current: str | None = None
    for line in output.splitlines():
        found = _CHECKING.match(line)
        if found is not None and found.group(1) in names:
            failed = found.group(2) != "SUCCESS"
            current = found.group(1) if failed else None
            verdicts[found.group(1)] = (found.group(3) or "refused") if failed else ""
        elif current is not None and line.strip() and not line.startswith("amtool: error:"):
            verdicts[current] += " " + line.strip()
        elif not line.strip() or line.startswith("amtool: error:"):
            current = None
    missing = [n for n in names if n not in verdicts]
    if missing:
        raise ToolError(f"amtool check-config said nothing about {missing}: {output}")
    return verdicts


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


def _merge(into: dict[K, list[Problem]], more: Mapping[K, list[Problem]]) -> None:
    for key, problems in more.items():
        into.setdefault(key, []).extend(problems)

"""Validation: every check an object must pass before it is rendered.

`validate_objects` is pure (schema-independent field rules, isolation, uniqueness);
`check_with_tools` asks the real promtool/amtool about templates and expressions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import ObjectRef, Problem, Source
from ..model import CustomerAlert, CustomerReceiver
from ..render.platform import PlatformConfig
from .blame import receiver_problems
from .catalogue_thresholds import check_thresholds
from .fields import check_alert, check_receiver
from .recording import check_recording_rule
from .ruletests import check_rule_tests, run_rule_tests
from .schema import Parsed, parse_document, parse_documents, ref_of
from .slo import check_slo
from .templates import check_receiver_templates, check_rule_templates
from .unique import check_unique

__all__ = [
    "CHECKS",
    "Parsed",
    "check_receiver_configs",
    "check_with_tools",
    "flagged_index",
    "invalid_refs",
    "is_flagged",
    "parse_document",
    "parse_documents",
    "ref_of",
    "validate_all",
    "validate_objects",
]


# Each kind's own checks (model/kinds.py lists the kinds): a new kind adds its entry.
CHECKS: dict[str, Callable[[Any], list[Problem]]] = {
    "CustomerAlert": check_alert,
    "CustomerReceiver": check_receiver,
    "CustomerRecordingRule": check_recording_rule,
    "CustomerSLO": check_slo,
}


def validate_objects(
    parsed: Sequence[Parsed], platform: PlatformConfig | None = None
) -> list[Problem]:
    """Pure checks. Without a platform config, checks that depend on it are skipped."""
    problems: list[Problem] = []
    for item in parsed:
        obj = item.obj
        found = CHECKS[obj.kind](obj)
        if isinstance(obj, CustomerAlert):
            found += check_thresholds(obj.spec, platform) + check_rule_tests(obj.spec)
        if (
            platform is not None
            and isinstance(obj, CustomerReceiver)
            and obj.spec.email
            and not platform.has_smtp()
        ):
            found.append(
                Problem(
                    "spec.email",
                    "the platform has no SMTP server configured",
                    "ask the platform team to set alertmanager.global.smtp_smarthost "
                    "and smtp_from, or use another channel",
                )
            )
        problems.extend(p.at(item.ref, item.source) for p in found)
    problems.extend(check_unique(parsed))
    return problems


def check_with_tools(
    parsed: Sequence[Parsed],
    platform: PlatformConfig | None = None,
    suspects: Sequence[Parsed] = (),
) -> list[Problem]:
    """Rules by promtool, receiver templates and configs by amtool (concurrently); every
    refusal is pinned on its object (validate/blame.py). `suspects`: alerts other checks
    refuse; promtool checks each alone, for Prometheus' own words (templates.py)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        rules = pool.submit(check_rule_templates, parsed, suspects)
        receivers = pool.submit(check_receiver_templates, parsed)
        configs = pool.submit(check_receiver_configs, parsed, platform)
        tests = pool.submit(run_rule_tests, parsed)  # spec.tests (validate/ruletests.py)
        return rules.result() + receivers.result() + configs.result() + tests.result()


# Without the platform's settings, a placeholder SMTP server stands in for the platform's
# (whether it has one is validate_objects' question, asked when the settings are known).
_NEUTRAL = PlatformConfig.model_validate(
    {"alertmanager": {"global": {"smtp_smarthost": "localhost:25", "smtp_from": "a@localhost"}}}
)


def check_receiver_configs(
    parsed: Sequence[Parsed], platform: PlatformConfig | None = None
) -> list[Problem]:
    """amtool check-config over the Alertmanager config the receivers render to."""
    items = [
        (i, p.obj.metadata.namespace, p.obj.spec)
        for i, p in enumerate(parsed)
        if isinstance(p.obj, CustomerReceiver)
    ]
    found = receiver_problems(items, _NEUTRAL if platform is None else platform)
    return [
        problem.at(parsed[i].ref, parsed[i].source)
        for i, problems in sorted(found.items())
        for problem in problems
    ]


def validate_all(
    parsed: Sequence[Parsed], platform: PlatformConfig | None = None, tools: bool = True
) -> list[Problem]:
    problems = validate_objects(parsed, platform)
    if tools:
        index = flagged_index(problems)
        clean = [p for p in parsed if not is_flagged(p, index)]
        flagged = [p for p in parsed if is_flagged(p, index)]
        problems += check_with_tools(clean, platform, flagged)
    return problems


Flagged = dict[ObjectRef, set[Source | None]]


def flagged_index(problems: Sequence[Problem]) -> Flagged:
    index: Flagged = {}
    for p in problems:
        if p.obj is not None:
            index.setdefault(p.obj, set()).add(p.source)
    return index


def is_flagged(item: Parsed, index: Flagged) -> bool:
    """Whether a problem names this very object: by identity and, when both know it, by
    source, so the first of two same-named objects stays valid (the later is the duplicate)."""
    sources = index.get(item.ref)
    if sources is None:
        return False
    return item.source is None or None in sources or item.source in sources


def invalid_refs(problems: Sequence[Problem]) -> set[object]:
    return {p.obj for p in problems if p.obj is not None}

"""`spec.tests`: a CustomerAlert's own promtool unit tests (docs/authoring.md).

Two halves, like every check: the pure one (`check_rule_tests`, the CHECKS stage: every
door refuses what it finds) bounds what a test may ask of promtool and keeps it to the
customer's own series; the tool one (`run_rule_tests`, the TOOLS stage: the reconciler
marks the object Invalid) runs `promtool test rules` over the alert's rule exactly as it is
rendered, alone in its rule file, so `exp_alerts` are this alert's alerts only.

Series: every input series is one of the customer's — `customer_id="<id>"` is added when
missing and another value is refused — so a test states nothing about another customer's
data (and the promtool run holds no series of theirs). Expected labels: the rule's own
labels (customer_id, severity, category, urgency, spec.labels) are added to each expected
alert's `expLabels` where the test does not name them, so a test lists only the labels its
series bring.

Bounds (a customer must not be able to starve admission): at most MAX_TESTS tests, 32
series each, MAX_SAMPLES samples in all (the expanding notation `0+1x1000` counts 1,001),
a sample interval of at least 1s; promtool evaluates the rule every EVALUATION_INTERVAL up
to each test's latest evalTime, and those spans add up to at most a day (1,440 evaluations
of one rule over at most 10,000 samples: about a second of promtool, docs/authoring.md).
All the tests of one check run in a few promtool processes (batched by argument and file
size, one per core), each within tools.TIMEOUT_S; a verdict, passing or failing, is kept
for the same bytes, so a sync does not run an unchanged test again.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import Problem, ToolTimeout
from ..model.alert import CustomerAlert, CustomerAlertSpec
from ..model.authoring import MAX_EVAL_MS, MAX_SAMPLES, MIN_INTERVAL_MS, RuleTest
from ..model.common import duration_ms
from ..render.rules import render_rules
from ..render.yamlout import dump
from . import promql, tools
from .blame import clean
from .promql import NODES as pp
from .promql import TENANT_LABEL
from .schema import Parsed

EVALUATION_INTERVAL = "1m"  # Prometheus' default, and the local stack's
_HINT = "fix the test or the alert; the test runs with promtool test rules (Prometheus 2.42)"
_REPEAT = re.compile(r"^(.*?)x(\d+)$")
_VERDICTS: dict[str, str] = {}  # digest of rules + test file → "" (passed) or the message
_VERDICTS_MAX = 100_000
# One test file alone (after its batch ran past tools.TIMEOUT_S): the largest object the
# bounds allow takes about a second of promtool; an expensive expression over a day of
# evaluations about ten (docs/authoring.md). Beyond this, the test is the alert's failure.
ALONE_TIMEOUT_S = 30.0
NOT_RUN = "not tested this time"
_LOCK = threading.Lock()


# -- pure: bounds and the customer's own series ----------------------------------------------
def check_rule_tests(spec: CustomerAlertSpec) -> list[Problem]:
    problems: list[Problem] = []
    samples, huge, evaluated = 0, False, 0
    for i, test in enumerate(spec.tests):
        path = f"spec.tests[{i}]"
        if duration_ms(test.interval) < MIN_INTERVAL_MS:
            problems.append(
                Problem(f"{path}.interval", f"{test.interval} is shorter than 1s", "use 1s or more")
            )
        evaluated += max(duration_ms(c.eval_time) for c in test.alert_rule_tests)
        for j, series in enumerate(test.input_series):
            where = f"{path}.inputSeries[{j}]"
            found = own_series(series.series, spec.customer_id)
            if isinstance(found, Problem):
                problems.append(Problem(f"{where}.series", found.message, found.hint))
            count = sample_count(series.values)
            if count is None:
                problems.append(
                    Problem(
                        f"{where}.values",
                        f"a repeat count makes more than {MAX_SAMPLES} samples",
                        f"the input series of an alert's tests hold at most {MAX_SAMPLES} "
                        "samples in all",
                    )
                )
                huge = True
            else:
                samples += count
    if samples > MAX_SAMPLES and not huge:
        problems.append(
            Problem(
                "spec.tests",
                f"the input series hold {samples} samples: at most {MAX_SAMPLES}",
                "test with fewer or shorter series (e.g. '0+1x60' is 61 samples)",
            )
        )
    if evaluated > MAX_EVAL_MS:
        problems.append(
            Problem(
                "spec.tests",
                f"the tests evaluate {_duration(evaluated)} in all (each up to its latest "
                "evalTime): at most 1d",
                "test shorter spans, or fewer tests",
            )
        )
    return problems


def _duration(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    return f"{hours}h{rest // 60_000}m" if rest else f"{hours}h"


def sample_count(values: str) -> int | None:
    """How many samples promtool's expanding notation makes (`1+2x3` is four); None when
    a repeat count alone is beyond MAX_SAMPLES (no arithmetic on huge numbers)."""
    total = 0
    for token in values.split():
        found = _REPEAT.match(token)
        if found is None:
            total += 1
            continue
        if len(found.group(2)) > 6 or int(found.group(2)) > MAX_SAMPLES:
            return None
        total += int(found.group(2)) + 1
    return total


def own_series(series: str, customer_id: str) -> str | Problem:
    """The series with `customer_id="<id>"` (added when missing), or why it is not one of
    the customer's."""
    try:
        node = promql.parse(series)
    except ValueError as exc:
        return Problem("", f"not a series: {exc}", 'write it as metric{label="value", ...}')
    if not isinstance(node, pp.VectorSelector) or node.offset is not None or node.at is not None:
        return Problem("", "not a series", 'write it as metric{label="value", ...}')
    labels: dict[str, str] = {}
    for m in node.matchers.or_matchers or [node.matchers.matchers]:
        for matcher in m:
            if promql._op(matcher.op) != "=":
                return Problem(
                    "", f"label {matcher.name} is matched, not given", f'write {matcher.name}="..."'
                )
            labels[matcher.name] = matcher.value
    if node.matchers.or_matchers:
        return Problem("", "not a series", "one series has one label set; drop the 'or'")
    tenant = labels.get(TENANT_LABEL)
    if tenant is not None and tenant != customer_id:
        return Problem(
            "",
            f"{TENANT_LABEL} {promql._quote(tenant)} is another customer's",
            f"a test of customer {customer_id} uses only its own series "
            f"(leave {TENANT_LABEL} out: it is added)",
        )
    labels[TENANT_LABEL] = customer_id
    body = ", ".join(f"{k}={promql._quote(v)}" for k, v in sorted(labels.items()))
    return f"{node.name or ''}{{{body}}}"


# -- promtool test rules ---------------------------------------------------------------------
def promtool_test_files(spec: CustomerAlertSpec, rules_name: str) -> list[str]:
    """One promtool test file per test of `spec` (each reads `rules_name`)."""
    rule_labels = {k: v for k, v in spec.rule_labels().items() if "{{" not in v}
    out = []
    for test in spec.tests:
        out.append(dump(_test_file(spec, test, rules_name, rule_labels)))
    return out


def _test_file(
    spec: CustomerAlertSpec, test: RuleTest, rules_name: str, rule_labels: dict[str, str]
) -> dict[str, Any]:
    series = []
    for s in test.input_series:
        owned = own_series(s.series, spec.customer_id)
        series.append({"series": owned if isinstance(owned, str) else s.series, "values": s.values})
    checks = []
    for check in test.alert_rule_tests:
        expected = [
            {
                "exp_labels": {**rule_labels, **e.exp_labels},
                "exp_annotations": dict(e.exp_annotations),
            }
            for e in check.exp_alerts
        ]
        checks.append(
            {"eval_time": check.eval_time, "alertname": spec.alert_name, "exp_alerts": expected}
        )
    return {
        "rule_files": [rules_name],
        "evaluation_interval": EVALUATION_INTERVAL,
        "tests": [{"interval": test.interval, "input_series": series, "alert_rule_test": checks}],
    }


def run_rule_tests(alerts: Sequence[Parsed]) -> list[Problem]:
    """promtool test rules over every test of these alerts; each failing test is a
    problem at `spec.tests[i]` with promtool's words."""
    files: dict[str, str] = {}
    owners: dict[str, tuple[Parsed, int, str]] = {}  # test file → alert, test, digest
    for n, item in enumerate(alerts):
        obj = item.obj
        if not isinstance(obj, CustomerAlert) or not obj.spec.tests or obj.spec.expr is None:
            continue
        spec = obj.spec.model_copy(update={"enabled": True})
        rules = render_rules(spec.customer_id, [spec]) or ""
        files[f"a{n}.rules.yml"] = rules
        for i, text in enumerate(promtool_test_files(spec, f"a{n}.rules.yml")):
            files[f"a{n}.t{i}.yml"] = text
            owners[f"a{n}.t{i}.yml"] = (item, i, _digest(f"{rules}\0{text}"))
    if not owners:
        return []
    with _LOCK:
        known = {name: _VERDICTS.get(digest) for name, (_, _, digest) in owners.items()}
    pending = sorted(name for name, verdict in known.items() if verdict is None)
    failed = _run(files, pending) if pending else {}
    with _LOCK:
        if len(_VERDICTS) > _VERDICTS_MAX:
            _VERDICTS.clear()
        for name in pending:
            if not failed.get(name, "").startswith(NOT_RUN):
                _VERDICTS[owners[name][2]] = failed.get(name, "")
    verdicts = {**known, **{name: failed.get(name, "") for name in pending}}
    problems = []
    for name in sorted(owners, key=_order):
        item, i, _ = owners[name]
        if verdicts[name]:
            message = f"the test fails: {verdicts[name]}"
            problems.append(Problem(f"spec.tests[{i}]", message, _HINT).at(item.ref, item.source))
    return problems


def _order(name: str) -> tuple[int, int]:
    alert, test = name.removesuffix(".yml").split(".")
    return int(alert[1:]), int(test[1:])


def _run(files: dict[str, str], tests: list[str]) -> dict[str, str]:
    """Test file name → promtool's message, for the failing ones."""
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="alertplane-ruletests-") as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        sizes = {n: len(files[n].encode("utf-8")) for n in tests}
        # promtool tests its files one after another: large sets use every core.
        workers = max(1, min(os.cpu_count() or 1, len(tests) // 50 + 1))
        batches = [b for i in range(workers) for b in tools.file_batches(tests[i::workers], sizes)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for found in pool.map(lambda batch: _run_batch(tmp, batch), batches):
                failed.update(found)
    return failed


def _run_batch(directory: str, names: list[str]) -> dict[str, str]:
    try:
        result = tools.run("promtool", ["test", "rules", *names], cwd=directory)
    except ToolTimeout:
        # One customer's test can hold promtool past the limit (an expensive expression
        # evaluated up to 1,440 times): pin it on that test, never fail everyone's check.
        return _each_alone(directory, names)
    if result.ok:
        return {}
    bad = _failing(result.stdout, names)
    # promtool prints which file it tests on stdout and why one fails on stderr, one
    # "  FAILED:" block per failing file in file order; when that does not add up (a
    # message that itself holds such a line), each failing file is run alone.
    errors = result.output[len(result.stdout) :] if result.output.startswith(result.stdout) else ""
    blocks = re.split(r"^  FAILED:$", errors, flags=re.MULTILINE)[1:]
    if len(blocks) == len(bad) and bad:
        return {name: _message(block) for name, block in zip(bad, blocks, strict=True)}
    return _each_alone(directory, bad or names)


def _each_alone(directory: str, names: list[str]) -> dict[str, str]:
    """Test file name → why it fails, running each file alone. A file that runs past
    ALONE_TIMEOUT_S fails so (a verdict kept for the same bytes, so it does not hold every
    sync again); all the runs together stop at tools.TIMEOUT_S, so no set of expensive
    tests costs more than that: the files not reached are told so and tried again at the
    next check (never kept)."""
    out = {}
    deadline = time.monotonic() + tools.TIMEOUT_S
    for name in names:
        if deadline - time.monotonic() < ALONE_TIMEOUT_S:
            out[name] = f"{NOT_RUN} (other tests of this check took promtool's time)"
            continue
        try:
            args = ["test", "rules", name]
            alone = tools.run("promtool", args, cwd=directory, timeout=ALONE_TIMEOUT_S)
        except ToolTimeout:
            out[name] = (
                f"promtool did not finish within {ALONE_TIMEOUT_S:.0f}s (the alert's "
                "expression or its tests ask too much of promtool)"
            )
            continue
        if not alone.ok:
            text = alone.output.replace(f"Unit Testing:  {name}", "").replace("FAILED:", "")
            out[name] = _message(text)
    return out


def _failing(stdout: str, names: list[str]) -> list[str]:
    """The files promtool tested without saying SUCCESS, in its order."""
    lines = stdout.splitlines()
    out = []
    for k, line in enumerate(lines):
        if line.startswith("Unit Testing: "):
            name = line.removeprefix("Unit Testing: ").strip()
            after = lines[k + 1].strip() if k + 1 < len(lines) else ""
            if name in names and after != "SUCCESS":
                out.append(name)
    return out


def _message(block: str) -> str:
    text = clean(block)
    return text or "promtool gave no reason"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

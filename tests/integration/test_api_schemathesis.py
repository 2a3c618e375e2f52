"""Schemathesis against the served /openapi.json: no input gives a 500, and every response
conforms to the documented status codes, content types and schemas.

Driven from one test per database rather than `schema.parametrize()`: schemathesis'
lazy pytest loader does not work with this pytest; the checks are the same.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.openapi import from_asgi

from tests.support.api_env import ADMIN, api_env
from tests.support.api_seed import reset
from tests.support.processes import Alertmanager

# Half of the generated ids are replaced by ones that exist, so the runs reach past 404.
KNOWN = {
    "customerId": "acme",
    "alertName": "HighErrorRate",
    "receiverName": "oncall",
    "sloName": "checkout",
    "record": "job:errors:rate5m",
}
EXAMPLES = 20

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]

# Operations whose negative cases cannot be invalid requests, so negative_data_rejection
# does not apply. POST /diff and POST /validate take any body (YAML or JSON manifests)
# and answer 200 with what cannot be read in `problems` (docs/diff.md; `valid: false`),
# so their negative cases only mutate the query, where a one-element array or an object
# is a plain string on the wire (`customerMap=0.3` is the list ["0.3"]), or drop the
# Authorization header, which the run sends anyway (headers=ADMIN). POST /import takes
# the same query but answers 422 ("nothing imported") for a body that is not manifests,
# so it keeps the check.
NEGATIVE_ALWAYS_VALID = {"POST /diff", "POST /validate"}


def _half(value: object) -> bool:
    return zlib.crc32(repr(value).encode("utf-8", "replace")) % 2 == 1


def _known(case: Any) -> None:
    """Existing ids for half the cases, and a valid tenant expression in half the alert
    bodies, so the runs reach the write paths instead of stopping at 404/422."""
    params = case.path_parameters or {}
    for name, known in KNOWN.items():
        value = params.get(name)
        if isinstance(value, str) and _half(value):
            params[name] = known
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("expr"), str) and _half(body):
        body["expr"] = 'up{customer_id="acme"} == 0'


def test_openapi_contract(db_url: str, tmp_path: Path) -> None:
    with (
        api_env(db_url, tmp_path, wait_timeout_s=0.3) as env,
        Alertmanager(env.out / "alertmanager.yml") as am,  # /firing answers for real
    ):
        env.reconciler.settings.alertmanager_url = am.url
        reset(env)
        schema = from_asgi("/openapi.json", env.client.app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 20
        failures: list[str] = []
        for operation in operations:
            reset(env)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _run(operation, mode)
                except (
                    Exception,
                    BaseExceptionGroup,
                ) as exc:  # collect every operation's failure, then report
                    failures.append(f"{operation.label} ({mode}): {exc}")
        assert not failures, "\n\n".join(failures)


def _run(operation: Any, mode: GenerationMode) -> None:
    chosen = CHECKS
    if mode == GenerationMode.NEGATIVE and operation.label in NEGATIVE_ALWAYS_VALID:
        chosen = [c for c in CHECKS if c is not checks.negative_data_rejection]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        _known(case)
        case.call_and_validate(headers=ADMIN, checks=chosen)

    run()


def test_unauthenticated_calls_are_refused(db_url: str, tmp_path: Path) -> None:
    with api_env(db_url, tmp_path, run_reconciler=False) as env:
        schema = from_asgi("/openapi.json", env.client.app)
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(
                max_examples=2,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call()
                if response.status_code != 401:  # only a path no route matches
                    assert response.status_code == 404, (case, response.text)
                    assert response.json() == {"detail": "Not Found"}, (case, response.text)

            run()

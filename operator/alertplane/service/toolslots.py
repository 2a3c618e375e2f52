"""Tool checks (promtool/amtool) that customer tokens ask the API for: bounded.

`POST /validate`, `/import` and `/diff` with `tools=true` run promtool and amtool in the
request, spec.tests included (up to tools.TIMEOUT_S per batch, validate/ruletests.py). A
customer could send many such requests at once and take every core and every worker
thread from the others; so a process runs at most AT_ONCE of them for customer tokens, at
most PER_CUSTOMER for one customer. Beyond that the answer is 503 "retry in a moment",
never a queue (a queue would hold the other customers' requests behind them). Admin
tokens are the platform team's and are not counted.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from ..errors import Unavailable
from .tokens import Principal

AT_ONCE = 4
PER_CUSTOMER = 2

_slots = threading.BoundedSemaphore(AT_ONCE)
_running: dict[str, int] = {}  # customer → its requests running the tools
_lock = threading.Lock()


@contextlib.contextmanager
def tool_slot(who: Principal, tools: bool) -> Iterator[None]:
    """Hold one slot while a customer token's request runs the tools; never waits."""
    customer = who.customer
    if not tools or customer is None:
        yield
        return
    with _lock:
        if _running.get(customer, 0) >= PER_CUSTOMER:
            raise Unavailable(
                f"{PER_CUSTOMER} checks with the tools for customer {customer} are running; "
                "retry in a moment (or send tools=false)"
            )
        if not _slots.acquire(blocking=False):
            raise Unavailable(
                f"{AT_ONCE} checks with the tools are running; retry in a moment "
                "(or send tools=false)"
            )
        _running[customer] = _running.get(customer, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _running[customer] -= 1
            if not _running[customer]:
                del _running[customer]
            _slots.release()

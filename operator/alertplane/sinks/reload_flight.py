"""One reload in flight per target, never two: `POST /-/reload` timed by what it takes.

Prometheus answers `POST /-/reload` only when the reload is done, and a reload cannot be
cancelled: the web handler hands it to the main loop and waits, whether or not the client
is still there. A client that gives up after a fixed timeout and asks again therefore makes
Prometheus run another full reload right after the first (at 100,000 rules, 74 s each on an
idle machine, 0.8 → 1.9 GB of memory while it runs): a pile-up. So here a reload, once
asked, is never asked again while it runs: its request stays open in a thread, every caller
waits on that same request for at most its own patience and, if it is not done, hears
"reloading for N s, took M s last time" (a Pending, not a failure), and a later call picks
up the answer. The request itself gives up only after HANG_S or 5 × the last reload (a
target that accepted the connection and never answers); even then, before saying so,
the target's `*_config_last_reload_success_timestamp_seconds` is read: a reload that
succeeded after the request was sent counts, whatever happened to its answer.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from .base import ReloadOutcome

HANG_S = 600.0  # a reload's answer is given up on after max(HANG_S, 5 × the last reload)
_CONNECT_S = 10.0  # opening the connection: no reload has started while this runs
_SUCCESS = re.compile(
    r"^(?:prometheus|alertmanager)_config_last_reload_success_timestamp_seconds\s+(\S+)$",
    re.MULTILINE,
)


@dataclass
class Flight:
    """One `POST /-/reload` and its answer, shared by everyone who asks meanwhile."""

    url: str
    started: float = field(default_factory=time.monotonic)
    wall_started: float = field(default_factory=time.time)
    done: threading.Event = field(default_factory=threading.Event)
    outcome: ReloadOutcome | None = None
    attempts: int = 0


_LOCK = threading.Lock()
_FLIGHTS: dict[str, Flight] = {}  # reload URL → its reload in flight, or the last one
_TOOK: dict[str, float] = {}  # reload URL → seconds its last answered reload took
POSTS: dict[str, int] = {}  # reload URL → requests sent (tests count them)


def took_last(url: str) -> float | None:
    with _LOCK:
        return _TOOK.get(url)


def reload(url: str, attempts: int, backoff_s: float, timeout_s: float) -> ReloadOutcome:
    """The outcome of the reload of `url` in flight (started now unless one runs), waited
    for at most `timeout_s`; not done by then: not ok, `in_flight`, and what it took."""
    with _LOCK:
        flight = _FLIGHTS.get(url)
        if flight is None or flight.done.is_set():
            flight = _FLIGHTS[url] = Flight(url)
            threading.Thread(
                target=_fly, args=(flight, attempts, backoff_s), name="reload", daemon=True
            ).start()
    if flight.done.wait(max(0.0, timeout_s)) and flight.outcome is not None:
        return flight.outcome
    return ReloadOutcome(False, max(1, flight.attempts), reloading(flight), in_flight=True)


def reloading(flight: Flight) -> str:
    """What the object's status says while its target reloads."""
    took = took_last(flight.url)
    so_far = time.monotonic() - flight.started
    last = f"took {took:.1f} s last time" if took is not None else "its first reload here"
    return f"{flight.url}: reloading for {so_far:.0f} s ({last})"


def _fly(flight: Flight, attempts: int, backoff_s: float) -> None:
    try:
        outcome = _post(flight, attempts, backoff_s)
    except Exception as exc:
        outcome = ReloadOutcome(False, max(1, flight.attempts), f"{flight.url}: {exc!r}")
    flight.outcome = outcome
    flight.done.set()


def _post(flight: Flight, attempts: int, backoff_s: float) -> ReloadOutcome:
    """POST until answered; again only when no reload can have started (no connection, or
    a proxy's 502/503/504), never once the request reached the target."""
    url, message = flight.url, ""
    for attempt in range(1, attempts + 1):
        flight.attempts = attempt
        sent = time.monotonic()
        try:
            status, body = _send(url, _give_up(url))
        except _Unanswered as exc:
            if _succeeded_since(url, flight.wall_started):
                return ReloadOutcome(True, attempt)
            return ReloadOutcome(False, attempt, f"{url}: {exc}")
        except OSError as exc:  # no connection: no reload started, asking again is safe
            message = f"{url}: {exc.strerror or exc}"
        else:
            took = time.monotonic() - sent
            if status < 300:
                _took(url, took)
                return ReloadOutcome(True, attempt)
            message = f"{url}: HTTP {status}: {body}"
            if status not in (502, 503, 504):  # the target ran the reload and refused it
                _took(url, took)
                return ReloadOutcome(False, attempt, f"{message} (the reload took {took:.1f} s)")
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return ReloadOutcome(False, attempts, message)


class _Unanswered(Exception):
    """The request reached the target, which did not answer (in time, or at all)."""


def _send(url: str, give_up_s: float) -> tuple[int, str]:
    """POST `url`: a short timeout to connect (OSError: nothing was sent), then up to
    `give_up_s` for the answer (_Unanswered: a reload may be running)."""
    import http.client  # not at import: render/validate never reload (startup cost)
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
    conn = kind(parts.netloc, timeout=_CONNECT_S)
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(give_up_s)
        with _LOCK:
            POSTS[url] = POSTS.get(url, 0) + 1
        try:
            conn.request("POST", parts.path or "/", body=b"")
            resp = conn.getresponse()
            body = resp.read(64 * 1024).decode("utf-8", "replace").strip()
        except TimeoutError as exc:
            raise _Unanswered(f"no answer within {give_up_s:.0f} s") from exc
        except OSError as exc:
            raise _Unanswered(f"the connection broke while reloading: {exc}") from exc
        except http.client.HTTPException as exc:
            raise _Unanswered(f"a malformed answer: {exc!r}") from exc
        return resp.status, body or str(resp.reason)
    finally:
        conn.close()


def _give_up(url: str) -> float:
    took = took_last(url)
    return max(HANG_S, 5 * took) if took is not None else HANG_S


def _took(url: str, seconds: float) -> None:
    with _LOCK:
        _TOOK[url] = seconds


def _succeeded_since(url: str, wall: float) -> bool:
    """Whether the target's own metrics say a reload succeeded after `wall` (epoch s)."""
    import urllib.request

    metrics = url.removesuffix("/-/reload") + "/metrics"
    try:
        with urllib.request.urlopen(metrics, timeout=_CONNECT_S) as resp:
            text = resp.read(16 * 1024 * 1024).decode("utf-8", "replace")
    except (OSError, ValueError):
        return False
    found = _SUCCESS.search(text)
    try:
        return found is not None and float(found.group(1)) >= wall
    except ValueError:
        return False

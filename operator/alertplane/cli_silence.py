"""`alertplane silence create|list|extend|expire`: a customer's silences, through the REST API.

Through the API, not the store or Alertmanager directly: silences live in Alertmanager,
and the API is where a customer token is checked, the customer_id matcher added and every
change audited, so the CLI is one more client of that one path (`alertplane serve` must
be running). The token is read from $ALERTPLANE_TOKEN or `--token-file`, never from the
command line (which every user of the machine can read in the process list).

Matchers are written as in amtool and PromQL: `name=value`, `name!=value`, `name=~regex`,
`name!~regex`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .errors import AlertplaneError, UsageError
from .service.silence_body import matcher_text
from .service.silence_body import parse_matcher as parse

EXIT_OK, EXIT_INVALID, EXIT_FAILURE = 0, 1, 3
DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 30.0


class ApiRefused(AlertplaneError):
    """The API answered with an error: its status, detail and problems."""

    def __init__(self, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status}: {detail or body}")
        self.status = status
        self.problems = body.get("problems") or [] if isinstance(body, dict) else []


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "silence",
        help="list, create, extend and expire a customer's silences (through the REST API)",
        description="Talks to `alertplane serve` at --api-url with the token in "
        "$ALERTPLANE_TOKEN or --token-file.",
    )
    cmds = p.add_subparsers(dest="silence_command", required=True, parser_class=type(p))
    for name, text in (
        ("list", "the customer's silences"),
        ("create", "silence the customer's alerts matching -m (customer_id is added)"),
        ("extend", "set a silence's end (extend or shorten)"),
        ("expire", "expire a silence now"),
    ):
        c = cmds.add_parser(name, help=text)
        c.add_argument("customer", help="the customer id")
        if name in ("extend", "expire"):
            c.add_argument("id", help="the silence id")
        _common(c)
        if name == "list":
            c.add_argument("--state", choices=("active", "pending", "expired"))
            c.add_argument("-o", "--output", choices=("table", "json"), default="table")
        if name == "create":
            c.add_argument(
                "-m",
                "--matcher",
                dest="matchers",
                action="append",
                required=True,
                metavar="MATCHER",
                help="name=value, name!=value, name=~regex or name!~regex; repeatable",
            )
            c.add_argument("--comment", required=True, help="why the alerts are silenced")
            c.add_argument("--starts-at", metavar="TIME", help="RFC 3339 (default now)")
        if name in ("create", "extend"):
            end = c.add_mutually_exclusive_group(required=True)
            end.add_argument("--duration", help="from now (or --starts-at): 30m, 2h, 1d")
            end.add_argument(
                "--ends-at", metavar="TIME", help="RFC 3339, e.g. 2026-12-07T18:00:00Z"
            )


def _common(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--api-url",
        help=f"the REST API (default $ALERTPLANE_API_URL or {DEFAULT_URL})",
    )
    c.add_argument(
        "--token-file",
        metavar="FILE",
        help="a file holding the bearer token (default: $ALERTPLANE_TOKEN)",
    )


def parse_matcher(text: str) -> dict[str, Any]:
    found = parse(text)
    if found is None:
        raise UsageError(
            f"-m {text!r}: not a matcher",
            "write name=value, name!=value, name=~regex or name!~regex",
        )
    return found


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        try:
            return Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"--token-file {args.token_file}: {exc.strerror or exc}") from exc
    token = os.environ.get("ALERTPLANE_TOKEN", "").strip()
    if not token:
        raise UsageError(
            "no token", "set $ALERTPLANE_TOKEN or --token-file (alertplane token create)"
        )
    return token


def request(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    base = (args.api_url or os.environ.get("ALERTPLANE_API_URL") or DEFAULT_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {_token(args)}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            raw = exc.read(1 << 20)
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = raw.decode("utf-8", "replace")[:300]
        raise ApiRefused(exc.code, answer) from None
    except (OSError, ValueError) as exc:
        raise AlertplaneError(
            f"cannot reach the alertplane API at {base}: {exc}",
            "is `alertplane serve` running? (--api-url, $ALERTPLANE_API_URL)",
        ) from exc


def _path(customer: str, silence_id: str | None = None) -> str:
    out = f"/customers/{urllib.parse.quote(customer, safe='')}/silences"
    return out if silence_id is None else f"{out}/{urllib.parse.quote(silence_id, safe='')}"


def _end(args: argparse.Namespace) -> dict[str, str]:
    return {"duration": args.duration} if args.duration else {"endsAt": args.ends_at}


def _line(s: dict[str, Any]) -> str:
    """One silence per line, its matchers as they are written on the command line."""
    matchers = ",".join(matcher_text(m) for m in s["matchers"])
    return f"{s['id']}  {s['status']['state']:<8} {s['endsAt']}  {matchers}  {s['comment']}"


def cmd_silence(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ApiRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        for p in exc.problems:
            print(p.get("text", p) if isinstance(p, dict) else p, file=sys.stderr)
        return EXIT_INVALID if exc.status == 422 else EXIT_FAILURE


def _run(args: argparse.Namespace) -> int:
    cmd = args.silence_command
    if cmd == "list":
        query = f"?state={args.state}" if args.state else ""
        items = request(args, "GET", _path(args.customer) + query)["items"]
        if args.output == "json":
            print(json.dumps(items, indent=2))
        else:
            for s in items:
                print(_line(s))
        return EXIT_OK
    if cmd == "create":
        body: dict[str, Any] = {
            "matchers": [parse_matcher(m) for m in args.matchers],
            "comment": args.comment,
            **_end(args),
        }
        if args.starts_at:
            body["startsAt"] = args.starts_at
        made = request(args, "POST", _path(args.customer), body)
    elif cmd == "extend":
        made = request(args, "PATCH", _path(args.customer, args.id), _end(args))
    else:
        made = request(args, "DELETE", _path(args.customer, args.id))
    print(made["id"])
    print(_line(made), file=sys.stderr)
    return EXIT_OK


COMMANDS = {"silence": cmd_silence}

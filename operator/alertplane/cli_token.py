"""`alertplane token create`: a new REST API token, printed once, and its tokens-file line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .errors import AlertplaneError
from .service.tokens import new_token, token_line


def add_commands(sub: Any) -> None:
    p = sub.add_parser("token", help="manage REST API tokens")
    tokens = p.add_subparsers(dest="token_command", required=True, parser_class=type(p))
    c = tokens.add_parser(
        "create",
        help="print a new random token (once) and the line for the tokens file",
        description="Prints the token on the first line and the tokens-file line "
        "(name,role,sha256) on the second. Only the hash is ever stored.",
    )
    c.add_argument("name", help="the token's name; the audit log shows it as the actor")
    c.add_argument(
        "--role",
        required=True,
        help="admin, or customer:<customerId> for a token limited to that customer",
    )
    c.add_argument(
        "--append",
        metavar="FILE",
        help="also append the line to this tokens file (CSV format)",
    )


def cmd_token(args: argparse.Namespace) -> int:
    token = new_token()
    line = token_line(args.name, args.role, token)
    if args.append:
        path = Path(args.append)
        try:
            existing = path.read_text(encoding="utf-8") if path.exists() else ""
            with path.open("a", encoding="utf-8") as out:
                if existing and not existing.endswith("\n"):
                    out.write("\n")
                out.write(line + "\n")
            path.chmod(0o600)
        except OSError as exc:
            raise AlertplaneError(f"{path}: cannot append: {exc.strerror or exc}") from exc
    print(token)
    print(line)
    print(
        "the token is shown only now; "
        + (
            f"its line was appended to {args.append}"
            if args.append
            else "add the line to the tokens file"
        ),
        file=sys.stderr,
    )
    return 0


COMMANDS = {"token": cmd_token}

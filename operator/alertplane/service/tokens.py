"""API tokens: a file of `name, role, sha256(token)`; the tokens themselves are never stored.

Two formats, told apart by content:

    # CSV, one token per line
    ci,admin,9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    acme-team,customer:acme,60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752

    # YAML
    tokens:
      - {name: ci, role: admin, sha256: 9f86…}

Roles: `admin` (everything) or `customer:<customerId>` (that customer only).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import UsageError
from ..model.common import is_dns_label

log = logging.getLogger("alertplane.api")

ADMIN = "admin"
CUSTOMER_PREFIX = "customer:"
TOKEN_PREFIX = "ap_"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name (the audit actor) and what it may touch."""

    name: str
    customer: str | None  # None: admin

    @property
    def is_admin(self) -> bool:
        return self.customer is None

    @property
    def role(self) -> str:
        return ADMIN if self.customer is None else f"{CUSTOMER_PREFIX}{self.customer}"

    def may(self, customer: str) -> bool:
        return self.customer is None or self.customer == customer


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_role(text: str) -> str | None:
    """The customer a role is scoped to (None for admin); UsageError when malformed."""
    role = text.strip()
    if role == ADMIN:
        return None
    if role.startswith(CUSTOMER_PREFIX) and is_dns_label(role[len(CUSTOMER_PREFIX) :]):
        return role[len(CUSTOMER_PREFIX) :]
    raise UsageError(f"unknown role {text!r}", "use admin or customer:<customerId>")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_line(name: str, role: str, token: str) -> str:
    check_name(name)
    parse_role(role)
    return f"{name},{role},{token_hash(token)}"


def check_name(name: str) -> None:
    if not name or any(c in name for c in ",#\n\r") or name != name.strip() or len(name) > 253:
        raise UsageError(
            f"invalid token name {name!r}",
            "use a short name without commas, '#' or surrounding spaces (it is the audit actor)",
        )


def parse_tokens(text: str, origin: str = "tokens") -> dict[str, Principal]:
    """sha256 hex → principal."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict) and "tokens" in data:
        data = data["tokens"]
    if isinstance(data, list):
        entries = [_yaml_entry(item, origin, i) for i, item in enumerate(data, start=1)]
    else:
        entries = _csv_entries(text, origin)
    out: dict[str, Principal] = {}
    names: set[str] = set()
    for where, name, role, digest in entries:
        try:
            check_name(name)
            customer = parse_role(role)
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from exc
        digest = digest.strip().lower()
        if len(digest) != 64 or not set(digest) <= _HEX:
            raise UsageError(
                f"{where}: the hash is not a sha256 hex digest",
                "create tokens with 'alertplane token create' and paste the line it prints",
            )
        if name in names:
            raise UsageError(f"{where}: token name {name!r} is used twice", "names must be unique")
        names.add(name)
        out[digest] = Principal(name, customer)
    return out


def _yaml_entry(item: Any, origin: str, index: int) -> tuple[str, str, str, str]:
    where = f"{origin}: entry {index}"
    if not isinstance(item, dict) or not all(
        isinstance(item.get(k), str) for k in ("name", "role", "sha256")
    ):
        raise UsageError(f"{where}: expected name, role and sha256 (strings)")
    return where, item["name"], item["role"], item["sha256"]


def _csv_entries(text: str, origin: str) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        where = f"{origin}:{number}"
        if len(parts) != 3:
            raise UsageError(f"{where}: expected name,role,sha256-hash")
        if not out and [p.lower() for p in parts] == ["name", "role", "sha256"]:
            continue  # a header line
        out.append((where, parts[0], parts[1], parts[2]))
    return out


class TokenFile:
    """Tokens read from a file, re-read when it changes (checked at most once a second).

    A file that becomes unreadable or invalid keeps the last good tokens and is logged,
    so a bad edit cannot lock everybody out or let anybody in.
    """

    def __init__(
        self,
        path: str | Path | None,
        recheck_s: float = 1.0,
        last_good: dict[str, Principal] | None = None,
    ) -> None:
        """`last_good`: the tokens an unreadable or invalid file leaves in force (an API
        worker started by `serve` after a bad edit serves what `serve` kept); without
        it, such a file is refused here."""
        self.path = Path(path) if path else None
        self.recheck_s = recheck_s
        self._tokens: dict[str, Principal] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        if self.path is not None:
            self._stamp = self._stat()
            try:
                self._tokens = parse_tokens(self._read(), str(self.path))
            except UsageError as exc:
                if last_good is None:
                    raise
                log.error("keeping the previous tokens: %s", exc)
                self._tokens = dict(last_good)

    @classmethod
    def of(cls, tokens: dict[str, Principal]) -> TokenFile:
        out = cls(None)
        out._tokens = dict(tokens)
        return out

    def _read(self) -> str:
        assert self.path is not None
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot read tokens: {exc.strerror}") from exc

    def _stat(self) -> tuple[int, int] | None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _refresh(self) -> None:
        now = time.monotonic()
        if self.path is None or now - self._checked < self.recheck_s:
            return
        with self._lock:
            self._checked = now
            stamp = self._stat()
            if stamp == self._stamp or stamp is None:
                return
            try:
                self._tokens = parse_tokens(self._read(), str(self.path))
                log.info("re-read %d token(s) from %s", len(self._tokens), self.path)
            except UsageError as exc:
                log.error("keeping the previous tokens: %s", exc)
            self._stamp = stamp

    def snapshot(self) -> dict[str, Principal]:
        """The tokens in force now (the file re-read if it changed): sha256 → principal."""
        self._refresh()
        return dict(self._tokens)

    def lookup(self, token: str) -> Principal | None:
        self._refresh()
        return self._tokens.get(token_hash(token))

    def __len__(self) -> int:
        return len(self._tokens)

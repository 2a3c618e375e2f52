"""Console sessions: the API token in an HttpOnly, SameSite=Strict cookie, and CSRF tokens.

The cookie holds the token itself, so the tokens file stays the only authority: a token
removed from it signs its sessions out at the next request. Every POST form carries a
CSRF token derived from the session token (HMAC), which a page of another origin can
neither read nor compute; the sign-in form, which has no session yet, uses a
double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from ..service.tokens import Principal, TokenFile

COOKIE = "alertplane_console"
SIGNIN_COOKIE = "alertplane_signin"
PATH = "/console"
MAX_FORM_BYTES = 1024 * 1024
SESSION_MAX_AGE_S = 12 * 3600


class SignedOut(Exception):
    """No valid session: pages redirect to the sign-in form, fragments answer 401."""


class CsrfFailed(Exception):
    """A POST without the CSRF token of its session (or of the sign-in form)."""


class BadForm(Exception):
    """A form body that is not UTF-8 urlencoded text, or too large."""


@dataclass(frozen=True)
class Session:
    principal: Principal
    token: str

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    @property
    def role(self) -> str:
        return self.principal.role


def csrf_for(token: str) -> str:
    key = token.encode("utf-8", "surrogatepass")
    return hmac.new(key, b"alertplane-console-csrf", hashlib.sha256).hexdigest()


def current(request: Request, tokens: TokenFile) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    who = tokens.lookup(token)
    return None if who is None else Session(who, token)


def require(request: Request, tokens: TokenFile) -> Session:
    found = current(request, tokens)
    if found is None:
        raise SignedOut()
    return found


def check_csrf(session: Session, form: dict[str, str]) -> None:
    if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        raise CsrfFailed()


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(24)


def check_signin_csrf(request: Request, form: dict[str, str]) -> None:
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(form.get("csrf", ""), cookie):
        raise CsrfFailed()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def sign_in(response: Response, request: Request, token: str) -> None:
    set_cookie(response, request, COOKIE, token, SESSION_MAX_AGE_S)
    response.delete_cookie(SIGNIN_COOKIE, path=PATH)


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form body (what browsers and console.js send); the first value of
    each field. No multipart: the console has no file uploads."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise BadForm("send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadForm("the form is too large")
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm("the form is not UTF-8 text") from exc
    out: dict[str, str] = {}
    for key, value in pairs:
        if "\x00" in value or "\x00" in key:
            raise BadForm("the form contains a NUL character")
        out.setdefault(key, value)
    return out


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a console page of this site."""
    if (
        target
        and target.startswith(PATH + "/")
        and not target.startswith("//")
        and "\\" not in target
        and all(0x20 < ord(c) < 0x7F for c in target)
    ):
        return target
    return PATH + "/"

"""Whether Alertmanager accepts a URL (a Slack `api_url`, a webhook `url`).

Alertmanager reads these with Go's `net/url.Parse`, then wants scheme http/https and a host.
A URL alertplane accepted but Go refuses used to fail `amtool check-config` for the whole
configuration, and amtool's message quotes the URL (`parse "https://hooks.slack.com/…%zz":
invalid URL escape "%zz"`): for a clear Slack URL, a secret, in statuses, logs and responses.
So the same decision is made here first, and the refusal names the field, never the value.

This follows Go's parser (url.go: stringContainsCTLByte, getScheme, parseAuthority, parseHost,
validOptionalPort, unescape and shouldEscape in host mode), stricter where Go versions
differ (brackets only around a leading IPv6 literal); tests/adversarial/test_secret_attacks.py
checks generated URLs against the real amtool.
"""

from __future__ import annotations

import string

_HEX = frozenset(string.hexdigits)
_ALNUM = frozenset(string.ascii_letters + string.digits)
_SCHEME = frozenset(string.ascii_letters + string.digits + "+-.")
# Go's shouldEscape(c, encodeHost) is false for these (and for bytes >= 0x80).
_HOST = _ALNUM | frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO = _ALNUM | frozenset("-._:~!$&'()*+,;=%@")


def alertmanager_accepts_url(value: str) -> bool:
    """True when Alertmanager (Go's url.Parse, scheme http/https, a host) takes `value`."""
    raw = value.encode("utf-8", "surrogatepass")
    if any(b < 0x20 or b == 0x7F for b in raw):
        return False
    rest, _, fragment = value.partition("#")
    if "#" in value and not _escapes_ok(fragment):
        return False
    scheme, sep, rest = rest.partition(":")
    if not sep or not scheme or scheme[0] not in string.ascii_letters:
        return False
    if any(c not in _SCHEME for c in scheme) or scheme.lower() not in ("http", "https"):
        return False
    rest = rest.partition("?")[0]
    if not rest.startswith("//") or rest.startswith("///"):
        return False  # opaque or no authority: Alertmanager says "missing host"
    authority, slash, path = rest[2:].partition("/")
    return bool(authority) and _authority_ok(authority) and _escapes_ok(slash + path)


def _authority_ok(authority: str) -> bool:
    userinfo, at, host = authority.rpartition("@")
    if at and (any(c not in _USERINFO for c in userinfo) or not _escapes_ok(userinfo)):
        return False
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0 or not _port_ok(host[end + 1 :]) or "[" in host[1:end]:
            return False
        inner = host[1:end]
        if "%25" in inner:  # an IPv6 zone: Go unescapes it more leniently; not for alerts
            return False
        return _host_ok(inner) and end > 1
    if "[" in host or "]" in host:
        return False
    colon = host.rfind(":")
    if colon >= 0 and not _port_ok(host[colon:]):
        return False
    return bool(host) and _host_ok(host)


def _port_ok(port: str) -> bool:
    digits = port[1:]
    return port == "" or (port[0] == ":" and all(c in string.digits for c in digits))


def _host_ok(host: str) -> bool:
    """Go's unescape(host, encodeHost): only well-formed escapes of bytes >= 0x80 (or %25),
    and no ASCII character Go would escape."""
    i = 0
    while i < len(host):
        c = host[i]
        if c == "%":
            code = host[i + 1 : i + 3]
            if len(code) < 2 or not set(code) <= _HEX:
                return False
            if int(code[0], 16) < 8 and code != "25":
                return False
            i += 3
            continue
        if c.isascii() and c not in _HOST:
            return False
        i += 1
    return True


def _escapes_ok(text: str) -> bool:
    """Every '%' starts a two-digit hex escape (Go's unescape in path/fragment mode)."""
    i = text.find("%")
    while i >= 0:
        code = text[i + 1 : i + 3]
        if len(code) < 2 or not set(code) <= _HEX:
            return False
        i = text.find("%", i + 3)
    return True

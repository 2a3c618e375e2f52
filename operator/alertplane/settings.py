"""Settings every command reads the same way: the flag, else its environment variable,
else the default — one table, resolved once after parsing (`resolve`), so no command can
forget a variable another one honours.

Flags are declared with `add` (no default of their own: argparse keeps None when the flag
is absent, and `resolve` fills it in). A setting a command needs is `required=True` here,
not in argparse, so that the environment variable satisfies it too.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import UsageError

REQUIRED = "_required_settings"


@dataclass(frozen=True)
class Setting:
    flag: str
    env: str | None
    help: str
    default: Callable[[], str | None] = lambda: None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


SETTINGS: dict[str, Setting] = {
    "db": Setting(
        "--db",
        "ALERTPLANE_DB",
        "database URL, sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB",
    ),
    "platform_config": Setting(
        "--platform-config",
        "ALERTPLANE_PLATFORM_CONFIG",
        "platform settings (Alertmanager global, default receiver, route defaults, secretsDir)",
    ),
    "out": Setting("--out", "ALERTPLANE_OUT", "where rules/ and alertmanager.yml are written"),
    "prometheus_url": Setting(
        "--prometheus-url", "ALERTPLANE_PROMETHEUS_URL", "POST /-/reload here after writes"
    ),
    "alertmanager_url": Setting(
        "--alertmanager-url", "ALERTPLANE_ALERTMANAGER_URL", "POST /-/reload here after writes"
    ),
    "tokens": Setting(
        "--tokens",
        "ALERTPLANE_TOKENS",
        "REST API tokens (name,role,sha256 lines or YAML)",
    ),
    "customer_namespace": Setting(
        "--customer-namespace",
        "ALERTPLANE_CUSTOMER_NAMESPACE",
        "with --kubernetes: namespace of a customer's new objects, {customer} is its id; "
        "existing objects keep theirs",
        lambda: "{customer}",
    ),
    "attribution_key_file": Setting(
        "--attribution-key-file",
        "ALERTPLANE_ATTRIBUTION_KEY_FILE",
        "key shared between `alertplane serve --kubernetes` and `alertplane operator`: the "
        "audit annotations are signed with it so the operator can tell them from forged ones",
    ),
    "actor": Setting(
        "--actor", "ALERTPLANE_ACTOR", "who makes the change, for the audit log", _user
    ),
    "mimir_url": Setting(
        "--mimir-url",
        "ALERTPLANE_MIMIR_URL",
        "with --sink mimir: Mimir's base URL (through its authenticating gateway: docs/mimir.md)",
    ),
    "mimir_token_file": Setting(
        "--mimir-token-file",
        "ALERTPLANE_MIMIR_TOKEN_FILE",
        "with --sink mimir: a bearer token for the gateway in front of Mimir, read per request",
    ),
    "sink_namespace": Setting(
        "--sink-namespace",
        "POD_NAMESPACE",
        "namespace of generated ConfigMaps/PrometheusRules/AlertmanagerConfigs",
        lambda: "monitoring",
    ),
}


def add(
    parser: argparse.ArgumentParser,
    name: str,
    *,
    required: bool = False,
    default: str | None = None,
    help: str | None = None,
    **kwargs: Any,
) -> None:
    """Declare setting `name` on `parser`; `default` overrides the table's for this
    command (e.g. `serve --out` defaults to `out`, `render --out` is required)."""
    s = SETTINGS[name]
    fallback = default if default is not None else s.default()
    where = " or ".join(x for x in (f"${s.env}" if s.env else "", fallback or "") if x)
    text = help or s.help
    parser.add_argument(
        s.flag,
        dest=name,
        default=None,
        help=f"{text} (default {where})" if where else text,
        **kwargs,
    )
    if default is not None:
        parser.set_defaults(**{f"_default_{name}": default})
    if required:
        parser.set_defaults(**{REQUIRED: (*(parser.get_default(REQUIRED) or ()), name)})


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fill every setting the command declared: flag > environment > default."""
    for name, s in SETTINGS.items():
        if not hasattr(args, name) or getattr(args, name) is not None:
            continue
        value = (os.environ.get(s.env) if s.env else None) or None  # empty means unset
        if value is None:
            value = getattr(args, f"_default_{name}", None) or s.default()
        setattr(args, name, value)
    for name in getattr(args, REQUIRED, ()):
        if getattr(args, name) is None:
            s = SETTINGS[name]
            env = f" or set ${s.env}" if s.env else ""
            raise UsageError(f"{s.flag} is required", f"pass {s.flag}{env}")
    return args

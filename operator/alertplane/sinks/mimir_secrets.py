"""How the Mimir sink reads the secrets it must inline (Mimir refuses `*_file` fields).

Standalone, a secret is the file the store wrote under `<secretsDir>/<customerId>/`
(store/secrets.py); in the operator, the key of a Kubernetes Secret in the receiver's
namespace. Either way the value goes into the tenant's configuration in Mimir and nowhere
else: it is read for one pass and dropped.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path

from ..errors import AlertplaneError, Problem
from ..model import CustomerReceiver
from ..render.mimir import SecretLookup
from ..render.platform import PlatformConfig
from .base import KubeApi, SinkError
from .kubeobjects import object_path


def file_lookup(platform: PlatformConfig) -> Callable[[], SecretLookup]:
    def lookup(folder: str, name: str, key: str) -> str | None:
        try:
            return Path(platform.secret_path(folder, name, key)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return lambda: lookup


def kube_lookup(client: KubeApi) -> Callable[[], SecretLookup]:
    """Secrets from the API server, each read once per pass."""

    def for_pass() -> SecretLookup:
        cache: dict[tuple[str, str], dict[str, str] | None] = {}

        def lookup(namespace: str, name: str, key: str) -> str | None:
            if (namespace, name) not in cache:
                cache[namespace, name] = read_secret(client, namespace, name)
            encoded = (cache[namespace, name] or {}).get(key)
            if encoded is None:
                return None
            try:
                return base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None

        return lookup

    return for_pass


def read_secret(client: KubeApi, namespace: str, name: str) -> dict[str, str] | None:
    try:
        found = client.get(object_path("v1", "secrets", namespace, name))
    except AlertplaneError as exc:
        raise SinkError(f"cannot read Secret {namespace}/{name}: {exc}") from exc
    return None if found is None else dict(found.get("data") or {})


def kube_secret_problems(client: KubeApi) -> Callable[[CustomerReceiver], list[Problem]]:
    """Every Secret key a receiver references exists: otherwise Mimir could not be given
    its value, and the receiver is Invalid saying which (as for prometheus-operator)."""

    def check(obj: CustomerReceiver) -> list[Problem]:
        ns, spec = obj.metadata.namespace, obj.spec
        refs = [(f"spec.slack[{i}].apiURLSecretRef", c.api_url_secret_ref)
                for i, c in enumerate(spec.slack)]  # fmt: skip
        refs += [(f"spec.pagerduty[{i}].routingKeySecretRef", c.routing_key_secret_ref)
                 for i, c in enumerate(spec.pagerduty)]  # fmt: skip
        problems = []
        for path, ref in refs:
            if ref is None:
                continue
            data = read_secret(client, ns, ref.name)
            if data is None:
                problems.append(
                    Problem(path, f"Secret {ns}/{ref.name} does not exist", "create it")
                )
            elif ref.key not in data:
                problems.append(Problem(
                    path,
                    f"Secret {ns}/{ref.name} has no key {ref.key!r}",
                    f"add the key or use one of {', '.join(sorted(data)) or '(none)'}",
                ))  # fmt: skip
        return problems

    return check

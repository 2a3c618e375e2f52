"""Clear-text secrets in a spec become file references before anything is stored.

Alertmanager reads `api_url_file` / `routing_key_file` itself, so the value lives only in
a 0600 file under the platform's secrets directory; the database, the audit log, logs
and API responses only ever see `{name, key}`.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..errors import AlertplaneError
from ..model.secrets import SECRET_FIELDS
from ..render.secretfiles import secret_file


def extract_secrets(
    kind: str, name: str, spec: dict[str, Any], namespace: str | None = None
) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """(spec with references instead of values, {(secret name, key): value}).

    The files go to the customer's folder (`secret_folder`), named after the object: an
    object in a namespace other than its customer's id gets keys prefixed `<namespace>.`,
    so two of one customer's objects of the same name in different namespaces never share
    a file (generated keys have no dot otherwise)."""
    if kind != "CustomerReceiver":
        return spec, {}
    out = copy.deepcopy(spec)
    found: dict[tuple[str, str], str] = {}
    qualifier = (
        f"{namespace}." if namespace is not None and namespace != spec.get("customerId") else ""
    )
    for channel, clear, ref, prefix in SECRET_FIELDS:
        for i, cfg in enumerate(out.get(channel) or []):
            if isinstance(cfg, dict) and isinstance(cfg.get(clear), str):
                key = f"{qualifier}{prefix}-{i}"
                found[(name, key)] = cfg.pop(clear)
                cfg[ref] = {"name": name, "key": key}
    return out, found


def write_secret(secrets_dir: str, folder: str, name: str, key: str, value: str) -> bool:
    """Write one secret file (0600); True when its content changed. The path is the one
    Alertmanager is given (render/secretfiles.py), so it never leaves the folder."""
    path = secret_target(secrets_dir, folder, name, key)
    if _content(path) == value:
        return False
    write_atomic(path, value, mode=0o600)
    return True


def secret_differs(secrets_dir: str, folder: str, name: str, key: str, value: str) -> bool:
    """Whether `write_secret` would change the file; checks its folder as that does, writes
    no file (a write transaction asks first and writes once every row is written)."""
    return _content(secret_target(secrets_dir, folder, name, key)) != value


def _content(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def secret_target(secrets_dir: str, folder: str, name: str, key: str) -> Path:
    """The secret file's path, its folder created (a real one, proven under secretsDir)."""
    path = Path(secret_file(secrets_dir, folder, name, key))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # The path is proven by its text; a symbolic link someone put under secretsDir would
    # still lead the write elsewhere (another customer's folder). alertplane creates only
    # real folders there, so one that resolves elsewhere is refused. (Whoever can plant a
    # link can write the files directly: this guards against mistakes, not against them.)
    expected = os.path.join(os.path.realpath(secrets_dir or "."), folder, name)
    if os.path.realpath(path.parent) != expected:
        raise SecretFolderError(
            f"the secret folder {folder}/{name} under secretsDir leads elsewhere (a symbolic "
            "link); nothing written",
            "remove the link: alertplane writes secret files only into real folders",
        )
    return path


class SecretFolderError(AlertplaneError):
    """A secret folder that resolves outside its place under secretsDir."""

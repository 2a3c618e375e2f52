"""The one place a secret's file path is built: `<secretsDir>/<folder>/<name>/<key>`.

The folder is the receiver's namespace in Kubernetes mode and the customer id standalone
(`secret_folder`: there a namespace is only a name several customers' objects may share).

Alertmanager reads `api_url_file` / `routing_key_file` itself, so a path that leaves the
folder (`name: ".."`, `key: "globex/…"`, `/etc/passwd`) would post one
customer's alerts with another's webhook. The models already refuse such names
(model/common.py: SecretName, SecretKey); this module refuses them again wherever a path is
built or read back (render, the store's secret files, the prometheus-operator sink), and
proves the result stays under `<secretsDir>/<folder>/`, whatever reached it.
"""

from __future__ import annotations

import posixpath

from ..model.common import is_dns_label, is_dns_subdomain, is_secret_key, shown


class SecretPathError(ValueError):
    """A secret reference that cannot name a file under its namespace's folder."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}"


_PARTS = (
    ("namespace", is_dns_label),
    ("Secret name", is_dns_subdomain),
    ("Secret key", is_secret_key),
)


def _check(namespace: str, name: str, key: str) -> None:
    for (what, ok), value in zip(_PARTS, (namespace, name, key), strict=True):
        if not ok(value):
            raise SecretPathError(
                f"{what} {shown(value)} cannot name a file under the secrets directory",
                "Secret names are DNS subdomains and keys [-._a-zA-Z0-9]+ (not '.' or '..'); "
                "this reference should have been refused by validation: report it as a bug",
            )


def _root(secrets_dir: str) -> str:
    """The secrets directory as a prefix ending in '/' ('' for the current directory)."""
    root = posixpath.normpath(secrets_dir) if secrets_dir else "."
    return "" if root == "." else root.rstrip("/") + "/"


def _folder(secrets_dir: str, namespace: str) -> str:
    return _root(secrets_dir) + namespace


def secret_file(secrets_dir: str, namespace: str, name: str, key: str) -> str:
    """Where the key `key` of Secret `name` in `namespace` is mounted for Alertmanager;
    refuses (SecretPathError) anything that would not stay under that namespace's folder."""
    _check(namespace, name, key)
    folder = _folder(secrets_dir, namespace)
    path = posixpath.join(folder, name, key)
    # Proven, not assumed: normalising changes nothing and the folder is a strict prefix.
    if posixpath.normpath(path) != path or not path.startswith(folder + "/"):
        raise SecretPathError(
            f"{shown(path)} is not under {shown(folder)}",
            "this is a bug in alertplane: report it",
        )
    return path


def secret_ref_of(secrets_dir: str, path: str) -> tuple[str, str, str]:
    """(namespace, name, key) of a path `secret_file` built under `secrets_dir`."""
    root = _root(secrets_dir)
    if not path.startswith(root) or path.count("/") - root.count("/") != 2:
        raise SecretPathError(f"{shown(path)} is not a secret file", "this is a bug in alertplane")
    namespace, name, key = path[len(root) :].split("/")
    if secret_file(secrets_dir, namespace, name, key) != path:
        raise SecretPathError(f"{shown(path)} is not a secret file", "this is a bug in alertplane")
    return namespace, name, key


def secret_folder(customer_id: str) -> str:
    """The folder under `secretsDir` of a customer's secrets in standalone mode: the
    customer's id, whatever namespace its objects are in (a namespace is only a name there,
    which several customers' objects may share); the store writes clear secrets there
    (store/secrets.py) and the reconciler renders references in it
    (sync.Reconciler.secret_folder)."""
    return customer_id

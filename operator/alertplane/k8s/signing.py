"""The REST API's signature on its audit annotations, which only it and the operator can make.

Field manager names and annotations are anyone's to write who may update these objects
(under tenant RBAC: every tenant), so without the admission webhook they cannot tell the
API's writes from a tenant's forgery. With a key shared only by the API and the operator
(a Kubernetes Secret, `--attribution-key-file` on both), the API signs what it writes and
the operator believes the annotations only when the signature verifies.

What is signed ties the signature to one write: the object (namespace, name), the
annotations (actor, source, changed-at), whether it deletes, the generation the write
produces (the API server bumps a custom resource's generation on spec changes only: a
create is 1, a spec change the live generation + 1) and a digest of the spec. So it cannot
be copied onto another object, another spec, a later generation or a kubectl delete.
Left open: replaying a whole create (same spec) after the object was deleted and created
again by someone else, at generation 1; its uid is not known before the create.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import API_GROUP

SIGNATURE = f"{API_GROUP}/signature"
# One version of what is signed, so it can change without old signatures verifying wrongly.
SCHEME = "v1"


def load_key(path: str) -> bytes:
    """The shared key from a file (the mounted Secret); surrounding whitespace is not part
    of it, so `echo key > file` and a generated Secret give the same key."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise UsageError(
            f"--attribution-key-file {path}: {exc.strerror or exc}",
            "mount the attribution key Secret there (the Helm chart does with api.enabled)",
        ) from None
    if len(key) < 16:
        raise UsageError(
            f"--attribution-key-file {path}: the key is {len(key)} bytes, too short",
            "use at least 32 random characters (e.g. `openssl rand -hex 32`)",
        )
    return key


def _canonical(value: Any) -> Any:
    # The API server stores JSON numbers as int64 where integral: 1.0 comes back as 1.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def spec_digest(spec: Any) -> str:
    text = json.dumps(_canonical(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def sign(
    key: bytes,
    *,
    namespace: str,
    name: str,
    actor: str,
    source: str,
    changed_at: str,
    generation: int,
    spec: Any,
    deleting: bool = False,
) -> str:
    payload = [
        SCHEME,
        namespace,
        name,
        actor,
        source,
        changed_at,
        "delete" if deleting else "write",
        int(generation),
        spec_digest(spec),
    ]
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return SCHEME + ":" + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def verified(
    key: bytes,
    meta: dict[str, Any],
    spec: Any,
    deleting: bool,
    actor: str,
    source: str,
    changed_at: str,
) -> bool:
    """Whether `meta`'s signature is the API's for exactly this object, generation, spec,
    annotations and intent (write or delete). Constant-time compare."""
    got = (meta.get("annotations") or {}).get(SIGNATURE)
    if not isinstance(got, str) or not got:
        return False
    generation = int(meta.get("generation") or 1)
    signed = [generation]
    if deleting and meta.get("deletionTimestamp"):
        # Deleting an object with finalizers sets deletionTimestamp and bumps generation
        # once more; the API signed the generation it deleted.
        signed.append(generation - 1)
    ok = False
    for candidate in signed:
        want = sign(
            key,
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            actor=actor,
            source=source,
            changed_at=changed_at,
            generation=candidate,
            spec=spec,
            deleting=deleting,
        )
        ok |= hmac.compare_digest(got.encode(), want.encode())
    return ok

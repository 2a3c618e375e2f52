"""The REST API's signature on its audit annotations, which only it and the operator can make.

Field manager names and annotations are anyone's to write who may update these objects
(under tenant RBAC: every tenant), so without the admission webhook they cannot tell the
API's writes from a tenant's forgery. With a key shared only by the API and the operator
(a Kubernetes Secret, `--attribution-key-file` on both), the API signs what it writes and
the operator believes the annotations only when the signature verifies.

What is signed ties the signature to one write: the object (namespace, name, and uid where
the API knows it: updates, undos, deletes), the annotations (actor, source, changed-at),
whether it deletes, the generation the write produces (the API server bumps a custom
resource's generation on spec changes only: a create is 1, a spec change the live
generation + 1) and a digest of the spec. So it cannot be copied onto another object,
another spec, a later generation, a kubectl delete or the same name deleted and created
again (a new uid).

A create's uid is not known before the create: it is signed without one, and believed only
when its changed-at is within WINDOW_S of the object's creationTimestamp (set by the API
server, not the client). A delete's changed-at must likewise be within WINDOW_S of its
deletionTimestamp. A replay gets a new server time while its changed-at stays old, so only
a replay within WINDOW_S of the original write gets through.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import API_GROUP

# The REST API (Kubernetes mode) writes with this field manager and says on the object who
# it writes for (kube/writer.py); the operator reads it back (k8s/changes.py api_change).
API_MANAGER = "alertplane-api"
CHANGED_BY = f"{API_GROUP}/changed-by"
CHANGE_SOURCE = f"{API_GROUP}/change-source"
# Changes on every write, so a delete's last update is never a no-op: the operator can
# then tell that `alertplane-api` made the last change (see api_change); also signed.
CHANGED_AT = f"{API_GROUP}/changed-at"
SIGNATURE = f"{API_GROUP}/signature"
# One version of what is signed, so it can change without old signatures verifying wrongly.
SCHEME = "v2"
# How far a create's or delete's changed-at (the API's clock) may be from the time the API
# server set (creationTimestamp, deletionTimestamp: whole seconds, so one more is allowed):
# covers the request's latency and clock skew, and is all a replay has.
WINDOW_S = 30


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
    uid: str = "",
) -> str:
    """`uid`: the object's, "" for a create (not known before it)."""
    payload = [
        SCHEME,
        namespace,
        name,
        uid,
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
    """Whether `meta`'s signature is the API's for exactly this object (uid), generation,
    spec, annotations and intent (write or delete), made when the API server says the
    create or delete happened. Constant-time compare."""
    got = (meta.get("annotations") or {}).get(SIGNATURE)
    if not isinstance(got, str) or not got:
        return False
    generation = int(meta.get("generation") or 1)
    uid = str(meta.get("uid") or "")
    signed = [(generation, uid)]
    if deleting:
        # A delete signature stays on the object if the DELETE fails: only the delete made
        # right after it (the server's deletionTimestamp) may be the API's.
        if not near(changed_at, meta.get("deletionTimestamp")):
            return False
        # Deleting an object with finalizers sets deletionTimestamp and bumps generation
        # once more; the API signed the generation it deleted.
        signed.append((generation - 1, uid))
    elif generation == 1 and near(changed_at, meta.get("creationTimestamp")):
        signed.append((1, ""))  # a create, signed before its uid existed
    ok = False
    for candidate, signed_uid in signed:
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
            uid=signed_uid,
        )
        ok |= hmac.compare_digest(got.encode(), want.encode())
    return ok


def near(changed_at: str, server_time: Any) -> bool:
    """Whether the API's `changed_at` is within WINDOW_S of the API server's `server_time`
    (RFC 3339, whole seconds: up to a second after the truncated value)."""
    if not isinstance(server_time, str) or not server_time or not changed_at:
        return False
    try:
        ours = datetime.fromisoformat(changed_at)
        theirs = datetime.fromisoformat(server_time)
        delta = (ours - theirs).total_seconds()
    except (ValueError, TypeError):  # malformed, or one of them without a timezone
        return False
    return -WINDOW_S <= delta <= WINDOW_S + 1

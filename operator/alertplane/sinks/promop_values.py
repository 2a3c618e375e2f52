"""Values copied from a customer's Secret that would refuse the WHOLE Alertmanager
configuration (pure), so the prometheus-operator sink never copies them.

prometheus-operator checks each AlertmanagerConfig alone (operator.go
checkAlertmanagerConfigResource: a failure skips that object), then builds the whole
configuration (amcfg.go: a failure keeps the old one), which Alertmanager then loads (a
failure keeps the old one too): whatever passes the first and fails a later step freezes
every customer. The Secret's values are the customer's and change at any time after
admission (amtool saw only `*_file` paths), so the sink decides when it copies them. A
value left out makes the AlertmanagerConfig reference a key its Secret lacks, which the
per-object check refuses for that customer alone.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..errors import Problem
from ..model.common import MAX_URL
from ..validate.amurl import alertmanager_accepts_url

URL = f"no http(s) URL Alertmanager accepts (at most {MAX_URL} characters)"
MAX_KEY = 256  # as the clear routingKey (model/receiver.py)
KEY = f"an empty value or one longer than {MAX_KEY} characters"
# A key of the customer's Secret → every check its value must pass (one key may be
# copied for several references: a Slack URL and a routing key alike).
Checks = dict[str, set[str]]

# The CRD fields holding a copied value, by integration, and what each must be.
_FIELDS = {
    "slackConfigs": {"apiURL": URL},
    "pagerdutyConfigs": {"routingKey": KEY, "serviceKey": KEY},
}
# Go's unicode.IsSpace (strings.TrimSpace); Python's str.strip() also trims \x1c-\x1f,
# which Go keeps and its JSON decoding then refuses.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_GO_SPACE += "\u2028\u2029\u202f\u205f\u3000"


def value_checks(spec: Mapping[str, Any]) -> Checks:
    """The keys of the customer's Secret an AlertmanagerConfig `spec` reads, and their check."""
    out: Checks = {}
    for receiver in spec.get("receivers") or []:
        for integration, fields in _FIELDS.items():
            for config in receiver.get(integration) or []:
                for field, check in fields.items():
                    if isinstance(config.get(field), Mapping):
                        out.setdefault(config[field]["key"], set()).add(check)
    return out


def values_ok(checks: set[str], encoded: str) -> bool:
    """Whether the (base64) value passes every one of `checks`."""
    return all(value_ok(check, encoded) for check in sorted(checks))


def value_ok(check: str, encoded: str) -> bool:
    """Whether the (base64) value passes `check`.

    URL: both prometheus-operator steps trim it (Go's TrimSpace) and read it inside a
    JSON string; the per-object check as a `config.SecretURL`, which takes
    `\\u003csecret\\u003e` (the JSON form of the redaction token `<secret>`), the build
    as a `config.URL` (amcfg.go getValidURLFromSecret), which refuses it. A backslash (a
    JSON escape) is refused, so both steps and Alertmanager read the same text.
    KEY: prometheus-operator drops an empty routing key (`omitempty`), and Alertmanager
    then refuses the configuration ("missing service or routing key in PagerDuty config").
    Both are bounded as their clear forms are: the customer's Secret holds up to 1 MiB, its
    copy would then not fit in the sink's Secret (a refused write fails the sink's whole
    pass, every customer's), nor the generated configuration in PO's Secret."""
    try:
        value = base64.b64decode(encoded, validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        return False
    if check == KEY:
        return 0 < len(value) <= MAX_KEY
    url = value.strip(_GO_SPACE)
    return (
        len(url) <= MAX_URL and '"' not in url and "\\" not in url and alertmanager_accepts_url(url)
    )


def refusal(path: str, namespace: str, secret: str, key: str, encoded: str) -> list[Problem]:
    """The problem of a receiver's Secret reference (at `path`) whose value fails its
    check; never the value itself: it is a secret."""
    check = URL if path.split(".")[-1] == "apiURLSecretRef" else KEY
    if value_ok(check, encoded):
        return []
    hint = (
        "put the Slack incoming-webhook URL (https://hooks.slack.com/...) in that key"
        if check == URL
        else "put the PagerDuty Events API v2 routing key in that key"
    )
    return [Problem(path, f"Secret {namespace}/{secret} key {key!r} holds {check}", hint)]

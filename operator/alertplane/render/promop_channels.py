"""What an AlertmanagerConfig can say (pure): Alertmanager receiver keys → the CRD's fields,
and the platform settings the prometheus-operator sink refuses at start.

One table serves both the translation (render/promop.py) and the refusal, so a key is
either written exactly or refused by name: never silently dropped. The platform's
settings are checked this strictly because the base configuration (`alertplane.platform`)
is the one object whose failure in prometheus-operator freezes every customer's routing
(amcfg.go: an error while building the whole configuration keeps the old one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Problem, UsageError
from .platform import PlatformConfig

PLATFORM_SECRET_HINT = "this sink copies it into the Secret of each AlertmanagerConfig"

# Alertmanager key → AlertmanagerConfig field, per channel (v1alpha1, prometheus-operator
# v0.85). Only fields whose meaning is the same on both sides.
PLAIN: dict[str, dict[str, str]] = {
    "email_configs": {
        "to": "to",
        "from": "from",
        "smarthost": "smarthost",
        "hello": "hello",
        "auth_username": "authUsername",
        "auth_identity": "authIdentity",
        "html": "html",
        "text": "text",
        "require_tls": "requireTLS",
        "send_resolved": "sendResolved",
    },
    "slack_configs": {
        "channel": "channel",
        "username": "username",
        "color": "color",
        "title": "title",
        "title_link": "titleLink",
        "pretext": "pretext",
        "text": "text",
        "footer": "footer",
        "fallback": "fallback",
        "callback_id": "callbackId",
        "icon_emoji": "iconEmoji",
        "icon_url": "iconURL",
        "image_url": "imageURL",
        "thumb_url": "thumbURL",
        "short_fields": "shortFields",
        "link_names": "linkNames",
        "mrkdwn_in": "mrkdwnIn",
        "send_resolved": "sendResolved",
    },
    "pagerduty_configs": {
        "url": "url",
        "client": "client",
        "client_url": "clientURL",
        "description": "description",
        "severity": "severity",
        "class": "class",
        "group": "group",
        "component": "component",
        "send_resolved": "sendResolved",
    },
    "webhook_configs": {"url": "url", "max_alerts": "maxAlerts", "send_resolved": "sendResolved"},
}
# Values AlertmanagerConfig takes only from a Secret key (SecretKeySelector).
SECRET: dict[str, dict[str, str]] = {
    "email_configs": {"auth_password": "authPassword", "auth_secret": "authSecret"},
    "slack_configs": {"api_url": "apiURL"},
    "pagerduty_configs": {"routing_key": "routingKey", "service_key": "serviceKey"},
    "webhook_configs": {},
}
# Maps in Alertmanager, lists of {key, value} in the CRD.
KEY_VALUE: dict[str, dict[str, str]] = {
    "email_configs": {"headers": "headers"},
    "pagerduty_configs": {"details": "details"},
}
CHANNELS = {
    "email_configs": "emailConfigs",
    "slack_configs": "slackConfigs",
    "pagerduty_configs": "pagerdutyConfigs",
    "webhook_configs": "webhookConfigs",
}

# `alertmanager.global` SMTP keys → the e-mail config fields that carry them (AMC has no
# global section: each e-mail config gets them, the entry's own values win).
SMTP_PLAIN = {
    "smtp_smarthost": "smarthost",
    "smtp_from": "from",
    "smtp_hello": "hello",
    "smtp_require_tls": "require_tls",
    "smtp_auth_username": "auth_username",
    "smtp_auth_identity": "auth_identity",
}
SMTP_SECRET = {"smtp_auth_password": "auth_password", "smtp_auth_secret": "auth_secret"}
# Accepted but not written: only the Alertmanager object can carry it, and it changes
# nothing for alerts from Prometheus (they always carry EndsAt).
NOT_WRITTEN = {"resolve_timeout": "spec.alertmanagerConfiguration.global.resolveTimeout"}
_ALERTMANAGER_GLOBAL = {
    "http_config": "httpConfig",
    "opsgenie_api_url": "opsGenieApiUrl",
    "opsgenie_api_key": "opsGenieApiKey",
    "opsgenie_api_key_file": "opsGenieApiKey",
}

# Global defaults of one channel: alertplane's customer receivers always carry their own,
# so only the platform default receiver could use them, and it can say them per entry.
_PER_ENTRY = {
    "slack_api_url": ("slack_configs", "api_url"),
    "slack_api_url_file": ("slack_configs", "api_url"),
    "pagerduty_url": ("pagerduty_configs", "url"),
}


def global_problems(glob: Mapping[str, Any]) -> list[Problem]:
    """`alertmanager.global` keys this sink cannot write, each with what to do instead."""
    problems = []
    for key in sorted(glob):
        if key in SMTP_PLAIN or key in SMTP_SECRET or key in NOT_WRITTEN:
            continue
        path = f"alertmanager.global.{key}"
        if key in ("smtp_auth_password_file", "smtp_auth_secret_file"):
            plain = key[: -len("_file")]
            hint = f"give {plain} itself: {PLATFORM_SECRET_HINT}, never into the object"
        elif key in _PER_ENTRY:
            channel, field = _PER_ENTRY[key]
            hint = f"give {field} on each alertmanager.defaultReceiver.{channel} entry instead"
        elif key in _ALERTMANAGER_GLOBAL:
            hint = (
                "set it on the Alertmanager object instead (spec.alertmanagerConfiguration."
                f"global.{_ALERTMANAGER_GLOBAL[key]}) and remove it here"
            )
        else:
            known = ", ".join(sorted([*SMTP_PLAIN, *SMTP_SECRET, *NOT_WRITTEN]))
            hint = f"remove it; this sink writes only {known}"
        problems.append(Problem(path, "AlertmanagerConfig cannot express this key", hint))
    if glob.get("smtp_smarthost") and not _host_port(str(glob["smtp_smarthost"])):
        problems.append(_bad_smarthost("alertmanager.global.smtp_smarthost"))
    return problems


def receiver_problems(receiver: Mapping[str, Any], platform: PlatformConfig) -> list[Problem]:
    """Keys of the platform default receiver this sink cannot write, and the entries
    prometheus-operator would refuse (which, on the base configuration, freezes all)."""
    problems = []
    for channel in sorted(receiver):
        path = f"alertmanager.defaultReceiver.{channel}"
        configs = receiver[channel]
        if channel not in CHANNELS:
            problems.append(
                Problem(
                    path,
                    "AlertmanagerConfig translation does not support this channel",
                    f"use one of {', '.join(CHANNELS)}",
                )
            )
            continue
        if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
            problems.append(Problem(path, "must be a list of mappings", "see Alertmanager docs"))
            continue
        for i, cfg in enumerate(configs):
            problems += _config_problems(channel, cfg, f"{path}[{i}]", platform)
    return problems


def _config_problems(
    channel: str, cfg: Mapping[str, Any], path: str, platform: PlatformConfig
) -> list[Problem]:
    problems = []
    for key in sorted(cfg):
        if key in PLAIN[channel] or key in SECRET[channel] or key in KEY_VALUE.get(channel, {}):
            continue
        if key.endswith("_file") and key[: -len("_file")] in SECRET[channel]:
            hint = f"give {key[: -len('_file')]} itself: {PLATFORM_SECRET_HINT}"
        else:
            hint = f"use only {', '.join(sorted([*PLAIN[channel], *SECRET[channel]]))}"
        problems.append(
            Problem(f"{path}.{key}", "AlertmanagerConfig cannot express this key", hint)
        )
    glob = platform.alertmanager.global_
    if channel == "email_configs":
        if not cfg.get("to"):
            problems.append(Problem(f"{path}.to", "missing", "give the recipient addresses"))
        for own, global_key in (("smarthost", "smtp_smarthost"), ("from", "smtp_from")):
            if not cfg.get(own) and not glob.get(global_key):
                problems.append(
                    Problem(
                        f"{path}.{own}",
                        "no SMTP server setting here nor in alertmanager.global",
                        f"set alertmanager.global.{global_key} (or {own} on this entry)",
                    )
                )
        if cfg.get("smarthost") and not _host_port(str(cfg["smarthost"])):
            problems.append(_bad_smarthost(f"{path}.smarthost"))
    elif channel == "webhook_configs" and not cfg.get("url"):
        problems.append(Problem(f"{path}.url", "missing", "give the webhook URL"))
    elif channel == "pagerduty_configs" and not (cfg.get("routing_key") or cfg.get("service_key")):
        problems.append(Problem(f"{path}.routing_key", "missing", "give routing_key"))
    elif channel == "slack_configs" and not cfg.get("api_url") and "api_url_file" not in cfg:
        problems.append(Problem(f"{path}.api_url", "missing", "give the Slack webhook URL"))
    return problems


def _host_port(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep) and port.isdigit() and bool(host.strip("[]"))


def _bad_smarthost(path: str) -> Problem:
    return Problem(path, "not host:port", "e.g. smtp.example.com:587")


def check_platform(platform: PlatformConfig) -> None:
    """Refuse (UsageError naming every key) platform settings this sink cannot write."""
    settings = platform.alertmanager
    problems = global_problems(settings.global_)
    problems += receiver_problems(settings.default_receiver, platform)
    if problems:
        raise UsageError(
            "the prometheus-operator sink cannot use this platform config: "
            + "; ".join(p.text() for p in problems),
            "see docs/rendering.md 'prometheus-operator': what an AlertmanagerConfig can say",
        )

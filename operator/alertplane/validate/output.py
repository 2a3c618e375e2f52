"""The one check of output before it goes anywhere: promtool on rule files, amtool on the
Alertmanager configuration.

Every sink passes what it is about to write through `check_output` (files, ConfigMaps,
prometheus-operator objects alike), so no sink can ship output the real tools refuse. Both
tools' verdicts are cached by content (validate/tools.py), so the reconciler's own check of
the same texts (sync_output.py) makes this one free.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from ..errors import OutputRejected
from ..render import ALERTMANAGER_PATH
from .blame import check_configs
from .rulecheck import check_rule_texts


def check_output(files: Mapping[str, str | None]) -> None:
    """Raise OutputRejected when promtool refuses a rule file (`rules/<id>.yml`) or amtool
    the Alertmanager configuration (`alertmanager.yml`); None (a deletion) and other paths
    are not checked."""
    rules = {
        PurePosixPath(rel).name: text
        for rel, text in files.items()
        if rel.startswith("rules/") and text is not None
    }
    if rules:
        errors = [f"{n}: {e}" for n, es in check_rule_texts(rules).items() for e in es]
        if errors:
            raise OutputRejected("promtool rejected the rendered rules", "\n".join(errors))
    am = files.get(ALERTMANAGER_PATH)
    if am is not None:
        # By content (the config names no file relative to itself).
        complaint = check_configs({"alertmanager.yml": am})["alertmanager.yml"]
        if complaint:
            raise OutputRejected("amtool rejected the rendered Alertmanager config", complaint)

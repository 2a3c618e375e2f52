"""The API's JSON response: it always encodes.

A string that is not Unicode (a lone UTF-16 surrogate, which an older alertplane could
store before the models refused it) cannot be UTF-8 encoded: starlette's response then
raises and the request ends in a 500. Here such a body is written with JSON's own
escapes (`"\\ud800"`, valid JSON) instead; every other body is byte for byte the same.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import responses


class JSONResponse(responses.JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            text = json.dumps(
                content, ensure_ascii=True, allow_nan=False, indent=None, separators=(",", ":")
            )
            return text.encode("ascii")

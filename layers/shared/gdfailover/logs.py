"""The JSON serializer both handlers give Powertools Logger: a log line must never be lost."""

from __future__ import annotations

import json
from typing import Any


def json_log_line(document: dict[str, Any]) -> str:
    """Powertools' compact JSON with non-ASCII kept readable, ASCII-escaped when it would not encode.

    A lone surrogate (``json.loads('"\\ud800"')``, e.g. in an alarm name) cannot be written as UTF-8:
    with Powertools' default serializer the write raises inside ``logging`` and the whole line is lost.
    """
    text = json.dumps(document, default=str, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, default=str, separators=(",", ":"))
    return text

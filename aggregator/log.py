"""Service log lines: a stable event name and key=value fields, one line each.

A person on call greps ``event=broker_unreachable``; a machine splits on
spaces. Values with spaces or quotes are quoted. Never pass personal data:
callers log counts, offsets, reasons and addresses only.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any, TextIO


def _text(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def log(
    event: str, level: str = "info", stream: TextIO | None = None, **fields: Any
) -> None:
    """Write ``time=... level=... event=<event> key=value ...`` to stderr."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    parts = [f"time={now}", f"level={level}", f"event={event}"]
    parts += [f"{key}={_text(value)}" for key, value in fields.items()]
    out = stream if stream is not None else sys.stderr
    out.write(" ".join(parts) + "\n")
    out.flush()

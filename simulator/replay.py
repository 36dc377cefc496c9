"""Reading a JSONL file of contract events for replay, setting bad lines aside.

A file written by ``cctwin simulate``, or exported from a real platform, is
read one line at a time (memory does not grow with the file). A line that is
not a usable event (not JSON, not an object, an unknown type or version, a
missing field, a time without a zone) is counted and copied verbatim, with
its line number and the reason, to a rejects file; it never stops the replay
and is never lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cctwin.events import COMMON_FIELDS, EVENT_FIELDS, SCHEMA_VERSION, parse_time


def event_problem(event: Any) -> str | None:
    """Why ``event`` cannot be streamed, or ``None`` when it can.

    The checks are the ones a producer needs (type, version, required fields,
    zoned times); the consumer applies the full JSON Schema.
    """
    if not isinstance(event, dict):
        return f"expected a JSON object, got {type(event).__name__}"
    missing = [name for name in COMMON_FIELDS if name not in event]
    if missing:
        return f"missing common field(s) {', '.join(missing)}"
    if event["schema_version"] != SCHEMA_VERSION:
        return (
            f"schema_version {event['schema_version']!r} is not "
            f"{SCHEMA_VERSION}, the version this reader knows"
        )
    kind = event["type"]
    if kind not in EVENT_FIELDS:
        return f"unknown type {kind!r}"
    missing = [name for name in EVENT_FIELDS[kind] if name not in event]
    if missing:
        return f"type {kind!r} needs field(s) {', '.join(missing)}"
    for name in ("time", "enqueued_at"):
        if name in event:
            try:
                parse_time(str(event[name]))
            except ValueError as error:
                return f"{name}: {error}"
    return None


@dataclass
class Rejects:
    """Lines set aside during a replay, written to ``path`` as they come.

    The file is created at the first rejected line only. Each line of it is a
    JSON object: ``line`` (number in the input), ``reason`` and ``text`` (the
    line as it was).
    """

    path: Path
    count: int = 0
    _handle: IO[str] | None = field(default=None, repr=False)

    def add(self, line_number: int, reason: str, text: str) -> None:
        """Set one input line aside."""
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("w", encoding="utf-8")
        record = {"line": line_number, "reason": reason, "text": text}
        self._handle.write(json.dumps(record) + "\n")
        self.count += 1

    def close(self) -> None:
        """Close the rejects file, if one was opened."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def default_rejects_path(source: Path) -> Path:
    """Where a replay of ``source`` sets bad lines aside by default."""
    return source.with_name(source.name + ".rejected.jsonl")


def read_events(source: Path, rejects: Rejects) -> Iterator[dict[str, Any]]:
    """Yield the usable events of a JSONL file in file order.

    Blank lines are skipped; other unusable lines go to ``rejects``.

    Raises:
        OSError: if the file cannot be opened.
    """
    with source.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                rejects.add(number, f"not UTF-8: {error}", raw.decode(errors="replace"))
                continue
            if not text.strip():
                continue
            try:
                event = json.loads(text)
            except ValueError as error:
                rejects.add(number, f"not JSON: {error}", text)
                continue
            problem = event_problem(event)
            if problem is not None:
                rejects.add(number, problem, text)
                continue
            yield event

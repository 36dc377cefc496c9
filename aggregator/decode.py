"""Decoding one raw message into a validated contract event, or a rejection reason.

The decoder is the aggregator's only door: everything after it may trust an
:class:`Event`. It checks the contract of ``cctwin.events`` (type, version,
required fields, each field's type and range) plus what the contract cannot say
on its own: the event belongs to this center, its channel, queue and group are
configured, its time is plausible, and its numbers are finite.

Personal data rule: only the fields the contract defines survive decoding.
Everything else a producer adds (a phone, a document number, a name, an email,
free text) is dropped before any other code sees it, so it can never reach a
label, a log line or the dead-letter topic's error text. Rejection details name
a field and what was expected, never the value that was sent.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cctwin.config.models import CenterConfig
from cctwin.events import COMMON_FIELDS, EVENT_FIELDS, PROPERTY_SCHEMAS, SCHEMA_VERSION

MAX_MESSAGE_BYTES = 65_536
"""Larger messages are rejected unread: no contract event comes near this size."""

MAX_FUTURE_SECONDS = 300.0
"""How far ahead of the aggregator's clock an event time may be (clock skew)."""

EARLIEST_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""Times before this are implausible for a live contact center."""

MAX_DURATION_SECONDS = 7 * 86_400.0
"""No wait or handle time lasts a week; larger values are rejected."""

CLOCK_TOLERANCE_MS = 1_000
"""``enqueued_at`` may trail ``time`` by rounding, never lead it by more."""

REASONS: tuple[str, ...] = (
    "too_large",
    "malformed_json",
    "not_an_object",
    "unsupported_version",
    "unknown_type",
    "missing_field",
    "wrong_field",
    "negative_value",
    "implausible_value",
    "future_time",
    "implausible_time",
    "other_center",
    "unknown_channel",
    "unknown_queue",
    "unknown_group",
)
"""Every rejection reason, a stable label value of the invalid-events counter."""

SCORE_TYPES = ("knowledge_evaluated", "supervisor_evaluated")
"""Event types whose ``score`` is a 0-1 ratio (the agreements' unit)."""

_DURATIONS = ("wait_seconds", "talk_seconds", "hold_seconds", "wrap_up_seconds")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)
_KNOWN = frozenset(COMMON_FIELDS) | frozenset(PROPERTY_SCHEMAS)


@dataclass(frozen=True, slots=True)
class Event:
    """A valid contract event: its type, id, time and contract fields only.

    ``time_ms`` (and ``enqueued_ms`` when the type carries ``enqueued_at``) are
    UTC milliseconds since the epoch, integers so that sums of durations are
    exact whatever order they are added in.
    """

    kind: str
    event_id: str
    time_ms: int
    fields: dict[str, Any]
    enqueued_ms: int | None = None
    dropped_fields: int = 0


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message is not a valid event: a reason of :data:`REASONS` and a detail.

    ``detail`` names the field and what was expected; it never repeats the
    value received, which may be personal data. ``payload`` is the message's
    contract fields when it was a JSON object (for the dead-letter topic), else
    ``None``.
    """

    reason: str
    detail: str
    payload: dict[str, Any] | None = None


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _reject_constant(name: str) -> float:
    # json.loads accepts NaN and Infinity by default; the contract does not.
    raise ValueError(f"{name} is not a JSON number")


def _time_ms(name: str, value: Any) -> int:
    if not isinstance(value, str) or not value.endswith("Z") or len(value) > 40:
        raise _Invalid("wrong_field", f"{name} must be a UTC ISO 8601 time ending Z")
    try:
        parsed = dt.datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        raise _Invalid(
            "wrong_field", f"{name} must be a UTC ISO 8601 time ending Z"
        ) from None
    if parsed < EARLIEST_TIME:
        raise _Invalid("implausible_time", f"{name} is before {EARLIEST_TIME:%Y}")
    return (parsed - _EPOCH) // _MS


Check = Callable[[str, Any], None]


def _no_check(name: str, value: Any) -> None:
    return None


def _compile(schema: dict[str, Any]) -> Check:
    """A checker for one field, built from its contract JSON Schema fragment."""
    if "const" in schema:
        wanted = schema["const"]

        def check_const(name: str, value: Any) -> None:
            if value != wanted or isinstance(value, bool):
                raise _Invalid("wrong_field", f"{name} must be {wanted!r}")

        return check_const
    if "enum" in schema:
        allowed = tuple(schema["enum"])

        def check_enum(name: str, value: Any) -> None:
            if not isinstance(value, str) or value not in allowed:
                raise _Invalid(
                    "wrong_field", f"{name} must be one of {', '.join(allowed)}"
                )

        return check_enum
    kind = schema.get("type")
    if kind == "boolean":

        def check_bool(name: str, value: Any) -> None:
            if not isinstance(value, bool):
                raise _Invalid("wrong_field", f"{name} must be true or false")

        return check_bool
    if kind in ("number", "integer"):
        integer = kind == "integer"
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        exclusive = "exclusiveMinimum" in schema

        def check_number(name: str, value: Any) -> None:
            numeric = (
                isinstance(value, int) if integer else isinstance(value, int | float)
            )
            if isinstance(value, bool) or not numeric:
                raise _Invalid(
                    "wrong_field",
                    f"{name} must be a{'n integer' if integer else ' number'}",
                )
            if not math.isfinite(value):
                raise _Invalid("wrong_field", f"{name} must be finite")
            if low is not None and (value <= low if exclusive else value < low):
                raise _Invalid(
                    "negative_value",
                    f"{name} must be {'>' if exclusive else '>='} {low}",
                )

        return check_number
    if kind == "string":
        pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
        longest = schema.get("maxLength", 1_000)
        shortest = schema.get("minLength", 0)
        is_time = schema.get("format") == "date-time"

        if is_time:
            # Times are parsed once, in Decoder._validate, where their value is
            # needed anyway.
            return _no_check

        # Labels (center, channel, queue, group, agent ids) repeat in nearly
        # every event: a value once accepted is not matched again. Unique ids
        # would fill the set, so it stops growing at a bound.
        accepted: set[str] = set()

        def check_string(name: str, value: Any) -> None:
            if value.__class__ is str and value in accepted:
                return
            if not isinstance(value, str) or not shortest <= len(value) <= longest:
                raise _Invalid(
                    "wrong_field",
                    f"{name} must be a string of {shortest}-{longest} characters",
                )
            if pattern is not None and not pattern.search(value):
                raise _Invalid("wrong_field", f"{name} must match {pattern.pattern}")
            if len(accepted) < ACCEPTED_STRINGS:
                accepted.add(value)

        return check_string
    raise ValueError(f"no checker for contract schema {schema!r}")


ACCEPTED_STRINGS = 4096
"""Accepted string values each field check remembers, to skip their pattern."""

_REQUIRED: dict[str, tuple[str, ...]] = {
    kind: (*COMMON_FIELDS, *fields) for kind, fields in EVENT_FIELDS.items()
}

_CHECKS: dict[str, Check] = {
    name: _compile(schema) for name, schema in PROPERTY_SCHEMAS.items()
}


class Decoder:
    """Turns raw message bytes into an :class:`Event` or a :class:`Rejection`.

    Built once per aggregator from the center's config: the center id, the
    channels with their queues, and the agent groups it accepts. ``decode``
    never raises on any input.
    """

    def __init__(
        self, config: CenterConfig, max_future_seconds: float = MAX_FUTURE_SECONDS
    ) -> None:
        self.center = config.center.id
        self.queues = {name: ch.queue for name, ch in config.channels.items()}
        self.groups = frozenset(config.agent_groups)
        self.max_future_ms = int(max_future_seconds * 1000)

    def decode(self, raw: bytes | str, now_ms: int | None = None) -> Event | Rejection:
        """Decode one message; ``now_ms`` (UTC ms) enables the far-future check."""
        if len(raw) > MAX_MESSAGE_BYTES:
            return Rejection("too_large", f"message over {MAX_MESSAGE_BYTES} bytes")
        try:
            document = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            # UnicodeDecodeError and JSONDecodeError are both ValueErrors.
            return Rejection("malformed_json", "not a UTF-8 JSON document")
        if not isinstance(document, dict):
            return Rejection("not_an_object", "an event is a JSON object")

        kept = {key: value for key, value in document.items() if key in _KNOWN}
        try:
            return self._validate(kept, len(document) - len(kept), now_ms)
        except _Invalid as invalid:
            return Rejection(invalid.reason, invalid.detail, kept)

    def _validate(
        self, kept: dict[str, Any], dropped: int, now_ms: int | None
    ) -> Event:
        version = kept.get("schema_version")
        if version != SCHEMA_VERSION or isinstance(version, bool):
            raise _Invalid(
                "unsupported_version", f"schema_version must be {SCHEMA_VERSION}"
            )
        kind = kept.get("type")
        if not isinstance(kind, str) or kind not in EVENT_FIELDS:
            raise _Invalid("unknown_type", "type is not an event type of the contract")
        for name in _REQUIRED[kind]:
            if name not in kept:
                raise _Invalid("missing_field", f"{kind} needs {name}")
        for name, value in kept.items():
            _CHECKS[name](name, value)

        self._check_references(kind, kept)
        time_ms = _time_ms("time", kept["time"])
        if now_ms is not None and time_ms > now_ms + self.max_future_ms:
            raise _Invalid("future_time", "time is ahead of the aggregator's clock")
        enqueued_ms = None
        if "enqueued_at" in kept:
            enqueued_ms = _time_ms("enqueued_at", kept["enqueued_at"])
            # An arrival may announce the enqueue time after its IVR; an outcome
            # cannot happen before its contact was queued.
            late = kind != "arrived" and enqueued_ms > time_ms + CLOCK_TOLERANCE_MS
            if late:
                raise _Invalid("implausible_time", "enqueued_at is after time")
        for name in _DURATIONS:
            if name in kept and kept[name] > MAX_DURATION_SECONDS:
                raise _Invalid("implausible_value", f"{name} over a week")
        if kind in SCORE_TYPES and kept["score"] > 1:
            raise _Invalid("implausible_value", f"{kind} score is a 0-1 ratio")
        if kind == "survey_answered" and kept["score"] > kept["scale_max"]:
            raise _Invalid("implausible_value", "score is above scale_max")
        if kind == "campaign_sent" and kept["errors"] > kept["messages"]:
            raise _Invalid("implausible_value", "errors exceed messages")
        if (
            kind == "service_availability"
            and kept["available_seconds"] > kept["period_seconds"]
        ):
            raise _Invalid("implausible_value", "available_seconds exceeds period")

        return Event(kind, kept["event_id"], time_ms, kept, enqueued_ms, dropped)

    def _check_references(self, kind: str, kept: dict[str, Any]) -> None:
        """Labels must take few values: only the configured ones are accepted."""
        if kept["center"] != self.center:
            raise _Invalid("other_center", f"center is not {self.center}")
        channel = kept.get("channel")
        if channel is not None:
            if channel not in self.queues:
                raise _Invalid("unknown_channel", "channel is not configured")
            if kept.get("queue") != self.queues[channel]:
                raise _Invalid("unknown_queue", f"queue is not {channel}'s queue")
        group = kept.get("group")
        if group is not None and group not in self.groups:
            raise _Invalid("unknown_group", "group is not configured")

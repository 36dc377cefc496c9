"""How simulated time maps to wall-clock time: when an event is sent, and its stamp.

A stream plays events at ``--speed N`` (N simulated seconds per wall-clock
second) or ``max`` (as fast as the broker takes them). A gap of more than
:data:`IDLE_GAP_SECONDS` of simulated time (the center closed overnight) is
skipped instead of waited out, so a month at ``--speed 60`` does not sit idle
for 13 minutes every night.

Events keep their simulated times by default. ``--start YYYY-MM-DD`` moves the
first day onto that calendar day (same local clock times, the days after it
following), and ``--start now`` stamps them so that the first event of each
stretch of activity carries the current time. Every time field of an event is
moved by the same offset, so waits and durations stay exactly as simulated.
The offset is fixed from local midnight to local midnight, so in a zone with
daylight saving time (not Bogotá's) the clock times of a moved day are off by
the hour of any change that lies between the two days.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cctwin.events import iso_utc, parse_time

IDLE_GAP_SECONDS = 3_600.0
"""Simulated silence longer than this is skipped rather than waited out."""

TIME_FIELDS = ("time", "enqueued_at")
"""The fields of the contract that hold instants (all others are durations)."""

Speed = float | None
"""Simulated seconds per wall-clock second; ``None`` means as fast as possible."""

Start = Literal["sim", "now"] | dt.date
"""Where the stamps go: the simulated times, the current time, or a calendar day."""


def parse_speed(text: str) -> Speed:
    """Read a ``--speed`` value: a positive number, or ``max``.

    Raises:
        ValueError: naming the text and the allowed forms.
    """
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(
            f"expected a speed > 0 (simulated seconds per second, e.g. 60) "
            f"or 'max', got {text!r}"
        )
    return value


def parse_start(text: str) -> Start:
    """Read a ``--start`` value: ``sim``, ``now`` or a day ``YYYY-MM-DD``.

    Raises:
        ValueError: naming the text and the allowed forms.
    """
    word = text.strip().lower()
    if word in ("sim", "now"):
        return "sim" if word == "sim" else "now"
    try:
        return dt.date.fromisoformat(word)
    except ValueError:
        raise ValueError(
            f"expected 'sim' (keep simulated times), 'now' or a day YYYY-MM-DD, "
            f"got {text!r}"
        ) from None


def shift_event(event: dict[str, Any], offset: dt.timedelta) -> dict[str, Any]:
    """A copy of ``event`` with every instant moved by ``offset``.

    Raises:
        ValueError: if a time field is not a contract time.
    """
    if not offset:
        return event
    moved = dict(event)
    for name in TIME_FIELDS:
        text = moved.get(name)
        if isinstance(text, str):
            moved[name] = iso_utc(parse_time(text) + offset)
    return moved


def _whole_milliseconds(delta: dt.timedelta) -> dt.timedelta:
    """Round to the millisecond: contract times carry milliseconds, no more."""
    return dt.timedelta(milliseconds=round(delta / dt.timedelta(milliseconds=1)))


def day_offset(first_day: dt.date, target: dt.date, zone: ZoneInfo) -> dt.timedelta:
    """The shift that moves local clock times of ``first_day`` onto ``target``."""
    source = dt.datetime.combine(first_day, dt.time(), zone)
    moved = dt.datetime.combine(target, dt.time(), zone)
    return moved.astimezone(dt.UTC) - source.astimezone(dt.UTC)


@dataclass
class Pacer:
    """Decides when each event is sent and the offset its times are moved by.

    Call :meth:`place` with each event's simulated instant, in order; it sleeps
    until that instant is due and returns the offset to stamp the event with.
    ``clock`` (monotonic seconds), ``wall`` (now, UTC) and ``sleep`` are passed
    in so tests run without waiting.
    """

    speed: Speed
    start: Start = "sim"
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    sleep: Callable[[float], None] = time.sleep
    idle_gap_seconds: float = IDLE_GAP_SECONDS
    _anchor_sim: dt.datetime | None = None
    _anchor_clock: float = 0.0
    _last_sim: dt.datetime | None = None
    _offset: dt.timedelta | None = None
    skipped_gaps: int = 0

    def place(self, instant: dt.datetime) -> dt.timedelta:
        """Wait until ``instant`` (simulated) is due; return its stamp offset.

        An instant earlier than the one before it (a file out of order) is sent
        at once rather than waited for.
        """
        last = self._last_sim
        if last is None or (instant - last).total_seconds() > self.idle_gap_seconds:
            if last is not None:
                self.skipped_gaps += 1
            self._anchor(instant)
        elif instant > last:
            self._last_sim = instant

        if self.speed is not None and self._anchor_sim is not None:
            ahead = (instant - self._anchor_sim).total_seconds() / self.speed
            delay = self._anchor_clock + ahead - self.clock()
            if delay > 0:
                self.sleep(delay)

        assert self._offset is not None
        return self._offset

    def _anchor(self, instant: dt.datetime) -> None:
        """Start a stretch of activity at ``instant``: the clock restarts here."""
        self._anchor_sim = instant
        self._anchor_clock = self.clock()
        self._last_sim = instant
        if self.start == "now":
            self._offset = _whole_milliseconds(self.wall() - instant)
        elif self._offset is None:
            if self.start == "sim":
                self._offset = dt.timedelta()
            else:
                local_day = instant.astimezone(self.zone).date()
                self._offset = day_offset(local_day, self.start, self.zone)

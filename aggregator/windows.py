"""Time bases of the live agreements: fixed intervals, sliding windows, day, month.

Every window is read by *event time* in the center's time zone: a contact
counts in the window of its enqueue time (as the simulator tallies it), an
agent's time in the window it was spent, a survey or audit at its own time.
A late event therefore lands in its own interval, not in the one being
served when it arrives.

Windows end at the aggregator's clock (wall time when live, the newest event
time when replaying a file) and start at:

- ``interval15`` / ``interval30``: the start of the current fixed interval;
- ``last5m`` / ``last15m`` / ``last30m``: that many whole minutes back,
  counting the minute in progress (minute granularity, so a sliding window
  spans between N-1 and N minutes);
- ``today``: local midnight (the center opens after it);
- ``month``: local midnight of the first day of the month.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

MINUTE_MS = 60_000
DAY_MS = 86_400_000

WINDOWS: tuple[str, ...] = (
    "interval15",
    "interval30",
    "last5m",
    "last15m",
    "last30m",
    "today",
    "month",
)
"""Window label values, shortest first."""

MINUTE_RETENTION = 60
"""Minutes of per-minute counts kept: the longest minute-based window, doubled."""

DAY_RETENTION = 62
"""Days of per-day counts kept: two months, so month to date is always whole."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class LocalTime:
    """UTC milliseconds to the center's local minutes, days and months.

    The zone offset is looked up once per UTC hour and cached (a zone changes
    its offset on an hour boundary, if ever: Bogotá has had none since 1993).
    """

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self._zone = ZoneInfo(timezone)
        self._offsets: dict[int, int] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"timezone": self.timezone}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(str(state["timezone"]))  # type: ignore[misc]

    def offset_ms(self, utc_ms: int) -> int:
        """The zone's UTC offset at ``utc_ms``, in milliseconds."""
        hour = utc_ms // 3_600_000
        cached = self._offsets.get(hour)
        if cached is None:
            instant = _EPOCH + dt.timedelta(hours=hour)
            offset = self._zone.utcoffset(instant.replace(tzinfo=None))
            cached = int(offset.total_seconds() * 1000) if offset else 0
            if len(self._offsets) > 10_000:
                self._offsets.clear()
            self._offsets[hour] = cached
        return cached

    def day(self, utc_ms: int) -> int:
        """Local day number (days since 1970-01-01 in local time)."""
        return (utc_ms + self.offset_ms(utc_ms)) // DAY_MS

    def day_start_ms(self, day: int) -> int:
        """UTC milliseconds of local midnight starting ``day``."""
        guess = day * DAY_MS
        return guess - self.offset_ms(guess)

    @staticmethod
    def month_of(day: int) -> tuple[int, int]:
        """(year, month) of a local day number."""
        date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        return date.year, date.month

    def window_start_ms(self, window: str, now_ms: int) -> int:
        """UTC milliseconds where ``window`` starts when the clock reads ``now_ms``.

        Raises:
            ValueError: if ``window`` is not one of :data:`WINDOWS`.
        """
        offset = self.offset_ms(now_ms)
        local = now_ms + offset
        if window in ("interval15", "interval30"):
            step = (15 if window == "interval15" else 30) * MINUTE_MS
            return local // step * step - offset
        if window in ("last5m", "last15m", "last30m"):
            minutes = int(window[4:-1])
            return (now_ms // MINUTE_MS - minutes + 1) * MINUTE_MS
        if window == "today":
            return self.day_start_ms(self.day(now_ms))
        if window == "month":
            today = self.day(now_ms)
            date = dt.date(1970, 1, 1) + dt.timedelta(days=today)
            return self.day_start_ms(today - (date.day - 1))
        raise ValueError(f"unknown window {window!r}; expected one of {WINDOWS}")

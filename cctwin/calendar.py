"""The center's calendar: open days, opening hours and the interval grid."""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import re

from cctwin.config.models import WEEKDAYS, CenterConfig

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> tuple[int, int]:
    """Return ``(year, month)`` of a ``YYYY-MM`` string.

    Raises:
        ValueError: naming the text and the expected form.
    """
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2026-04), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def parse_months(text: str) -> list[tuple[int, int]]:
    """Parse ``YYYY-MM`` or an inclusive range ``YYYY-MM..YYYY-MM`` into months.

    Raises:
        ValueError: for a malformed month or a range that ends before it starts.
    """
    first_text, _, last_text = text.partition("..")
    first = parse_month(first_text)
    last = parse_month(last_text) if last_text else first
    if last < first:
        raise ValueError(f"month range {text!r} ends before it starts")
    months = []
    year, month = first
    while (year, month) <= last:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def is_open(config: CenterConfig, day: dt.date) -> bool:
    """Whether the center opens on ``day`` (weekday hours, not a holiday)."""
    return (
        WEEKDAYS[day.weekday()] in config.center.opening_hours
        and day not in config.center.holidays
    )


def open_days(config: CenterConfig, year: int, month: int) -> list[dt.date]:
    """The days of a month on which the center opens, in order."""
    last = _calendar.monthrange(year, month)[1]
    days = (dt.date(year, month, d) for d in range(1, last + 1))
    return [day for day in days if is_open(config, day)]


def open_intervals(config: CenterConfig, day: dt.date) -> list[int]:
    """Indices (from local midnight) of the intervals the center is open on ``day``."""
    hours = config.center.opening_hours.get(WEEKDAYS[day.weekday()])
    if hours is None or day in config.center.holidays:
        return []
    step = config.center.interval_minutes
    return list(range(hours.open_minute // step, hours.close_minute // step))


def local_midnight_utc(config: CenterConfig, day: dt.date) -> dt.datetime:
    """The UTC instant of local midnight starting ``day`` in the center's zone."""
    local = dt.datetime.combine(day, dt.time(0), tzinfo=config.center.zone)
    return local.astimezone(dt.UTC)

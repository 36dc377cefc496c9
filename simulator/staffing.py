"""Least staffing: agents needed per interval, and the fewest shifts that cover them.

The requirement of an interval comes from Erlang A (``simulator.erlang``) on the
interval's mean traffic; the shifts come from a small integer program (scipy's
``milp``): choose how many agents start at each allowed time so every interval
is covered, net of breaks and absenteeism, with the fewest agents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from cctwin.calendar import open_intervals
from cctwin.config.models import AgentGroup, CenterConfig, clock_minutes
from simulator.day import expected_day_volume
from simulator.erlang import agents_for_target


@dataclass(frozen=True)
class ShiftCount:
    """``agents`` agents on a shift from ``start`` to ``end`` (``HH:MM``)."""

    start: str
    end: str
    agents: int


def interval_requirement(
    config: CenterConfig,
    channel: str,
    days: list[dt.date],
    target_service_level: float,
) -> np.ndarray:
    """Agents needed per interval of the day (full-day grid) for ``channel``.

    Traffic is the mean over ``days`` of the expected offered load (after the
    IVR), so a requirement for "weekdays" averages Monday to Friday.
    """
    spec = config.channels[channel]
    definition = spec.service_level
    if definition is None or spec.patience is None:
        raise ValueError(f"channel {channel!r} has no service level or patience")
    step = config.center.interval_minutes * 60
    n_intervals = 86_400 // step
    profile = config.profile_of(channel)
    queued_share = 1.0 - (spec.ivr.self_service_share if spec.ivr else 0.0)

    rates = np.zeros(n_intervals)
    for day in days:
        slots = open_intervals(config, day)
        keys = [f"{s * step // 3600:02d}:{s * step % 3600 // 60:02d}" for s in slots]
        weights = np.array([profile.intraday[k] for k in keys])
        volume = expected_day_volume(config, channel, day) * queued_share
        rates[slots] += volume * weights / weights.sum() / step / len(days)

    patience = (
        spec.patience.mean_seconds if spec.patience.distribution != "none" else None
    )
    return np.array(
        [
            agents_for_target(
                rate,
                spec.handle_time.mean_seconds,
                definition.threshold_seconds,
                target_service_level,
                mean_patience_s=patience,
            )
            for rate in rates
        ],
        dtype=float,
    )


def cover_shifts(
    requirement: np.ndarray,
    group: AgentGroup,
    interval_minutes: int,
    open_minute: int,
    close_minute: int,
    shift_minutes: int = 480,
) -> list[ShiftCount]:
    """The fewest agents on ``shift_minutes`` shifts covering ``requirement``.

    Starts are allowed every interval from opening until a shift would end at
    closing. Each agent covers an interval with weight ``(1 - absenteeism) *
    (1 - break share of the shift)``: breaks are spread over the shift in
    expectation, since the exact break time is not known in advance.

    Raises:
        ValueError: if no shift fits in the opening hours.
    """
    starts = list(
        range(open_minute, close_minute - shift_minutes + 1, interval_minutes)
    )
    if not starts:
        raise ValueError(
            f"a {shift_minutes}-minute shift does not fit in the opening hours"
        )
    breaks = sum(b.minutes for b in group.breaks)
    yield_per_agent = (1.0 - group.absenteeism) * (1.0 - breaks / shift_minutes)
    n_intervals = requirement.size
    cover = np.zeros((n_intervals, len(starts)))
    for j, start in enumerate(starts):
        first = start // interval_minutes
        last = (start + shift_minutes) // interval_minutes
        cover[first:last, j] = yield_per_agent

    needed = requirement > 0
    if not needed.any():
        return []
    result = milp(
        c=np.ones(len(starts)),
        constraints=LinearConstraint(cover[needed], lb=requirement[needed], ub=np.inf),
        integrality=np.ones(len(starts)),
        bounds=Bounds(0, np.inf),
    )
    if result.x is None:
        raise ValueError(f"no shift plan covers the requirement: {result.message}")
    return [
        ShiftCount(_clock(start), _clock(start + shift_minutes), round(count))
        for start, count in zip(starts, result.x, strict=True)
        if round(count) > 0
    ]


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def shift_minutes_of(group: AgentGroup) -> int:
    """The length of a group's first shift, in minutes (480 if it has none)."""
    if not group.shifts:
        return 480
    first = group.shifts[0]
    return clock_minutes(first.end) - clock_minutes(first.start)


def requirement_summary(requirement: np.ndarray) -> str:
    """``peak N agents at HH:MM`` for messages."""
    if not requirement.size or requirement.max() <= 0:
        return "no agents needed"
    peak = int(np.argmax(requirement))
    step = 1440 // requirement.size
    return f"peak {int(requirement.max())} agents at {_clock(peak * step)}"


__all__ = [
    "ShiftCount",
    "cover_shifts",
    "interval_requirement",
    "requirement_summary",
    "shift_minutes_of",
]

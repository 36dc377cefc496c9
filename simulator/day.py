"""One simulated day of a configured center: traffic and rosters in, tallies out.

A day is the unit of work of the forecast: the center closes overnight, so days
are independent, and each (replication, day) pair gets its own random streams
derived from the seed. That makes a forecast's result independent of how days
are spread over processes, and lets two scenarios share random numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from scipy.special import gammaincinv
from scipy.stats import poisson

from cctwin.calendar import open_days, open_intervals
from cctwin.config.models import (
    WEEKDAYS,
    Break,
    CenterConfig,
    Channel,
    clock_minutes,
)
from cctwin.metrics import COUNT_FIELDS
from simulator.distributions import Sampler, UniformStream, block_drawer, sampler
from simulator.engine import (
    ABANDONED,
    ANSWERED,
    AVAILABLE,
    BREAK,
    BUSY,
    AgentPlan,
    ChannelPlan,
    EmitFn,
    Engine,
)

# Purposes of the random streams of a day; appended to the seed's spawn key so
# each draw sequence is stable when another one changes.
_VOLUME, _ARRIVALS, _IVR, _HANDLE, _PATIENCE, _RETRIAL, _CONTACT, _ABSENCE = range(8)


def day_rng(seed: int, replication: int, day: dt.date, *purpose: int) -> UniformStream:
    """The random stream of one purpose of one day of one replication.

    Replications 2k and 2k+1 read the same Generator, the second through
    antithetic uniforms (``1 - u``): see ``simulator.forecast``.
    """
    key = (replication - replication % 2, day.toordinal(), *purpose)
    generator = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
    return UniformStream(generator, antithetic=replication % 2 == 1)


@dataclass
class DayResult:
    """Tallies of one simulated day.

    ``counts[name]`` has shape (channels, intervals): see ``cctwin.metrics``.
    ``entered`` and ``self_served`` count contacts entering each channel and
    leaving in the IVR, by interval. ``state_seconds`` has shape (groups, 4,
    intervals) for offline/available/busy/break. ``adherence`` is per group
    ``(adherent_s, scheduled_s)``.
    """

    day: dt.date
    counts: dict[str, np.ndarray]
    entered: np.ndarray
    self_served: np.ndarray
    state_seconds: np.ndarray
    adherence: np.ndarray
    not_attempted: np.ndarray
    retrials: np.ndarray
    agents_scheduled: int
    agents_absent: int


def expected_day_volume(config: CenterConfig, channel: str, day: dt.date) -> float:
    """Mean entries of ``channel`` on ``day``: its month's volume by weekday share."""
    profile = config.profile_of(channel)
    days = open_days(config, day.year, day.month)
    weights = [profile.weekday_share[WEEKDAYS[d.weekday()]] for d in days]
    total = sum(weights)
    if day not in days or total <= 0:
        return 0.0
    own = profile.weekday_share[WEEKDAYS[day.weekday()]]
    return config.channels[channel].monthly_volume * own / total


def arrival_times(
    config: CenterConfig,
    channel: str,
    day: dt.date,
    volume_rng: UniformStream,
    arrival_rng: UniformStream,
    volume_scale: float = 1.0,
) -> np.ndarray:
    """Non-homogeneous Poisson arrival times (s from local midnight), sorted.

    Piecewise-constant rate per interval from the intraday profile; the day's
    mean is multiplied by a gamma factor (mean 1, cv ``day_dispersion_cv``).
    Every draw is an inversion of the streams' uniforms, so an antithetic
    stream mirrors the day: busy where the other was quiet.
    """
    profile = config.profile_of(channel)
    slots = open_intervals(config, day)
    step = config.center.interval_minutes * 60.0
    mean = expected_day_volume(config, channel, day) * volume_scale
    cv = profile.day_dispersion_cv
    if cv > 0 and mean > 0:
        shape = 1.0 / (cv * cv)
        u = volume_rng.open_random(1)
        mean *= float(gammaincinv(shape, u[0])) / shape
    keys = [
        f"{(s * step) // 3600:02.0f}:{(s * step) % 3600 // 60:02.0f}" for s in slots
    ]
    weights = np.array([profile.intraday[k] for k in keys], dtype=float)
    if mean <= 0 or weights.sum() <= 0:
        return np.empty(0)
    counts = poisson.ppf(
        arrival_rng.open_random(weights.size), mean * weights / weights.sum()
    ).astype(int)
    starts = np.repeat(np.array(slots, dtype=float) * step, counts)
    return np.sort(starts + arrival_rng.random(starts.size) * step)


def _handle_sampler(channel: Channel, rng: UniformStream) -> Sampler:
    spec = channel.handle_time
    return sampler(spec.distribution, spec.mean_seconds, spec.cv, rng)


def _uniform(rng: UniformStream) -> Sampler:
    return Sampler(rng.random)


def _channel_plan(
    config: CenterConfig,
    index: int,
    name: str,
    day: dt.date,
    seed: int,
    replication: int,
    volume_scale: float,
) -> tuple[ChannelPlan, np.ndarray, np.ndarray]:
    """Compile a channel's day; also return all entries and IVR self-served times."""
    channel = config.channels[name]
    rng = lambda purpose: day_rng(seed, replication, day, purpose, index)  # noqa: E731
    entries = arrival_times(
        config, name, day, rng(_VOLUME), rng(_ARRIVALS), volume_scale
    )
    close = max(
        (h.close_minute * 60.0 for h in config.center.opening_hours.values()),
        default=0.0,
    )

    enqueue, arrived = entries, entries
    self_served = np.empty(0)
    ivr_seconds = 0.0
    if channel.ivr is not None:
        leaves = rng(_IVR).random(entries.size) < channel.ivr.self_service_share
        self_served = entries[leaves]
        arrived = entries[~leaves]
        ivr_seconds = channel.ivr.time_seconds
        enqueue = arrived + ivr_seconds

    spec = channel.handle_time
    talk = 1.0 - spec.hold_share - spec.wrap_up_share
    plan = ChannelPlan(
        name=name,
        queue=channel.queue,
        kind=channel.kind,
        enqueue_times=enqueue,
        arrival_times=arrived,
        handle=_handle_sampler(channel, rng(_HANDLE)),
        ivr_seconds=ivr_seconds,
        close_s=close,
        talk_hold_wrap=(talk, spec.hold_share, spec.wrap_up_share),
    )
    if channel.patience is not None:
        p = channel.patience
        plan.patience = Sampler(
            block_drawer(p.distribution, p.mean_seconds, p.cv, rng(_PATIENCE))
        )
    if channel.retrial is not None and channel.retrial.probability > 0:
        retrial_rng = rng(_RETRIAL)
        plan.retrial_probability = channel.retrial.probability
        plan.retrial_uniform = _uniform(retrial_rng)
        plan.retrial_delay = sampler(
            "exponential", channel.retrial.delay_seconds, 1.0, retrial_rng
        )
    if channel.concurrency is not None:
        plan.session_factors = tuple(channel.concurrency.handle_time_factor)
    contact = channel.callback or channel.outbound
    if contact is not None:
        plan.contact_probability = contact.contact_probability
        plan.contact_uniform = _uniform(rng(_CONTACT))
        plan.attempt_s = contact.attempt_seconds
    if channel.callback is not None:
        plan.max_delay_s = channel.callback.max_delay_seconds
    return plan, entries, self_served


def agent_plans(
    config: CenterConfig,
    day: dt.date,
    rng: UniformStream,
    staffing_scale: float = 1.0,
) -> tuple[list[AgentPlan], int]:
    """Rosters of the day (present agents only) and how many were absent."""
    channel_index = {name: i for i, name in enumerate(config.channels)}
    weekday = WEEKDAYS[day.weekday()]
    plans: list[AgentPlan] = []
    absent = 0
    for g, (group_name, group) in enumerate(config.agent_groups.items()):
        skills = tuple(channel_index[s] for s in group.skills)
        for s, shift in enumerate(group.shifts):
            if weekday not in shift.days:
                continue
            start = clock_minutes(shift.start) * 60.0
            end = clock_minutes(shift.end) * 60.0
            headcount = round(shift.agents * staffing_scale)
            for k in range(headcount):
                # Drawn for every seat, so absences do not shift other draws.
                if rng.random() < group.absenteeism:
                    absent += 1
                    continue
                breaks = _seat_breaks(group.breaks, start, end, k, headcount)
                plans.append(
                    AgentPlan(f"{group_name}-{s}-{k}", g, skills, start, end, breaks)
                )
    return plans, absent


def _seat_breaks(
    breaks: list[Break], start_s: float, end_s: float, seat: int, seats: int
) -> tuple[tuple[float, float], ...]:
    """``(start_s, seconds)`` of each break of one seat of a shift.

    Seats are spread evenly over each break's stagger window; a break that
    would run past the end of the shift is not scheduled.
    """
    planned = []
    for item in breaks:
        offset = item.stagger_minutes * seat / seats if seats else 0.0
        begin = start_s + (item.after_minutes + offset) * 60.0
        if begin + item.minutes * 60.0 <= end_s:
            planned.append((begin, item.minutes * 60.0))
    return tuple(planned)


def _adherence(plans: list[AgentPlan], engine: Engine, n_groups: int) -> np.ndarray:
    """Per group: seconds in the scheduled state, and scheduled seconds."""
    result = np.zeros((n_groups, 2))
    for plan, actual in zip(plans, engine.agent_days, strict=True):
        scheduled = plan.end_s - plan.start_s
        if math.isnan(actual.login_s):
            continue
        sched_breaks = [(s, s + d) for s, d in plan.breaks]
        logged = _overlap(
            [(actual.login_s, actual.logout_s)], [(plan.start_s, plan.end_s)]
        )
        # Working as scheduled = logged in during the shift, minus time on a
        # break or scheduled for one, plus breaks taken exactly when planned.
        work_overlap = (
            logged
            - _overlap(actual.breaks, [(plan.start_s, plan.end_s)])
            - _overlap(sched_breaks, [(actual.login_s, actual.logout_s)])
            + _overlap(actual.breaks, sched_breaks)
        )
        adherent = work_overlap + _overlap(actual.breaks, sched_breaks)
        result[plan.group] += (adherent, scheduled)
    return result


def _overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    total = 0.0
    for a0, a1 in a:
        for b0, b1 in b:
            total += max(0.0, min(a1, b1) - max(a0, b0))
    return total


def simulate_day(
    config: CenterConfig,
    day: dt.date,
    seed: int,
    replication: int = 0,
    emit: EmitFn | None = None,
    volume_scale: float = 1.0,
    staffing_scale: float = 1.0,
) -> DayResult:
    """Simulate one open day and tally it by channel and interval.

    ``emit`` receives every contract event (see ``cctwin.events``); leave it
    ``None`` for forecasts, which need only the tallies.
    """
    names = list(config.channels)
    groups = list(config.agent_groups)
    step = config.center.interval_minutes * 60.0
    n_intervals = int(86_400 // step)

    plans: list[ChannelPlan] = []
    entered = np.zeros((len(names), n_intervals))
    self_served = np.zeros((len(names), n_intervals))
    for index, name in enumerate(names):
        plan, entries, served_in_ivr = _channel_plan(
            config, index, name, day, seed, replication, volume_scale
        )
        plans.append(plan)
        entered[index] = np.bincount(
            (entries // step).astype(int), minlength=n_intervals
        )[:n_intervals]
        self_served[index] = np.bincount(
            (served_in_ivr // step).astype(int), minlength=n_intervals
        )[:n_intervals]
        if emit is not None:
            _emit_ivr(emit, plan, served_in_ivr)

    rosters, absent = agent_plans(
        config, day, day_rng(seed, replication, day, _ABSENCE), staffing_scale
    )
    engine = Engine(simpy.Environment(), plans, rosters, groups, step, emit)
    engine.run()

    counts = _tally(config, names, engine.outcomes, step, n_intervals)
    states = np.array(engine.state_time)[:, :, :n_intervals]
    return DayResult(
        day=day,
        counts=counts,
        entered=entered,
        self_served=self_served,
        state_seconds=states,
        adherence=_adherence(rosters, engine, len(groups)),
        not_attempted=np.array(engine.not_attempted, dtype=float),
        retrials=np.array(engine.retrials, dtype=float),
        agents_scheduled=len(rosters) + absent,
        agents_absent=absent,
    )


def _emit_ivr(emit: EmitFn, plan: ChannelPlan, times: np.ndarray) -> None:
    """IVR-only contacts: arrived and self-served, never queued."""
    for n, time_s in enumerate(times.tolist()):
        fields: dict[str, Any] = {
            "interaction": f"ivr{n}",
            "attempt": 1,
            "channel": plan.name,
            "queue": plan.queue,
        }
        emit(time_s, "arrived", dict(fields))
        emit(time_s + plan.ivr_seconds, "ivr_self_served", fields)


def _tally(
    config: CenterConfig,
    names: list[str],
    outcomes: list[list[tuple[float, float, int, float]]],
    step: float,
    n_intervals: int,
) -> dict[str, np.ndarray]:
    """Outcome records into per-channel, per-interval counts (by enqueue time)."""
    counts = {name: np.zeros((len(names), n_intervals)) for name in COUNT_FIELDS}
    for index, name in enumerate(names):
        records = outcomes[index]
        if not records:
            continue
        data = np.array(records)
        slot = np.minimum((data[:, 0] // step).astype(int), n_intervals - 1)
        wait, outcome, handle = data[:, 1], data[:, 2], data[:, 3]
        answered = outcome == ANSWERED
        abandoned = ~answered
        definition = config.service_level_of(name)
        # Channels without a service level (callbacks, outbound) count none "within".
        threshold = definition.threshold_seconds if definition else -math.inf
        short = definition.short_abandon_seconds if definition else 0.0
        is_short = (outcome == ABANDONED) & (wait < short)

        weights = {
            "offered": np.ones(len(data)),
            "answered": answered.astype(float),
            "abandoned": abandoned.astype(float),
            "answered_within": (answered & (wait <= threshold)).astype(float),
            "abandoned_within": (abandoned & ~is_short & (wait <= threshold)).astype(
                float
            ),
            "abandoned_short": is_short.astype(float),
            "wait_answered_seconds": np.where(answered, wait, 0.0),
            "handle_seconds": np.where(answered, handle, 0.0),
        }
        for field, weight in weights.items():
            counts[field][index] += np.bincount(
                slot, weights=weight, minlength=n_intervals
            )
    return counts


__all__ = [
    "AVAILABLE",
    "BREAK",
    "BUSY",
    "DayResult",
    "agent_plans",
    "arrival_times",
    "day_rng",
    "expected_day_volume",
    "simulate_day",
]

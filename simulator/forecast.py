"""The month forecast: independent replications of a period, pooled by volume.

A replication simulates every open day of the period (days are independent: the
center closes overnight). Each replication gives one value of every metric for
the period, pooled by volume; the forecast is the mean over replications with a
Student-t 95% confidence interval, and the probability that the month meets an
agreement is the share of replications that meet it.

Replications come in antithetic pairs (2k, 2k+1): the second draws each
day's volume factor from ``1 - u`` where the first drew ``u`` (the rest of
their randomness is independent). A busy month in one is a quiet month in the
other, so the pair's mean varies much less than a single replication: the
day factor is the largest source of spread in the monthly service level, and
precision mode needs about half the replications it would otherwise. Each
replication on its own is still an exact draw of the month, so the chance of
meeting an agreement is still the share of replications that meet it; the
confidence interval, though, is computed from the pair means, which are the
independent observations. Counts of replications are therefore even.

Replications run in worker processes, but their random streams depend only on
the seed and the replication number, and the stopping rule of ``precision``
mode looks at replications in order, so ``jobs`` never changes the result.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import numpy as np
from scipy import stats

from cctwin import metrics
from cctwin.calendar import open_days
from cctwin.config.models import Agreement, CenterConfig
from cctwin.metrics import COUNT_FIELDS
from simulator.day import simulate_day
from simulator.engine import AVAILABLE, BUSY

MIN_REPLICATIONS = 6
"""Fewest replications in precision mode (three pairs): a CI from fewer is not
worth much."""

PRECISION_MIN_OFFERED = 1000.0
"""Precision mode only watches channels offered at least this much a month."""

CHANNEL_METRICS = (
    "offered",
    "answered",
    "abandoned",
    "service_level",
    "answer_rate",
    "abandonment",
    "asa_seconds",
    "handle_time_seconds",
)


@dataclass
class ReplicationResult:
    """Period totals of one replication.

    ``day_counts[f]`` is (days, channels); ``interval_counts[f]`` is
    (channels, intervals) summed over days; ``day_states`` (days, groups, 4)
    and ``interval_states`` (groups, 4, intervals) are agent state seconds;
    ``adherence`` (groups, 2) is adherent and scheduled seconds.
    """

    replication: int
    day_counts: dict[str, np.ndarray]
    interval_counts: dict[str, np.ndarray]
    day_states: np.ndarray
    interval_states: np.ndarray
    adherence: np.ndarray
    entered: np.ndarray
    self_served: np.ndarray


@dataclass(frozen=True)
class Scenario:
    """Multipliers applied on top of the config (1.0 = as configured)."""

    volume_scale: float = 1.0
    staffing_scale: float = 1.0


def run_replication(
    config: CenterConfig,
    days: list[dt.date],
    seed: int,
    replication: int,
    scenario: Scenario = Scenario(),
) -> ReplicationResult:
    """Simulate every day of the period once and keep the period's tallies."""
    results = [
        simulate_day(
            config,
            day,
            seed,
            replication,
            volume_scale=scenario.volume_scale,
            staffing_scale=scenario.staffing_scale,
        )
        for day in days
    ]
    return ReplicationResult(
        replication=replication,
        day_counts={
            f: np.array([r.counts[f].sum(axis=1) for r in results])
            for f in COUNT_FIELDS
        },
        interval_counts={
            f: np.sum([r.counts[f] for r in results], axis=0) for f in COUNT_FIELDS
        },
        day_states=np.array([r.state_seconds.sum(axis=2) for r in results]),
        interval_states=np.sum([r.state_seconds for r in results], axis=0),
        adherence=np.sum([r.adherence for r in results], axis=0),
        entered=np.array([r.entered.sum(axis=1) for r in results]),
        self_served=np.array([r.self_served.sum(axis=1) for r in results]),
    )


def _run_one(
    args: tuple[CenterConfig, list[dt.date], int, int, Scenario],
) -> ReplicationResult:
    return run_replication(*args)


def replications(
    config: CenterConfig,
    days: list[dt.date],
    seed: int,
    jobs: int,
    scenario: Scenario,
    limit: int,
) -> Iterator[ReplicationResult]:
    """Yield replications 0, 1, ... in order, computed ``jobs`` at a time."""
    tasks = ((config, days, seed, rep, scenario) for rep in range(limit))
    if jobs <= 1:
        yield from map(_run_one, tasks)
        return
    # fork keeps start-up cheap. Only a small window of replications is in
    # flight, so stopping early (precision reached) wastes little work.
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork"))
    pending: deque[Future[ReplicationResult]] = deque()
    try:
        for task in tasks:
            pending.append(pool.submit(_run_one, task))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class Estimate:
    """Mean over replications with a Student-t 95% CI and the raw values.

    ``values`` are in replication order, so (0, 1), (2, 3) ... are the
    antithetic pairs; the CI is the t interval of the pair means.
    """

    values: list[float | None]

    @property
    def known(self) -> np.ndarray:
        """The replications that had a value (a ratio can have no data)."""
        return np.array([v for v in self.values if v is not None], dtype=float)

    @property
    def mean(self) -> float | None:
        """Mean over replications with data, or ``None``."""
        known = self.known
        return float(known.mean()) if known.size else None

    @property
    def pair_means(self) -> np.ndarray:
        """Mean of each complete pair that has data (a lone last one is left out)."""
        means = []
        for first in range(0, len(self.values) - 1, 2):
            pair = [v for v in self.values[first : first + 2] if v is not None]
            if pair:
                means.append(sum(pair) / len(pair))
        return np.array(means, dtype=float)

    @property
    def ci95(self) -> tuple[float, float] | None:
        """95% confidence interval of the mean (``None`` with < 2 pairs)."""
        means = self.pair_means
        if means.size < 2:
            return None
        return t_interval(means)

    def half_width(self) -> float:
        """Half the CI width (``inf`` with fewer than 2 values)."""
        interval = self.ci95
        return math.inf if interval is None else (interval[1] - interval[0]) / 2.0

    def share_meeting(self, agreement: Agreement) -> float | None:
        """Share of replications meeting the agreement (the month's chance)."""
        known = self.known
        if not known.size:
            return None
        return sum(agreement.met_by(float(v)) for v in known) / known.size

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: mean, ci95, std."""
        known = self.known
        return {
            "mean": self.mean,
            "ci95": list(self.ci95) if self.ci95 else None,
            "std": float(known.std(ddof=1)) if known.size > 1 else None,
        }


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean of ``values``."""
    n = values.size
    mean = float(values.mean())
    half = float(
        stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n)
    )
    return mean - half, mean + half


def channel_counts(rep: ReplicationResult, channels: list[int]) -> dict[str, float]:
    """Period counts of a replication pooled over the given channel indices."""
    return {f: float(rep.day_counts[f][:, channels].sum()) for f in COUNT_FIELDS}


def metric_value(
    config: CenterConfig, name: str, counts: metrics.Counts, channel_names: list[str]
) -> float | None:
    """One channel metric from pooled counts.

    Service level uses the first channel's definition: channels pooled in one
    agreement must share it.
    """
    if name in ("offered", "answered", "abandoned"):
        return counts[name]
    if name == "service_level":
        definition = config.service_level_of(channel_names[0])
        return None if definition is None else metrics.service_level(counts, definition)
    function: Callable[[metrics.Counts], float | None] = getattr(metrics, name)
    return function(counts)


@dataclass
class Forecast:
    """Every estimate of a period, ready to print or write."""

    config: CenterConfig
    days: list[dt.date]
    seed: int
    reps: list[ReplicationResult]
    stop_reason: str
    warnings: list[str] = field(default_factory=list)

    @property
    def channel_names(self) -> list[str]:
        """Channels in config order."""
        return list(self.config.channels)

    @property
    def group_names(self) -> list[str]:
        """Agent groups in config order."""
        return list(self.config.agent_groups)

    def channel_estimate(self, metric: str, channels: list[str]) -> Estimate:
        """A metric pooled over ``channels``, per replication."""
        index = [self.channel_names.index(c) for c in channels]
        return Estimate(
            [
                metric_value(self.config, metric, channel_counts(rep, index), channels)
                for rep in self.reps
            ]
        )

    def group_estimate(self, metric: str, groups: list[str]) -> Estimate:
        """Occupancy or adherence pooled over agent ``groups``."""
        index = [self.group_names.index(g) for g in groups]
        values: list[float | None] = []
        for rep in self.reps:
            if metric == "occupancy":
                busy = rep.day_states[:, index, BUSY].sum()
                available = rep.day_states[:, index, AVAILABLE].sum()
                values.append(metrics.occupancy(busy, available))
            else:
                adherent, scheduled = rep.adherence[index].sum(axis=0)
                values.append(metrics.adherence(adherent, scheduled))
        return Estimate(values)

    def agreement_estimate(self, agreement_id: int) -> Estimate:
        """The estimate of one forecastable agreement of the config."""
        agreement = next(a for a in self.config.agreements if a.id == agreement_id)
        if agreement.metric in ("occupancy", "adherence"):
            return self.group_estimate(agreement.metric, agreement.groups)
        return self.channel_estimate(agreement.metric, agreement.channels)


def watched_channels(config: CenterConfig, days: list[dt.date]) -> list[str]:
    """Channels with a service level and >= 1,000 offered a month (precision mode)."""
    months = max(1, len({(d.year, d.month) for d in days}))
    watched = []
    for name, channel in config.channels.items():
        if channel.service_level is None:
            continue
        share = 1.0 - (channel.ivr.self_service_share if channel.ivr else 0.0)
        if channel.monthly_volume * share >= PRECISION_MIN_OFFERED * min(months, 1):
            watched.append(name)
    return watched


def staffing_warnings(config: CenterConfig) -> list[str]:
    """Channels with traffic that no agent group serves (they get SL 0)."""
    served = {
        skill
        for group in config.agent_groups.values()
        if any(shift.agents > 0 for shift in group.shifts)
        for skill in group.skills
    }
    return [
        f"channel {name!r} has traffic but no agent is staffed to serve it: "
        "every contact waits until it abandons (service level 0). Add it to the "
        "skills of a staffed agent group."
        for name, channel in config.channels.items()
        if channel.monthly_volume > 0 and name not in served
    ]


def run_forecast(
    config: CenterConfig,
    months: list[tuple[int, int]],
    seed: int,
    replications_count: int | None = 20,
    precision_pp: float | None = None,
    max_replications: int = 200,
    jobs: int = 1,
    scenario: Scenario = Scenario(),
    progress: Callable[[int, int], None] | None = None,
) -> Forecast:
    """Forecast a period of whole months.

    With ``precision_pp`` it keeps adding replications until the 95% CI half
    width of the period service level of every watched channel is at most that
    many percentage points, or ``max_replications`` is reached (which the
    returned ``stop_reason`` says). Otherwise it runs ``replications_count``.

    Raises:
        ValueError: for a period with no open day or a count below 1.
    """
    days = [d for year, month in months for d in open_days(config, year, month)]
    if not days:
        raise ValueError("the period has no open day: check opening_hours and holidays")
    limit = max_replications if precision_pp is not None else (replications_count or 0)
    if limit < 1:
        raise ValueError(f"replications must be >= 1, got {limit}")
    limit += limit % 2  # whole antithetic pairs

    watched = watched_channels(config, days)
    reps: list[ReplicationResult] = []
    stop_reason = (
        f"fixed number of replications ({limit}, {limit // 2} antithetic pairs)"
    )
    forecast = Forecast(
        config, days, seed, reps, stop_reason, staffing_warnings(config)
    )
    for rep in replications(config, days, seed, jobs, scenario, limit):
        reps.append(rep)
        if progress is not None:
            progress(len(reps), limit)
        if precision_pp is None or len(reps) < MIN_REPLICATIONS or len(reps) % 2:
            continue
        widths = [
            forecast.channel_estimate("service_level", [c]).half_width() * 100
            for c in watched
        ]
        if all(w <= precision_pp for w in widths):
            forecast.stop_reason = (
                f"precision reached: service-level 95% CI half-width <= "
                f"{precision_pp} pp for {', '.join(watched) or 'no channel'} "
                f"after {len(reps)} replications"
            )
            break
    else:
        if precision_pp is not None:
            forecast.stop_reason = (
                f"replication cap hit ({limit}) before reaching +/-{precision_pp} pp; "
                "raise --max-replications or accept a wider interval"
            )
            forecast.warnings.append(forecast.stop_reason)
    return forecast


def default_jobs() -> int:
    """Worker processes to use when none are asked for: the CPU count."""
    return max(1, os.cpu_count() or 1)

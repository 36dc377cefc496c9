"""A stationary single queue run on the engine, measured by batch means.

This is the bridge between the simulator and its analytic companion
(:mod:`simulator.erlang`): one inbound channel with Poisson arrivals at a
constant rate, ``agents`` identical agents on shift for the whole run, handle
times with a given mean and cv (exponential when the cv is 1, so M/M/c) and,
optionally, exponential patience (M/M/c+M, Erlang A). The engine runs once; the
first ``warmup`` customers are dropped and the rest are cut into batches of
consecutive customers in arrival order. Each batch gives one value of every
measure; the spread of those values gives a Student t confidence interval.

Measures follow DESIGN.md: service level counts answered with wait <= T over
all offered (abandons negative), ASA is the mean wait of answered contacts,
abandonment is abandoned / offered and occupancy is busy / (busy + available)
agent time.

Occupancy comes from the outcomes, not from ``Engine.state_time``: the engine's
state-time arrays are cut into intervals of one simulated day (86,400 s),
while a stationary run lasts weeks of simulated time, so they cannot be split
at batch boundaries. Since every agent is on shift and never on a break,
busy + available time over a batch is ``agents`` times the batch's length, and
busy time is the handle time of the batch's answered contacts. A handle that
straddles a batch boundary is counted whole in the batch of its contact; each
is counted once, so the long-run ratio is exact and the edge effect (a few
handle times against thousands) is part of the batch noise. The same cut by
customer excludes the warm-up from every measure alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy
from scipy import stats

from simulator.distributions import sampler
from simulator.engine import ABANDONED, ANSWERED, AgentPlan, ChannelPlan, Engine

DEFAULT_BATCHES = 30
"""Batches per run: enough degrees of freedom for a tight t quantile (2.05)."""

HORIZON_HANDLE_TIMES = 1_000.0
"""Agents stay on shift this many mean handle times after the last arrival.

Long enough for any queue of a stable center to drain; a run where some
contact is still unresolved when shifts end raises instead of guessing.
"""


@dataclass(frozen=True)
class Estimate:
    """A batch-means point estimate with its two-sided confidence interval.

    Attributes:
        mean: the point estimate (a ratio of totals over the measured
            customers, not a mean of batch ratios).
        half_width: half the width of the confidence interval, same unit.
        confidence: the interval's confidence level, e.g. 0.95.
    """

    mean: float
    half_width: float
    confidence: float

    @property
    def low(self) -> float:
        """Lower end of the confidence interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the confidence interval."""
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        """Return whether ``value`` lies inside the interval (ends included)."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class StationaryResult:
    """What one stationary run measured, after the warm-up.

    Ratios are fractions of offered contacts (0-1); times are seconds.

    Attributes:
        service_level: answered with wait <= ``threshold_s`` / offered.
        asa_seconds: mean wait of answered contacts (zero waits included).
        abandonment: abandoned / offered.
        occupancy: busy / (busy + available) agent time.
        customers: contacts measured (after the warm-up, in whole batches).
        batches: number of batches the measured contacts were cut into.
        warmup: contacts dropped at the start.
        threshold_s: the service-level threshold T, inclusive.
    """

    service_level: Estimate
    asa_seconds: Estimate
    abandonment: Estimate
    occupancy: Estimate
    customers: int
    batches: int
    warmup: int
    threshold_s: float


def run_stationary(
    arrival_rate: float,
    mean_handle_s: float,
    agents: int,
    mean_patience_s: float | None,
    customers: int,
    rng: np.random.Generator,
    threshold_s: float,
    handle_cv: float = 1.0,
    warmup: int | None = None,
    batches: int = DEFAULT_BATCHES,
    confidence: float = 0.95,
) -> StationaryResult:
    """Simulate a stationary M/G/c(+M) queue on the engine and measure it.

    Args:
        arrival_rate: contacts per second, > 0 (Poisson arrivals).
        mean_handle_s: mean handle time in seconds, > 0.
        agents: number of agents, >= 1, all on shift for the whole run.
        mean_patience_s: mean of the exponential patience in seconds, > 0, or
            None for contacts that never abandon (Erlang C).
        customers: contacts to simulate, warm-up included.
        rng: source of every random draw; arrivals, handle times and patience
            get independent child streams, so changing the patience leaves the
            arrival and handle sequences as they were.
        threshold_s: service-level threshold T in seconds, >= 0 (wait <= T).
        handle_cv: coefficient of variation of the handle time: 1 draws
            exponential handles (M/M/c), any other value lognormal ones with
            that cv (0 means constant).
        warmup: contacts dropped at the start, while the empty center fills;
            None drops a tenth of ``customers``.
        batches: batches of consecutive measured contacts, >= 2.
        confidence: level of the Student t intervals, in (0, 1).

    Returns:
        The four measures with their confidence intervals.

    Raises:
        ValueError: naming the argument, for a value outside the ranges above,
            too few measured contacts (fewer than 10 per batch), or a queue
            without patience whose load is not below ``agents`` (unstable).
        RuntimeError: if some measured contact was still unresolved when the
            agents' shifts ended, i.e. the queue did not drain within
            ``HORIZON_HANDLE_TIMES`` mean handle times after the last arrival.
    """
    if not arrival_rate > 0 or math.isinf(arrival_rate):
        raise ValueError(f"arrival_rate must be finite and > 0, got {arrival_rate!r}")
    if not mean_handle_s > 0 or math.isinf(mean_handle_s):
        raise ValueError(f"mean_handle_s must be finite and > 0, got {mean_handle_s!r}")
    if agents < 1:
        raise ValueError(f"agents must be >= 1, got {agents!r}")
    if mean_patience_s is not None and not mean_patience_s > 0:
        raise ValueError(
            f"mean_patience_s must be > 0 or None, got {mean_patience_s!r}"
        )
    load = arrival_rate * mean_handle_s
    if mean_patience_s is None and load >= agents:
        # Without abandonment the queue grows without bound: nothing to measure.
        raise ValueError(
            f"offered load {load:g} Erlangs (arrival_rate * mean_handle_s) must be "
            f"below agents={agents} when mean_patience_s is None"
        )
    if not threshold_s >= 0:
        raise ValueError(f"threshold_s must be >= 0, got {threshold_s!r}")
    if not handle_cv >= 0:
        raise ValueError(f"handle_cv must be >= 0, got {handle_cv!r}")
    if batches < 2:
        raise ValueError(f"batches must be >= 2, got {batches!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if warmup is None:
        warmup = customers // 10
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup!r}")
    batch_size = (customers - warmup) // batches
    if batch_size < 10:
        raise ValueError(
            f"customers={customers!r} minus warmup={warmup!r} leaves fewer than "
            f"10 contacts in each of {batches} batches; simulate more customers"
        )

    arrival_rng, handle_rng, patience_rng = rng.spawn(3)
    # One arrival more than is simulated: it closes the last batch's time span.
    arrivals = np.cumsum(arrival_rng.exponential(1.0 / arrival_rate, customers + 1))
    enqueue_times = arrivals[:customers]
    handle_distribution = "exponential" if handle_cv == 1.0 else "lognormal"
    channel = ChannelPlan(
        name="stationary",
        queue="stationary",
        kind="inbound",
        enqueue_times=enqueue_times,
        arrival_times=enqueue_times,
        handle=sampler(handle_distribution, mean_handle_s, handle_cv, handle_rng),
        patience=(
            None
            if mean_patience_s is None
            else sampler("exponential", mean_patience_s, 1.0, patience_rng)
        ),
    )
    end_s = float(enqueue_times[-1]) + HORIZON_HANDLE_TIMES * mean_handle_s
    plans = [
        AgentPlan(agent_id=f"agent-{i}", group=0, skills=(0,), start_s=0.0, end_s=end_s)
        for i in range(agents)
    ]
    # One interval for the whole run keeps the engine's state-time arrays tiny;
    # they are not used here (see the module docstring).
    engine = Engine(simpy.Environment(), [channel], plans, ["agents"], end_s)
    engine.run()

    # Outcomes are recorded when a contact is answered or abandons; arrival
    # times are distinct, so sorting by them restores arrival order.
    records = np.array(engine.outcomes[0], dtype=float)
    if records.shape[0] != customers:
        raise RuntimeError(
            f"the engine recorded {records.shape[0]} outcomes for {customers} "
            "customers; every contact of a stationary run should have one"
        )
    records = records[np.argsort(records[:, 0], kind="stable")]
    measured = slice(warmup, warmup + batches * batch_size)
    enqueued = records[measured, 0]
    wait = records[measured, 1]
    outcome = records[measured, 2]
    handle = records[measured, 3]
    if float(np.max(enqueued + wait)) >= end_s:
        raise RuntimeError(
            "some measured contact was still waiting when the shifts ended at "
            f"{end_s:g} s: the queue does not drain (load {load:g} Erlangs on "
            f"{agents} agents)"
        )

    answered = outcome == ANSWERED
    shape = (batches, batch_size)
    offered_b = np.full(batches, float(batch_size))
    answered_b = answered.reshape(shape).sum(axis=1).astype(float)
    in_time_b = (answered & (wait <= threshold_s)).reshape(shape).sum(axis=1)
    abandoned_b = (outcome == ABANDONED).reshape(shape).sum(axis=1)
    wait_b = np.where(answered, wait, 0.0).reshape(shape).sum(axis=1)
    busy_b = np.where(answered, handle, 0.0).reshape(shape).sum(axis=1)
    # Batch b spans from its first arrival to the next batch's first arrival.
    starts = warmup + batch_size * np.arange(batches + 1)
    agent_time_b = agents * np.diff(arrivals[starts])

    return StationaryResult(
        service_level=_ratio_estimate(in_time_b, offered_b, confidence),
        asa_seconds=_ratio_estimate(wait_b, answered_b, confidence),
        abandonment=_ratio_estimate(abandoned_b, offered_b, confidence),
        occupancy=_ratio_estimate(busy_b, agent_time_b, confidence),
        customers=batches * batch_size,
        batches=batches,
        warmup=warmup,
        threshold_s=threshold_s,
    )


def _ratio_estimate(
    numerators: np.ndarray, denominators: np.ndarray, confidence: float
) -> Estimate:
    """Return the batch-means estimate of ``sum(numerators) / sum(denominators)``.

    A ratio of totals, with the delta-method (ratio estimator) variance over
    the batches: the residuals ``x_b - R y_b`` carry the batch-to-batch noise of
    both numerator and denominator. With equal denominators (service level,
    abandonment) this is the plain batch-means interval; for ASA and occupancy
    it avoids the small bias of averaging batch ratios.
    """
    batches = numerators.size
    total = float(denominators.sum())
    if total == 0.0:
        return Estimate(math.nan, math.nan, confidence)
    ratio = float(numerators.sum()) / total
    residuals = numerators - ratio * denominators
    std_error = float(np.std(residuals, ddof=1)) / (
        math.sqrt(batches) * (total / batches)
    )
    quantile = float(stats.t.ppf(0.5 + confidence / 2.0, batches - 1))
    return Estimate(ratio, quantile * std_error, confidence)

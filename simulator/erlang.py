"""Exact stationary results for the M/M/n queue (Erlang C) and M/M/n+M (Erlang A).

This is the simulator's analytic companion: for Poisson arrivals, exponential
handle times, ``n`` identical agents and (for Erlang A) exponential patience, it
gives the long-run service level, ASA, abandonment and occupancy that a
simulation of the same center must converge to.

Notation: ``lam`` arrival rate (1/s), ``mu = 1/mean_handle_s``, ``theta =
1/mean_patience_s``, ``n`` agents, offered load ``a = lam/mu`` Erlangs.
Definitions follow DESIGN.md: the threshold is inclusive (wait <= T), SL counts
abandons against (Cisco "abandons negative") and totals are per offered contact.

Method
------
Both models are birth-death chains on the number ``k`` of contacts present,
with birth rate ``lam`` and death rate ``min(k, n) mu + max(k - n, 0) theta``.
Relative to state ``n`` the idle-side states weigh ``n!/(k! a^(n-k))`` and the
queue states ``n + j`` weigh ``t_j = prod_{i=1..j} lam / (n mu + i theta)``.
Every sum is taken in log space with ``logsumexp`` (no factorial or power is
ever formed), so 2,000 agents or a load above the agent count are fine.

The queue tail ``sum_j t_j`` is summed term by term, walking out from its
largest term in both directions and stopping where terms fall below
``exp(-40)`` (about 4e-18) of it; that is the truncation tolerance.

Waits (by PASTA an arrival sees the stationary state). An arrival that finds
``j`` contacts queued reaches an agent after ``V_j``, a sum of independent
exponentials with rates ``n mu + i theta`` (``i = j, ..., 0``): the contacts
ahead leave by service or abandonment. It is answered iff its own patience
outlasts ``V_j``, so its wait is ``min(V_j, patience)``. From the Laplace
transform of ``V_j`` at ``s = theta`` (the product telescopes):

* ``P(answered | j) = n mu / (n mu + (j + 1) theta)``;
* ``E[V_j; answered | j] = P(answered | j) * sum_{i=1..j+1} 1/(n mu + i theta)``,

which give abandonment and ASA as weighted tail sums. Mean wait of all
contacts is ``P(abandon) / theta`` (Little's law on the queue).

For the distribution at a threshold ``T`` the mixture over ``j`` has a closed
form (partial fractions of the hypoexponential with equally spaced rates, then
the sum over ``j`` becomes an exponential series): with ``x = n mu / theta``,
``y = lam / theta`` and ``P`` the regularized lower incomplete gamma function,

    P(V > T) = P(wait) * P(x, y e^(-theta T)) / P(x, y),
    P(answered, W > T) = P(wait) * (x / y) * P(x + 1, y e^(-theta T)) / P(x, y).

``P(x, z)`` is evaluated as ``z^x e^-z / Gamma(x + 1)`` times its Kummer series
``sum_k z^k / ((x+1)...(x+k))``; that series is the same kind of queue-tail
sum as above (with arrival rate ``lam e^(-theta T)``), so the prefactor ratios
reduce to ``exp(-n mu T + y (1 - e^(-theta T)))`` and no incomplete gamma value
is ever formed that could underflow. Abandoned within ``T`` follows as
``P(abandon) - (e^(-theta T) P(V > T) - P(answered, W > T))``.

Erlang C is the ``theta -> 0`` limit: ``P(wait)`` is the Erlang C formula,
``P(W > T) = P(wait) e^(-(n mu - lam) T)`` and ``ASA = P(wait)/(n mu - lam)``.

The work of an Erlang A call grows like ``n + sqrt(lam * mean_patience_s)``;
for practically infinite patience pass ``math.inf`` (exact Erlang C).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, expit, gammaln, logsumexp

_LOG_TAIL_CUTOFF = -40.0
"""Queue-tail terms below exp(-40) ~ 4e-18 of the largest one are not summed."""

_NEGLIGIBLE = 1e-300
"""A first tail term below this is dropped with everything after it."""

_FIRST_CHUNK = 256
"""Terms generated in the first block of a tail walk; later blocks double..."""

_MAX_CHUNK = 1 << 20
"""...up to this many, which bounds the memory of a walk."""

_EXACT_PEAK = 2_000_000
"""Longest queue to the largest tail term that is summed term by term."""


@dataclass(frozen=True)
class QueueResult:
    """Stationary performance of one queue with a given number of agents.

    Probabilities are fractions of offered contacts (0-1); times are seconds.

    Attributes:
        offered_load: Erlangs, ``arrival_rate * mean_handle_s``.
        agents: number of agents ``n``.
        stable: False when no steady state with service exists: Erlang C with
            load >= agents, or zero agents. Erlang A with agents is always
            stable.
        prob_wait: P(an arrival finds every agent busy and has to wait).
        service_level: P(answered AND wait <= T) ("abandons negative").
        service_level_abandons_ignored: answered within T / (offered -
            abandoned within T).
        service_level_abandons_positive: (answered within T + abandoned
            within T) / offered.
        service_level_short_excluded: answered within T / (offered -
            abandoned with wait < S).
        asa_seconds: mean wait of answered contacts (zero waits included);
            ``math.inf`` when no contact is ever answered in finite time.
        mean_wait_seconds: mean wait of all contacts, answered and abandoned.
        abandonment: P(abandon); 0 for Erlang C.
        answer_rate: ``1 - abandonment``.
        occupancy: carried load / agents, the busy fraction of agents; 1 for
            an unstable Erlang C queue, 0 for zero agents in Erlang A (nothing
            is carried).
    """

    offered_load: float
    agents: int
    stable: bool
    prob_wait: float
    service_level: float
    service_level_abandons_ignored: float
    service_level_abandons_positive: float
    service_level_short_excluded: float
    asa_seconds: float
    mean_wait_seconds: float
    abandonment: float
    answer_rate: float
    occupancy: float


def erlang_c(
    arrival_rate: float,
    mean_handle_s: float,
    agents: int,
    threshold_s: float,
    short_abandon_s: float = 0.0,
) -> QueueResult:
    """Return the stationary M/M/n (Erlang C) performance: no one abandons.

    Args:
        arrival_rate: contacts per second offered to the queue, >= 0.
        mean_handle_s: mean handle time in seconds, > 0.
        agents: number of agents, an integer >= 0.
        threshold_s: service-level threshold T in seconds, >= 0 (wait <= T).
        short_abandon_s: short-abandon bound S in seconds, >= 0; it changes
            nothing here (nobody abandons) but is checked like in Erlang A.

    With load >= agents (including zero agents) the queue grows without
    bound: the result has ``stable=False``, service levels 0, ``prob_wait``
    1, infinite ASA and mean wait, and occupancy 1.

    Raises:
        ValueError: naming the argument, for a negative, NaN or infinite value,
            a non-positive handle time or a non-integer agent count.
    """
    _check_nonnegative("arrival_rate", arrival_rate)
    _check_positive("mean_handle_s", mean_handle_s)
    agents = _check_agents(agents)
    _check_nonnegative("threshold_s", threshold_s)
    _check_nonnegative("short_abandon_s", short_abandon_s)

    load = arrival_rate * mean_handle_s
    if agents == 0 or load >= agents:
        return _unstable_erlang_c(load, agents)
    if arrival_rate == 0.0:
        return _empty_queue(agents)

    # P(wait) = 1 / (1 + (sum_{k<n} pi_k / pi_n) * (1 - a/n)): pi_n * n/(n-a)
    # is the whole queue side, a geometric series.
    log_queue_odds = -math.log1p(-load / agents) - _log_idle_odds(agents, load)
    prob_wait = float(expit(log_queue_odds))

    # The wait of a waiting contact is exponential with rate n mu - lam.
    drain_rate = (agents - load) / mean_handle_s
    service_level = 1.0 - prob_wait * math.exp(-drain_rate * threshold_s)
    asa = prob_wait / drain_rate
    return QueueResult(
        offered_load=load,
        agents=agents,
        stable=True,
        prob_wait=prob_wait,
        service_level=service_level,
        service_level_abandons_ignored=service_level,
        service_level_abandons_positive=service_level,
        service_level_short_excluded=service_level,
        asa_seconds=asa,
        mean_wait_seconds=asa,
        abandonment=0.0,
        answer_rate=1.0,
        occupancy=load / agents,
    )


def erlang_a(
    arrival_rate: float,
    mean_handle_s: float,
    agents: int,
    mean_patience_s: float,
    threshold_s: float,
    short_abandon_s: float = 0.0,
) -> QueueResult:
    """Return the stationary M/M/n+M (Erlang A, Palm) performance.

    Waiting contacts abandon after an exponential patience with mean
    ``mean_patience_s``; the method is in the module docstring.
    ``mean_patience_s=math.inf`` returns exactly :func:`erlang_c`.

    Args:
        arrival_rate: contacts per second offered to the queue, >= 0.
        mean_handle_s: mean handle time in seconds, > 0.
        agents: number of agents, an integer >= 0.
        mean_patience_s: mean patience in seconds, > 0 (``math.inf`` allowed).
        threshold_s: service-level threshold T in seconds, >= 0 (wait <= T).
        short_abandon_s: abandons with a wait below S seconds are left out of
            ``service_level_short_excluded``; >= 0.

    With zero agents every contact abandons: ``stable=False``, abandonment 1,
    service level 0, infinite ASA, mean wait equal to the mean patience.

    NOTE: the within-threshold shares are the answer (or abandon) rate minus
    the share that is late, so their absolute error is that of a difference
    of two numbers near the answer rate: about 1e-15 in ordinary queues, but
    up to about 1e-8 in a deep overload whose patience is thousands of
    handle times (then the true service level is itself below 1e-8).

    Raises:
        ValueError: naming the argument, for a negative, NaN or (except the
            patience) infinite value, a non-positive handle time or patience,
            or a non-integer agent count.
    """
    _check_nonnegative("arrival_rate", arrival_rate)
    _check_positive("mean_handle_s", mean_handle_s)
    agents = _check_agents(agents)
    _check_positive("mean_patience_s", mean_patience_s, allow_inf=True)
    _check_nonnegative("threshold_s", threshold_s)
    _check_nonnegative("short_abandon_s", short_abandon_s)

    if math.isinf(mean_patience_s):
        return erlang_c(
            arrival_rate, mean_handle_s, agents, threshold_s, short_abandon_s
        )
    load = arrival_rate * mean_handle_s
    if agents == 0:
        return _everyone_abandons(load, mean_patience_s, threshold_s)
    if arrival_rate == 0.0:
        return _empty_queue(agents)

    lam = arrival_rate
    capacity = agents / mean_handle_s  # n mu: completions per second, all busy
    theta = 1.0 / mean_patience_s

    # Stationary split between "an agent is free" and "must queue", then the
    # fate of queued contacts, both as weighted sums over the queue length j.
    queue_j, log_rel, log_peak = _tail_window(lam, capacity, theta)
    weights = np.exp(log_rel)
    log_tail = log_peak + math.log(float(weights.sum()))
    prob_wait = float(expit(log_tail - _log_idle_odds(agents, load)))

    answer_given_j = capacity / (capacity + (queue_j + 1.0) * theta)
    weight_total = float(weights.sum())
    abandon_share = float(np.dot(weights, 1.0 - answer_given_j)) / weight_total
    reach_agent_s = _cumulative_reach_time(queue_j, capacity, theta)
    answered_wait_share = (
        float(np.dot(weights, answer_given_j * reach_agent_s)) / weight_total
    )

    abandonment = prob_wait * abandon_share
    answer_rate = 1.0 - abandonment
    asa = prob_wait * answered_wait_share / answer_rate
    mean_wait = abandonment * mean_patience_s

    def past(threshold: float) -> tuple[float, float]:
        """Return P(answered, W > threshold) and P(abandoned, W > threshold)."""
        if prob_wait == 0.0:
            return 0.0, 0.0
        # exp(-n mu T + y (1 - e^-theta T)) is P(x, z)/P(x, y) without the
        # Kummer series factors; see the module docstring.
        log_prefactor = -capacity * threshold - lam / theta * math.expm1(
            -theta * threshold
        )
        late_rate = lam * math.exp(-theta * threshold)
        log_still_waiting = (
            -theta * threshold
            + log_prefactor
            + _log_tail_sum(late_rate, capacity, theta)
            - log_tail
        )
        log_answered_late = (
            math.log(capacity / (capacity + theta))
            - theta * threshold
            + log_prefactor
            + _log_tail_sum(late_rate, capacity + theta, theta)
            - log_tail
        )
        answered_late = prob_wait * math.exp(log_answered_late)
        still_waiting = prob_wait * math.exp(log_still_waiting)
        return answered_late, max(0.0, still_waiting - answered_late)

    answered_late, abandoned_late = past(threshold_s)
    answered_in_time = _clamp(answer_rate - answered_late, 0.0, answer_rate)
    if threshold_s > 0.0:
        abandoned_in_time = _clamp(abandonment - abandoned_late, 0.0, abandonment)
    else:
        abandoned_in_time = 0.0  # exact: rounding would leave a 1e-17 residue
    if short_abandon_s > 0.0:
        short_abandoned = _clamp(abandonment - past(short_abandon_s)[1], 0.0, 1.0)
    else:
        short_abandoned = 0.0

    return QueueResult(
        offered_load=load,
        agents=agents,
        stable=True,
        prob_wait=prob_wait,
        service_level=answered_in_time,
        service_level_abandons_ignored=_share(answered_in_time, abandoned_in_time),
        service_level_abandons_positive=min(1.0, answered_in_time + abandoned_in_time),
        service_level_short_excluded=_share(answered_in_time, short_abandoned),
        asa_seconds=asa,
        mean_wait_seconds=mean_wait,
        abandonment=abandonment,
        answer_rate=answer_rate,
        occupancy=min(1.0, load * answer_rate / agents),
    )


def agents_for_target(
    arrival_rate: float,
    mean_handle_s: float,
    threshold_s: float,
    target_service_level: float,
    mean_patience_s: float | None = None,
    max_asa_s: float | None = None,
    max_abandonment: float | None = None,
    max_agents: int = 100_000,
) -> int:
    """Return the fewest agents that meet every given target.

    The queue is Erlang C when ``mean_patience_s`` is None, Erlang A
    otherwise. The targets are ``service_level >= target_service_level``
    (abandons negative, threshold ``threshold_s``), and when given
    ``asa_seconds <= max_asa_s`` and ``abandonment <= max_abandonment``; the
    queue must also be stable. Zero traffic needs 0 agents.

    The search starts at the offered load, steps up by doubling strides and
    then bisects, so it costs a few dozen evaluations even for thousands of
    agents. It relies on every measure improving as agents are added, which
    holds for both models.

    Raises:
        ValueError: naming the argument and the value, for a negative or NaN
            input, a target outside [0, 1], a negative ``max_agents``, or
            when ``max_agents`` agents are not enough.
    """
    _check_nonnegative("arrival_rate", arrival_rate)
    _check_positive("mean_handle_s", mean_handle_s)
    _check_nonnegative("threshold_s", threshold_s)
    _check_fraction("target_service_level", target_service_level)
    if mean_patience_s is not None:
        _check_positive("mean_patience_s", mean_patience_s, allow_inf=True)
    if max_asa_s is not None:
        _check_nonnegative("max_asa_s", max_asa_s, allow_inf=True)
    if max_abandonment is not None:
        _check_fraction("max_abandonment", max_abandonment)
    max_agents = _check_agents(max_agents, name="max_agents")

    if arrival_rate == 0.0:
        return 0

    def meets(agents: int) -> bool:
        if mean_patience_s is None:
            result = erlang_c(arrival_rate, mean_handle_s, agents, threshold_s)
        else:
            result = erlang_a(
                arrival_rate, mean_handle_s, agents, mean_patience_s, threshold_s
            )
        return (
            result.stable
            and result.service_level >= target_service_level
            and (max_asa_s is None or result.asa_seconds <= max_asa_s)
            and (max_abandonment is None or result.abandonment <= max_abandonment)
        )

    # `failing` never meets the targets: fewer agents than an Erlang C load is
    # unstable, and zero agents are never stable. Erlang A can need fewer
    # agents than the load, so its first guess may bisect downwards.
    load = arrival_rate * mean_handle_s
    if mean_patience_s is None:
        failing = math.floor(load)
        candidate = failing + 1
    else:
        failing = 0
        candidate = max(1, math.ceil(load))
    candidate = min(candidate, max_agents)
    stride = max(1, math.ceil(math.sqrt(load)))
    not_enough = ValueError(
        f"max_agents={max_agents} is not enough: a load of {load:g} Erlangs needs "
        f"more agents to meet service level >= {target_service_level} within "
        f"{threshold_s} s, max_asa_s={max_asa_s}, max_abandonment="
        f"{max_abandonment}; raise max_agents"
    )
    if candidate <= failing:
        raise not_enough

    while not meets(candidate):
        if candidate >= max_agents:
            raise not_enough
        failing = candidate
        candidate = min(max_agents, candidate + stride)
        stride *= 2

    while candidate - failing > 1:
        middle = (failing + candidate) // 2
        if meets(middle):
            candidate = middle
        else:
            failing = middle
    return candidate


def _log_idle_odds(agents: int, load: float) -> float:
    """Return log(sum_{k<n} pi_k / pi_n), i.e. log(1/ErlangB(n, a) - 1).

    ``pi_k / pi_n = prod_{i=k+1..n} (i/a)``: a reversed cumulative sum of
    ``log(i/a)`` gives every exponent without forming a factorial or a power.
    """
    steps = np.log(np.arange(1, agents + 1, dtype=float)) - math.log(load)
    exponents = np.cumsum(steps[::-1])[::-1]
    return float(logsumexp(exponents))


def _tail_window(
    rate: float, capacity: float, step: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Return the queue lengths, log terms and log peak of a queue-tail sum.

    The sum is ``sum_{j>=0} t_j`` with ``t_j = prod_{i=1..j} rate/(capacity +
    i step)``. Returned: the lengths ``j`` kept (consecutive), ``log(t_j /
    t_peak)`` for each, and ``log t_peak``. Terms below ``exp(-40)`` of the
    peak are dropped; log t_j is concave in j, so they lie at both ends.
    """
    if rate <= _NEGLIGIBLE * (capacity + step):
        # Every term after t_0 = 1 is below 1e-300 (a tiny arrival rate, or a
        # huge threshold, see erlang_a); dividing by such a rate would overflow.
        return np.zeros(1), np.zeros(1), 0.0

    # t_j grows while rate >= capacity + j step: the peak is where it stops.
    peak = max(0, math.floor((rate - capacity) / step))
    right = _walk_right(rate, capacity, step, peak)
    left, log_first = _walk_left(rate, capacity, step, peak)

    first = peak - left.size
    queue_j = np.arange(first, peak + right.size + 1, dtype=float)
    log_rel = np.concatenate((left[::-1], [0.0], right))
    if log_first is not None:
        log_peak = -log_first  # t_0 = 1
    else:
        log_peak = peak * math.log(rate / step) - float(
            gammaln(capacity / step + peak + 1) - gammaln(capacity / step + 1)
        )
    return queue_j, log_rel, log_peak


def _walk_right(rate: float, capacity: float, step: float, peak: int) -> np.ndarray:
    """Return log(t_j / t_peak) for j = peak+1, peak+2, ... down to the cutoff."""
    blocks = []
    level = 0.0
    start = peak + 1
    size = _FIRST_CHUNK
    while True:
        j = start + np.arange(size, dtype=float)
        # log(t_j / t_{j-1}) = -log(1 + (capacity + j step - rate) / rate) < 0
        block = level - np.cumsum(np.log1p((capacity + j * step - rate) / rate))
        blocks.append(block)
        if block[-1] < _LOG_TAIL_CUTOFF:
            break
        level = float(block[-1])
        start += size
        size = min(2 * size, _MAX_CHUNK)
    logs = np.concatenate(blocks)
    return logs[logs >= _LOG_TAIL_CUTOFF]


def _walk_left(
    rate: float, capacity: float, step: float, peak: int
) -> tuple[np.ndarray, float | None]:
    """Return log(t_j / t_peak) for j = peak-1, peak-2, ... down to the cutoff.

    Also returns log(t_0 / t_peak) when ``peak`` is at most ``_EXACT_PEAK``
    (None otherwise): the walk then goes on to j = 0 without keeping the terms.
    Adding the small log ratios one by one keeps log t_peak accurate to a few
    ulps of its own size; the closed form through log-gamma, the fallback,
    loses the digits of ``peak * log(rate / step)``.
    """
    kept = []
    level = 0.0
    top = peak
    size = _FIRST_CHUNK
    while top >= 1:
        j = top - np.arange(min(size, top), dtype=float)
        # log(t_{j-1} / t_j) = log(1 + (capacity + j step - rate) / rate) <= 0
        block = level + np.cumsum(np.log1p((capacity + j * step - rate) / rate))
        if block[0] >= _LOG_TAIL_CUTOFF:
            kept.append(block[block >= _LOG_TAIL_CUTOFF])
        elif peak > _EXACT_PEAK:
            break
        level = float(block[-1])
        top -= j.size
        size = min(2 * size, _MAX_CHUNK)
    logs = np.concatenate(kept) if kept else np.empty(0)
    return logs, (level if top == 0 else None)


def _log_tail_sum(rate: float, capacity: float, step: float) -> float:
    """Return ``log sum_{j>=0} prod_{i=1..j} rate/(capacity + i step)``."""
    _, log_rel, log_peak = _tail_window(rate, capacity, step)
    return log_peak + float(logsumexp(log_rel))


def _cumulative_reach_time(
    queue_j: np.ndarray, capacity: float, step: float
) -> np.ndarray:
    """Return ``sum_{i=1..j+1} 1/(capacity + i step)`` for each consecutive j.

    That is the mean time to reach an agent, given j ahead, of a contact that
    is answered, divided by P(answered | j).
    """
    first = queue_j[0]
    # Contacts below the window still add their terms to every j in it; the
    # digamma difference sums them in closed form.
    offset = 0.0
    if first > 0:
        x = capacity / step
        offset = float(digamma(x + first + 1) - digamma(x + 1)) / step
    return offset + np.cumsum(1.0 / (capacity + (queue_j + 1.0) * step))


def _unstable_erlang_c(load: float, agents: int) -> QueueResult:
    """Return the Erlang C result of a queue that grows without bound."""
    return QueueResult(
        offered_load=load,
        agents=agents,
        stable=False,
        prob_wait=1.0,
        service_level=0.0,
        service_level_abandons_ignored=0.0,
        service_level_abandons_positive=0.0,
        service_level_short_excluded=0.0,
        asa_seconds=math.inf,
        mean_wait_seconds=math.inf,
        abandonment=0.0,
        answer_rate=1.0,
        occupancy=1.0,
    )


def _empty_queue(agents: int) -> QueueResult:
    """Return the result of a staffed queue with no traffic: nobody ever waits."""
    return QueueResult(
        offered_load=0.0,
        agents=agents,
        stable=True,
        prob_wait=0.0,
        service_level=1.0,
        service_level_abandons_ignored=1.0,
        service_level_abandons_positive=1.0,
        service_level_short_excluded=1.0,
        asa_seconds=0.0,
        mean_wait_seconds=0.0,
        abandonment=0.0,
        answer_rate=1.0,
        occupancy=0.0,
    )


def _everyone_abandons(
    load: float, mean_patience_s: float, threshold_s: float
) -> QueueResult:
    """Return the Erlang A result with zero agents: each contact waits, then leaves."""
    return QueueResult(
        offered_load=load,
        agents=0,
        stable=False,
        prob_wait=1.0,
        service_level=0.0,
        service_level_abandons_ignored=0.0,
        service_level_abandons_positive=-math.expm1(-threshold_s / mean_patience_s),
        service_level_short_excluded=0.0,
        asa_seconds=math.inf,
        mean_wait_seconds=mean_patience_s,
        abandonment=1.0,
        answer_rate=0.0,
        occupancy=0.0,
    )


def _share(answered: float, excluded: float) -> float:
    """Return ``answered / (1 - excluded)``, 0 when nothing is left to count."""
    remaining = 1.0 - excluded
    if remaining <= 0.0:
        return 0.0
    return min(1.0, answered / remaining)


def _clamp(value: float, low: float, high: float) -> float:
    """Return value limited to [low, high]; rounding can step just outside."""
    return min(high, max(low, value))


def _check_real(name: str, value: object) -> float:
    """Return value as a float, or raise if it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _check_nonnegative(name: str, value: object, allow_inf: bool = False) -> None:
    """Raise unless value is a number >= 0 (finite unless allow_inf)."""
    number = _check_real(name, value)
    if math.isnan(number) or number < 0 or (math.isinf(number) and not allow_inf):
        allowed = "a number >= 0" if allow_inf else "a finite number >= 0"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _check_positive(name: str, value: object, allow_inf: bool = False) -> None:
    """Raise unless value is a number > 0 (finite unless allow_inf)."""
    number = _check_real(name, value)
    if math.isnan(number) or number <= 0 or (math.isinf(number) and not allow_inf):
        allowed = "a number > 0 (math.inf allowed)" if allow_inf else "finite and > 0"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _check_fraction(name: str, value: object) -> None:
    """Raise unless value is a number in [0, 1]."""
    number = _check_real(name, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")


def _check_agents(value: object, name: str = "agents") -> int:
    """Return value as an int, or raise unless it is an integer >= 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or int(value) < 0
    ):
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)

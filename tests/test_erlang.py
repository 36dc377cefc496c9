"""Erlang C and Erlang A against independent references and their properties.

The references here never reuse the module's method: Erlang C is the direct
sum of the textbook formula in exact integer arithmetic, and Erlang A is a
truncated birth-death chain solved with numpy, whose waits come from the
tagged contact's own little Markov chain (matrix exponential for "by time T",
fundamental matrix for means).
"""

from __future__ import annotations

import itertools
import math
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from simulator.erlang import QueueResult, agents_for_target, erlang_a, erlang_c

PROBABILITY_FIELDS = (
    "prob_wait",
    "service_level",
    "service_level_abandons_ignored",
    "service_level_abandons_positive",
    "service_level_short_excluded",
    "abandonment",
    "answer_rate",
    "occupancy",
)


def exact_erlang_c(load: int, agents: int) -> Fraction:
    """P(wait) from the textbook sum, exactly, for an integer load.

    C = (a^n/n! * n/(n-a)) / (sum_{k<n} a^k/k! + a^n/n! * n/(n-a)); both sums
    are scaled by n! so that every term is an integer.
    """
    assert 0 <= load < agents
    idle = 0  # sum_{k<n} a^k * n!/k!, by Horner from the top term down
    falling = 1  # n!/k!, for k going down from n
    for k in range(agents - 1, -1, -1):
        falling *= k + 1
        idle = idle * load + falling
    queue = load**agents * agents
    return Fraction(queue, queue + idle * (agents - load))


def ctmc_reference(
    arrival_rate: float,
    mean_handle_s: float,
    agents: int,
    mean_patience_s: float,
    threshold_s: float,
    short_abandon_s: float,
) -> dict[str, float]:
    """Erlang A measures from a truncated chain and the tagged contact's chain."""
    mu = 1.0 / mean_handle_s
    theta = 1.0 / mean_patience_s
    crowd = arrival_rate / theta
    # Queue lengths far beyond the mode (about 14 standard deviations) carry
    # no probability that a double could show.
    room = int(max(0.0, (arrival_rate - agents * mu) / theta) + 14 * crowd**0.5 + 60)
    size = agents + room + 1

    generator = np.zeros((size, size))
    for k in range(size):
        if k + 1 < size:
            generator[k, k + 1] = arrival_rate
        if k > 0:
            generator[k, k - 1] = min(k, agents) * mu + max(k - agents, 0) * theta
        generator[k, k] = -generator[k].sum()
    system = generator.T.copy()
    system[-1, :] = 1.0  # replace one balance equation by "probabilities sum to 1"
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = np.linalg.solve(system, rhs)

    # Tagged contact: transient states "j contacts ahead" (0..room), then the
    # absorbing states "reached an agent" and "abandoned".
    served, left = room + 1, room + 2
    tagged = np.zeros((room + 3, room + 3))
    for ahead in range(room + 1):
        if ahead > 0:
            tagged[ahead, ahead - 1] = agents * mu + ahead * theta
        else:
            tagged[ahead, served] = agents * mu
        tagged[ahead, left] = theta
        tagged[ahead, ahead] = -tagged[ahead].sum()
    by_threshold = expm(tagged * threshold_s)
    by_short = expm(tagged * short_abandon_s)
    transient = -tagged[: room + 1, : room + 1]
    exits = tagged[: room + 1, room + 1 :]
    absorbed = np.linalg.solve(transient, exits)
    time_weighted = np.linalg.solve(transient, absorbed)  # E[time; exit]
    time_to_exit = np.linalg.solve(transient, np.ones(room + 1))

    # An arrival finding agents + j present has j ahead; the last state is
    # blocked in the truncated chain, but carries no weight at this size.
    waiting = pi[agents : agents + room]
    abandonment = waiting @ absorbed[:room, 1]
    answered_in_time = pi[:agents].sum() + waiting @ by_threshold[:room, served]
    abandoned_in_time = waiting @ by_threshold[:room, left]
    short_abandoned = waiting @ by_short[:room, left]
    return {
        "prob_wait": float(waiting.sum()),
        "abandonment": float(abandonment),
        "service_level": float(answered_in_time),
        "service_level_abandons_ignored": float(
            answered_in_time / (1 - abandoned_in_time)
        ),
        "service_level_abandons_positive": float(answered_in_time + abandoned_in_time),
        "service_level_short_excluded": float(answered_in_time / (1 - short_abandoned)),
        "asa_seconds": float(waiting @ time_weighted[:room, 0] / (1 - abandonment)),
        "mean_wait_seconds": float(waiting @ time_to_exit[:room]),
        "occupancy": float(arrival_rate * mean_handle_s * (1 - abandonment) / agents),
    }


def assert_probabilities_valid(result: QueueResult) -> None:
    for name in PROBABILITY_FIELDS:
        value = getattr(result, name)
        assert 0.0 <= value <= 1.0, (name, value, result)
    assert result.asa_seconds >= 0.0 and not math.isnan(result.asa_seconds)
    assert result.mean_wait_seconds >= 0.0 and not math.isnan(result.mean_wait_seconds)


# --- Erlang C -------------------------------------------------------------


def test_erlang_c_two_erlangs_on_three_agents_wait_with_probability_four_ninths() -> (
    None
):
    # The classic textbook M/M/3 case at rho = 2/3: C = 4/9 = 0.4444, and the
    # wait of a waiting contact is exponential with rate (n - a) mu = 1/h.
    handle_s = 60.0
    result = erlang_c(2.0 / handle_s, handle_s, 3, threshold_s=30.0)

    assert result.stable
    assert result.prob_wait == pytest.approx(4 / 9, rel=1e-13)
    assert round(result.prob_wait, 4) == 0.4444
    assert result.asa_seconds == pytest.approx(4 / 9 * handle_s, rel=1e-13)
    assert result.service_level == pytest.approx(1 - 4 / 9 * math.exp(-0.5), rel=1e-13)
    assert result.occupancy == pytest.approx(2 / 3)


@pytest.mark.parametrize("agents", range(25, 31))
def test_erlang_c_matches_exact_sum_for_360_calls_an_hour_of_240_s(
    agents: int,
) -> None:
    # 360 calls/h at 240 s AHT is 24 Erlangs; T = 20 s.
    arrival_rate, handle_s, threshold_s = 360 / 3600, 240.0, 20.0
    prob_wait = float(exact_erlang_c(24, agents))
    drain_rate = (agents - 24) / handle_s

    result = erlang_c(arrival_rate, handle_s, agents, threshold_s)

    assert result.offered_load == pytest.approx(24.0)
    assert result.prob_wait == pytest.approx(prob_wait, rel=1e-12)
    assert result.service_level == pytest.approx(
        1 - prob_wait * math.exp(-drain_rate * threshold_s), rel=1e-12
    )
    assert result.asa_seconds == pytest.approx(prob_wait / drain_rate, rel=1e-12)
    assert result.occupancy == pytest.approx(24 / agents)


@pytest.mark.parametrize(
    ("agents", "prob_wait", "service_level", "occupancy"),
    [(14, 0.174, 0.888, 0.714), (15, 0.102, 0.941, 0.667)],
)
def test_erlang_c_reproduces_published_callcentrehelper_example(
    agents: int, prob_wait: float, service_level: float, occupancy: float
) -> None:
    # Call Centre Helper's worked example (100 calls per 30 min, AHT 180 s,
    # i.e. 10 Erlangs), with the figures as published to three decimals in
    # pyworkforce's tests (pyworkforce/queuing/tests/test_erlang.py), which
    # take the target time as 0.33 min = 19.8 s.
    result = erlang_c(100 / 1800, 180.0, agents, threshold_s=0.33 * 60)

    assert round(result.prob_wait, 3) == prob_wait
    assert round(result.service_level, 3) == service_level
    assert round(result.occupancy, 3) == occupancy


@pytest.mark.parametrize("load", [1950, 1999])
def test_erlang_c_is_exact_with_2000_agents_near_full_load(load: int) -> None:
    result = erlang_c(float(load), 1.0, 2000, threshold_s=0.01)

    assert result.prob_wait == pytest.approx(float(exact_erlang_c(load, 2000)), 1e-11)
    assert_probabilities_valid(result)


@pytest.mark.parametrize(("load", "agents"), [(24.0, 24), (30.0, 24), (5.0, 0)])
def test_erlang_c_at_or_above_full_load_is_unstable_and_saturated(
    load: float, agents: int
) -> None:
    result = erlang_c(load / 240, 240.0, agents, threshold_s=20.0)

    assert not result.stable
    assert result.prob_wait == 1.0
    assert result.service_level == 0.0
    assert result.service_level_abandons_ignored == 0.0
    assert result.service_level_abandons_positive == 0.0
    assert result.service_level_short_excluded == 0.0
    assert result.asa_seconds == math.inf
    assert result.mean_wait_seconds == math.inf
    assert result.occupancy == 1.0
    assert result.abandonment == 0.0


def test_erlang_c_without_traffic_never_waits() -> None:
    result = erlang_c(0.0, 240.0, 3, threshold_s=20.0)

    assert result.stable
    assert result.prob_wait == 0.0
    assert result.service_level == 1.0
    assert result.asa_seconds == 0.0
    assert result.occupancy == 0.0


# --- Erlang A -------------------------------------------------------------

ERLANG_A_CASES = [
    # (arrival_rate, mean_handle_s, agents, mean_patience_s, threshold_s, short_s)
    (9 * 0.9 / 300, 300.0, 9, 60.0, 20.0, 3.0),
    (360 / 3600, 240.0, 25, 180.0, 20.0, 5.0),
    (24 / 240, 240.0, 20, 120.0, 20.0, 5.0),  # 20% above the agents
    (40 * 0.95 / 200, 200.0, 40, 300.0, 60.0, 10.0),
    (70 * 1.2 / 300, 300.0, 70, 600.0, 30.0, 10.0),  # overloaded, patient
    (15 / 300, 300.0, 12, 300.0, 0.0, 2.0),  # T = 0
]


@pytest.mark.parametrize("case", ERLANG_A_CASES)
def test_erlang_a_matches_truncated_ctmc(
    case: tuple[float, float, int, float, float, float],
) -> None:
    expected = ctmc_reference(*case)

    result = erlang_a(*case)

    assert result.stable
    for name, value in expected.items():
        assert getattr(result, name) == pytest.approx(value, rel=1e-9, abs=1e-11), name
    assert result.answer_rate == pytest.approx(1 - expected["abandonment"], abs=1e-11)


@pytest.mark.parametrize("agents", [25, 27, 30])
def test_erlang_a_approaches_erlang_c_as_patience_grows(agents: int) -> None:
    limit = erlang_c(0.1, 240.0, agents, threshold_s=20.0)
    fields = ("prob_wait", "service_level", "asa_seconds")
    gaps = []
    # From 1e5 s on: at 96% load a patience of 1e4 s is still far from the
    # asymptotic regime, where the gap shrinks by less than ten per decade.
    for patience_s in (1e5, 1e6, 1e7, 1e8, 1e9):
        result = erlang_a(0.1, 240.0, agents, patience_s, threshold_s=20.0)
        gaps.append([abs(getattr(result, f) / getattr(limit, f) - 1) for f in fields])

    # Each tenfold patience cuts every gap by about ten: the O(1/patience)
    # convergence of the exact solution, not numerical noise.
    for wider, narrower in itertools.pairwise(gaps):
        for gap_before, gap_after in zip(wider, narrower, strict=True):
            assert gap_after < gap_before / 5
    assert max(gaps[-1]) < 1e-4


@pytest.mark.parametrize("agents", [0, 20, 24, 30])
def test_erlang_a_with_infinite_patience_is_erlang_c(agents: int) -> None:
    assert erlang_a(0.1, 240.0, agents, math.inf, 20.0, 5.0) == erlang_c(
        0.1, 240.0, agents, 20.0, 5.0
    )


def test_abandonment_rises_as_patience_falls() -> None:
    patiences_s = [1e4, 3000.0, 1000.0, 300.0, 100.0, 30.0, 10.0]

    abandonment = [erlang_a(0.1, 240.0, 24, p, 20.0).abandonment for p in patiences_s]

    assert all(a < b for a, b in itertools.pairwise(abandonment))


def test_erlang_a_with_zero_agents_loses_everyone() -> None:
    result = erlang_a(0.1, 240.0, 0, 60.0, threshold_s=30.0)

    assert not result.stable
    assert result.abandonment == 1.0
    assert result.answer_rate == 0.0
    assert result.service_level == 0.0
    assert result.service_level_abandons_positive == pytest.approx(1 - math.exp(-0.5))
    assert result.mean_wait_seconds == 60.0


def test_zero_threshold_service_level_is_the_share_answered_without_waiting() -> None:
    result = erlang_a(0.1, 240.0, 25, 120.0, threshold_s=0.0)

    assert result.service_level == pytest.approx(1 - result.prob_wait, abs=1e-14)
    assert result.service_level_abandons_ignored == result.service_level


def test_erlang_a_with_2000_agents_takes_well_under_a_second() -> None:
    started = time.perf_counter()
    for load_per_agent in (0.9, 0.99, 1.0, 1.2):
        result = erlang_a(2000 * load_per_agent / 300, 300.0, 2000, 600.0, 20.0, 5.0)
        assert_probabilities_valid(result)
    staffed = agents_for_target(2000 / 300, 300.0, 20.0, 0.8, mean_patience_s=600.0)

    assert time.perf_counter() - started < 1.0
    assert 1900 < staffed < 2100


# --- agents_for_target ----------------------------------------------------


def test_agents_for_target_matches_a_scan_of_every_agent_count() -> None:
    for patience_s in (None, 60.0, 600.0):
        needed = agents_for_target(
            0.1, 240.0, 20.0, 0.8, mean_patience_s=patience_s, max_abandonment=0.05
        )
        for agents in range(needed + 1):
            if patience_s is None:
                result = erlang_c(0.1, 240.0, agents, 20.0)
            else:
                result = erlang_a(0.1, 240.0, agents, patience_s, 20.0)
            meets = (
                result.stable
                and result.service_level >= 0.8
                and result.abandonment <= 0.05
            )
            assert meets == (agents == needed), (patience_s, agents)


def test_agents_for_target_says_when_max_agents_is_not_enough() -> None:
    with pytest.raises(ValueError, match="max_agents=26"):
        agents_for_target(0.1, 240.0, 20.0, 0.8, max_agents=26)
    with pytest.raises(ValueError, match="max_agents=10"):
        agents_for_target(0.1, 240.0, 20.0, 0.8, mean_patience_s=60.0, max_agents=10)


# --- properties -----------------------------------------------------------

agent_counts = st.integers(min_value=0, max_value=2000)
handle_times_s = st.floats(min_value=5.0, max_value=3600.0)
loads_per_agent = st.floats(min_value=0.0, max_value=2.0)
extra_loads = st.floats(min_value=0.0, max_value=5.0)
patiences_s = st.floats(min_value=1.0, max_value=1e5) | st.just(math.inf)
thresholds_s = st.floats(min_value=0.0, max_value=600.0)
short_bounds_s = st.floats(min_value=0.0, max_value=60.0)


@settings(max_examples=200, deadline=None)
@given(
    agents=agent_counts,
    handle_s=handle_times_s,
    load_per_agent=loads_per_agent,
    extra_load=extra_loads,
    patience_s=patiences_s,
    threshold_s=thresholds_s,
    short_s=short_bounds_s,
)
def test_every_probability_is_between_zero_and_one(
    agents: int,
    handle_s: float,
    load_per_agent: float,
    extra_load: float,
    patience_s: float,
    threshold_s: float,
    short_s: float,
) -> None:
    arrival_rate = (agents * load_per_agent + extra_load) / handle_s

    for result in (
        erlang_c(arrival_rate, handle_s, agents, threshold_s, short_s),
        erlang_a(arrival_rate, handle_s, agents, patience_s, threshold_s, short_s),
    ):
        assert_probabilities_valid(result)
        assert result.answer_rate == pytest.approx(1 - result.abandonment)


@settings(max_examples=200, deadline=None)
@given(
    agents=agent_counts,
    handle_s=handle_times_s,
    load_per_agent=loads_per_agent,
    patience_s=patiences_s,
    threshold_s=thresholds_s,
    short_s=short_bounds_s,
)
def test_service_level_variants_are_ordered(
    agents: int,
    handle_s: float,
    load_per_agent: float,
    patience_s: float,
    threshold_s: float,
    short_s: float,
) -> None:
    arrival_rate = agents * load_per_agent / handle_s

    result = erlang_a(arrival_rate, handle_s, agents, patience_s, threshold_s, short_s)

    # Counting abandons as hits, or leaving them out, can only raise the SL;
    # so can leaving out short abandons. None of them exceeds "answered or
    # abandoned within T".
    tolerance = 1e-12
    assert result.service_level_abandons_positive >= result.service_level - tolerance
    assert result.service_level_abandons_ignored >= result.service_level - tolerance
    assert result.service_level_short_excluded >= result.service_level - tolerance
    assert result.service_level <= result.answer_rate + tolerance
    if short_s == 0.0:
        assert result.service_level_short_excluded == result.service_level


@settings(max_examples=60, deadline=None)
@given(
    agents=st.integers(min_value=1, max_value=300),
    handle_s=handle_times_s,
    load_per_agent=st.floats(min_value=0.05, max_value=1.5),
    patience_s=patiences_s,
    threshold_s=thresholds_s,
)
def test_an_extra_agent_never_makes_service_worse(
    agents: int,
    handle_s: float,
    load_per_agent: float,
    patience_s: float,
    threshold_s: float,
) -> None:
    # agents_for_target relies on this monotony. 1e-7 absorbs rounding: in a
    # deep overload with a patience of thousands of handle times the service
    # level is answered minus answered-late, two numbers near 0.7 whose
    # difference is ~1e-9, with an error of that size (see erlang_a's NOTE).
    arrival_rate = agents * load_per_agent / handle_s
    fewer = erlang_a(arrival_rate, handle_s, agents, patience_s, threshold_s)
    more = erlang_a(arrival_rate, handle_s, agents + 1, patience_s, threshold_s)

    assert more.service_level >= fewer.service_level - 1e-7
    assert more.abandonment <= fewer.abandonment + 1e-7
    assert more.asa_seconds <= fewer.asa_seconds * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(
    load=st.floats(min_value=0.01, max_value=400.0),
    handle_s=st.floats(min_value=30.0, max_value=900.0),
    threshold_s=st.floats(min_value=0.0, max_value=120.0),
    target=st.floats(min_value=0.05, max_value=0.99),
    patience_s=st.none() | st.floats(min_value=30.0, max_value=3000.0),
    max_asa_s=st.none() | st.floats(min_value=1.0, max_value=300.0),
    max_abandonment=st.none() | st.floats(min_value=0.01, max_value=0.5),
)
def test_agents_for_target_meets_the_targets_and_one_fewer_does_not(
    load: float,
    handle_s: float,
    threshold_s: float,
    target: float,
    patience_s: float | None,
    max_asa_s: float | None,
    max_abandonment: float | None,
) -> None:
    arrival_rate = load / handle_s

    def meets(agents: int) -> bool:
        if patience_s is None:
            result = erlang_c(arrival_rate, handle_s, agents, threshold_s)
        else:
            result = erlang_a(arrival_rate, handle_s, agents, patience_s, threshold_s)
        return (
            result.stable
            and result.service_level >= target
            and (max_asa_s is None or result.asa_seconds <= max_asa_s)
            and (max_abandonment is None or result.abandonment <= max_abandonment)
        )

    needed = agents_for_target(
        arrival_rate,
        handle_s,
        threshold_s,
        target,
        mean_patience_s=patience_s,
        max_asa_s=max_asa_s,
        max_abandonment=max_abandonment,
    )

    assert meets(needed)
    assert needed >= 1 and not meets(needed - 1)


@given(
    handle_s=handle_times_s,
    threshold_s=thresholds_s,
    target=st.floats(min_value=0.0, max_value=1.0),
    patience_s=st.none() | patiences_s,
)
def test_zero_traffic_needs_no_agents(
    handle_s: float, threshold_s: float, target: float, patience_s: float | None
) -> None:
    assert agents_for_target(0.0, handle_s, threshold_s, target, patience_s) == 0


VALID_ERLANG_C = {
    "arrival_rate": 0.1,
    "mean_handle_s": 240.0,
    "agents": 25,
    "threshold_s": 20.0,
    "short_abandon_s": 5.0,
}
VALID_ERLANG_A = {**VALID_ERLANG_C, "mean_patience_s": 120.0}
VALID_TARGET = {
    "arrival_rate": 0.1,
    "mean_handle_s": 240.0,
    "threshold_s": 20.0,
    "target_service_level": 0.8,
    "mean_patience_s": 120.0,
    "max_asa_s": 30.0,
    "max_abandonment": 0.05,
    "max_agents": 1000,
}
negative = st.floats(max_value=-1e-300, allow_infinity=True)
nan = st.just(math.nan)
BAD_ARGUMENTS = [
    (erlang_c, VALID_ERLANG_C, "arrival_rate", negative | nan | st.just(math.inf)),
    (erlang_c, VALID_ERLANG_C, "mean_handle_s", negative | nan | st.just(0.0)),
    (erlang_c, VALID_ERLANG_C, "agents", st.integers(max_value=-1)),
    (erlang_c, VALID_ERLANG_C, "agents", st.sampled_from([2.5, True, "3", None])),
    (erlang_c, VALID_ERLANG_C, "threshold_s", negative | nan | st.just(math.inf)),
    (erlang_c, VALID_ERLANG_C, "short_abandon_s", negative | nan),
    (erlang_a, VALID_ERLANG_A, "mean_patience_s", negative | nan | st.just(0.0)),
    (erlang_a, VALID_ERLANG_A, "arrival_rate", negative | nan),
    (erlang_a, VALID_ERLANG_A, "agents", st.integers(max_value=-1)),
    (erlang_a, VALID_ERLANG_A, "threshold_s", negative | nan),
    (agents_for_target, VALID_TARGET, "arrival_rate", negative | nan),
    (agents_for_target, VALID_TARGET, "mean_handle_s", negative | nan),
    (agents_for_target, VALID_TARGET, "threshold_s", negative | nan),
    (
        agents_for_target,
        VALID_TARGET,
        "target_service_level",
        negative | nan | st.floats(min_value=1.0001, max_value=1e9),
    ),
    (agents_for_target, VALID_TARGET, "mean_patience_s", negative | nan),
    (agents_for_target, VALID_TARGET, "max_asa_s", negative | nan),
    (
        agents_for_target,
        VALID_TARGET,
        "max_abandonment",
        negative | nan | st.floats(min_value=1.0001, max_value=1e9),
    ),
    (agents_for_target, VALID_TARGET, "max_agents", st.integers(max_value=-1)),
]


@pytest.mark.parametrize(
    ("function", "valid", "argument", "bad_values"),
    BAD_ARGUMENTS,
    ids=[f"{f.__name__}-{arg}" for f, _, arg, _ in BAD_ARGUMENTS],
)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_bad_input_raises_value_error_naming_the_argument_and_value(
    function: object,
    valid: dict[str, object],
    argument: str,
    bad_values: st.SearchStrategy[object],
    data: st.DataObject,
) -> None:
    value = data.draw(bad_values)
    assert callable(function)

    with pytest.raises(ValueError) as raised:
        function(**{**valid, argument: value})

    message = str(raised.value)
    assert argument in message
    assert repr(value) in message

"""Live state: windows by event time, waiting misses, agents in progress, bounds."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
from test_aggregator_support import DAY, SEED, config, day_events

from aggregator import agreements
from aggregator.decode import Decoder, Event
from aggregator.dedupe import DedupeWindow
from aggregator.pipeline import Pipeline
from aggregator.state import Counts, State
from aggregator.windows import MINUTE_RETENTION, LocalTime
from cctwin.metrics import COUNT_FIELDS
from simulator.day import simulate_day

CENTER = "sdm-bogota"


def _ms(text: str) -> int:
    return int(
        dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    )


def _event(kind: str, time: str, **fields: Any) -> Event:
    who = fields.get("interaction_id", fields.get("agent_id", ""))
    document = {
        "event_id": f"{kind}-{time}-{who}",
        "type": kind,
        "time": time,
        "schema_version": 1,
        "center": CENTER,
        **fields,
    }
    result = Decoder(config()).decode(json.dumps(document))
    assert isinstance(result, Event), result
    return result


def _voice(interaction: str, enqueued: str, **fields: Any) -> dict[str, Any]:
    return {
        "interaction_id": interaction,
        "channel": "voice",
        "queue": "voz-general",
        "enqueued_at": enqueued,
        **fields,
    }


def _sl(state: State, window: str, now: str) -> float | None:
    sl = next(a for a in config().agreements if a.id == 3)
    counts = state.window_counts(window, _ms(now))
    return agreements.value(config(), sl, counts, agreements.headcount(config()))


def test_contact_waiting_past_the_threshold_is_already_a_miss() -> None:
    state = State.for_config(config())
    state.apply(
        _event(
            "answered",
            "2026-04-06T14:00:05.000Z",
            **_voice("a", "2026-04-06T14:00:00.000Z", wait_seconds=5.0, agent_id="x"),
        )
    )
    state.apply(
        _event(
            "queued",
            "2026-04-06T14:00:10.000Z",
            **_voice("b", "2026-04-06T14:00:10.000Z"),
        )
    )

    assert _sl(state, "today", "2026-04-06T14:00:20.000Z") == 1.0
    assert _sl(state, "today", "2026-04-06T14:00:31.000Z") == 0.5  # b waited 21 s
    count, oldest, missed = state.waiting(_ms("2026-04-06T14:00:31.000Z"))["voice"]
    assert (count, oldest, missed) == (1, 21.0, 1)


def test_answering_the_waiting_contact_does_not_count_it_twice() -> None:
    state = State.for_config(config())
    state.apply(
        _event(
            "queued",
            "2026-04-06T14:00:00.000Z",
            **_voice("b", "2026-04-06T14:00:00.000Z"),
        )
    )
    state.apply(
        _event(
            "answered",
            "2026-04-06T14:01:00.000Z",
            **_voice("b", "2026-04-06T14:00:00.000Z", wait_seconds=60.0, agent_id="x"),
        )
    )

    counts = state.window_counts("today", _ms("2026-04-06T14:02:00.000Z"))
    assert counts[("offered", "voice")] == 1
    assert ("waiting_missed", "voice") not in counts
    assert state.waiting(_ms("2026-04-06T14:02:00.000Z")) == {}


def test_agent_time_in_progress_counts_at_scrape_time() -> None:
    state = State.for_config(config())
    state.apply(
        _event(
            "agent_state",
            "2026-04-06T12:00:00.000Z",
            agent_id="g-1",
            group="general",
            state="busy",
            scheduled_state="available",
        )
    )

    later = state.totals_at(_ms("2026-04-06T12:10:00.000Z"))
    assert later[("agent_busy_ms", "general")] == 600_000
    assert later[("agent_adherent_ms", "general")] == 600_000
    window = state.window_counts("last5m", _ms("2026-04-06T12:10:00.000Z"))
    assert window[("agent_busy_ms", "general")] == 4 * 60_000  # whole minutes back


def test_late_outcome_lands_in_its_own_interval() -> None:
    state = State.for_config(config())
    # Clock at 10:40 local; an answer for a contact queued at 09:05 arrives late.
    state.apply(
        _event(
            "arrived",
            "2026-04-06T15:40:00.000Z",
            interaction_id="n",
            channel="voice",
            queue="voz-general",
        )
    )
    state.apply(
        _event(
            "answered",
            "2026-04-06T14:05:10.000Z",
            **_voice(
                "late", "2026-04-06T14:05:00.000Z", wait_seconds=10.0, agent_id="x"
            ),
        )
    )

    now = _ms("2026-04-06T15:40:00.000Z")
    assert ("offered", "voice") not in state.window_counts("interval30", now)
    assert state.window_counts("today", now)[("offered", "voice")] == 1


def test_windows_start_on_the_local_grid() -> None:
    local = LocalTime("America/Bogota")
    now = _ms("2026-04-06T15:47:30.000Z")  # 10:47:30 in Bogotá

    assert local.window_start_ms("interval15", now) == _ms("2026-04-06T15:45:00.000Z")
    assert local.window_start_ms("interval30", now) == _ms("2026-04-06T15:30:00.000Z")
    assert local.window_start_ms("last5m", now) == _ms("2026-04-06T15:43:00.000Z")
    assert local.window_start_ms("today", now) == _ms("2026-04-06T05:00:00.000Z")
    assert local.window_start_ms("month", now) == _ms("2026-04-01T05:00:00.000Z")


def test_minute_buckets_stay_bounded_over_a_long_run() -> None:
    state = State.for_config(config())
    start = _ms("2026-04-06T12:00:00.000Z")
    for minute in range(600):
        iso = dt.datetime.fromtimestamp((start + minute * 60_000) / 1000, dt.UTC)
        text = iso.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        state.apply(
            _event(
                "arrived",
                text,
                interaction_id=f"i{minute}",
                channel="chat",
                queue="chat-web",
            )
        )
    assert len(state.minutes) <= MINUTE_RETENTION + 1


def test_dedupe_window_forgets_the_oldest_and_stays_bounded() -> None:
    window = DedupeWindow(capacity=3)
    for event_id in "abcd":
        assert window.first_time(event_id)
        window.confirm()
    assert len(window) == 3
    assert window.first_time("a")  # forgotten: beyond the window
    assert not window.first_time("d")


def test_undone_batch_leaves_no_trace() -> None:
    pipeline = Pipeline(config())
    events = [json.dumps(e).encode() for e in day_events()[:500]]
    pipeline.begin()
    for raw in events:
        pipeline.feed(raw)
    pipeline.undo()
    pipeline.begin()
    for raw in events:
        pipeline.feed(raw)
    pipeline.commit()

    assert pipeline.health.duplicates == 0
    assert pipeline.published.totals == pipeline.state.totals


def todays_counts_of_the_simulated_day() -> Counts:
    """The published "today" counts after one batch of the whole simulated day."""
    pipeline = Pipeline(config())
    pipeline.begin()
    for event in day_events():
        pipeline.feed(json.dumps(event).encode())
    pipeline.commit()
    state = pipeline.published
    return state.window_counts("today", state.watermark_ms)


def test_counts_match_the_simulators_own_tally() -> None:
    result = simulate_day(config(), DAY, SEED)
    counts = todays_counts_of_the_simulated_day()

    # Counts are equal; sums of seconds are kept to the microsecond.
    for index, channel in enumerate(config().channels):
        for field in COUNT_FIELDS:
            expected = float(result.counts[field][index].sum())
            assert np.isclose(
                counts.get((field, channel), 0.0), expected, rtol=1e-12, atol=1e-3
            ), (field, channel)
    for index, group in enumerate(config().agent_groups):
        busy = counts.get(("agent_busy_ms", group), 0) + counts.get(
            ("agent_wrap_up_ms", group), 0
        )
        # Event times carry milliseconds: within 1 ms per state change.
        assert abs(busy / 1000 - result.state_seconds[index, 2].sum()) < 60


def test_agreements_without_events_say_no_data() -> None:
    state = State.for_config(config())
    counts = state.window_counts("today", _ms("2026-04-06T15:00:00.000Z"))
    staff = agreements.headcount(config())
    values = {
        a.id: agreements.value(config(), a, counts, staff) for a in config().agreements
    }

    assert values[8] == 0.0  # turnover: nobody left, of a known headcount
    assert all(v is None for k, v in values.items() if k != 8)


def test_occupancy_and_adherence_match_the_simulators_own_tally() -> None:
    """Agent events carry every schedule change, so a consumer that never saw
    the roster splits scheduled time where the simulator does."""
    center = config()
    result = simulate_day(center, DAY, SEED)
    counts = todays_counts_of_the_simulated_day()
    staff = agreements.headcount(center)
    groups = list(center.agent_groups)
    by_id = {a.id: a for a in center.agreements}

    seconds = result.state_seconds.sum(axis=2)
    inbound = [groups.index(g) for g in by_id[15].groups]
    busy, available = seconds[inbound, 2].sum(), seconds[inbound, 1].sum()
    everyone = [groups.index(g) for g in by_id[25].groups]
    adherent, scheduled = result.adherence[everyone].sum(axis=0)

    # Event times carry milliseconds: the figures agree to about 1e-7.
    occupancy = agreements.value(center, by_id[15], counts, staff)
    adherence = agreements.value(center, by_id[25], counts, staff)
    assert occupancy is not None and adherence is not None
    assert abs(occupancy - busy / (busy + available)) < 1e-6
    assert abs(adherence - adherent / scheduled) < 1e-6

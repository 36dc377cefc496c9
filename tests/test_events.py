"""The event contract: schema, order, and the same numbers as the model's tallies."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict

import jsonschema
import pytest

from cctwin.events import SCHEMA_PATH, json_schema, parse_time
from simulator.day import simulate_day
from simulator.day_events import simulate_day_events

DAY = dt.date(2026, 4, 6)


@pytest.fixture(scope="module")
def events(default_config):
    return simulate_day_events(default_config, DAY, seed=11)


def test_committed_schema_matches_the_code():
    assert json.loads(SCHEMA_PATH.read_text()) == json_schema()


def test_every_event_validates_against_the_schema(events):
    validator = jsonschema.Draft202012Validator(json_schema())
    for event in events:
        validator.validate(event)


def test_schema_rejects_an_answered_event_without_its_wait(events):
    answered = dict(next(e for e in events if e["type"] == "answered"))
    del answered["wait_seconds"]
    with pytest.raises(jsonschema.ValidationError, match="wait_seconds"):
        jsonschema.validate(answered, json_schema())


def test_events_are_in_time_order_with_unique_ids(events):
    times = [parse_time(e["time"]) for e in events]
    assert times == sorted(times)
    assert len({e["event_id"] for e in events}) == len(events)


def test_each_interaction_goes_through_its_lifecycle_in_order(events):
    order = {"arrived": 0, "queued": 1, "answered": 2, "abandoned": 2, "ended": 3}
    seen: dict[str, list[str]] = defaultdict(list)
    for event in events:
        if event["type"] in order:
            seen[event["interaction_id"]].append(event["type"])
    for interaction, kinds in seen.items():
        ranks = [order[k] for k in kinds]
        assert ranks == sorted(ranks), (interaction, kinds)
        if "answered" in kinds:
            assert kinds.count("ended") == 1


def test_times_are_local_opening_hours_in_utc(events):
    # Bogotá is UTC-5 all year: 07:00-18:00 local is 12:00-23:00 UTC.
    arrivals = [parse_time(e["time"]) for e in events if e["type"] == "arrived"]
    assert min(arrivals).hour >= 12
    assert max(arrivals).hour < 23


def test_no_event_carries_personal_data(events):
    for event in events:
        for key in ("phone", "document", "name", "email"):
            assert key not in event


def test_counts_from_events_equal_the_model_tallies(default_config, events):
    """Independent reference: count outcomes straight from the event log."""
    tally = simulate_day(default_config, DAY, seed=11)
    names = list(default_config.channels)
    offered, answered, abandoned, within = Counter(), Counter(), Counter(), Counter()
    handle = Counter()
    for event in events:
        kind, channel = event["type"], event.get("channel")
        if kind in ("queued", "callback_requested") or kind == "outbound_attempted":
            offered[channel] += 1
        if kind == "answered" or (
            kind in ("callback_attempted", "outbound_attempted")
            and event["outcome"] == "reached"
        ):
            answered[channel] += 1
            threshold = default_config.channels[channel].service_level
            if threshold and event["wait_seconds"] <= threshold.threshold_seconds:
                within[channel] += 1
        if kind == "abandoned" or (
            kind in ("callback_attempted", "outbound_attempted")
            and event["outcome"] != "reached"
        ):
            abandoned[channel] += 1
        if kind == "ended":
            handle[channel] += (
                event["talk_seconds"] + event["hold_seconds"] + event["wrap_up_seconds"]
            )
    for index, name in enumerate(names):
        assert tally.counts["offered"][index].sum() == offered[name], name
        assert tally.counts["answered"][index].sum() == answered[name], name
        assert tally.counts["abandoned"][index].sum() == abandoned[name], name
        assert tally.counts["answered_within"][index].sum() == within[name], name
        assert tally.counts["handle_seconds"][index].sum() == pytest.approx(
            handle[name]
        )


def test_same_seed_same_events(default_config, events):
    again = simulate_day_events(default_config, DAY, seed=11)
    assert again == events
    other = simulate_day_events(default_config, DAY, seed=12)
    assert other != events

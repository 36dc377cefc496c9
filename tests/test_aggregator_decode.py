"""The event decoder: valid events pass, every kind of bad input gets its reason."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_aggregator_support import config, day_events

from aggregator.decode import ACCEPTED_STRINGS, REASONS, Decoder, Event, Rejection

# The morning after the simulated day (2026-04-06).
NOW_MS = int(dt.datetime(2026, 4, 7, 12, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def decoder() -> Decoder:
    return Decoder(config())


def _answered(**changes: Any) -> dict[str, Any]:
    event = dict(next(e for e in day_events() if e["type"] == "answered"))
    event.update(changes)
    return event


def _reason(decoder: Decoder, document: Any) -> str:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    result = decoder.decode(raw, NOW_MS)
    assert isinstance(result, Rejection), result
    return result.reason


def test_every_simulated_event_decodes(decoder: Decoder) -> None:
    for event in day_events():
        result = decoder.decode(json.dumps(event).encode(), NOW_MS)
        assert isinstance(result, Event), (event, result)


def test_answered_event_carries_integer_millisecond_times(decoder: Decoder) -> None:
    event = _answered(
        time="2026-04-06T12:00:01.250Z", enqueued_at="2026-04-06T12:00:00.000Z"
    )
    result = decoder.decode(json.dumps(event), NOW_MS)
    assert isinstance(result, Event)
    assert result.time_ms - result.enqueued_ms == 1250  # type: ignore[operator]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"{", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b'{"wait_seconds": NaN}', "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b"x" * 70_000, "too_large"),
        ({"type": "answered"}, "unsupported_version"),
    ],
)
def test_undecodable_input_gets_its_reason(
    decoder: Decoder, document: Any, reason: str
) -> None:
    assert _reason(decoder, document) == reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"schema_version": 2}, "unsupported_version"),
        ({"schema_version": True}, "unsupported_version"),
        ({"type": "teleported"}, "unknown_type"),
        ({"wait_seconds": -1.0}, "negative_value"),
        ({"wait_seconds": "12"}, "wrong_field"),
        ({"wait_seconds": True}, "wrong_field"),
        ({"wait_seconds": 1e9}, "implausible_value"),
        ({"time": "2026-04-06 12:00:00"}, "wrong_field"),
        ({"time": "1999-12-31T23:59:59.000Z"}, "implausible_time"),
        ({"time": "2027-01-01T00:00:00.000Z"}, "future_time"),
        ({"enqueued_at": "2026-04-06T23:00:00.000Z"}, "implausible_time"),
        ({"center": "another-center"}, "other_center"),
        ({"channel": "telepathy"}, "unknown_channel"),
        ({"queue": "some-other-queue"}, "unknown_queue"),
        ({"agent_id": "has spaces"}, "wrong_field"),
    ],
)
def test_bad_field_gets_its_reason(
    decoder: Decoder, changes: dict[str, Any], reason: str
) -> None:
    assert _reason(decoder, _answered(**changes)) == reason


def test_missing_required_field_is_named(decoder: Decoder) -> None:
    event = _answered()
    del event["wait_seconds"]
    result = decoder.decode(json.dumps(event), NOW_MS)
    assert isinstance(result, Rejection)
    assert result.reason == "missing_field"
    assert "wait_seconds" in result.detail


def test_personal_fields_are_dropped_and_never_in_a_rejection(decoder: Decoder) -> None:
    personal = {
        "phone": "+573001234567",
        "document_number": "79123456",
        "email": "a@b.co",
    }
    accepted = decoder.decode(json.dumps(_answered(**personal)), NOW_MS)
    rejected = decoder.decode(
        json.dumps(_answered(wait_seconds=-1, **personal)), NOW_MS
    )

    assert isinstance(accepted, Event)
    assert accepted.dropped_fields == 3
    assert not set(personal) & set(accepted.fields)
    assert isinstance(rejected, Rejection) and rejected.payload is not None
    assert not set(personal) & set(rejected.payload)
    for value in personal.values():
        assert value not in rejected.detail


def test_rejection_detail_never_echoes_the_value(decoder: Decoder) -> None:
    result = decoder.decode(json.dumps(_answered(agent_id="3001234567 Juan")), NOW_MS)
    assert isinstance(result, Rejection)
    assert "3001234567" not in result.detail and "Juan" not in result.detail


def test_non_queue_events_are_range_checked(decoder: Decoder) -> None:
    base = {
        "event_id": "f1",
        "time": "2026-04-06T15:00:00.000Z",
        "schema_version": 1,
        "center": config().center.id,
    }
    cases = [
        ({"type": "survey_answered", "score": 6, "scale_max": 5}, "implausible_value"),
        ({"type": "knowledge_evaluated", "score": 87}, "implausible_value"),
        ({"type": "campaign_sent", "messages": 10, "errors": 11}, "implausible_value"),
        (
            {"type": "staff_changed", "change": "left", "group": "nobody"},
            "unknown_group",
        ),
        ({"type": "campaign_sent", "messages": 1.5, "errors": 0}, "wrong_field"),
    ]
    for fields, reason in cases:
        assert _reason(decoder, {**base, **fields}) == reason, fields


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_no_byte_string_makes_the_decoder_raise(raw: bytes) -> None:
    result = Decoder(config()).decode(raw, NOW_MS)
    assert isinstance(result, Event | Rejection)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*sorted(_answered()), "phone", "extra"]),
        json_values,
        max_size=12,
    )
)
def test_no_json_object_makes_the_decoder_raise(document: dict[str, Any]) -> None:
    result = Decoder(config()).decode(json.dumps(document), NOW_MS)
    assert isinstance(result, Event | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in REASONS


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(_answered())), json_values)
def test_one_field_mutated_never_raises(field: str, value: Any) -> None:
    document = _answered(**{field: value})
    result = Decoder(config()).decode(json.dumps(document), NOW_MS)
    assert isinstance(result, Event | Rejection)


def test_remembered_values_never_let_a_bad_one_through() -> None:
    """Field checks remember accepted values up to a bound; past it they still
    match every new value against the contract's pattern."""
    fresh = Decoder(config())
    for number in range(ACCEPTED_STRINGS + 100):
        accepted = fresh.decode(
            json.dumps(_answered(event_id=f"id-{number}", agent_id=f"a-{number}")),
            NOW_MS,
        )
        assert isinstance(accepted, Event), accepted

    assert _reason(fresh, _answered(agent_id="a 1")) == "wrong_field"
    assert _reason(fresh, _answered(event_id="id-5 ")) == "wrong_field"
    assert isinstance(fresh.decode(json.dumps(_answered()), NOW_MS), Event)

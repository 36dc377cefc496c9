"""Streaming without a broker: pacing, stamps, keys, producer settings, replay input."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cctwin.config import ConfigError, parse_config
from cctwin.config.models import Kafka, Producer
from cctwin.events import parse_time
from simulator.pacing import (
    Pacer,
    day_offset,
    parse_speed,
    parse_start,
    shift_event,
)
from simulator.publish import (
    StreamError,
    encode_event,
    event_key,
    producer_options,
    resolve_target,
)
from simulator.replay import Rejects, event_problem, read_events
from simulator.stream import run_stream

BOGOTA = ZoneInfo("America/Bogota")
T0 = dt.datetime(2026, 4, 6, 12, 0, tzinfo=dt.UTC)


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pacer(speed: float | None, start: Any = "sim", **kwargs: Any) -> Pacer:
    clock = FakeClock()
    return Pacer(speed, start, BOGOTA, clock=clock, sleep=clock.sleep, **kwargs)


# --- --speed and --start ------------------------------------------------------


@given(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False))
def test_a_positive_speed_reads_back_as_itself(value: float) -> None:
    assert parse_speed(repr(value)) == pytest.approx(value)


@pytest.mark.parametrize("text", ["max", "MAX", " max "])
def test_speed_max_means_no_pacing(text: str) -> None:
    assert parse_speed(text) is None


@pytest.mark.parametrize("text", ["0", "-5", "fast", "", "nan", "inf"])
def test_a_speed_that_is_not_positive_is_refused_with_the_allowed_forms(
    text: str,
) -> None:
    with pytest.raises(ValueError, match="'max'"):
        parse_speed(text)


def test_start_reads_sim_now_and_a_day() -> None:
    assert parse_start("sim") == "sim"
    assert parse_start("NOW") == "now"
    assert parse_start("2026-05-04") == dt.date(2026, 5, 4)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_start("tomorrow")


# --- pacing -------------------------------------------------------------------


def test_speed_60_sends_a_simulated_minute_per_wall_clock_second() -> None:
    paced = pacer(60.0)
    clock = paced.clock
    assert isinstance(clock, FakeClock)
    sent_at = []
    for minutes in (0, 1, 1, 3):
        paced.place(T0 + dt.timedelta(minutes=minutes))
        sent_at.append(clock.now - 100.0)
    assert sent_at == pytest.approx([0.0, 1.0, 1.0, 3.0])


def test_speed_max_never_waits() -> None:
    paced = pacer(None)
    for minutes in range(0, 600, 7):
        paced.place(T0 + dt.timedelta(minutes=minutes))
    assert isinstance(paced.clock, FakeClock)
    assert paced.clock.sleeps == []


def test_an_overnight_gap_is_skipped_not_waited_out() -> None:
    paced = pacer(60.0)
    paced.place(T0)
    paced.place(T0 + dt.timedelta(minutes=30))
    paced.place(T0 + dt.timedelta(hours=13))  # next morning
    paced.place(T0 + dt.timedelta(hours=13, minutes=1))
    assert isinstance(paced.clock, FakeClock)
    assert paced.clock.now - 100.0 == pytest.approx(30.0 + 1.0)
    assert paced.skipped_gaps == 1


def test_an_event_earlier_than_the_last_one_is_sent_at_once() -> None:
    paced = pacer(1.0)
    paced.place(T0 + dt.timedelta(seconds=10))
    paced.place(T0)
    assert isinstance(paced.clock, FakeClock)
    assert paced.clock.sleeps == []


def test_start_sim_keeps_the_simulated_times() -> None:
    assert pacer(None).place(T0) == dt.timedelta()


def test_start_day_keeps_local_clock_times_on_the_new_day() -> None:
    paced = pacer(None, dt.date(2026, 5, 4))
    offset = paced.place(T0)
    moved = (T0 + offset).astimezone(BOGOTA)
    assert moved.date() == dt.date(2026, 5, 4)
    assert moved.time() == T0.astimezone(BOGOTA).time()
    # The next day of a month keeps following, one day later.
    later = paced.place(T0 + dt.timedelta(days=1))
    assert later == offset


def test_day_offset_maps_local_midnight_to_local_midnight_across_dst() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    # Clocks go forward on 2026-03-29, so that day has 23 hours.
    offset = day_offset(dt.date(2026, 3, 29), dt.date(2026, 3, 30), madrid)
    assert offset == dt.timedelta(hours=23)
    midnight = dt.datetime(2026, 3, 29, tzinfo=madrid).astimezone(dt.UTC)
    assert (midnight + offset).astimezone(madrid).time() == dt.time(0, 0)


def test_start_now_stamps_the_first_event_with_the_current_time() -> None:
    now = dt.datetime(2026, 12, 4, 15, 30, 0, 123_456, tzinfo=dt.UTC)
    paced = pacer(None, "now", wall=lambda: now)
    offset = paced.place(T0)
    assert T0 + offset == now.replace(microsecond=123_000)
    # Within a stretch of activity the offset stays, so durations do too.
    assert paced.place(T0 + dt.timedelta(minutes=5)) == offset


def test_shifting_moves_every_instant_and_keeps_every_duration() -> None:
    event = {
        "type": "answered",
        "time": "2026-04-06T12:00:20.500Z",
        "enqueued_at": "2026-04-06T12:00:00.500Z",
        "wait_seconds": 20.0,
    }
    moved = shift_event(event, dt.timedelta(days=28, milliseconds=250))
    assert moved["time"] == "2026-05-04T12:00:20.750Z"
    assert moved["enqueued_at"] == "2026-05-04T12:00:00.750Z"
    assert moved["wait_seconds"] == 20.0
    gap = parse_time(moved["time"]) - parse_time(moved["enqueued_at"])
    assert gap == dt.timedelta(seconds=20)
    assert event["time"] == "2026-04-06T12:00:20.500Z", "the input was changed"


# --- keys and payloads --------------------------------------------------------


def test_interaction_events_are_keyed_by_interaction_id() -> None:
    event = {"event_id": "e1", "interaction_id": "i-7", "agent_id": "a-2"}
    assert event_key(event) == b"i-7"


def test_agent_events_are_keyed_by_agent_id() -> None:
    assert event_key({"event_id": "e1", "agent_id": "general-0-3"}) == b"general-0-3"


def test_other_events_are_keyed_by_their_own_id() -> None:
    assert event_key({"event_id": "e9", "type": "survey_answered"}) == b"e9"


@given(st.text())
def test_any_text_in_an_event_encodes_to_json_that_reads_back(text: str) -> None:
    event = {"event_id": "e1", "note": text}
    assert json.loads(encode_event(event)) == event


# --- producer settings --------------------------------------------------------


def test_default_producer_is_durable_and_batched(default_config) -> None:
    options = producer_options(default_config.kafka, environ={})
    assert options["acks"] == "all"
    assert options["enable_idempotence"] is True
    assert options["linger_ms"] == default_config.kafka.producer.linger_ms
    assert options["batch_size"] == default_config.kafka.producer.batch_size_bytes
    assert options["bootstrap_servers"] == ["127.0.0.1:9092"]
    assert options["compression_type"] is None


def test_every_producer_option_is_one_kafka_python_knows(default_config) -> None:
    from kafka import KafkaProducer

    options = producer_options(default_config.kafka, environ={})
    unknown = set(options) - set(KafkaProducer.DEFAULT_CONFIG)
    assert not unknown, f"KafkaProducer would refuse {sorted(unknown)}"


def test_flags_override_the_config_address_and_topic() -> None:
    target = resolve_target(Kafka(), "broker:29092", "other.topic")
    assert (target.bootstrap, target.topic, target.partitions) == (
        "broker:29092",
        "other.topic",
        3,
    )
    options = producer_options(Kafka(), "broker:29092", environ={})
    assert options["bootstrap_servers"] == ["broker:29092"]


def test_security_settings_come_from_the_environment_only() -> None:
    environ = {
        "CCTWIN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CCTWIN_KAFKA_SASL_MECHANISM": "PLAIN",
        "CCTWIN_KAFKA_SASL_USERNAME": "twin",
        "CCTWIN_KAFKA_SASL_PASSWORD": "secret",
    }
    options = producer_options(Kafka(), environ=environ)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_plain_password"] == "secret"


def test_idempotence_without_acks_all_is_refused_naming_both(raw_config) -> None:
    raw_config["kafka"]["producer"] = {"acks": "1", "idempotence": True}
    with pytest.raises(ConfigError, match=r"kafka\.producer.*acks"):
        parse_config(raw_config, Path("config/test.yaml"))


def test_acks_1_is_allowed_without_idempotence() -> None:
    producer = Producer(acks="1", idempotence=False)
    options = producer_options(Kafka(producer=producer), environ={})
    assert options["acks"] == 1


def test_a_delivery_timeout_shorter_than_a_request_is_refused() -> None:
    with pytest.raises(ValueError, match="delivery_timeout_ms"):
        Producer(request_timeout_ms=30_000, delivery_timeout_ms=10_000)


def test_an_unknown_producer_key_is_named(raw_config) -> None:
    raw_config["kafka"]["producer"]["lingr_ms"] = 5
    with pytest.raises(ConfigError, match=r"kafka\.producer\.lingr_ms.*unknown key"):
        parse_config(raw_config, Path("config/test.yaml"))


# --- replay input -------------------------------------------------------------

GOOD = {
    "event_id": "x-1",
    "type": "arrived",
    "time": "2026-04-06T12:00:00.000Z",
    "schema_version": 1,
    "center": "sdm-bogota",
    "interaction_id": "i-1",
    "channel": "voice",
    "queue": "voz-general",
}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"schema_version": 2}, "schema_version 2"),
        ({"type": "teleported"}, "unknown type"),
        ({"time": "2026-04-06T12:00:00"}, "no zone"),
        ({"time": "yesterday"}, "time"),
    ],
)
def test_an_unusable_event_is_explained(change: dict[str, Any], reason: str) -> None:
    problem = event_problem({**GOOD, **change})
    assert problem is not None and reason in problem


def test_an_event_missing_a_field_of_its_type_is_explained() -> None:
    event = {k: v for k, v in GOOD.items() if k != "queue"}
    assert "queue" in (event_problem(event) or "")
    assert event_problem(GOOD) is None


def test_bad_lines_are_set_aside_with_number_and_reason(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    lines = [
        json.dumps(GOOD),
        "{not json",
        "",
        json.dumps([1, 2]),
        json.dumps({**GOOD, "event_id": "x-2"}),
    ]
    source.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    rejects = Rejects(tmp_path / "rejected.jsonl")
    events = list(read_events(source, rejects))
    rejects.close()

    assert [e["event_id"] for e in events] == ["x-1", "x-2"]
    set_aside = [json.loads(line) for line in rejects.path.read_text().splitlines()]
    assert [r["line"] for r in set_aside] == [2, 4, 6]
    assert set_aside[0]["text"] == "{not json"
    assert "not UTF-8" in set_aside[2]["reason"]
    assert rejects.count == 3


def test_a_clean_file_leaves_no_rejects_file(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(json.dumps(GOOD) + "\n")
    rejects = Rejects(tmp_path / "rejected.jsonl")
    assert len(list(read_events(source, rejects))) == 1
    assert not rejects.path.exists()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=20))
def test_every_line_is_either_streamed_or_set_aside(chunks: list[bytes]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "events.jsonl"
        lines = [chunk.replace(b"\n", b" ").replace(b"\r", b" ") for chunk in chunks]
        lines.append(json.dumps(GOOD).encode())
        source.write_bytes(b"\n".join(lines) + b"\n")
        rejects = Rejects(Path(folder) / "rejected.jsonl")
        streamed = list(read_events(source, rejects))
        rejects.close()

    assert len(streamed) + rejects.count == sum(1 for line in lines if not blank(line))
    assert streamed[-1] == GOOD


def blank(line: bytes) -> bool:
    """A line with nothing but white space, which a replay skips silently."""
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


# --- the stream loop, with a publisher that needs no broker -------------------


class RecordingPublisher:
    """Acknowledges every event at once; remembers them and the flushes."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.produced = 0
        self.delivered = 0
        self.flushes = 0
        self.fail_after = fail_after

    def send(self, event: dict[str, Any]) -> None:
        if self.fail_after is not None and self.produced >= self.fail_after:
            self.produced += 1
            raise StreamError("1 of events were not acknowledged")
        self.produced += 1
        self.delivered += 1
        self.sent.append(event)

    def flush(self, timeout_s: float | None = None) -> None:
        self.flushes += 1
        if self.delivered < self.produced:
            raise StreamError(
                f"{self.produced - self.delivered} of {self.produced} events were "
                "not acknowledged"
            )


def events(count: int) -> Iterator[dict[str, Any]]:
    for seq in range(count):
        time = T0 + dt.timedelta(seconds=seq)
        yield {**GOOD, "event_id": f"x-{seq}", "time": time.strftime("%FT%T.000Z")}


def test_a_stream_sends_every_event_in_order_and_flushes() -> None:
    publisher = RecordingPublisher()
    result = run_stream(events(50), publisher, pacer(None))  # type: ignore[arg-type]
    assert [e["event_id"] for e in publisher.sent] == [f"x-{i}" for i in range(50)]
    assert (result.produced, result.delivered, result.interrupted) == (50, 50, False)
    assert result.first_time == "2026-04-06T12:00:00.000Z"
    assert publisher.flushes == 1


def test_ctrl_c_stops_the_stream_flushes_and_reports_what_arrived() -> None:
    def interrupted() -> Iterator[dict[str, Any]]:
        yield from events(7)
        raise KeyboardInterrupt

    publisher = RecordingPublisher()
    result = run_stream(interrupted(), publisher, pacer(None))  # type: ignore[arg-type]
    assert result.interrupted
    assert (result.produced, result.delivered) == (7, 7)
    assert publisher.flushes == 1


def test_a_failed_delivery_stops_the_stream_and_names_the_count() -> None:
    publisher = RecordingPublisher(fail_after=10)
    with pytest.raises(StreamError, match="1 of 11 events were not acknowledged"):
        run_stream(events(50), publisher, pacer(None))  # type: ignore[arg-type]
    assert len(publisher.sent) == 10


def test_a_stream_at_start_day_stamps_every_event_on_that_day() -> None:
    publisher = RecordingPublisher()
    run_stream(events(5), publisher, pacer(None, dt.date(2026, 6, 1)))  # type: ignore[arg-type]
    days = {parse_time(e["time"]).astimezone(BOGOTA).date() for e in publisher.sent}
    assert days == {dt.date(2026, 6, 1)}

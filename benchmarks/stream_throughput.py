"""Events per second that `cctwin stream --speed max` delivers, against the ceiling.

Three paths send the same events (the same simulated days, seed and keys) to
the local broker with the same producer settings (the config's
``kafka.producer``: acks=all, idempotence, linger, batch size), each into a
fresh topic with the config's partitions, and each is timed until the broker
has acknowledged every event:

* raw kafka-python: a bare ``KafkaProducer`` sending payloads encoded before
  the clock starts. Nothing can be faster with this client: the ceiling.
* stream, pre-simulated: :func:`simulator.stream.run_stream` with a
  :class:`simulator.publish.Publisher` over an event list in memory, i.e. the
  command's per-event cost (pacing check, key, JSON, delivery accounting).
* stream --speed max: the same plus the simulation itself, day by day, as the
  command runs it.

Runs alternate between paths so that a busy machine slows all of them alike;
the best of ``--repeat`` counts. Run from the repository root with a broker up::

    scripts/services kafka start
    python benchmarks/stream_throughput.py --days 3 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from rich.console import Console
from rich.table import Table

from cctwin.config import CenterConfig, load_config
from simulator.day_events import simulate_day_events
from simulator.pacing import Pacer
from simulator.publish import (
    Publisher,
    Target,
    encode_event,
    event_key,
    producer_options,
)
from simulator.stream import run_stream, simulated_events

FIRST_DAY = dt.date(2026, 4, 6)
SEED = 7


def open_days(config: CenterConfig, count: int) -> list[dt.date]:
    from cctwin.calendar import is_open

    days: list[dt.date] = []
    day = FIRST_DAY
    while len(days) < count:
        if is_open(config, day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def fresh_target(bootstrap: str, partitions: int) -> Target:
    return Target(bootstrap, f"cctwin-bench-{uuid.uuid4().hex[:10]}", partitions)


def delete_topic(bootstrap: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()


def run_raw(
    config: CenterConfig, bootstrap: str, events: list[dict[str, Any]]
) -> float:
    """Seconds for a bare producer to get every pre-encoded event acknowledged."""
    target = fresh_target(bootstrap, config.kafka.partitions)
    # The topic is created beforehand, as the stream's Publisher does.
    Publisher(config.kafka, target).ensure_topic()
    payloads = [(event_key(e), encode_event(e)) for e in events]
    producer = KafkaProducer(**producer_options(config.kafka, bootstrap))

    started = time.perf_counter()
    futures = [producer.send(target.topic, key=k, value=v) for k, v in payloads]
    producer.flush(timeout=120)
    elapsed = time.perf_counter() - started
    producer.close()
    delete_topic(bootstrap, target.topic)
    acknowledged = sum(1 for future in futures if future.succeeded())
    assert acknowledged == len(payloads), f"{acknowledged} of {len(payloads)} acked"
    return elapsed


def run_streamed(
    config: CenterConfig, bootstrap: str, source: Callable[[], Iterable[dict[str, Any]]]
) -> tuple[float, int]:
    """Seconds and events for ``run_stream`` at speed max, from its first event."""
    target = fresh_target(bootstrap, config.kafka.partitions)
    with Publisher(config.kafka, target) as publisher:
        started = time.perf_counter()
        result = run_stream(source(), publisher, Pacer(None))
        elapsed = time.perf_counter() - started
    delete_topic(bootstrap, target.topic)
    assert result.delivered == result.produced
    return elapsed, result.delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config/sdm-bogota.yaml")
    default = "127.0.0.1:" + os.environ.get("CCTWIN_KAFKA_PORT", "9092")
    parser.add_argument("--bootstrap", default=default)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    config = load_config(args.config)
    days = open_days(config, args.days)
    events = [e for day in days for e in simulate_day_events(config, day, SEED)]
    producer = config.kafka.producer
    print(
        f"{len(events):,} events ({args.days} days, seed {SEED}) to {args.bootstrap}; "
        f"acks={producer.acks} idempotence={producer.idempotence} "
        f"linger_ms={producer.linger_ms} batch={producer.batch_size_bytes}; "
        f"best of {args.repeat}"
    )

    best: dict[str, float] = {}
    for round_number in range(1, args.repeat + 1):
        timings = {
            "raw kafka-python (ceiling)": run_raw(config, args.bootstrap, events),
            "stream, pre-simulated": run_streamed(
                config, args.bootstrap, lambda: events
            )[0],
            "stream --speed max (simulating)": run_streamed(
                config, args.bootstrap, lambda: simulated_events(config, days, SEED)
            )[0],
        }
        for name, seconds in timings.items():
            best[name] = min(best.get(name, seconds), seconds)
        shown = ", ".join(f"{s:.2f} s" for s in timings.values())
        print(f"round {round_number}: {shown}")

    ceiling = len(events) / best["raw kafka-python (ceiling)"]
    table = Table(title="stream throughput (events acknowledged per second)")
    table.add_column("path")
    table.add_column("seconds", justify="right")
    table.add_column("events/s", justify="right")
    table.add_column("of ceiling", justify="right")
    for name, seconds in best.items():
        rate = len(events) / seconds
        table.add_row(name, f"{seconds:.2f}", f"{rate:,.0f}", f"{rate / ceiling:.0%}")
    Console().print(table)
    ratio = len(events) / best["stream --speed max (simulating)"] / ceiling
    print(f"goal: stream --speed max >= 70% of the ceiling; measured {ratio:.0%}")


if __name__ == "__main__":
    main()

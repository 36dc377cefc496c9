"""Aggregator benchmark: throughput beside a bare consumer, latency, memory.

    python benchmarks/aggregator_throughput.py --bootstrap 127.0.0.1:9092

1. Throughput: the same topic (N events) read by a bare kafka-python consumer
   (no decoding: the ceiling) and by the aggregator's consumer loop (decode,
   dedupe, apply, checkpoint-free commit, publish), one after the other in
   this run; prints events/s of each and the ratio.
2. Latency: background events at --rate events/s with a probe (a complaint)
   every 100 ms; /metrics is polled and each probe's produce-to-visible time
   recorded; prints p50 and p99.
3. Memory: --memory-events events fed straight into the pipeline (no Kafka),
   days advancing, resident memory printed every tenth of the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from aggregator.consume import KafkaAggregator, Settings, serve
from aggregator.pipeline import Pipeline
from cctwin.config import load_config
from simulator.day_events import simulate_day_events

CONFIG = Path(__file__).resolve().parents[1] / "config" / "sdm-bogota.yaml"
BASE_DAY = dt.date(2026, 4, 6)


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def day_lines(config, seed: int = 7) -> list[str]:
    return [json.dumps(e) for e in simulate_day_events(config, BASE_DAY, seed)]


def replica(lines: list[str], k: int, day: dt.date) -> list[bytes]:
    """The day's lines moved to ``day`` with fresh ids (replica ``k``)."""
    token, date = "s7r0d20260406", BASE_DAY.isoformat()
    new_token, new_date = f"b{k}x{day:%Y%m%d}", day.isoformat()
    return [
        line.replace(token, new_token).replace(date, new_date).encode()
        for line in lines
    ]


def create(bootstrap: str, topic: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap])
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def fill(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=[bootstrap], linger_ms=20, batch_size=262_144
    )
    for message in messages:
        producer.send(topic, message)
    producer.flush(timeout=120)
    producer.close()


def bare_rate(bootstrap: str, topic: str, total: int) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=[bootstrap],
        group_id=f"bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5_000,
    )
    seen, started = 0, None
    while seen < total:
        batch = consumer.poll(timeout_ms=1_000)
        if batch and started is None:
            started = time.perf_counter()
        for records in batch.values():
            seen += len(records)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return total / elapsed


def aggregator_rate(config, bootstrap: str, topic: str, total: int) -> float:
    group = f"agg-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        bootstrap=bootstrap, topic=topic, group=group, dead_letter_topic=f"{topic}.dead"
    )
    aggregator = KafkaAggregator(config, settings)
    stop = threading.Event()
    thread = threading.Thread(target=aggregator.run, args=(stop,))
    thread.start()
    started = None
    while aggregator.pipeline.published_health.consumed < total:
        if started is None and aggregator.health.consumed:
            started = time.perf_counter()
        time.sleep(0.005)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    stop.set()
    thread.join(timeout=30)
    return total / elapsed


def latency(
    config, bootstrap: str, rate: float, seconds: float, port: int
) -> list[float]:
    topic = f"bench-lat-{uuid.uuid4().hex[:8]}"
    create(bootstrap, topic, 3)
    settings = Settings(
        port=port,
        address="127.0.0.1",
        bootstrap=bootstrap,
        topic=topic,
        group=topic,
        dead_letter_topic=f"{topic}.dead",
    )
    aggregator = KafkaAggregator(config, settings)
    server, _ = serve(config, aggregator.pipeline, settings)
    stop = threading.Event()
    thread = threading.Thread(target=aggregator.run, args=(stop,))
    thread.start()
    time.sleep(8)  # join the group before the clock starts

    background = [
        line for k in range(3) for line in replica(day_lines(config), 900 + k, BASE_DAY)
    ]
    sent: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def poll() -> None:
        url = f"http://127.0.0.1:{port}/metrics"
        while not done.is_set():
            text = urllib.request.urlopen(url, timeout=5).read().decode()
            now = time.perf_counter()
            for line in text.splitlines():
                if line.startswith("cctwin_complaints_total"):
                    count = int(float(line.split()[-1]))
                    for n in range(1, count + 1):
                        seen.setdefault(n, now)

    poller = threading.Thread(target=poll)
    poller.start()
    producer = KafkaProducer(bootstrap_servers=[bootstrap], linger_ms=0)
    interval = 1.0 / rate
    start = time.perf_counter()
    probes = 0
    for n in range(int(rate * seconds)):
        target = start + n * interval
        pause = target - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        if n % max(1, int(rate / 10)) == 0:
            probes += 1
            probe = {
                "event_id": f"probe-{topic}-{probes}",
                "type": "complaint_filed",
                "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "schema_version": 1,
                "center": config.center.id,
            }
            sent[probes] = time.perf_counter()
            producer.send(topic, json.dumps(probe).encode())
        else:
            producer.send(topic, background[n % len(background)])
    producer.flush()
    deadline = time.perf_counter() + 10
    while len(seen) < probes and time.perf_counter() < deadline:
        time.sleep(0.05)
    done.set()
    poller.join(timeout=10)
    stop.set()
    thread.join(timeout=30)
    server.shutdown()
    producer.close()
    return [seen[n] - sent[n] for n in sorted(sent) if n in seen]


def memory(config, events: int) -> list[tuple[int, float]]:
    pipeline = Pipeline(config)
    lines = day_lines(config)
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    fed, k = 0, 0
    step = max(1, events // 10)
    day = dt.date(2025, 1, 1)
    while fed < events:
        pipeline.begin()
        for raw in replica(lines, k, day):
            pipeline.feed(raw)
            fed += 1
            if fed % step == 0:
                samples.append((fed, rss_mb()))
            if fed >= events:
                break
        pipeline.commit()
        k += 1
        day += dt.timedelta(days=1)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument(
        "--events", type=int, default=100_000, help="throughput topic size"
    )
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--memory-events", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=9465)
    parser.add_argument(
        "--memory-only", action="store_true", help="skip the Kafka parts"
    )
    args = parser.parse_args()
    config = load_config(CONFIG)
    if not args.memory_only:
        kafka_parts(config, args)
    samples = memory(config, args.memory_events)
    print(f"resident memory over {args.memory_events:,} events fed to one pipeline")
    for fed, mb in samples:
        print(f"  {fed:>10,} events  {mb:8.1f} MB")


def kafka_parts(config, args: argparse.Namespace) -> None:

    lines = day_lines(config)
    messages: list[bytes] = []
    k = 0
    while len(messages) < args.events:
        messages += replica(lines, k, BASE_DAY)
        k += 1
    messages = messages[: args.events]
    topic = f"bench-tp-{uuid.uuid4().hex[:8]}"
    create(args.bootstrap, topic, config.kafka.partitions)
    fill(args.bootstrap, topic, messages)
    bare = bare_rate(args.bootstrap, topic, len(messages))
    agg = aggregator_rate(config, args.bootstrap, topic, len(messages))
    print(
        f"throughput ({len(messages):,} events, "
        f"{config.kafka.partitions} partitions, 1 process)"
    )
    print(f"  bare kafka-python consumer  {bare:>10,.0f} events/s")
    print(
        f"  aggregator                  {agg:>10,.0f} events/s"
        f"   ({agg / bare:.0%} of bare)"
    )

    waits = latency(config, args.bootstrap, args.rate, args.seconds, args.port)
    waits.sort()
    p50 = statistics.median(waits)
    p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))]
    print(
        f"latency produce -> visible in /metrics at {args.rate:,.0f} events/s "
        f"({len(waits)} probes over {args.seconds:.0f} s)"
    )
    print(
        f"  p50 {p50 * 1000:,.0f} ms   p99 {p99 * 1000:,.0f} ms"
        f"   max {waits[-1] * 1000:,.0f} ms"
    )


if __name__ == "__main__":
    main()

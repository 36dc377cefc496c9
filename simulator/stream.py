"""A stream: events from the simulator or a file, paced and published to Kafka.

:func:`simulated_events` yields a day or a month of simulated events, one day
in memory at a time; :func:`simulator.replay.read_events` yields a file's.
:func:`run_stream` paces them (:mod:`simulator.pacing`), publishes them
(:mod:`simulator.publish`) and returns what happened. On Ctrl-C it stops
taking events, waits for the ones in flight and reports how many arrived.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cctwin.config.models import CenterConfig
from cctwin.events import parse_time
from simulator.day_events import simulate_day_events
from simulator.pacing import Pacer, shift_event
from simulator.publish import Publisher, StreamError

PROGRESS_EVERY_S = 0.25
"""How often the progress callback is called, in wall-clock seconds."""


@dataclass(frozen=True)
class Progress:
    """A snapshot of a running stream, for the progress line."""

    produced: int
    delivered: int
    elapsed_s: float
    clock: str
    """The time stamp of the last event sent (after any ``--start`` shift)."""


@dataclass(frozen=True)
class StreamResult:
    """How a stream ended: counts, first and last stamps, wall-clock time."""

    produced: int
    delivered: int
    elapsed_s: float
    first_time: str | None
    last_time: str | None
    interrupted: bool
    skipped_gaps: int

    @property
    def rate(self) -> float:
        """Delivered events per wall-clock second."""
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0


def simulated_events(
    config: CenterConfig, days: Iterable[dt.date], seed: int
) -> Iterator[dict[str, Any]]:
    """The events of each day in turn, in time order; one day held at a time."""
    for day in days:
        yield from simulate_day_events(config, day, seed)


def run_stream(
    events: Iterable[dict[str, Any]],
    publisher: Publisher,
    pacer: Pacer,
    progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> StreamResult:
    """Publish ``events`` in order, paced by ``pacer``, through ``publisher``.

    ``publisher`` must be open (entered). Returns when every event is
    acknowledged, or after Ctrl-C once the events in flight have settled
    (``interrupted`` is then true).

    Raises:
        StreamError: if any event is not acknowledged, saying how many.
    """
    # Simulated times are only parsed when something depends on them.
    needs_time = pacer.speed is not None or pacer.start != "sim"
    started = clock()
    next_report = started
    first_time: str | None = None
    last_time: str | None = None
    interrupted = False
    try:
        for event in events:
            if needs_time:
                offset = pacer.place(parse_time(event["time"]))
                event = shift_event(event, offset)
            publisher.send(event)
            last_time = event["time"]
            if first_time is None:
                first_time = last_time
            if progress is not None and clock() >= next_report:
                next_report = clock() + PROGRESS_EVERY_S
                progress(
                    Progress(
                        publisher.produced,
                        publisher.delivered,
                        clock() - started,
                        last_time,
                    )
                )
    except KeyboardInterrupt:
        interrupted = True
    except StreamError:
        # Sending stopped at the first failure; settle what is in flight so
        # the count in the error is final.
        publisher.flush()  # raises the error again, with the final counts
        raise

    try:
        publisher.flush()
    except KeyboardInterrupt:
        # A second Ctrl-C while waiting: report what is known now.
        raise StreamError(
            f"interrupted while waiting for acknowledgements: "
            f"{publisher.delivered:,} of {publisher.produced:,} events delivered"
        ) from None
    return StreamResult(
        produced=publisher.produced,
        delivered=publisher.delivered,
        elapsed_s=clock() - started,
        first_time=first_time,
        last_time=last_time,
        interrupted=interrupted,
        skipped_gaps=pacer.skipped_gaps,
    )

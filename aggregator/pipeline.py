"""One batch at a time from raw messages to published state, undoable until committed.

The consumer applies a batch to a *working* state; only once the batch's
offsets are committed is the state *published*, the copy ``/metrics`` shows.
A failed commit undoes the batch (the messages will be delivered again, here
or to another process of the group), so a scrape never shows a count that a
later scrape takes back, and no event counts twice across processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aggregator.decode import Decoder, Event, Rejection
from aggregator.dedupe import DedupeWindow
from aggregator.health import Health
from aggregator.state import State
from cctwin.config.models import CenterConfig


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message set aside: where it came from, why, and its contract fields."""

    source: str
    rejection: Rejection
    raw: bytes


class Pipeline:
    """Decoder, dedupe window, working and published state of one process."""

    def __init__(
        self,
        config: CenterConfig,
        health: Health | None = None,
        dedupe_capacity: int | None = None,
        max_future_seconds: float | None = None,
    ) -> None:
        self.decoder = (
            Decoder(config)
            if max_future_seconds is None
            else Decoder(config, max_future_seconds)
        )
        self.dedupe = (
            DedupeWindow() if dedupe_capacity is None else DedupeWindow(dedupe_capacity)
        )
        self.health = health if health is not None else Health()
        self.state = State.for_config(config)
        self._snapshot = self.state.snapshot()
        self.published = State.restore(self._snapshot)
        self.published_health = self.health.copy()
        self.offsets: dict[tuple[str, int], int] = {}
        self._undo: tuple[bytes, dict[tuple[str, int], int]] | None = None

    def begin(self) -> None:
        """Start a batch: remember how to undo it."""
        # The state is unchanged since the last publication: reuse its bytes.
        self._undo = (self._snapshot, dict(self.offsets))

    def feed(
        self, raw: bytes, source: str = "", now_ms: int | None = None
    ) -> Rejected | None:
        """Decode and apply one message; a rejection is returned, never raised."""
        self.health.consumed += 1
        if now_ms is None:
            now_ms = time.time_ns() // 1_000_000
        decoded = self.decoder.decode(raw, now_ms)
        if isinstance(decoded, Rejection):
            self.health.reject(decoded.reason)
            return Rejected(source, decoded, raw)
        self.apply(decoded)
        return None

    def apply(self, event: Event) -> None:
        """Apply one decoded event unless its id was seen in the window."""
        self.health.fields_dropped += event.dropped_fields
        if not self.dedupe.first_time(event.event_id):
            self.health.duplicates += 1
            return
        self.state.apply(event)

    def mark(self, topic: str, partition: int, next_offset: int) -> None:
        """Record that a partition's messages before ``next_offset`` are applied."""
        self.offsets[(topic, partition)] = next_offset

    def commit(self) -> None:
        """The batch is committed: confirm its ids and publish the state."""
        self.dedupe.confirm()
        self._snapshot = self.state.snapshot()
        self.published = State.restore(self._snapshot)
        self.published_health = self.health.copy()
        self._undo = None

    def undo(self) -> None:
        """The batch could not be committed: go back to before it."""
        if self._undo is None:
            return
        snapshot, offsets = self._undo
        self.state = State.restore(snapshot)
        self._snapshot = snapshot
        self.offsets = offsets
        self.dedupe.discard()
        self.health.undone_batches += 1
        self._undo = None

    def checkpoint(self) -> dict[str, Any]:
        """What a restart needs: the published state and the offsets it covers."""
        return {
            "state": self.published.snapshot(),
            "offsets": {f"{t}:{p}": o for (t, p), o in self.offsets.items()},
        }

    def resume(self, checkpoint: dict[str, Any]) -> None:
        """Start from a checkpoint this process wrote (see :meth:`checkpoint`)."""
        self.state = State.restore(checkpoint["state"])
        self._snapshot = checkpoint["state"]
        self.published = State.restore(checkpoint["state"])
        self.offsets = {}
        for key, offset in checkpoint["offsets"].items():
            topic, _, partition = key.rpartition(":")
            self.offsets[(topic, int(partition))] = int(offset)

"""How the pipeline itself is doing: consumed, rejected, lag, commits, broker.

These are the aggregator's self-metrics. They count messages as read (a
redelivered message counts again here, never in the contact counts). The
consumer thread updates a live copy; the message counts a scrape shows are
the copy published with the state, so "consumed" never runs ahead of the
counts it produced, while broker, lag and commit gauges are read live.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from aggregator.decode import REASONS


@dataclass
class Health:
    """Counters and gauges about the pipeline, exposed as ``cctwin_aggregator_*``."""

    consumed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    fields_dropped: int = 0
    invalid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    consumer_lag: dict[int, int] = field(default_factory=dict)
    last_commit_s: float = 0.0
    broker_up: int = 1
    commits_failed: int = 0
    undone_batches: int = 0

    def copy(self) -> Health:
        """An independent copy (published with the state it counted)."""
        return replace(
            self, invalid=dict(self.invalid), consumer_lag=dict(self.consumer_lag)
        )

    def reject(self, reason: str) -> None:
        """Count one invalid message by reason."""
        self.invalid[reason] = self.invalid.get(reason, 0) + 1

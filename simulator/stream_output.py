"""What a user sees of a stream: the progress line on stderr and the summary table."""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.table import Table

from simulator.publish import Target
from simulator.stream import Progress, StreamResult

PLAIN_EVERY_S = 10.0
"""When stderr is not a terminal (CI, compose logs), one line this often."""


class ProgressLine:
    """Renders :class:`simulator.stream.Progress` snapshots on one stderr line.

    On a terminal the line is rewritten in place; elsewhere a full line is
    written every :data:`PLAIN_EVERY_S` seconds so logs stay readable.
    """

    def __init__(self, stream: TextIO, is_terminal: bool) -> None:
        self.stream = stream
        self.is_terminal = is_terminal
        self._last_plain = 0.0
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        """Show one snapshot."""
        rate = progress.delivered / progress.elapsed_s if progress.elapsed_s else 0.0
        text = (
            f"stream: {progress.produced:>9,} sent  {progress.delivered:>9,} acked  "
            f"{rate:>8,.0f} ev/s  clock {progress.clock}"
        )
        if self.is_terminal:
            self.stream.write("\r" + text)
            self.stream.flush()
            self._shown = True
        elif time.monotonic() - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = time.monotonic()
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        """End the in-place line so later output starts on a fresh line."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def render_result(
    result: StreamResult, target: Target, rejected: int, console: Console
) -> None:
    """Print the summary table of a finished (or interrupted) stream."""
    table = Table(title="stream", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("topic", f"{target.topic} @ {target.bootstrap}")
    table.add_row("events produced", f"{result.produced:,}")
    table.add_row("events delivered (acked)", f"{result.delivered:,}")
    table.add_row("not acknowledged", f"{result.produced - result.delivered:,}")
    if rejected:
        table.add_row("lines set aside", f"{rejected:,}")
    table.add_row("first event time", result.first_time or "-")
    table.add_row("last event time", result.last_time or "-")
    table.add_row("wall-clock seconds", f"{result.elapsed_s:,.1f}")
    table.add_row("delivered per second", f"{result.rate:,.0f}")
    if result.skipped_gaps:
        table.add_row("idle gaps skipped", f"{result.skipped_gaps:,}")
    console.print(table)

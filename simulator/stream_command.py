"""The ``cctwin stream`` command: flags to a source, a pacer and a publisher.

Exit status: 0 when every event was acknowledged, 1 when some were not (the
message gives the count) or no broker answered, 2 for a usage or config error,
130 after Ctrl-C (once the events in flight have settled).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console

from cctwin.calendar import open_days, parse_month
from cctwin.cli import load_center, require_open_day
from cctwin.config import CenterConfig
from cctwin.config.models import Kafka
from simulator.pacing import Pacer, parse_speed, parse_start
from simulator.publish import Publisher, StreamError, resolve_target
from simulator.replay import Rejects, default_rejects_path, read_events
from simulator.stream import run_stream, simulated_events
from simulator.stream_output import ProgressLine, render_result

INTERRUPTED_STATUS = 130
"""The shell's status for a process ended by Ctrl-C (128 + SIGINT)."""


def _days(
    config: CenterConfig, day: dt.datetime | None, month: str | None
) -> list[dt.date]:
    """The open days to simulate, from ``--day`` or ``--month``."""
    if day is not None:
        return [require_open_day(config, day.date())]
    assert month is not None
    try:
        year, number = parse_month(month)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--month") from None
    days = open_days(config, year, number)
    if not days:
        raise click.BadParameter(
            f"the center opens on no day of {month}", param_hint="--month"
        )
    return days


def run_stream_command(
    config_path: str | None,
    day: dt.datetime | None,
    month: str | None,
    from_file: str | None,
    bootstrap: str | None,
    topic: str | None,
    speed_text: str,
    start_text: str,
    seed: int,
    rejects_path: str | None,
) -> None:
    """Run ``cctwin stream`` with its parsed flags; exits with its status."""
    stderr = Console(stderr=True)
    sources = [name for name, given in _given(day, month, from_file) if given]
    if len(sources) != 1:
        raise click.UsageError(
            "give exactly one of --day, --month or --from-file "
            f"(got {', '.join(sources) or 'none'})"
        )
    if from_file is None and config_path is None:
        raise click.UsageError("--day and --month need the config path first")
    try:
        speed = parse_speed(speed_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--speed") from None
    try:
        start = parse_start(start_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--start") from None

    config = load_center(config_path) if config_path is not None else None
    settings = config.kafka if config is not None else Kafka()
    zone = config.center.zone if config is not None else ZoneInfo("UTC")
    target = resolve_target(settings, bootstrap, topic)

    rejects: Rejects | None = None
    events: Iterable[dict[str, Any]]
    if from_file is not None:
        source = Path(from_file)
        rejects = Rejects(
            Path(rejects_path) if rejects_path else default_rejects_path(source)
        )
        events = read_events(source, rejects)
    else:
        assert config is not None
        events = simulated_events(config, _days(config, day, month), seed)

    shown_speed = "max" if speed is None else f"{speed:g}x"
    stderr.print(
        f"stream: to {target.topic} @ {target.bootstrap}, speed {shown_speed}, "
        f"start {start_text}",
        highlight=False,
    )
    progress = ProgressLine(sys.stderr, stderr.is_terminal)
    try:
        with Publisher(settings, target) as publisher:
            result = run_stream(events, publisher, Pacer(speed, start, zone), progress)
    except StreamError as error:
        progress.close()
        stderr.print(f"[red]stream failed[/]: {error}", highlight=False)
        sys.exit(1)
    except ValueError as error:  # a bad CCTWIN_KAFKA_SECURITY_PROTOCOL
        progress.close()
        stderr.print(f"[red]stream failed[/]: {error}", highlight=False)
        sys.exit(2)
    finally:
        if rejects is not None:
            rejects.close()
    progress.close()

    rejected = rejects.count if rejects is not None else 0
    render_result(result, target, rejected, Console())
    if rejects is not None and rejected:
        stderr.print(
            f"[yellow]warning[/]: {rejected:,} line(s) were not usable events and "
            f"were set aside in {rejects.path} (with line numbers and reasons)",
            highlight=False,
        )
    if result.interrupted:
        stderr.print(
            f"interrupted: {result.delivered:,} events delivered and acknowledged; "
            "run again to stream the rest",
            highlight=False,
        )
        sys.exit(INTERRUPTED_STATUS)
    stderr.print(
        f"[green]delivered all {result.delivered:,} events[/]; consume them with "
        "`cctwin aggregate` (see README)",
        highlight=False,
    )


def _given(
    day: dt.datetime | None, month: str | None, from_file: str | None
) -> list[tuple[str, bool]]:
    return [
        ("--day", day is not None),
        ("--month", month is not None),
        ("--from-file", from_file is not None),
    ]

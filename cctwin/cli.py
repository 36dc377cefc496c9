"""The ``cctwin`` command line: config path first, flags after.

Human tables go to stdout, progress and warnings to stderr, machine-readable
files to ``--out``. A config error prints the file, the field and what is
allowed, and exits with status 2.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from cctwin.calendar import is_open, parse_months
from cctwin.config import CenterConfig, ConfigError, load_config

F = TypeVar("F", bound=Callable[..., Any])

stderr = Console(stderr=True)

PIPED_WIDTH = 132
"""Table width when stdout is a file or a pipe: rich would fold tables at 80."""


def stdout_console() -> Console:
    """The console for human tables: the terminal's width, or a wide page."""
    return Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


def load_center(path: str) -> CenterConfig:
    """Load a config, or print its problems (file, field, allowed) and exit 2."""
    try:
        return load_config(path)
    except ConfigError as error:
        stderr.print(f"[red]config error[/]: {error}", highlight=False, soft_wrap=True)
        sys.exit(2)


def require_open_day(center: CenterConfig, date: dt.date) -> dt.date:
    """``date`` itself, or a usage error when the center is closed that day."""
    if not is_open(center, date):
        raise click.BadParameter(
            f"the center is closed on {date} (weekday hours or holiday); "
            "pick an open day",
            param_hint="--day",
        )
    return date


def config_argument(function: F) -> F:
    """The positional config path every command takes first."""
    return click.argument("config", type=click.Path(dir_okay=False))(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cctwin")
def main() -> None:
    """cctwin: a digital twin of a contact center.

    \b
    Start here:
      cctwin forecast config/sdm-bogota.yaml --month 2026-04 --seed 7
    """


@main.command()
@config_argument
@click.option("--month", required=True, help="YYYY-MM, or a range YYYY-MM..YYYY-MM.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option(
    "--replications",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Fixed number of replications (ignored with --precision).",
)
@click.option(
    "--precision",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help=(
        "Add replications until the 95% CI of every busy channel's service "
        "level is at most ± this many percentage points."
    ),
)
@click.option(
    "--max-replications",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Cap for --precision.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes; the result for a seed does not depend on it.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory for forecast.json, intervals.csv and days.csv.",
)
@click.option(
    "--volume-scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiply every channel's volume (1.1 = 10% more traffic).",
)
@click.option(
    "--staffing-scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiply every shift's headcount (0.9 = a 10% staff cut).",
)
def forecast(
    config: str,
    month: str,
    seed: int,
    replications: int,
    precision: float | None,
    max_replications: int,
    jobs: int,
    out: str | None,
    volume_scale: float,
    staffing_scale: float,
) -> None:
    """Forecast every agreement (ANS) of a month, with 95% confidence intervals.

    \b
    Examples:
      cctwin forecast config/sdm-bogota.yaml --month 2026-04 --seed 7 --out out/
      cctwin forecast config/sdm-bogota.yaml --month 2026-04 --precision 0.5 --jobs 2
      cctwin forecast config/sdm-bogota.yaml --month 2026-01..2026-03
    """
    from simulator.forecast import Scenario, run_forecast
    from simulator.forecast_output import render, write_outputs

    center = load_center(config)
    try:
        months = parse_months(month)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--month") from None

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("replications", total=None)

        def advance(done: int, limit: int) -> None:
            bar.update(task, completed=done, total=None if precision else limit)

        try:
            result = run_forecast(
                center,
                months,
                seed,
                replications_count=replications,
                precision_pp=precision,
                max_replications=max_replications,
                jobs=jobs,
                scenario=Scenario(volume_scale, staffing_scale),
                progress=advance,
            )
        except ValueError as error:
            raise click.UsageError(str(error)) from None

    for warning in result.warnings:
        stderr.print(f"[yellow]warning[/]: {warning}", highlight=False, soft_wrap=True)
    render(result, stdout_console())
    if out is not None:
        paths = write_outputs(result, Path(out))
        stderr.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)
    else:
        stderr.print(
            "[dim]add --out DIR for forecast.json and per-interval/day CSVs[/]"
        )


@main.command()
@config_argument
@click.option(
    "--day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD"
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--events", type=click.Path(dir_okay=False), required=True, help="JSONL file."
)
def simulate(config: str, day: dt.datetime, seed: int, events: str) -> None:
    """Simulate one day and write its events (JSONL, in time order).

    \b
    Example:
      cctwin simulate config/sdm-bogota.yaml --day 2026-04-06 --events out/events.jsonl
    """
    from simulator.day_events import simulate_day_events

    center = load_center(config)
    date = require_open_day(center, day.date())
    path = Path(events)
    path.parent.mkdir(parents=True, exist_ok=True)
    produced = simulate_day_events(center, date, seed)
    with path.open("w") as handle:
        for event in produced:
            handle.write(json.dumps(event, separators=(",", ":")) + "\n")
    stderr.print(f"wrote {len(produced):,} events to {path}", highlight=False)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="Stream one day.")
@click.option("--month", help="Stream every open day of a month, YYYY-MM.")
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Replay a JSONL file of events instead of simulating.",
)
@click.option("--bootstrap", help="host:port[,host:port] (default: config kafka).")
@click.option("--topic", help="Topic to publish to (default: config kafka.topic).")
@click.option(
    "--speed",
    default="60",
    show_default=True,
    help="Simulated seconds per wall-clock second, or max.",
)
@click.option(
    "--start",
    default="sim",
    show_default=True,
    help="Stamp events with their simulated times (sim), from now, or on YYYY-MM-DD.",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    help="Where --from-file sets bad lines aside [FILE.rejected.jsonl].",
)
def stream(
    config: str | None,
    day: dt.datetime | None,
    month: str | None,
    from_file: str | None,
    bootstrap: str | None,
    topic: str | None,
    speed: str,
    start: str,
    seed: int,
    rejects: str | None,
) -> None:
    """Publish simulated (or recorded) events to Kafka as the clock passes them.

    Every event is acknowledged by the broker (acks=all, idempotent), keyed by
    interaction id (agent events by agent id). Exit status 1 says how many
    events were not acknowledged; Ctrl-C flushes and says how many arrived.

    \b
    Examples:
      scripts/services kafka start
      cctwin stream config/sdm-bogota.yaml --day 2026-04-06 --speed 60
      cctwin stream config/sdm-bogota.yaml --month 2026-04 --speed max
      cctwin stream config/sdm-bogota.yaml --day 2026-04-06 --start now --speed 1
      cctwin stream --from-file out/events.jsonl --bootstrap 127.0.0.1:9092
    """
    from simulator.stream_command import run_stream_command

    run_stream_command(
        config, day, month, from_file, bootstrap, topic, speed, start, seed, rejects
    )


@main.command()
@click.option("--out", type=click.Path(dir_okay=False), default=None)
def schema(out: str | None) -> None:
    """Print (or write) the JSON Schema of the event contract.

    \b
    Example:
      cctwin schema --out cctwin/schema/events.v1.json
    """
    from cctwin.events import json_schema, write_schema

    if out:
        stderr.print(f"wrote {write_schema(Path(out))}")
    else:
        click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--bootstrap", default=None, help="host:port[,...]; default: config.")
@click.option(
    "--from-file",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Read a JSONL event file instead of Kafka, then keep serving.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=9464, show_default=True)
@click.option("--address", default="0.0.0.0", show_default=True)
@click.option("--topic", default=None, help="Default: config kafka.topic.")
@click.option("--group", default=None, help="Default: config kafka.consumer_group.")
@click.option(
    "--dead-letter-topic",
    default=None,
    help="Default: config kafka.dead_letter_topic.",
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Checkpoint file: a restart continues the counts where it left them.",
)
@click.option(
    "--clock",
    type=click.Choice(["wall", "event"]),
    default=None,
    help="What 'now' is for windows and waits [Kafka: wall, file: event].",
)
def aggregate(
    config_path: str,
    bootstrap: str | None,
    from_file: str | None,
    port: int,
    address: str,
    topic: str | None,
    group: str | None,
    dead_letter_topic: str | None,
    state_file: str | None,
    clock: str | None,
) -> None:
    """Consume events and serve the live agreements on /metrics.

    \b
    Examples:
      cctwin aggregate --config config/sdm-bogota.yaml --bootstrap 127.0.0.1:9092
      cctwin aggregate --config config/sdm-bogota.yaml --from-file out/events.jsonl
    """
    from aggregator.consume import Settings, run_file, run_kafka

    center = load_center(config_path)
    settings = Settings(
        port=port,
        address=address,
        bootstrap=bootstrap,
        topic=topic,
        group=group,
        dead_letter_topic=dead_letter_topic,
        state_file=Path(state_file) if state_file else None,
        clock=clock or ("event" if from_file else "wall"),
    )
    try:
        if from_file:
            run_file(center, Path(from_file), settings)
        else:
            run_kafka(center, settings)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    except OSError as error:
        stderr.print(
            f"[red]cannot serve /metrics on {address}:{port}[/]: {error.strerror}; "
            "pick another --port or stop the process that holds it",
            highlight=False,
        )
        sys.exit(1)


@main.command()
@config_argument
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="prometheus/rules",
    show_default=True,
)
@click.option(
    "--tests",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write promtool unit tests of the alerts to this folder.",
)
@click.option(
    "--dashboard",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the Grafana dashboard JSON (grafana/dashboards/cctwin.json).",
)
def rules(config: str, out: str, tests: str | None, dashboard: str | None) -> None:
    """Write Prometheus recording and alert rules for every agreement.

    \b
    Example:
      cctwin rules config/sdm-bogota.yaml --out prometheus/rules/ \\
        --tests prometheus/tests/ --dashboard grafana/dashboards/cctwin.json
      promtool check rules prometheus/rules/*.yml
    """
    from aggregator.rules import write_rules

    center = load_center(config)
    written = write_rules(center, Path(out), Path(tests) if tests else None, config)
    if dashboard:
        from aggregator.dashboard import write_dashboard

        written.append(write_dashboard(center, Path(dashboard)))
    for path in written:
        stderr.print(f"wrote {path}", highlight=False)
    rules_glob = str(Path(out) / "*.yml")
    stderr.print(f"[dim]check them with: promtool check rules {rules_glob}[/]")


if __name__ == "__main__":
    main()

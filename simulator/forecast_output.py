"""What a forecast hands to people and programs: JSON, CSV tables, console tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from cctwin import metrics
from cctwin.metrics import COUNT_FIELDS
from simulator.engine import AVAILABLE, BUSY
from simulator.forecast import CHANNEL_METRICS, Estimate, Forecast, metric_value

RATIO_METRICS = {
    "service_level",
    "answer_rate",
    "abandonment",
    "occupancy",
    "adherence",
}


def forecast_json(forecast: Forecast) -> dict[str, Any]:
    """The whole forecast as a JSON-ready dict (see README, forecast.json)."""
    config = forecast.config
    channels: dict[str, Any] = {}
    for name in forecast.channel_names:
        channels[name] = {
            metric: forecast.channel_estimate(metric, [name]).as_dict()
            for metric in CHANNEL_METRICS
        }
    groups = {
        name: {
            metric: forecast.group_estimate(metric, [name]).as_dict()
            for metric in ("occupancy", "adherence")
        }
        for name in forecast.group_names
    }
    agreements = []
    for agreement in config.agreements:
        entry: dict[str, Any] = {
            "id": agreement.id,
            "name": agreement.name,
            "metric": agreement.metric,
            "channels": agreement.channels,
            "groups": agreement.groups,
            "target": agreement.target,
            "direction": agreement.direction.value,
            "unit": agreement.unit,
            "forecastable": agreement.forecastable,
        }
        if agreement.forecastable:
            estimate = forecast.agreement_estimate(agreement.id)
            entry.update(estimate.as_dict())
            entry["probability_met"] = estimate.share_meeting(agreement)
        agreements.append(entry)
    return {
        "center": config.center.id,
        "period": {
            "first_day": forecast.days[0].isoformat(),
            "last_day": forecast.days[-1].isoformat(),
            "open_days": len(forecast.days),
        },
        "seed": forecast.seed,
        "replications": len(forecast.reps),
        "stopping": forecast.stop_reason,
        "pooling": "by volume: totals sum counts over channels, days and intervals",
        "units": "ratios 0-1, times in seconds, counts per period",
        "channels": channels,
        "groups": groups,
        "agreements": agreements,
        "warnings": forecast.warnings,
        "assumptions": dict(config.assumptions),
    }


def write_outputs(forecast: Forecast, out: Path) -> list[Path]:
    """Write forecast.json, intervals.csv and days.csv into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "forecast.json", out / "intervals.csv", out / "days.csv"]
    paths[0].write_text(json.dumps(forecast_json(forecast), indent=2) + "\n")
    _write_rows(paths[1], interval_rows(forecast))
    _write_rows(paths[2], day_rows(forecast))
    return paths


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    # Channel rows and agent-group rows carry different metrics: the header is
    # the union of their columns, in first-seen order, and a row leaves the
    # columns it does not have empty.
    fieldnames = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _estimate_columns(prefix: str, estimate: Estimate) -> dict[str, Any]:
    interval = estimate.ci95
    return {
        f"{prefix}_mean": _round(estimate.mean),
        f"{prefix}_ci_low": _round(interval[0]) if interval else None,
        f"{prefix}_ci_high": _round(interval[1]) if interval else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _rows_for(
    forecast: Forecast, label: str, keys: list[Any], counts_of: Any, states_of: Any
) -> list[dict[str, Any]]:
    rows = []
    for key in keys:
        for c, name in enumerate(forecast.channel_names):
            per_rep = [counts_of(rep, key, c) for rep in forecast.reps]
            if not any(counts["offered"] for counts in per_rep):
                continue
            row: dict[str, Any] = {label: key, "channel": name}
            for metric in CHANNEL_METRICS:
                values = [
                    metric_value(forecast.config, metric, k, [name]) for k in per_rep
                ]
                row.update(_estimate_columns(metric, Estimate(values)))
            rows.append(row)
        for g, name in enumerate(forecast.group_names):
            states = [states_of(rep, key, g) for rep in forecast.reps]
            if not any(s[BUSY] + s[AVAILABLE] for s in states):
                continue
            values = [metrics.occupancy(s[BUSY], s[AVAILABLE]) for s in states]
            row = {label: key, "channel": f"group:{name}"}
            row.update(_estimate_columns("occupancy", Estimate(values)))
            rows.append(row)
    return rows


def interval_rows(forecast: Forecast) -> list[dict[str, Any]]:
    """Per interval of the day (pooled over the period's days), per channel."""
    step = forecast.config.center.interval_minutes
    first = forecast.reps[0]
    n_intervals = first.interval_counts["offered"].shape[1]
    active = [
        i
        for i in range(n_intervals)
        if first.interval_counts["offered"][:, i].sum()
        or first.interval_states[:, BUSY, i].sum()
    ]
    labels = {i: f"{i * step // 60:02d}:{i * step % 60:02d}" for i in active}

    def counts_of(rep: Any, label: str, c: int) -> dict[str, float]:
        i = next(k for k, v in labels.items() if v == label)
        return {f: float(rep.interval_counts[f][c, i]) for f in COUNT_FIELDS}

    def states_of(rep: Any, label: str, g: int) -> np.ndarray:
        i = next(k for k, v in labels.items() if v == label)
        return np.asarray(rep.interval_states[g, :, i])

    return _rows_for(forecast, "interval", list(labels.values()), counts_of, states_of)


def day_rows(forecast: Forecast) -> list[dict[str, Any]]:
    """Per open day of the period, per channel."""
    dates = [d.isoformat() for d in forecast.days]

    def counts_of(rep: Any, label: str, c: int) -> dict[str, float]:
        d = dates.index(label)
        return {f: float(rep.day_counts[f][d, c]) for f in COUNT_FIELDS}

    def states_of(rep: Any, label: str, g: int) -> np.ndarray:
        return np.asarray(rep.day_states[dates.index(label), g])

    return _rows_for(forecast, "day", dates, counts_of, states_of)


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.0f} s"


def _unit_of(metric: str) -> str:
    if metric in RATIO_METRICS:
        return "ratio"
    if metric in ("offered", "answered", "abandoned"):
        return "count"
    return "seconds"


def _ci_text(estimate: Estimate, unit: str) -> str:
    interval = estimate.ci95
    if interval is None:
        return "-"
    return f"{_format(interval[0], unit)} – {_format(interval[1], unit)}"


def render(forecast: Forecast, console: Console) -> None:
    """Print the agreements and channel tables, aligned, with CIs."""
    config = forecast.config
    period = f"{forecast.days[0]} – {forecast.days[-1]}"
    title = (
        f"Forecast of the agreements (ANS), {config.center.id}, {period}: "
        f"{len(forecast.days)} open days, {len(forecast.reps)} replications, "
        f"seed {forecast.seed}"
    )
    table = Table(title=title, title_justify="left")
    for header, justify in (
        ("ANS", "right"),
        ("agreement", "left"),
        ("applies to", "left"),
        ("target", "right"),
        ("forecast", "right"),
        ("95% CI", "right"),
        ("P(month meets)", "right"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for agreement in config.agreements:
        if not agreement.forecastable:
            continue
        unit = _unit_of(agreement.metric)
        estimate = forecast.agreement_estimate(agreement.id)
        chance = estimate.share_meeting(agreement)
        sign = "≥" if agreement.direction.value == "at_least" else "≤"
        colour = "green" if chance is not None and chance >= 0.9 else "red"
        if chance is not None and 0.5 <= chance < 0.9:
            colour = "yellow"
        table.add_row(
            str(agreement.id),
            agreement.name,
            ", ".join(agreement.channels or agreement.groups),
            f"{sign} {_format(agreement.target, unit)}",
            _format(estimate.mean, unit),
            _ci_text(estimate, unit),
            f"[{colour}]{chance * 100:.0f}%[/]" if chance is not None else "no data",
        )
    console.print(table)
    live_only = [a for a in config.agreements if not a.forecastable]
    if live_only:
        names = ", ".join(f"{a.id} {a.name}" for a in live_only)
        console.print(
            f"[dim]{len(live_only)} agreements come from other events (surveys, "
            f"audits, HR, availability) and are computed live only: {names}[/]"
        )

    channels = Table(
        title="Per channel (means; pooled by volume)", title_justify="left"
    )
    columns = [
        ("channel", "offered", "count"),
        ("answered", "answered", "count"),
        ("abandoned", "abandoned", "count"),
        ("service level", "service_level", "ratio"),
        ("answer rate", "answer_rate", "ratio"),
        ("abandonment", "abandonment", "ratio"),
        ("ASA", "asa_seconds", "seconds"),
        ("TMO", "handle_time_seconds", "seconds"),
    ]
    channels.add_column("channel")
    channels.add_column("offered", justify="right")
    for header, _, _ in columns[1:]:
        channels.add_column(header, justify="right")
    for name in forecast.channel_names:
        cells = [name]
        for _, metric, unit in columns:
            cells.append(_format(forecast.channel_estimate(metric, [name]).mean, unit))
        channels.add_row(*cells)
    console.print(channels)

    groups = Table(title="Per agent group", title_justify="left")
    for header in ("group", "occupancy", "95% CI", "adherence"):
        groups.add_column(header, justify="left" if header == "group" else "right")
    for name in forecast.group_names:
        occupancy = forecast.group_estimate("occupancy", [name])
        adherence = forecast.group_estimate("adherence", [name])
        groups.add_row(
            name,
            _format(occupancy.mean, "ratio"),
            _ci_text(occupancy, "ratio"),
            _format(adherence.mean, "ratio"),
        )
    console.print(groups)
    console.print(f"[dim]{forecast.stop_reason}[/]")

"""Refit the default center's unknown parameters to the Q1 2026 report (Tabla 5).

The report gives volumes, TMOs and results, not the staffing plan, patience or
the chat handle time before concurrency stretches it. This script redoes the
fit, so none of those numbers is hand-tuned:

1. chat base handle time: scaled until the simulated chat TMO is 871 s;
2. voice staffing: shifts from an Erlang A requirement per interval solved for
   the fewest agents (``simulator.staffing``); the sizing target is bisected
   until the simulated Q1 voice service level is 85%;
3. voice patience: bisected (log scale) until simulated abandonment is 0.67%;
4. chat staffing: the smallest early/late chat team whose chat SL is nearest 91%;
5. patience of chat, video and click-to-call: bisected (log scale, the three at
   once, since they do not share agents with each other) until each channel's
   abandonment is the report's;
6. contact probability of web callback, virtual hold and outbound: fixed point
   on the reached share (a request can also expire unattempted, so the
   configured probability sits above the report's reached share).

Steps 2 and 3 alternate three times, since each moves the other. Run:

    python scripts/calibrate.py                 # fit and print
    python scripts/calibrate.py --write         # also update config/sdm-bogota.yaml
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from cctwin.calendar import open_days, parse_months
from cctwin.config import parse_config
from cctwin.config.models import CenterConfig
from simulator.forecast import Forecast, run_forecast
from simulator.staffing import cover_shifts, interval_requirement, shift_minutes_of

CONFIG = Path(__file__).resolve().parents[1] / "config" / "sdm-bogota.yaml"
PERIOD = "2026-01..2026-03"
TARGETS = {"voice_sl": 0.85, "voice_abandonment": 612 / 91978, "chat_sl": 0.91}
CHAT_TMO = 871.0
ABANDONMENT = {"chat": 60 / 10416, "video": 4 / 285, "virtual_call": 10 / 523}
"""Tabla 5: abandoned / asked for an agent, Q1 2026."""
REACHED = {
    "web_callback": 403 / 713,
    "virtual_hold": 1299 / 2184,
    "outbound": 1392 / 2847,
}
"""Tabla 5: reached / requests (attempts for outbound), Q1 2026."""


def build(raw: dict[str, Any]) -> CenterConfig:
    """Validate a raw (possibly refitted) config document."""
    return parse_config(raw, CONFIG)


def forecast(raw: dict[str, Any], seed: int, reps: int, jobs: int) -> Forecast:
    """Forecast the calibration period with a raw config document."""
    return run_forecast(
        build(raw), parse_months(PERIOD), seed, replications_count=reps, jobs=jobs
    )


def mean(result: Forecast, metric: str, channel: str) -> float:
    """The forecast mean of one channel metric (it must have data)."""
    value = result.channel_estimate(metric, [channel]).mean
    assert value is not None, f"no {metric} for {channel}"
    return value


def voice_shifts(raw: dict[str, Any], target: float) -> list[dict[str, Any]]:
    """General-group shifts sized for ``target`` on weekdays and Saturdays."""
    config = build(raw)
    group = config.agent_groups["general"]
    hours = config.center.opening_hours["mon"]
    days = [d for y, m in parse_months(PERIOD) for d in open_days(config, y, m)]
    shifts: list[dict[str, Any]] = []
    for label, weekdays, chosen in (
        (
            "weekday",
            ["mon", "tue", "wed", "thu", "fri"],
            [d for d in days if d.weekday() < 5],
        ),
        ("saturday", ["sat"], [d for d in days if d.weekday() == 5]),
    ):
        requirement = interval_requirement(config, "voice", chosen, target)
        for shift in cover_shifts(
            requirement,
            group,
            config.center.interval_minutes,
            hours.open_minute,
            hours.close_minute,
            shift_minutes_of(group),
        ):
            shifts.append(
                {
                    "start": shift.start,
                    "end": shift.end,
                    "agents": shift.agents,
                    "days": weekdays,
                }
            )
        del label
    return shifts


def bisect(
    low: float, high: float, steps: int, measure: Any, goal: float, rising: bool
) -> float:
    """Bisect a monotone ``measure`` for ``goal``; return the best point seen."""
    best, best_gap = low, math.inf
    for _ in range(steps):
        middle = (low + high) / 2
        value = measure(middle)
        gap = abs(value - goal)
        if gap < best_gap:
            best, best_gap = middle, gap
        if (value < goal) == rising:
            low = middle
        else:
            high = middle
    return best


def main() -> int:
    """Run the fit, print the fitted values, and write them back with --write."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update the config file")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--replications", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    raw = yaml.safe_load(CONFIG.read_text())
    fitted = copy.deepcopy(raw)
    run = lambda r: forecast(r, args.seed, args.replications, args.jobs)  # noqa: E731

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # 1. Chat base handle time, by fixed point on the observed TMO.
    for _ in range(2):
        observed = mean(run(fitted), "handle_time_seconds", "chat")
        base = fitted["channels"]["chat"]["handle_time"]["mean_seconds"]
        fitted["channels"]["chat"]["handle_time"]["mean_seconds"] = round(
            base * CHAT_TMO / observed
        )
        log(f"chat TMO {observed:.0f} s with base {base} s")

    target = 0.8
    for round_ in range(3):
        # 2. Voice staffing target for SL 85%.
        def voice_sl(t: float, round_: int = round_) -> float:
            fitted["agent_groups"]["general"]["shifts"] = voice_shifts(fitted, t)
            value = mean(run(fitted), "service_level", "voice")
            agents = sum(
                s["agents"] for s in fitted["agent_groups"]["general"]["shifts"]
            )
            log(
                f"round {round_ + 1}: sizing target {t:.3f} -> {agents} shifts, "
                f"voice SL {value:.3%}"
            )
            return value

        target = bisect(0.05, 0.95, 9, voice_sl, TARGETS["voice_sl"], rising=True)
        fitted["agent_groups"]["general"]["shifts"] = voice_shifts(fitted, target)

        # 3. Voice patience for abandonment 0.67% (longer patience, fewer abandons).
        def voice_abandonment(log_patience: float, round_: int = round_) -> float:
            patience = round(math.exp(log_patience))
            fitted["channels"]["voice"]["patience"]["mean_seconds"] = patience
            value = mean(run(fitted), "abandonment", "voice")
            log(
                f"round {round_ + 1}: patience {patience} s -> "
                f"voice abandonment {value:.3%}"
            )
            return value

        best = bisect(
            math.log(120),
            math.log(30000),
            8,
            voice_abandonment,
            TARGETS["voice_abandonment"],
            rising=False,
        )
        fitted["channels"]["voice"]["patience"]["mean_seconds"] = round(math.exp(best))

    # 4. Chat team: smallest early/late split nearest 91%.
    candidates = []
    for early in range(1, 5):
        for late in range(1, 5):
            shifts = fitted["agent_groups"]["virtual"]["shifts"]
            shifts[0]["agents"], shifts[1]["agents"] = early, late
            value = mean(run(fitted), "service_level", "chat")
            candidates.append(
                (abs(value - TARGETS["chat_sl"]), early + late, early, late, value)
            )
            log(f"chat team {early}+{late} -> chat SL {value:.3%}")
    _, _, early, late, value = min(candidates)
    shifts = fitted["agent_groups"]["virtual"]["shifts"]
    shifts[0]["agents"], shifts[1]["agents"] = early, late

    # 5. Patience of the smaller inbound channels, one bisection each, in step.
    low = dict.fromkeys(ABANDONMENT, math.log(120))
    high = dict.fromkeys(ABANDONMENT, math.log(60000))
    best: dict[str, tuple[float, float]] = {}
    for step in range(8):
        for name in ABANDONMENT:
            middle = round(math.exp((low[name] + high[name]) / 2))
            fitted["channels"][name]["patience"]["mean_seconds"] = middle
        result = run(fitted)
        for name, goal in ABANDONMENT.items():
            patience = fitted["channels"][name]["patience"]["mean_seconds"]
            value = mean(result, "abandonment", name)
            log(f"step {step + 1}: {name} patience {patience} s -> {value:.3%}")
            if abs(value - goal) < best.get(name, (math.inf, 0.0))[0]:
                best[name] = (abs(value - goal), patience)
            # Longer patience, fewer abandons.
            if value > goal:
                low[name] = math.log(patience)
            else:
                high[name] = math.log(patience)
    for name, (_, patience) in best.items():
        fitted["channels"][name]["patience"]["mean_seconds"] = patience

    # 6. Contact probabilities, by fixed point on the reached share.
    for step in range(3):
        result = run(fitted)
        for name, goal in REACHED.items():
            section = "outbound" if name == "outbound" else "callback"
            settings = fitted["channels"][name][section]
            value = mean(result, "answer_rate", name)
            log(
                f"step {step + 1}: {name} contact probability "
                f"{settings['contact_probability']} -> reached {value:.3%}"
            )
            settings["contact_probability"] = round(
                min(1.0, settings["contact_probability"] * goal / value), 3
            )

    print(
        yaml.dump(
            {
                "channels.chat.handle_time.mean_seconds": fitted["channels"]["chat"][
                    "handle_time"
                ]["mean_seconds"],
                "channels.voice.patience.mean_seconds": fitted["channels"]["voice"][
                    "patience"
                ]["mean_seconds"],
                "agent_groups.general.shifts": fitted["agent_groups"]["general"][
                    "shifts"
                ],
                "agent_groups.virtual.shifts": fitted["agent_groups"]["virtual"][
                    "shifts"
                ],
                **{
                    f"channels.{name}.patience.mean_seconds": fitted["channels"][name][
                        "patience"
                    ]["mean_seconds"]
                    for name in ABANDONMENT
                },
                **{
                    f"channels.{name}.contact_probability": fitted["channels"][name][
                        "outbound" if name == "outbound" else "callback"
                    ]["contact_probability"]
                    for name in REACHED
                },
                "voice sizing target (Erlang A)": round(target, 4),
            },
            sort_keys=False,
            allow_unicode=True,
            Dumper=_PlainDumper,
        )
    )
    if args.write:
        write_back(fitted)
        log(f"updated {CONFIG}")
    return 0


def write_back(fitted: dict[str, Any]) -> None:
    """Rewrite only the fitted values in the YAML, keeping its comments."""
    text = CONFIG.read_text()
    chat = fitted["channels"]["chat"]["handle_time"]["mean_seconds"]
    patience = fitted["channels"]["voice"]["patience"]["mean_seconds"]
    text = re.sub(
        r"(  chat:\n(?:    .*\n)*?      mean_seconds: )\d+",
        lambda m: f"{m.group(1)}{chat}",
        text,
        count=1,
    )
    text = re.sub(
        r"(  voice:\n(?:    .*\n)*?    patience: "
        r"\{distribution: exponential, mean_seconds: )\d+",
        lambda m: f"{m.group(1)}{patience}",
        text,
        count=1,
    )
    for name in ABANDONMENT:
        patience = fitted["channels"][name]["patience"]["mean_seconds"]
        text = _set_in_channel(
            text, name, r"(patience: \{[^}]*mean_seconds: )\d+", patience
        )
    for name in REACHED:
        section = "outbound" if name == "outbound" else "callback"
        probability = fitted["channels"][name][section]["contact_probability"]
        text = _set_in_channel(
            text, name, r"(contact_probability: )[0-9.]+", probability
        )
    for group in ("general", "virtual"):
        lines = "".join(
            f'      - {{start: "{s["start"]}", end: "{s["end"]}", '
            f"agents: {s['agents']}, days: [{', '.join(s['days'])}]}}\n"
            for s in fitted["agent_groups"][group]["shifts"]
        )
        text = re.sub(
            rf"(  {group}:\n(?:    .*\n)*?    shifts:\n)(?:      - .*\n)+",
            lambda m, lines=lines: m.group(1) + lines,
            text,
            count=1,
        )
    CONFIG.write_text(text)


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated lists out in full: no ``&id001`` anchors in the print."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _set_in_channel(text: str, channel: str, pattern: str, value: object) -> str:
    """Replace the number after ``pattern``'s group in one channel's block."""
    block = re.search(rf"^  {channel}:\n(?:    .*\n)+", text, flags=re.MULTILINE)
    if block is None:
        raise SystemExit(f"calibrate: no block for channel {channel!r} in {CONFIG}")
    body, count = re.subn(pattern, lambda m: f"{m.group(1)}{value}", block.group(0))
    if count != 1:
        raise SystemExit(f"calibrate: {pattern!r} not found once in {channel!r}")
    return text[: block.start()] + body + text[block.end() :]


if __name__ == "__main__":
    raise SystemExit(main())

"""Reading a center's YAML config into validated models, with actionable errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from cctwin.config.models import CenterConfig, field_exists


class ConfigError(ValueError):
    """A config file that cannot be used.

    The message names the file, the dotted path of each bad field, the value found
    and what is allowed. ``problems`` holds the same as ``(path, message)`` pairs.
    """

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{path}: {len(problems)} problem(s) in the config"]
        lines += [f"  - {field}: {message}" for field, message in problems]
        lines.append("Fix the fields above and run the command again.")
        super().__init__("\n".join(lines))


def _describe(error: ErrorDetails) -> tuple[str, str]:
    """One pydantic error as (dotted field path, message with the bad value)."""
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return field, "unknown key (remove it or check its spelling)"
    if kind == "missing":
        return field, "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, dict | list):
        return field, message
    return field, f"{message} (got {value!r})"


def parse_config(raw: Any, path: Path) -> CenterConfig:
    """Validate an already-parsed YAML document.

    Raises:
        ConfigError: naming ``path`` and every field that is wrong.
    """
    if not isinstance(raw, dict):
        raise ConfigError(path, [("(top level)", "expected a mapping of sections")])
    try:
        config = CenterConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(path, [_describe(e) for e in error.errors()]) from None

    # Checked here, not in the model, because it needs the raw document.
    missing = [p for p in config.assumptions if not field_exists(raw, p)]
    if missing:
        raise ConfigError(
            path,
            [
                (f"assumptions.{p}", "names a field that does not exist in this file")
                for p in missing
            ],
        )
    return config


def load_config(path: str | Path) -> CenterConfig:
    """Load and validate a center config from a YAML file.

    Raises:
        ConfigError: the file is missing, is not YAML, or has invalid fields.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            path, [("(file)", f"cannot read it: {error.strerror}")]
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(path, [("(file)", f"not valid YAML: {error}")]) from None
    return parse_config(raw, path)

"""Shared fixtures: the default config, raw and validated."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from cctwin.config import CenterConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "config" / "sdm-bogota.yaml"


@pytest.fixture(scope="session")
def default_config() -> CenterConfig:
    return load_config(DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def _raw_default() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


@pytest.fixture
def raw_config(_raw_default: dict[str, Any]) -> dict[str, Any]:
    """A fresh, mutable copy of the default config document."""
    return copy.deepcopy(_raw_default)

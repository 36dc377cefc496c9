"""Shared fixtures: the default config, raw and validated."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

from cctwin.config import CenterConfig, load_config

# Property tests draw their examples from a fixed seed, so a run is repeatable
# and CI cannot fail by chance; HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

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

"""The center's configuration: schema (``models``) and loading (``load``)."""

from cctwin.config.load import ConfigError, load_config, parse_config
from cctwin.config.models import CenterConfig

__all__ = ["CenterConfig", "ConfigError", "load_config", "parse_config"]

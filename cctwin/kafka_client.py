"""Connection options shared by every Kafka client of the project.

The producer (``stream``) and the consumer (``aggregate``) build their
kafka-python clients from one place, so a real cluster's security settings
are given once. Addresses and topic names come from the config's ``kafka``
section or flags; secrets come only from the environment, so nothing secret
is ever written in a file of the repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cctwin.config.models import Kafka

SECURITY_ENV: dict[str, str] = {
    "CCTWIN_KAFKA_SECURITY_PROTOCOL": "security_protocol",
    "CCTWIN_KAFKA_SASL_MECHANISM": "sasl_mechanism",
    "CCTWIN_KAFKA_SASL_USERNAME": "sasl_plain_username",
    "CCTWIN_KAFKA_SASL_PASSWORD": "sasl_plain_password",
    "CCTWIN_KAFKA_SSL_CAFILE": "ssl_cafile",
    "CCTWIN_KAFKA_SSL_CERTFILE": "ssl_certfile",
    "CCTWIN_KAFKA_SSL_KEYFILE": "ssl_keyfile",
}
"""Environment variable -> kafka-python option, for SASL/SSL clusters."""

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")

BOOTSTRAP_TIMEOUT_MS = 10_000
"""How long a client waits for an unreachable bootstrap server before failing.

kafka-python's own default is 30 s of silence; a command that cannot reach
its broker should say so sooner.
"""


def client_options(
    settings: Kafka,
    bootstrap: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments common to a ``KafkaProducer`` or ``KafkaConsumer``.

    Args:
        settings: the config's ``kafka`` section.
        bootstrap: a ``--bootstrap`` flag that overrides ``settings.bootstrap``.
        environ: where the ``CCTWIN_KAFKA_*`` security variables are read
            (the process environment by default).

    Raises:
        ValueError: if ``CCTWIN_KAFKA_SECURITY_PROTOCOL`` is not one Kafka knows.
    """
    env = os.environ if environ is None else environ
    servers = (bootstrap or settings.bootstrap).split(",")
    options: dict[str, Any] = {
        "bootstrap_servers": [server.strip() for server in servers],
        "client_id": "cctwin",
        "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
    }
    for variable, option in SECURITY_ENV.items():
        value = env.get(variable)
        if value:
            options[option] = value
    protocol = options.get("security_protocol")
    if protocol is not None and protocol not in SECURITY_PROTOCOLS:
        raise ValueError(
            f"CCTWIN_KAFKA_SECURITY_PROTOCOL is {protocol!r}; "
            f"expected one of {', '.join(SECURITY_PROTOCOLS)}"
        )
    return options


def describe(options: Mapping[str, Any]) -> str:
    """The options as a one-line text safe to log: secrets are masked."""
    shown = {
        key: ("***" if "password" in key else value)
        for key, value in sorted(options.items())
    }
    return " ".join(f"{key}={value}" for key, value in shown.items())

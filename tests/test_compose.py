"""docker-compose.yml, read without Docker: everything it names exists and agrees.

Docker cannot run on this machine, so the stack is checked the way compose
would read it: services, images, ports, variables from .env, mounted files and
folders, the build context, and the values that must agree with the config
(broker port, partitions, topic), with Prometheus's compose config (scrape
target vs the aggregator's port) and with Grafana's provisioning.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cctwin.cli import main
from cctwin.config import CenterConfig

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENV_FILE = ROOT / ".env"
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")


def env_values() -> dict[str, str]:
    values = {}
    for line in ENV_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def substitute(text: str, values: dict[str, str]) -> str:
    return VARIABLE.sub(lambda match: values[match.group(1)], text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file with .env substituted, as `docker compose config` would."""
    document: dict[str, Any] = yaml.safe_load(
        substitute(COMPOSE.read_text(), env_values())
    )
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def published(service: dict[str, Any]) -> dict[int, int]:
    """Container port -> host port of a service's ``ports``."""
    mapping = {}
    for entry in service.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        mapping[int(container)] = int(host)
    return mapping


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_stack_has_every_service_of_the_live_path(services) -> None:
    assert set(services) == {"kafka", "stream", "aggregator", "prometheus", "grafana"}


def test_every_variable_is_defined_once_in_the_env_file() -> None:
    used = set(VARIABLE.findall(COMPOSE.read_text()))
    defined = env_values()
    assert used <= set(defined), f"undefined in .env: {sorted(used - set(defined))}"
    assert used == set(defined), f"unused in compose: {sorted(set(defined) - used)}"


def test_official_images_are_pinned_to_a_version(services) -> None:
    images = {name: s["image"] for name, s in services.items() if "build" not in s}
    assert images["kafka"].startswith("apache/kafka:")
    assert images["prometheus"].startswith("prom/prometheus:")
    assert images["grafana"].startswith("grafana/grafana:")
    for name, image in images.items():
        tag = image.rpartition(":")[2]
        assert tag and tag != "latest" and "/" not in tag, f"{name}: {image}"


def test_compose_kafka_is_the_version_the_local_broker_runs(services) -> None:
    pom = (ROOT / "scripts" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>(.+)</kafka.version>", pom)
    assert version is not None
    assert services["kafka"]["image"] == f"apache/kafka:{version.group(1)}"


def test_project_services_build_from_the_repo_dockerfile(services) -> None:
    for name in ("stream", "aggregator"):
        build = services[name]["build"]
        context = ROOT / build["context"]
        assert (context / build["dockerfile"]).is_file(), name
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^RUN pip install \.$", dockerfile, re.M)
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                if not source.endswith("*"):
                    assert (ROOT / source).exists(), f"Dockerfile copies {source}"


def test_every_bind_mount_exists_and_every_named_volume_is_declared(
    compose, services
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_the_host_reaches_kafka_at_the_config_bootstrap(
    services, default_config: CenterConfig
) -> None:
    host, _, port = default_config.kafka.bootstrap.split(",")[0].rpartition(":")
    kafka = services["kafka"]
    environment = kafka["environment"]
    listeners = dict(
        item.split("://") for item in environment["KAFKA_LISTENERS"].split(",")
    )
    advertised = dict(
        item.split("://")
        for item in environment["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    host_listener_port = int(listeners["HOST"].rpartition(":")[2])
    assert published(kafka)[host_listener_port] == int(port)
    assert advertised["HOST"] == f"{host}:{port}"
    # The services of the stack use the internal listener, kafka:9092.
    assert advertised["INTERNAL"] == "kafka:9092"
    assert listeners["INTERNAL"] == ":9092"
    for name in ("stream", "aggregator"):
        assert flag(services[name]["command"], "--bootstrap") == "kafka:9092", name


def test_compose_kafka_partitions_and_topics_agree_with_the_config(
    services, default_config: CenterConfig
) -> None:
    environment = services["kafka"]["environment"]
    assert int(environment["KAFKA_NUM_PARTITIONS"]) == default_config.kafka.partitions
    for name in ("stream", "aggregator"):
        command = services[name]["command"]
        if "--topic" in command:
            assert flag(command, "--topic") == default_config.kafka.topic
        assert "config/sdm-bogota.yaml" in command
        assert (ROOT / "config" / "sdm-bogota.yaml").is_file()


def test_the_aggregator_runs_with_the_agreed_command(services) -> None:
    assert services["aggregator"]["command"] == [
        "aggregate",
        "--config",
        "config/sdm-bogota.yaml",
        "--bootstrap",
        "kafka:9092",
        "--port",
        "9464",
    ]


def test_the_stream_command_is_one_cctwin_accepts(services) -> None:
    command = services["stream"]["command"]
    assert command[0] == "stream"
    stream = main.get_command(None, "stream")  # type: ignore[arg-type]
    assert stream is not None
    context = stream.make_context("stream", list(command[1:]))
    assert context.params["bootstrap"] == "kafka:9092"
    assert context.params["start"] == "now"


def test_prometheus_scrapes_the_aggregator_on_its_port(services) -> None:
    prometheus = services["prometheus"]
    mounts = dict(v.split(":")[:2] for v in prometheus["volumes"])
    config_file = flag_value(prometheus["command"], "--config.file")
    host_file = next(src for src, dst in mounts.items() if dst == config_file)
    assert host_file == "./prometheus/prometheus.compose.yml"

    compose_config = yaml.safe_load((ROOT / host_file).read_text())
    native_config = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    port = flag(services["aggregator"]["command"], "--port")
    compose_jobs = {j["job_name"]: j for j in compose_config["scrape_configs"]}
    native_jobs = {j["job_name"]: j for j in native_config["scrape_configs"]}
    assert compose_jobs.keys() == native_jobs.keys()
    targets = compose_jobs["cctwin-aggregator"]["static_configs"][0]["targets"]
    assert targets == [f"aggregator:{port}"]
    native = native_jobs["cctwin-aggregator"]["static_configs"][0]["targets"]
    assert native == [f"127.0.0.1:{port}"]
    # Everything else is the same in both files.
    for key in ("global", "rule_files"):
        assert compose_config[key] == native_config[key], key


def flag_value(command: list[str], name: str) -> str:
    return next(item.split("=", 1)[1] for item in command if item.startswith(name))


def test_prometheus_rules_folder_is_mounted_where_rule_files_point(services) -> None:
    prometheus = services["prometheus"]
    mounts = dict(v.split(":")[:2] for v in prometheus["volumes"])
    config_dir = Path(flag_value(prometheus["command"], "--config.file")).parent
    compose_config = yaml.safe_load(
        (ROOT / "prometheus" / "prometheus.compose.yml").read_text()
    )
    for pattern in compose_config["rule_files"]:
        folder = str(config_dir / Path(pattern).parent)
        assert mounts.get("./prometheus/rules") == folder


def test_the_compose_prometheus_config_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, (
        "promtool is missing: scripts/services prometheus start installs it"
    )
    done = subprocess.run(
        [promtool, "check", "config", "prometheus/prometheus.compose.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_grafana_provisioning_is_valid_and_points_at_the_stack(services) -> None:
    grafana = services["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"

    datasources = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    (source,) = datasources["datasources"]
    container_port = next(iter(published(services["prometheus"])))
    assert source["type"] == "prometheus"
    assert source["url"] == f"http://prometheus:{container_port}"

    providers = yaml.safe_load(
        (ROOT / "grafana/provisioning/dashboards/cctwin.yml").read_text()
    )
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert (ROOT / "grafana" / "dashboards").is_dir()


def test_grafana_dashboard_files_are_valid_json() -> None:
    import json

    for path in (ROOT / "grafana" / "dashboards").glob("*.json"):
        json.loads(path.read_text())

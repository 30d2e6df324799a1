"""docker-compose.yml and the Dockerfile agree with the service table and with each other.

No Docker needed: the files are parsed and checked for the promises the stack makes (health checks,
start order, ports, a KRaft broker, a non-root image).
"""

import re
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
import yaml

from shared.services import DEFAULT_LOCAL_KAFKA_PORT, LOCAL_DATABASE, REPO_ROOT, SERVICES, ServiceSpec

COMPOSE_FILE: Final = REPO_ROOT / "docker-compose.yml"
DOCKERFILE: Final = REPO_ROOT / "Dockerfile"
DOCKERIGNORE: Final = REPO_ROOT / ".dockerignore"
README: Final = REPO_ROOT / "README.md"

Service = dict[str, Any]


def _as_dict(value: object, what: str) -> dict[str, Any]:
    assert isinstance(value, dict), f"{what} should be a mapping, got {type(value).__name__}"
    return {str(key): item for key, item in value.items()}


def _compose() -> dict[str, Service]:
    document = _as_dict(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")), "docker-compose.yml")
    services = _as_dict(document.get("services"), "services")
    return {name: _as_dict(spec, f"service {name}") for name, spec in services.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Service]:
    return _compose()


def _command(service: Service) -> list[str]:
    command = service.get("command")
    if isinstance(command, str):
        return command.split()
    assert isinstance(command, list), f"command should be a string or a list, got {command!r}"
    return [str(part) for part in command]


def _defaults(value: str) -> str:
    """`value` as compose reads it when the variables it names (`${NAME:-default}`) are unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _environment(service: Service) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {key: _defaults(value) for key, _, value in pairs}
    return {key: "" if value is None else _defaults(str(value)) for key, value in _as_dict(env, "environment").items()}


def _depends_on(service: Service) -> dict[str, str]:
    """Each dependency and its condition (the short list form means service_started)."""
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {str(name): "service_started" for name in deps}
    return {
        name: str(_as_dict(spec, f"depends_on {name}").get("condition", "service_started"))
        for name, spec in _as_dict(deps, "depends_on").items()
    }


ANY_HOST_PORT: Final = 0  # published on a host port the engine picks ("[ip:]:container", "container")


def _published(service: Service) -> set[tuple[int, int]]:
    """(host port, container port) pairs, from the short ("[ip:]host:container[/proto]") or long syntax."""
    pairs: set[tuple[int, int]] = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            pairs.add((int(entry.get("published") or ANY_HOST_PORT), int(entry["target"])))
            continue
        parts = _defaults(str(entry)).split("/")[0].split(":")  # an optional host ip comes first
        host = parts[-2] if len(parts) >= 2 else ""
        pairs.add((int(host) if host else ANY_HOST_PORT, int(parts[-1])))
    return pairs


def _replicas(service: Service) -> int:
    return int(_as_dict(service.get("deploy", {}), "deploy").get("replicas", 1))


def _one_shot(compose: dict[str, Service]) -> set[str]:
    """Services that others wait on to *complete*: jobs, not daemons."""
    return {
        dep
        for service in compose.values()
        for dep, condition in _depends_on(service).items()
        if condition == "service_completed_successfully"
    }


def _app_service(compose: dict[str, Service], spec: ServiceSpec) -> Service:
    assert spec.name in compose, f"docker-compose.yml has no service {spec.name!r}"
    return compose[spec.name]


def test_provision_is_a_one_shot_job(compose: dict[str, Service]) -> None:
    assert "provision" in compose
    provision = compose["provision"]
    assert _command(provision) == ["python", "-m", "deploy.provision"]
    assert str(provision.get("restart")) == "no"
    assert "provision" in _one_shot(compose)


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Service]) -> None:
    long_running = set(compose) - _one_shot(compose)
    assert {"postgres", "kafka", *(spec.name for spec in SERVICES)} <= long_running
    for name in sorted(long_running):
        check = compose[name].get("healthcheck")
        assert isinstance(check, dict), f"{name} has no healthcheck"
        assert not check.get("disable", False), f"{name} disables its healthcheck"
        test = check.get("test")
        assert test, f"{name}'s healthcheck has no test"
        assert test != ["NONE"], f"{name}'s healthcheck is NONE"


def test_every_published_port_binds_to_loopback_unless_told_otherwise(compose: dict[str, Service]) -> None:
    # Kafka's host listener is plaintext and the services' default key is public: nothing is published
    # on every interface by default, and BIND_ADDRESS is the one switch that changes that.
    for name, service in compose.items():
        for entry in service.get("ports", []):
            assert isinstance(entry, str), f"{name}: use the short syntax with a host address"
            assert entry.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name} publishes {entry} beyond loopback"


def test_the_consumers_run_several_replicas_and_order_api_one(compose: dict[str, Service]) -> None:
    replicas = {spec.name: _replicas(_app_service(compose, spec)) for spec in SERVICES}
    assert replicas["order_api"] == 1, "order_api publishes the fixed port 8000"
    assert all(count >= 2 for name, count in replicas.items() if name != "order_api"), replicas
    for spec in SERVICES:
        # podman-compose reads deploy.replicas only in replicated mode (Docker's default).
        deploy = _as_dict(_app_service(compose, spec).get("deploy", {"mode": "replicated"}), "deploy")
        assert deploy["mode"] == "replicated", spec.name


def test_app_services_match_the_service_table(compose: dict[str, Service]) -> None:
    started = {
        " ".join(_command(service)): name
        for name, service in compose.items()
        if "command" in service and "services." in " ".join(_command(service))
    }
    expected = {f"python -m services.{spec.name}": spec.name for spec in SERVICES}
    assert started == expected, "each service of shared.services runs once, under its own name"


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_app_service_listens_and_reports_health_on_its_port(compose: dict[str, Service], spec: ServiceSpec) -> None:
    service = _app_service(compose, spec)
    assert _command(service) == ["python", "-m", f"services.{spec.name}"]
    # A service of several replicas cannot publish one fixed host port: each replica gets its own.
    host_port = ANY_HOST_PORT if _replicas(service) > 1 else spec.http_port
    assert (host_port, spec.http_port) in _published(service)
    env = _environment(service)
    assert env.get(f"{spec.env_prefix}HTTP_HOST") == "0.0.0.0", "the default 127.0.0.1 is unreachable"
    test = " ".join(str(part) for part in service["healthcheck"]["test"])
    assert f":{spec.http_port}/health/ready" in test
    assert "curl" not in test, "the python image has no curl; use urllib"
    assert "wget" not in test, "the python image has no wget; use urllib"
    assert str(service.get("restart")) == "unless-stopped"
    assert str(service.get("stop_grace_period")) == "30s"


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_app_service_starts_after_provision(compose: dict[str, Service], spec: ServiceSpec) -> None:
    deps = _depends_on(_app_service(compose, spec))
    assert deps.get("provision") == "service_completed_successfully"


def test_provision_waits_for_healthy_postgres_and_kafka(compose: dict[str, Service]) -> None:
    deps = _depends_on(compose["provision"])
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("kafka") == "service_healthy"


@pytest.mark.parametrize("name", ["provision", *(spec.name for spec in SERVICES)])
def test_app_containers_reach_postgres_and_kafka_by_service_name(compose: dict[str, Service], name: str) -> None:
    env = _environment(compose[name])
    postgres = _environment(compose["postgres"])
    dsn = urlsplit(env["DATABASE_URL"])
    assert dsn.hostname == "postgres"
    assert dsn.username == "postgres", "DATABASE_URL is the admin DSN the service roles derive from"
    assert dsn.password == postgres["POSTGRES_PASSWORD"]
    assert dsn.path == f"/{postgres['POSTGRES_DB']}" == f"/{LOCAL_DATABASE}"
    advertised = _environment(compose["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for server in env["KAFKA_BOOTSTRAP_SERVERS"].split(","):
        assert server.startswith("kafka:"), "inside the network the broker is kafka:<port>"
        assert f"//{server}" in advertised, f"{server} is not an advertised listener"


def test_kafka_is_a_single_kraft_node(compose: dict[str, Service]) -> None:
    kafka = compose["kafka"]
    match = re.fullmatch(r"apache/kafka:(\d+)\.\d+\.\d+", str(kafka.get("image")))
    assert match, f"expected a pinned apache/kafka image, got {kafka.get('image')!r}"
    assert int(match.group(1)) == 4
    env = _environment(kafka)
    roles = {role.strip() for role in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert roles == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", "provision creates the topics"
    for setting in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[setting] == "1", f"{setting} must be 1 on a single node"
    assert _environment(compose["provision"])["KAFKA_REPLICATION_FACTOR"] == "1"


def test_kafka_is_reachable_from_the_host_on_the_local_port(compose: dict[str, Service]) -> None:
    port = DEFAULT_LOCAL_KAFKA_PORT  # the local stack's default: LOCAL_KAFKA_PORT moves ./dev's, not compose's
    kafka = compose["kafka"]
    env = _environment(kafka)
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert f"PLAINTEXT_HOST://localhost:{port}" in advertised
    assert f"PLAINTEXT_HOST://:{port}" in env["KAFKA_LISTENERS"].split(",")
    assert (port, port) in _published(kafka)
    listener_names = {listener.split("://")[0] for listener in env["KAFKA_LISTENERS"].split(",")}
    mapped = {pair.split(":")[0] for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    assert listener_names <= mapped, "every listener needs a security protocol"


def test_postgres_is_checked_with_pg_isready(compose: dict[str, Service]) -> None:
    postgres = compose["postgres"]
    assert str(postgres.get("image")).startswith("postgres:15")
    test = " ".join(str(part) for part in postgres["healthcheck"]["test"])
    assert "pg_isready" in test


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions: list[tuple[str, str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_runs_as_a_non_root_user() -> None:
    assert DOCKERFILE.is_file()
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users, "the image should switch to a non-root USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_installs_the_lock_and_ships_the_code_but_no_default_service() -> None:
    instructions = _dockerfile_instructions()
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "requirements.lock" in runs
    copied = " ".join(rest for keyword, rest in instructions if keyword == "COPY")
    for path in ("shared/", "services/", "deploy/", "pyproject.toml"):
        assert path in copied
    assert not [keyword for keyword, _ in instructions if keyword in {"CMD", "ENTRYPOINT"}]


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".venv", ".local", ".git"} <= ignored


def _readme_service_names(text: str) -> set[str]:
    """Services the README names: `python -m services.<name>`, and the first `code` or **bold** name of
    each list item or table row under a heading that mentions services."""
    names = set(re.findall(r"\bservices\.([a-z][a-z0-9_]*)", text))
    in_section = False
    for line in text.splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            in_section = "service" in heading.group(1).lower()
            continue
        if in_section and re.match(r"\s*([-*+]|\d+\.|\|)\s", line):
            token = re.search(r"`([a-z][a-z0-9_]*)`|\*\*([a-z][a-z0-9_]*)\*\*", line)
            if token:
                names.add(token.group(1) or token.group(2))
    return names


def test_readme_service_name_parser() -> None:
    text = (
        "# Platform\n\nRun `python -m services.order_api`.\n\n## Services\n\n"
        "- `anonymizer`: erases personal data\n| **webhook_dispatcher** | 8003 |\n\n## Other\n\n- `not_one`\n"
    )
    assert _readme_service_names(text) == {"order_api", "anonymizer", "webhook_dispatcher"}


def test_every_service_in_the_readme_is_in_compose(compose: dict[str, Service]) -> None:
    if not README.is_file():
        pytest.skip("README.md does not exist yet")
    names = _readme_service_names(README.read_text(encoding="utf-8"))
    assert names, "README.md names no services (no `python -m services.<name>`, no list under a services heading)"
    missing = sorted(names - set(compose))
    assert not missing, f"README.md names services that docker-compose.yml lacks: {missing}"


# The local stand-ins for what lies outside the project: what `./dev run` starts beside the services.
STAND_INS: Final = {
    "payments_sandbox": (["python", "-m", "deploy.sandbox.payments"], 8004),
    "smtp_sink": (["python", "-m", "deploy.local.smtp_sink"], 8025),
}


@pytest.mark.parametrize("name", STAND_INS)
def test_the_local_stand_ins_run_as_the_launcher_runs_them(compose: dict[str, Service], name: str) -> None:
    from deploy.local.run import PROCESSES

    command, port = STAND_INS[name]
    service = compose[name]
    assert _command(service) == command
    assert [process.module for process in PROCESSES if process.name == name] == [command[-1]]
    assert (port, port) in _published(service)
    assert _depends_on(service).get("provision") == "service_completed_successfully"
    assert str(service.get("restart")) == "unless-stopped"


def test_the_sandbox_answers_on_the_broker_and_the_worker_mails_through_the_sink(compose: dict[str, Service]) -> None:
    sandbox = _environment(compose["payments_sandbox"])
    assert sandbox["KAFKA_BOOTSTRAP_SERVERS"] == _environment(compose["order_api"])["KAFKA_BOOTSTRAP_SERVERS"]
    assert sandbox["PAYMENTS_SANDBOX_HTTP_HOST"] == "0.0.0.0"
    worker = _environment(compose["cancellation_worker"])
    sink = _environment(compose["smtp_sink"])
    assert worker["CANCELLATION_SMTP_HOST"] == "smtp_sink"
    assert worker["CANCELLATION_SMTP_PORT"] == str(STAND_INS["smtp_sink"][1])
    assert sink["SMTP_SINK_HOST"] == "0.0.0.0", "the default 127.0.0.1 is unreachable from the worker"

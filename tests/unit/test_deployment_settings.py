"""One source for what a deployment must set: the settings marked SET_WHEN_DEPLOYED in the services'
settings classes (ServiceSettings.deployment_variables). Every Kubernetes build and docker-compose.yml
are checked against it, so a setting added there is missed by neither."""

from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from shared.dsn import password_variable
from shared.services import REPO_ROOT, SERVICES, ServiceSpec
from tests.support.k8s_manifests import container_env, deployment_of, only_container, settings_class, unmet
from tests.support.kustomize import BASE, OVERLAYS, build

COMPOSE_FILE: Final = REPO_ROOT / "docker-compose.yml"
BUILDS: Final = (BASE, *OVERLAYS)
IDS: Final = [spec.name for spec in SERVICES]


def _required(spec: ServiceSpec) -> dict[str, tuple[frozenset[str], ...]]:
    return settings_class(spec).deployment_variables(spec)


@pytest.mark.parametrize("spec", SERVICES, ids=IDS)
def test_the_local_only_defaults_are_what_a_deployment_must_set(spec: ServiceSpec) -> None:
    required = _required(spec)

    prefix = spec.env_prefix
    assert required["database_url"] == (
        frozenset({f"{prefix}DATABASE_URL"}),
        frozenset({"DATABASE_URL", f"{prefix}DATABASE_PASSWORD"}),
    ), "a DSN of its own, or the system-wide one with its role's password"
    assert required["kafka_bootstrap_servers"] == (
        frozenset({f"{prefix}KAFKA_BOOTSTRAP_SERVERS"}),
        frozenset({"KAFKA_BOOTSTRAP_SERVERS"}),
    )
    assert required["http_host"] == (frozenset({f"{prefix}HTTP_HOST"}),)
    assert required["api_keys"] == (frozenset({f"{prefix}API_KEYS"}),), "the local key is published"
    assert "log_level" not in required, "a default that serves production too is not required"


def test_every_hmac_key_with_a_local_default_must_be_set() -> None:
    keys = {spec.name: sorted(name for name in _required(spec) if name.endswith("_key")) for spec in SERVICES}

    assert keys == {
        "order_api": ["rate_limit_hash_key"],
        "anonymizer": ["email_hash_key"],
        "cancellation_worker": [],
        "webhook_dispatcher": [],
    }


@pytest.mark.parametrize("directory", BUILDS, ids=[str(path.relative_to(BASE.parent)) for path in BUILDS])
@pytest.mark.parametrize("spec", SERVICES, ids=IDS)
def test_kubernetes_sets_every_setting_a_deployment_must(directory: Path, spec: ServiceSpec) -> None:
    manifests = build(directory)
    env = container_env(manifests, only_container(deployment_of(manifests, spec)))

    assert unmet(_required(spec), env) == {}


def _compose_environment(name: str) -> dict[str, Any]:
    services = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    environment = services[name].get("environment", {})
    if isinstance(environment, list):
        return dict(str(item).partition("=")[::2] for item in environment)
    return dict(environment)


@pytest.mark.parametrize("spec", SERVICES, ids=IDS)
def test_compose_sets_every_setting_a_deployment_must(spec: ServiceSpec) -> None:
    assert unmet(_required(spec), _compose_environment(spec.name)) == {}


def test_compose_provision_creates_each_role_with_the_password_its_service_gets() -> None:
    provision = _compose_environment("provision")
    for spec in SERVICES:
        variable = password_variable(spec)
        assert provision.get(variable) == _compose_environment(spec.name).get(variable), variable

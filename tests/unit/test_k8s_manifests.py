"""deploy/k8s: the base and every overlay build, the built-in kinds are valid for the Kubernetes version
we target (kubernetes-validate's schemas), and each service runs as its settings and subscriptions need:
probes, a drain that fits the grace period, a locked-down pod, autoscaling within the partitions."""

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import SettingsError

from services.anonymizer.handlers import subscribe as anonymizer_subscriptions
from services.cancellation_worker.handlers import subscribe as cancellation_subscriptions
from services.order_api.handlers import subscribe as order_api_subscriptions
from services.webhook_dispatcher.handlers import subscribe as dispatcher_subscriptions
from shared.dsn import password_variable
from shared.runtime import Runtime
from shared.services import ORDER_API, SERVICES, ServiceSpec
from shared.settings import ServiceSettings
from shared.topics import PARTITIONS
from tests.support.k8s_manifests import (
    PLACEHOLDER,
    by_kind,
    container_env,
    deployment_of,
    k8s_name,
    only_container,
    pod_spec,
    settings_class,
)
from tests.support.kustomize import BASE, OVERLAYS, Manifest, build

# The Kubernetes version the manifests are checked against (kubernetes-validate==1.37.0 has its schemas);
# the preStop `sleep` action needs 1.30 or later.
KUBERNETES_VERSION: Final = "1.32.0"
BUILDS: Final = (BASE, *OVERLAYS)
CONSUMERS: Final = tuple(spec for spec in SERVICES if spec != ORDER_API)
SUBSCRIPTIONS: Final[dict[str, Callable[[Runtime[Any]], None]]] = {
    "order_api": order_api_subscriptions,
    "anonymizer": anonymizer_subscriptions,
    "cancellation_worker": cancellation_subscriptions,
    "webhook_dispatcher": dispatcher_subscriptions,
}


def _name(path: Path) -> str:
    return str(path.relative_to(BASE.parent))


@pytest.fixture(scope="module", params=BUILDS, ids=[_name(path) for path in BUILDS])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    return build(request.param)


def _filled(env: dict[str, str]) -> dict[str, str]:
    """`env` with the Secrets' placeholders replaced as an operator would: API keys as JSON, the rest
    (HMAC keys, passwords) as long random-looking strings."""
    return {
        name: (
            json.dumps({"k8s-test-key-0123456789": ["*"]})
            if name.endswith("API_KEYS")
            else "k8s-test-secret-0123456789"
        )
        if value == PLACEHOLDER
        else value
        for name, value in env.items()
    }


def _settings(monkeypatch: pytest.MonkeyPatch, spec: ServiceSpec, env: dict[str, str]) -> ServiceSettings:
    """The service's settings as they load in its pod (nothing from the machine running the tests)."""
    prefixes = tuple(other.env_prefix for other in SERVICES)
    for name in list(os.environ):
        if name.upper().startswith(prefixes) or name.upper() in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings_class(spec).load(spec)


@dataclass
class _RecordingRuntime:
    """Stands in for the Runtime a service's `subscribe` is given, and records the topics it reads."""

    settings: ServiceSettings
    pool: Any = None
    topics: list[str] = field(default_factory=list)

    def subscribe(self, topics: Sequence[str], handler: object, **options: object) -> None:
        self.topics += topics

    def subscribe_forwarding(self, topics: Sequence[str], handler: object, **options: object) -> None:
        self.topics += topics


def _subscribed_topics(spec: ServiceSpec, settings: ServiceSettings) -> set[str]:
    runtime = _RecordingRuntime(settings)
    SUBSCRIPTIONS[spec.name](cast(Runtime[Any], runtime))
    return set(runtime.topics)


def test_every_service_has_its_subscriptions_listed() -> None:
    assert set(SUBSCRIPTIONS) == {spec.name for spec in SERVICES}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", BUILDS, ids=[_name(path) for path in BUILDS])
def test_the_python_build_matches_kubectl_kustomize(directory: Path) -> None:
    built = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True)

    def keyed(objects: Collection[Manifest]) -> dict[tuple[str, str], Manifest]:
        return {(manifest["kind"], manifest["metadata"]["name"]): manifest for manifest in objects}

    assert keyed(build(directory)) == keyed([doc for doc in yaml.safe_load_all(built.stdout) if doc])


def _builtin(manifests: list[Manifest]) -> Iterator[Manifest]:
    return (manifest for manifest in manifests if not manifest["apiVersion"].startswith("keda.sh/"))


def test_the_builtin_kinds_are_valid_for_the_target_kubernetes(manifests: list[Manifest]) -> None:
    problems = []
    for manifest in _builtin(manifests):
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {error.message}")
    assert not problems


def test_the_validator_catches_a_misspelt_field() -> None:
    deployment = deployment_of(build(BASE), ORDER_API)
    only_container(deployment)["livenessProbes"] = only_container(deployment).pop("livenessProbe")

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def _placeholder_settings(spec: ServiceSpec, env: dict[str, str]) -> list[str]:
    """The variables of the service's settings that every deployment sets and that hold a placeholder in `env`."""
    own = {spec.env_prefix + name.upper() for name in settings_class(spec).deployment_variables(spec)}
    return sorted(name for name, value in env.items() if value == PLACEHOLDER and name in own)


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_a_service_refuses_to_start_on_any_placeholder_key_of_its_settings(
    monkeypatch: pytest.MonkeyPatch, spec: ServiceSpec
) -> None:
    manifests = build(BASE)
    env = container_env(manifests, only_container(deployment_of(manifests, spec)))
    placeholders = _placeholder_settings(spec, env)
    assert f"{spec.env_prefix}API_KEYS" in placeholders

    for name in placeholders:
        with pytest.raises((ValidationError, SettingsError), match=name.removeprefix(spec.env_prefix).lower()):
            _settings(monkeypatch, spec, _filled(env) | {name: PLACEHOLDER})


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_each_service_is_probed_drained_and_locked_down(
    monkeypatch: pytest.MonkeyPatch, manifests: list[Manifest], spec: ServiceSpec
) -> None:
    deployment = deployment_of(manifests, spec)
    container = only_container(deployment)
    settings = _settings(monkeypatch, spec, _filled(container_env(manifests, container)))

    assert settings.http_host == "0.0.0.0", "the default 127.0.0.1 is unreachable for probes and Services"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": settings.http_port}
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"] == {"path": "/health/live", "port": "http"}
    assert probes["readinessProbe"] == {"path": "/health/ready", "port": "http"}
    # The pod leaves the endpoints during the preStop pause, then the service drains; then the kubelet kills.
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > pause + settings.shutdown_grace_seconds
    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert {"cpu", "memory"} <= resources["limits"].keys()
    pod_security, security = pod_spec(deployment)["securityContext"], container["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] != 0
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    volumes = {volume["name"]: volume for volume in pod_spec(deployment)["volumes"]}
    writable = {mount["mountPath"]: volumes[mount["name"]] for mount in container["volumeMounts"]}
    assert "emptyDir" in writable["/tmp"]  # noqa: S108 (the pod's own scratch volume)


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_each_service_has_a_service_and_a_disruption_budget_for_its_pods(
    manifests: list[Manifest], spec: ServiceSpec
) -> None:
    deployment = deployment_of(manifests, spec)
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pods.items()
    service = by_kind(manifests, "Service")[k8s_name(spec)]
    assert service["spec"]["selector"].items() <= pods.items()
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]
    budget = by_kind(manifests, "PodDisruptionBudget")[k8s_name(spec)]
    assert budget["spec"]["selector"]["matchLabels"].items() <= pods.items()
    assert budget["spec"].get("maxUnavailable", 0) >= 1 or budget["spec"].get("minAvailable") is not None
    assert "replicas" not in deployment["spec"], "the autoscaler owns the count; an apply would reset it"


def test_order_api_scales_on_cpu(manifests: list[Manifest]) -> None:
    name = deployment_of(manifests, ORDER_API)["metadata"]["name"]
    autoscaler = by_kind(manifests, "HorizontalPodAutoscaler")[name]
    assert autoscaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert 1 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
    assert [metric["resource"]["name"] for metric in autoscaler["spec"]["metrics"]] == ["cpu"]
    assert name not in by_kind(manifests, "ScaledObject")


@pytest.mark.parametrize("spec", CONSUMERS, ids=[spec.name for spec in CONSUMERS])
def test_each_consumer_scales_on_its_groups_lag_within_the_partitions(
    monkeypatch: pytest.MonkeyPatch, manifests: list[Manifest], spec: ServiceSpec
) -> None:
    deployment = deployment_of(manifests, spec)
    env = _filled(container_env(manifests, only_container(deployment)))
    settings = _settings(monkeypatch, spec, env)
    scaled = by_kind(manifests, "ScaledObject")[deployment["metadata"]["name"]]

    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert scaled["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] <= PARTITIONS
    kafka = [trigger["metadata"] for trigger in scaled["spec"]["triggers"] if trigger["type"] == "kafka"]
    assert {trigger["topic"] for trigger in kafka} == _subscribed_topics(spec, settings)
    assert len(kafka) == len({trigger["topic"] for trigger in kafka}), "one trigger per topic"
    for trigger in kafka:
        servers = trigger.get("bootstrapServers") or env[trigger["bootstrapServersFromEnv"]]
        assert servers == settings.kafka_bootstrap_servers
        assert trigger["consumerGroup"] == settings.consumer_group
        assert int(trigger["lagThreshold"]) > 0
        assert trigger.get("allowIdleConsumers", "false") == "false", "no more replicas than partitions"


def test_provision_runs_once_with_the_admin_dsn_and_every_services_password(manifests: list[Manifest]) -> None:
    job = by_kind(manifests, "Job")["provision"]
    container = only_container(job)
    assert container["command"] == ["python", "-m", "deploy.provision"]
    assert pod_spec(job)["restartPolicy"] in {"OnFailure", "Never"}
    assert container["image"] == only_container(deployment_of(manifests, ORDER_API))["image"]
    sources = {variable["name"]: variable.get("valueFrom", {}) for variable in container["env"]}
    assert "secretKeyRef" in sources["DATABASE_URL"], "the admin DSN holds a password"
    assert set(container_env(manifests, container)) >= {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}
    for spec in SERVICES:
        # The role gets the very password its service logs in with: the same Secret's key.
        service = only_container(deployment_of(manifests, spec))
        secrets = {source["secretRef"]["name"] for source in service["envFrom"] if "secretRef" in source}
        reference = sources[password_variable(spec)]["secretKeyRef"]
        assert reference["name"] in secrets
        assert reference["key"] == password_variable(spec)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[_name(path) for path in OVERLAYS])
def test_an_overlay_names_its_image_and_namespace(overlay: Path) -> None:
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text(encoding="utf-8"))
    (image,) = kustomization["images"]
    manifests = build(overlay)

    wanted = f"{image['newName']}:{image['newTag']}"
    workloads = [*by_kind(manifests, "Deployment").values(), *by_kind(manifests, "Job").values()]
    assert {only_container(workload)["image"] for workload in workloads} == {wanted}
    namespaced = [manifest for manifest in manifests if manifest["kind"] != "Namespace"]
    assert {manifest["metadata"].get("namespace") for manifest in namespaced} == {kustomization["namespace"]}

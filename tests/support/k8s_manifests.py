"""Reading built Kubernetes manifests as a pod would see them: which object runs which service, and the
environment a container gets (its `env` and `envFrom`, resolved against the ConfigMaps and Secrets)."""

import base64
import importlib
import inspect
from collections.abc import Mapping
from typing import Any, Final

from shared.services import ServiceSpec
from shared.settings import ServiceSettings
from tests.support.kustomize import Manifest

# What secrets.yaml holds until the operator replaces it.
PLACEHOLDER: Final = "REPLACE_ME"


def k8s_name(spec: ServiceSpec) -> str:
    """The service's name in Kubernetes (DNS labels have no underscores)."""
    return spec.name.replace("_", "-")


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {manifest["metadata"]["name"]: manifest for manifest in manifests if manifest["kind"] == kind}


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: Manifest) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container per pod"
    return containers[0]


def deployment_of(manifests: list[Manifest], spec: ServiceSpec) -> Manifest:
    """The Deployment whose container runs `python -m services.<name>`: exactly one per service."""
    command = ["python", "-m", f"services.{spec.name}"]
    found = [
        deployment
        for deployment in by_kind(manifests, "Deployment").values()
        if any(container.get("command") == command for container in pod_spec(deployment)["containers"])
    ]
    assert len(found) == 1, f"{len(found)} Deployments run {' '.join(command)}"
    return found[0]


def secret_data(secret: Manifest) -> dict[str, str]:
    data = {key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()}
    return data | {key: str(value) for key, value in secret.get("stringData", {}).items()}


def container_env(manifests: list[Manifest], container: Mapping[str, Any]) -> dict[str, str]:
    """The environment `container` starts with: `envFrom` in order, then `env`, which wins."""
    sources = {
        "configMap": {name: config.get("data", {}) for name, config in by_kind(manifests, "ConfigMap").items()},
        "secret": {name: secret_data(secret) for name, secret in by_kind(manifests, "Secret").items()},
    }
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ((ref, target),) = source.items()
        kind = ref.removesuffix("Ref")
        env |= {source.get("prefix", "") + key: str(value) for key, value in sources[kind][target["name"]].items()}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
            continue
        ((ref, selector),) = variable["valueFrom"].items()
        env[variable["name"]] = str(sources[ref.removesuffix("KeyRef")][selector["name"]][selector["key"]])
    return env


def settings_class(spec: ServiceSpec) -> type[ServiceSettings]:
    """The settings class `services/<name>/settings.py` defines for its service."""
    module = importlib.import_module(f"services.{spec.name}.settings")
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, ServiceSettings) and cls.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__} defines {len(found)} settings classes"
    return found[0]


def unmet(required: Mapping[str, tuple[frozenset[str], ...]], env: Mapping[str, str]) -> dict[str, list[str]]:
    """The settings of `required` that `env` leaves unset, each with the variables that would set it."""
    return {
        setting: [" and ".join(sorted(choice)) for choice in choices]
        for setting, choices in required.items()
        if not any(choice <= env.keys() for choice in choices)
    }

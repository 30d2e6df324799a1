"""`kustomize build` of deploy/k8s in Python, for the tests on machines without kubectl: the subset of
kustomize the manifests use (resources, namespace, images, patches that merge mappings), and an error
for anything else, so a manifest that starts using more fails here instead of being checked wrongly.
Where kubectl is installed, a test compares this build with `kubectl kustomize`."""

from pathlib import Path
from typing import Any, Final

import yaml

from shared.services import REPO_ROOT

K8S_DIR: Final = REPO_ROOT / "deploy" / "k8s"
BASE: Final = K8S_DIR / "base"
OVERLAYS: Final = tuple(sorted(path for path in (K8S_DIR / "overlays").iterdir() if path.is_dir()))

Manifest = dict[str, Any]

_SUPPORTED: Final = frozenset({"apiVersion", "kind", "resources", "namespace", "images", "patches"})
_CLUSTER_SCOPED: Final = frozenset({"Namespace"})


class UnsupportedKustomization(ValueError):
    """The kustomization uses what this build does not do; extend the build or keep the manifests simple."""


def build(directory: Path) -> list[Manifest]:
    """The objects `kustomize build directory` makes."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - _SUPPORTED
    if unknown:
        raise UnsupportedKustomization(f"{directory}: {sorted(unknown)}")
    objects: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects += build(path) if path.is_dir() else _documents(path)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise UnsupportedKustomization(f"{directory}: a patch other than a file's: {patch}")
        for document in _documents(directory / patch["path"]):
            _merge(_target(objects, document), document)
    for image in kustomization.get("images", []):
        for container in (container for manifest in objects for container in _containers(manifest)):
            _set_image(container, image)
    namespace = kustomization.get("namespace")
    if namespace:
        for manifest in objects:
            if manifest["kind"] not in _CLUSTER_SCOPED:
                manifest["metadata"]["namespace"] = namespace
    return objects


def _documents(path: Path) -> list[Manifest]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def _target(objects: list[Manifest], patch: Manifest) -> Manifest:
    key = (patch["kind"], patch["metadata"]["name"])
    found = [manifest for manifest in objects if (manifest["kind"], manifest["metadata"]["name"]) == key]
    if len(found) != 1:
        raise UnsupportedKustomization(f"a patch of {key} matches {len(found)} objects")
    return found[0]


def _merge(into: Manifest, patch: Manifest) -> None:
    for key, value in patch.items():
        if isinstance(value, list):
            raise UnsupportedKustomization(f"a patch of a list ({key}) needs a strategic merge")
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _containers(manifest: Manifest) -> list[dict[str, Any]]:
    """The containers of a Deployment's or a Job's pod template."""
    pod = manifest.get("spec", {}).get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _set_image(container: dict[str, Any], image: dict[str, str]) -> None:
    name, _, tag = container["image"].partition(":")
    if name != image["name"]:
        return
    tag = image.get("newTag", tag)
    container["image"] = image.get("newName", name) + (f":{tag}" if tag else "")

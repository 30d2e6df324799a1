"""The platform in containers with podman where no Docker engine or image registry is available:
base images built locally (debootstrap), docker-compose.yml run with podman-compose (README,
"Containers")."""

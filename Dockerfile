# One image for every service and the provisioning job; docker-compose.yml picks the command:
#   python -m services.<name>    (order_api, anonymizer, cancellation_worker, webhook_dispatcher)
#   python -m deploy.provision   (one-shot: roles, schemas, migrations, topics)
#   python -m deploy.sandbox.payments, python -m deploy.local.smtp_sink   (the local stand-ins)
# No curl is installed: healthchecks are python one-liners with urllib.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes do not reinstall them. The lock pins every package.
# pip keeps no cache in the image; `python -m deploy.containers` mounts the host's pip cache instead
# and passes PIP_CACHE_OPTION= so a rebuild reuses the wheels.
ARG PIP_CACHE_OPTION=--no-cache-dir
COPY requirements.lock ./
RUN pip install ${PIP_CACHE_OPTION} -r requirements.lock

COPY pyproject.toml ./
COPY shared/ shared/
COPY services/ services/
COPY deploy/ deploy/

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app

USER app

# No CMD: the service to run is chosen by whoever starts the container.

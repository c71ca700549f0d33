# The gateway. Serving needs no torch: numpy, onnxruntime, the web stack and Triton's gRPC client.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY README.md ./
COPY server ./server
RUN pip install --no-cache-dir --no-deps . && rm -rf build server/*.egg-info

# Baked in so the image serves on its own; compose mounts the host's copies over them.
COPY models ./models
COPY model_repository ./model_repository

RUN useradd --system --uid 10001 --no-create-home ganserve
USER ganserve

ENV GANSERVE_HOST=0.0.0.0 \
    GANSERVE_MODELS_DIR=/app/models \
    GANSERVE_MODEL_REPOSITORY=/app/model_repository
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)" || exit 1
CMD ["ganserve", "serve"]

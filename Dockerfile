# The gateway. Serving needs no torch: numpy, onnxruntime and the web stack (about 300 MB).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
RUN pip install --no-cache-dir .
COPY models ./models
COPY model_repository ./model_repository
ENV GANSERVE_HOST=0.0.0.0 \
    GANSERVE_MODELS_DIR=/app/models \
    GANSERVE_MODEL_REPOSITORY=/app/model_repository
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)" || exit 1
CMD ["ganserve", "serve"]

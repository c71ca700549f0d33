# The two commands: `make serve` and `make test`. Everything else is a helper for them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

TRITON_ENV := .venv-triton

.PHONY: serve test fuzz system-deps lint format bench bench-overload bench-encode bench-triton bench-cache bench-grpc bench-slider bench-training bench-projection bench-openvino test-openvino docs-images compile import proto triton-env triton clean

# Serving needs no torch: numpy, onnxruntime and the web stack.
$(BIN)/.serve-deps: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Importing and compiling add torch (CPU) and onnx.
$(BIN)/.torch-deps: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[torch]"
	touch $@ $(BIN)/.serve-deps

# Tests add torch (CPU), onnx and the test tools.
$(BIN)/.test-deps: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(BIN)/.serve-deps $(BIN)/.torch-deps

# A local tritonserver (the nvidia-pytriton wheel's binary) and what its Python-backend models import.
$(TRITON_ENV)/.deps: server/ganserve/triton/runtime-requirements.txt
	test -x $(TRITON_ENV)/bin/python || $(PYTHON) -m venv $(TRITON_ENV)
	$(TRITON_ENV)/bin/python -m pip install --quiet -r $<
	$(TRITON_ENV)/bin/python -m pip install --quiet --no-deps nvidia-pytriton==0.7.0
	touch $@

triton-env: $(TRITON_ENV)/.deps

serve: $(BIN)/.serve-deps
	$(BIN)/ganserve serve

# System packages the tests use: redis-server (started by the tests themselves), wrk (the
# benchmarks' HTTP load generator), and podman, runc and debootstrap (the container tests build the
# images on a base made from Debian's packages and run them: docs/deployment.md), chromium (the
# playground's browser tests drive it with Playwright: no browser download), and haproxy (the load
# balancer in front of the replicas of tests/test_replicas.py).
SYSTEM_PACKAGES := redis-server wrk podman runc debootstrap chromium haproxy
system-deps:
	command -v redis-server >/dev/null && command -v wrk >/dev/null && command -v podman >/dev/null && \
	  command -v runc >/dev/null && command -v debootstrap >/dev/null && command -v chromium >/dev/null && \
	  command -v haproxy >/dev/null || \
	  (apt-get install -y -q $(SYSTEM_PACKAGES) || (apt-get update -q && apt-get install -y -q $(SYSTEM_PACKAGES)))

test: $(BIN)/.test-deps $(TRITON_ENV)/.deps system-deps
	$(BIN)/ruff check server tests clients benchmarks docs
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest --ignore=tests/test_helm_chart.py
	# In its own process: Helm's Go SDK (helm-python-sdk) died with SIGSEGV when it ran in the same
	# process after tests/test_engine_openvino.py; run alone, it never has.
	$(BIN)/python -m pytest tests/test_helm_chart.py

# The fuzz tests with many more examples than `make test` runs, and schemathesis' coverage phase
# (boundary values of every parameter): tests/api/test_fuzz.py (schemathesis over HTTP) and
# tests/rpc/test_rpc_fuzz.py (hypothesis over gRPC), each against a gateway it starts. Long.
FUZZ_EXAMPLES ?= 500
fuzz: $(BIN)/.test-deps
	GANSERVE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/api/test_fuzz.py tests/rpc/test_rpc_fuzz.py

# The whole API suite (tests/api) on the in-process OpenVINO engine, exact mode, instead of on ONNX
# Runtime and Triton (tests/conftest.py reads GANSERVE_TEST_ENGINE). `make test` runs a few of its
# routes against ONNX Runtime's bytes (tests/test_engine_openvino.py). About 5 minutes.
test-openvino: $(BIN)/.test-deps
	GANSERVE_TEST_ENGINE=openvino $(BIN)/python -m pytest tests/api

lint: $(BIN)/.test-deps
	$(BIN)/ruff check server tests clients benchmarks docs
	$(BIN)/ruff format --check server tests clients benchmarks docs
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

format: $(BIN)/.test-deps
	$(BIN)/ruff check --fix server tests clients benchmarks docs
	$(BIN)/ruff format server tests clients benchmarks docs

# The benchmarks (benchmarks/ganserve_bench) are not part of the installed server: they run from the checkout.
# Their options: make bench-grpc BENCH_ARGS="--concurrency 1,8" (PYTHONPATH=benchmarks .venv/bin/python -m ganserve_bench --help).
BENCH := PYTHONPATH=benchmarks $(BIN)/python -m ganserve_bench

# HTTP load comes from wrk (C, one thread) where installed; without it the benchmarks fall back to a Python client.
bench: $(BIN)/.test-deps system-deps
	$(BENCH) server $(BENCH_ARGS)

bench-triton: $(BIN)/.test-deps $(TRITON_ENV)/.deps system-deps
	$(BENCH) triton $(BENCH_ARGS)

# Cache hit vs miss, in-process LRU vs Redis (a redis-server it starts and stops itself); HTTP load from wrk.
bench-cache: $(BIN)/.serve-deps system-deps
	$(BENCH) cache $(BENCH_ARGS)

# gRPC: load the same server over gRPC (raw tensors and PNG) and HTTP (PNG), p50/p99 at concurrency 1 and 32.
bench-grpc: $(BIN)/.serve-deps
	$(BENCH) grpc $(BENCH_ARGS)

# The slider path: an edited seed image over HTTP vs the same image unedited (c=1 and 8), and the edit in-process.
bench-slider: $(BIN)/.serve-deps
	$(BENCH) slider $(BENCH_ARGS)

# Overload: an official-size 64x64 network at concurrency 32, the user's alternative (eager torch per
# request behind http.server) against ganserve without and with a deadline (docs/performance.md).
bench-overload: $(BIN)/.test-deps
	$(BENCH) overload $(BENCH_ARGS)

# Encoding at 256²-1024²: PNG levels, JPEG, WebP methods, ms and bytes per image (content: emoji32 and var/data/emoji.npz upscaled).
bench-encode: $(BIN)/.test-deps
	$(BENCH) encode $(BENCH_ARGS)

# ONNX Runtime vs OpenVINO exact vs OpenVINO fast (bf16 where the CPU has it): img/s at batch 1 and 8 on
# the official-size 64x64 network and demo64, and fast-vs-exact image quality over fixed seeds.
bench-openvino: $(BIN)/.test-deps
	$(BENCH) openvino $(BENCH_ARGS)

# The training step's images/s at the demo model's budget sizes (uses var/data/emoji.npz where it exists).
bench-training: $(BIN)/.test-deps
	$(BENCH) training $(BENCH_ARGS)

# Image -> latent projection on emoji32 with its discriminator: PSNR and W distance against steps, real
# emoji (var/data/emoji.npz where it exists), the loss comparison, time per step (docs/projection.md).
bench-projection: $(BIN)/.test-deps
	$(BENCH) projection $(BENCH_ARGS)

# The README's pictures (docs/images/), through the API of a gateway it starts: after shipping new weights.
docs-images: $(BIN)/.test-deps
	PYTHONPATH=benchmarks $(BIN)/python docs/make_images.py $(DOCS_ARGS)

# Regenerate the gRPC stubs (the server's ganserve/rpc/generated/ and the client's ganserve_client/generated/)
# after editing proto/ganserve/v1/ganserve.proto.
proto: $(BIN)/.test-deps
	$(BIN)/python proto/generate.py

# Rebuild the demo model's ONNX graphs after changing the generator or its weights.
compile: $(BIN)/.test-deps
	$(BIN)/ganserve compile models/demo64

# Bring your own checkpoint: an NVlabs network-snapshot pickle, read without executing it, then
# compiled for every target. `make serve` serves it next, under NAME.
import: $(BIN)/.torch-deps
	@test -n "$(PKL)" -a -n "$(NAME)" || (echo "usage: make import PKL=network-snapshot.pkl NAME=faces" >&2; exit 2)
	$(BIN)/ganserve import "$(PKL)" --name "$(NAME)"

# Triton on this machine (CPU, python target); then `GANSERVE_ENGINE=triton make serve` in another shell.
triton: $(BIN)/.serve-deps $(TRITON_ENV)/.deps
	$(BIN)/ganserve triton

clean:
	rm -rf $(VENV) $(TRITON_ENV) .pytest_cache .ruff_cache server/*.egg-info clients/python/*.egg-info

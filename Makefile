# The two commands: `make serve` and `make test`. Everything else is a helper for them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test lint format bench compile clean

# Serving needs no torch: numpy, onnxruntime and the web stack.
$(BIN)/.serve-deps: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Tests add torch (CPU), onnx and the test tools.
$(BIN)/.test-deps: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(BIN)/.serve-deps

serve: $(BIN)/.serve-deps
	$(BIN)/ganserve serve

test: $(BIN)/.test-deps
	$(BIN)/ruff check server tests clients
	$(BIN)/python -m pytest

lint: $(BIN)/.test-deps
	$(BIN)/ruff check server tests clients
	$(BIN)/ruff format --check server tests clients

format: $(BIN)/.test-deps
	$(BIN)/ruff check --fix server tests clients
	$(BIN)/ruff format server tests clients

bench: $(BIN)/.test-deps
	$(BIN)/ganserve bench

# Rebuild the demo model's ONNX graphs after changing the generator or its weights.
compile: $(BIN)/.test-deps
	$(BIN)/ganserve compile models/demo64

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache server/*.egg-info
